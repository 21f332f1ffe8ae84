#include "core/clock.h"
#include "testutil.h"

static uint64_t fake_now;
static uint64_t fake_src(void *arg)
{
    (void)arg;
    return fake_now;
}

START_TEST(never_goes_backwards)
{
    djs_clock_t c;
    djs_clock_init(&c, fake_src, NULL);
    fake_now = 1000;
    ck_assert_uint_eq(djs_clock_next(&c), 1000);
    ck_assert_uint_eq(djs_clock_next(&c), 1001); /* same source time: still strictly later */
    fake_now = 500;                              /* wall clock steps back */
    ck_assert_uint_eq(djs_clock_next(&c), 1002);
    ck_assert_uint_eq(djs_clock_peek(&c), 1002);
    fake_now = 5000;
    ck_assert_uint_eq(djs_clock_peek(&c), 5000);
    ck_assert_uint_eq(djs_clock_next(&c), 5000);
}
END_TEST

START_TEST(floor_is_the_restart_high_water_mark)
{
    djs_clock_t c;
    djs_clock_init(&c, fake_src, NULL);
    fake_now = 100;
    djs_clock_floor(&c, 900); /* last durable event's timestamp */
    ck_assert_uint_eq(djs_clock_next(&c), 901);
    djs_clock_floor(&c, 10); /* a lower floor changes nothing */
    ck_assert_uint_eq(djs_clock_next(&c), 902);
}
END_TEST

START_TEST(real_clocks_move)
{
    djs_clock_t c;
    djs_clock_init(&c, NULL, NULL);
    uint64_t a = djs_clock_next(&c), b = djs_clock_next(&c);
    ck_assert_uint_gt(b, a);
    ck_assert_uint_gt(a, 1600000000ULL * 1000000000ULL); /* after 2020 */
    uint64_t m1 = djs_monotonic_ns(), m2 = djs_monotonic_ns();
    ck_assert_uint_ge(m2, m1);
}
END_TEST

static Suite *clock_suite(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, never_goes_backwards);
    tcase_add_test(tc, floor_is_the_restart_high_water_mark);
    tcase_add_test(tc, real_clocks_move);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(clock_suite)

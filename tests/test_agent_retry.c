#include <stdint.h>

#include "testutil.h"
#include "tools/agent/retry.h"

START_TEST(answer_classes)
{
    ck_assert_int_eq(djs_agent_answer_class(200), DJS_AGENT_ANS_OK);
    ck_assert_int_eq(djs_agent_answer_class(204), DJS_AGENT_ANS_OK);
    ck_assert_int_eq(djs_agent_answer_class(299), DJS_AGENT_ANS_OK);
    ck_assert_int_eq(djs_agent_answer_class(0), DJS_AGENT_ANS_RETRY); /* no answer */
    ck_assert_int_eq(djs_agent_answer_class(408), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(djs_agent_answer_class(429), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(djs_agent_answer_class(500), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(djs_agent_answer_class(503), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(djs_agent_answer_class(307), DJS_AGENT_ANS_RETRY); /* a redirect to the leader, not followed */
    ck_assert_int_eq(djs_agent_answer_class(308), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(djs_agent_answer_class(300), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(djs_agent_answer_class(302), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(djs_agent_answer_class(400), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(djs_agent_answer_class(404), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(djs_agent_answer_class(409), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(djs_agent_answer_class(199), DJS_AGENT_ANS_FINAL);
}
END_TEST

START_TEST(backoff_doubles_to_the_cap)
{
    uint32_t st = 0;
    uint32_t bounds[] = {500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
        uint32_t lo = djs_agent_backoff_next(&st, 0);
        ck_assert_uint_eq(st, bounds[i]);
        ck_assert_uint_eq(lo, bounds[i] / 2); /* rnd 0: the low end */
    }
}
END_TEST

START_TEST(backoff_range_and_reset)
{
    uint32_t st = 0;
    ck_assert_uint_eq(djs_agent_backoff_next(&st, 250), 500); /* 250 + 250 % 251: the high end */
    ck_assert_uint_eq(djs_agent_backoff_next(&st, 501), 500); /* 500 + 501 % 501 */
    for (uint32_t r = 0; r < 100000; r += 7) {
        uint32_t s2 = 4000, d = djs_agent_backoff_next(&s2, r * 2654435761u);
        ck_assert_uint_ge(d, 4000);
        ck_assert_uint_le(d, 8000);
    }
    uint32_t big = 30000, d = djs_agent_backoff_next(&big, UINT32_MAX);
    ck_assert_uint_le(d, 30000);
    ck_assert_uint_ge(d, 15000);
    st = 0; /* a success resets it */
    ck_assert_uint_eq(djs_agent_backoff_next(&st, 0), 250);
}
END_TEST

static Suite *agent_retry_suite(void)
{
    Suite *s = suite_create("agent_retry");
    TCase *tc = tcase_create("retry");
    tcase_add_test(tc, answer_classes);
    tcase_add_test(tc, backoff_doubles_to_the_cap);
    tcase_add_test(tc, backoff_range_and_reset);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(agent_retry_suite)

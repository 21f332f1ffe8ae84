#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "tools/cli/args.h"

START_TEST(u64_suffixes_and_limits)
{
    uint64_t v = 7;
    ck_assert_int_eq(djs_cli_u64("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(djs_cli_u64("100k", &v), 0);
    ck_assert_uint_eq(v, 100000);
    ck_assert_int_eq(djs_cli_u64("2M", &v), 0);
    ck_assert_uint_eq(v, 2000000);
    ck_assert_int_eq(djs_cli_u64("3G", &v), 0);
    ck_assert_uint_eq(v, 3000000000ull);
    ck_assert_int_eq(djs_cli_u64("18446744073709551615", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    v = 7;
    const char *bad[] = {"", "-1", "1m", "1.5", "12x", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(djs_cli_u64(bad[i], &v) == DJS_EINVAL, "%s", bad[i]);
    const char *over[] = {"18446744073709551616", "18446744073709552G", NULL};
    for (int i = 0; over[i]; i++)
        ck_assert_msg(djs_cli_u64(over[i], &v) == DJS_ERANGE, "%s", over[i]);
    ck_assert_int_eq(djs_cli_u64(NULL, &v), DJS_EINVAL);
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(durations)
{
    static const struct {
        const char *s;
        uint64_t secs;
    } ok[] = {{"0", 0}, {"90", 90}, {"90s", 90}, {"10m", 600}, {"2h", 7200}, {"1d", 86400}, {"366d", 366ULL * 86400}};
    uint64_t v = 7;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ck_assert_msg(djs_cli_duration(ok[i].s, &v) == 0, "%s", ok[i].s);
        ck_assert_uint_eq(v, ok[i].secs);
    }
    v = 7;
    const char *bad[] = {"", "-5", "+5", "m", "5x", "5mm", "1h5", "1.5h", " 5", NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(djs_cli_duration(bad[i], &v) == DJS_EINVAL, "%s", bad[i]);
    ck_assert_int_eq(djs_cli_duration(NULL, &v), DJS_EINVAL);
    ck_assert_int_eq(djs_cli_duration("18446744073709551616", &v), DJS_ERANGE);
    ck_assert_int_eq(djs_cli_duration("213503982334602d", &v), DJS_ERANGE);
    ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(times_and_points)
{
    uint64_t ns = 7, now = 1800000000ULL * 1000000000ULL;
    ck_assert_int_eq(djs_cli_time("2027-01-15T08:00:00Z", now, &ns), 0);
    ck_assert_uint_eq(ns, 1800000000ULL * 1000000000ULL);
    ck_assert_int_eq(djs_cli_time("2027-01-15T09:30:00.25+01:30", now, &ns), 0);
    ck_assert_uint_eq(ns, 1800000000ULL * 1000000000ULL + 250000000ULL);
    ck_assert_int_eq(djs_cli_time("1970-01-01T00:00:00.000000001Z", now, &ns), 0);
    ck_assert_uint_eq(ns, 1);
    ck_assert_int_eq(djs_cli_time("2024-02-29T00:00:00z", now, &ns), 0);
    ck_assert_int_eq(djs_cli_time("-24h", now, &ns), 0);
    ck_assert_uint_eq(ns, now - 86400ULL * 1000000000ULL);
    ck_assert_int_eq(djs_cli_time("-0", now, &ns), 0);
    ck_assert_uint_eq(ns, now);
    ns = 7;
    const char *bad[] = {"",
                         "yesterday",
                         "2027-01-15",
                         "2027-01-15T08:00:00",
                         "2027-13-01T00:00:00Z",
                         "2023-02-29T00:00:00Z",
                         "2027-01-15T24:00:00Z",
                         "2027-01-15T08:00:00.Z",
                         "2027-01-15T08:00:00+0100",
                         "1969-12-31T23:59:59Z",
                         "2027-01-15T08:00:00Zx",
                         "-24x",
                         "-",
                         NULL};
    for (int i = 0; bad[i]; i++)
        ck_assert_msg(djs_cli_time(bad[i], now, &ns) == DJS_EINVAL, "%s", bad[i]);
    ck_assert_int_eq(djs_cli_time("-100000000d", now, &ns), DJS_ERANGE);
    ck_assert_int_eq(djs_cli_time("2600-01-01T00:00:00Z", now, &ns), DJS_ERANGE);
    ck_assert_uint_eq(ns, 7);
    int is_time = -1;
    uint64_t v = 0;
    ck_assert_int_eq(djs_cli_point("42", now, &is_time, &v), 0);
    ck_assert_int_eq(is_time, 0);
    ck_assert_uint_eq(v, 42);
    ck_assert_int_eq(djs_cli_point("-1h", now, &is_time, &v), 0);
    ck_assert_int_eq(is_time, 1);
    ck_assert_uint_eq(v, now - 3600ULL * 1000000000ULL);
    ck_assert_int_eq(djs_cli_point("4x2", now, &is_time, &v), DJS_EINVAL);
    char t[40];
    djs_cli_format_time(1800000000ULL * 1000000000ULL + 123456789ULL, t, sizeof(t));
    ck_assert_str_eq(t, "2027-01-15T08:00:00.123Z");
}
END_TEST

START_TEST(options_are_taken_out)
{
    char a0[] = "bench", a1[] = "--jobs", a2[] = "10", a3[] = "--keep", a4[] = "--dir=/tmp/x", a5[] = "pos", a6[] = "--jobsx";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6};
    int argc = 7;
    ck_assert_str_eq(djs_cli_opt(argc, argv, "--jobs"), "10");
    ck_assert_ptr_null(argv[1]);
    ck_assert_ptr_null(argv[2]);
    ck_assert_str_eq(djs_cli_opt(argc, argv, "--dir"), "/tmp/x");
    ck_assert_ptr_null(djs_cli_opt(argc, argv, "--jobs")); /* taken already; --jobsx is another option */
    ck_assert_int_eq(djs_cli_flag(argc, argv, "--keep"), 1);
    ck_assert_int_eq(djs_cli_flag(argc, argv, "--keep"), 0);
    const char *pos[2];
    ck_assert_int_eq(djs_cli_rest(argc, argv, pos, 2, "usage"), DJS_EINVAL); /* --jobsx is unknown */
    argv[6] = NULL;
    ck_assert_int_eq(djs_cli_rest(argc, argv, pos, 2, "usage"), 1);
    ck_assert_str_eq(pos[0], "pos");
    ck_assert_int_eq(djs_cli_rest(argc, argv, pos, 0, "usage"), DJS_EINVAL); /* more positionals than allowed */
    /* an option at the end without its value is not taken */
    char b0[] = "x", b1[] = "--name";
    char *argv2[] = {b0, b1};
    ck_assert_ptr_null(djs_cli_opt(2, argv2, "--name"));
    ck_assert_ptr_nonnull(argv2[1]);
}
END_TEST

static Suite *cli_args_suite(void)
{
    Suite *s = suite_create("cli_args");
    TCase *tc = tcase_create("args");
    tcase_add_test(tc, u64_suffixes_and_limits);
    tcase_add_test(tc, options_are_taken_out);
    tcase_add_test(tc, times_and_points);
    tcase_add_test(tc, durations);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(cli_args_suite)

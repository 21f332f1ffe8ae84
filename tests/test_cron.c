#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/cron.h"
#include "core/error.h"
#include "testutil.h"

static djs_cron_t parse_ok(const char *spec)
{
    djs_cron_t c;
    char err[128];
    int rc = djs_cron_parse(spec, strlen(spec), &c, err, sizeof err);
    ck_assert_msg(rc == 0, "%s: %s", spec, err);
    return c;
}

static void parse_bad(const char *spec, const char *reason)
{
    djs_cron_t c;
    char err[160];
    ck_assert_int_eq(djs_cron_parse(spec, strlen(spec), &c, err, sizeof err), DJS_EINVAL);
    ck_assert_msg(strcmp(err, reason) == 0, "'%s': got \"%s\", want \"%s\"", spec, err, reason);
    ck_assert_int_eq(c.flags, 0);
    ck_assert_int_eq(c.minutes, 0);
}

/* UTC "YYYY-MM-DD HH:MM[:SS]" to unix seconds. */
static int64_t utc(const char *s)
{
    struct tm tm = {0};
    int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    ck_assert_int_ge(n, 5);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static djs_tz_t *zone(const char *name)
{
    djs_tz_t *tz = NULL;
    ck_assert_int_eq(djs_tz_open(name, strlen(name), &tz), 0);
    return tz;
}

static int64_t next_of(const djs_cron_t *c, const djs_tz_t *tz, int64_t after)
{
    int64_t n = 0;
    int rc = djs_cron_next(c, tz, 0, after, &n);
    ck_assert_msg(rc == 0, "next after %lld: %s", (long long)after, djs_err_name(rc));
    return n;
}

START_TEST(parse_forms)
{
    djs_cron_t c = parse_ok("*/5 * * * *");
    ck_assert_uint_eq(c.minutes, 0x084210842108421ULL); /* 0,5,...,55 */
    ck_assert_uint_eq(c.hours, 0xffffff);
    ck_assert_uint_eq(c.doms, 0xfffffffe);
    ck_assert_uint_eq(c.months, 0x1ffe);
    ck_assert_uint_eq(c.dows, 0x7f);
    ck_assert_uint_eq(c.flags, DJS_CRON_DOM_STAR | DJS_CRON_DOW_STAR);
    ck_assert_int_eq(djs_cron_is_interval(&c), 0);
    c = parse_ok("0 9-17/2 1,15,20-22 jan-MAR,Dec mon-FRI");
    ck_assert_uint_eq(c.minutes, 1);
    ck_assert_uint_eq(c.hours, (1u << 9) | (1u << 11) | (1u << 13) | (1u << 15) | (1u << 17));
    ck_assert_uint_eq(c.doms, (1u << 1) | (1u << 15) | (1u << 20) | (1u << 21) | (1u << 22));
    ck_assert_uint_eq(c.months, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 12));
    ck_assert_uint_eq(c.dows, 0x3e);
    ck_assert_uint_eq(c.flags, 0);
    ck_assert_uint_eq(parse_ok("0 0 * * 7").dows, 1);      /* 7 = Sunday */
    ck_assert_uint_eq(parse_ok("0 0 * * 5-7").dows, 0x61); /* FRI SAT SUN */
    ck_assert_uint_eq(parse_ok("0 0 * * sun,7").dows, 1);
    ck_assert_uint_eq(parse_ok("0 0 */10 * *").doms, (1u << 1) | (1u << 11) | (1u << 21) | (1u << 31));
    ck_assert_uint_eq(parse_ok("0 0 */10 * *").flags, DJS_CRON_DOM_STAR | DJS_CRON_DOW_STAR);
    ck_assert_uint_eq(parse_ok("  59\t23 31 12 6  ").minutes, 1ULL << 59);
    ck_assert_uint_eq(parse_ok("10-10/5 * * * *").minutes, 1ULL << 10);
    ck_assert_uint_eq(parse_ok("*/60 * * * *").minutes, 1);
    /* macros */
    djs_cron_t y = parse_ok("@yearly"), a = parse_ok("@annually"), e = parse_ok("0 0 1 1 *");
    ck_assert_int_eq(memcmp(&y, &e, sizeof y), 0);
    ck_assert_int_eq(memcmp(&a, &e, sizeof a), 0);
    const char *pairs[][2] = {{"@monthly", "0 0 1 * *"},  {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},
                              {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"}, {"@HOURLY", "0 * * * *"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        djs_cron_t m = parse_ok(pairs[i][0]), f = parse_ok(pairs[i][1]);
        ck_assert_msg(memcmp(&m, &f, sizeof m) == 0, "%s", pairs[i][0]);
    }
    /* intervals */
    const struct {
        const char *spec;
        int64_t secs;
    } iv[] = {{"every 90s", 90}, {"every 5m", 300},           {"every 2h", 7200},     {"every 1d", 86400},
              {"every 1s", 1},   {"every 366d", 366 * 86400}, {"  every   10m ", 600}};
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) {
        c = parse_ok(iv[i].spec);
        ck_assert_int_eq(djs_cron_is_interval(&c), 1);
        ck_assert_int_eq(djs_cron_interval(&c), iv[i].secs);
    }
    /* the length counts, not a NUL */
    ck_assert_int_eq(djs_cron_parse("@daily garbage", 6, &c, NULL, 0), 0);
}
END_TEST

START_TEST(parse_refusals)
{
    parse_bad("", "empty spec");
    parse_bad(" \t ", "empty spec");
    parse_bad("60 * * * *", "minute: 60 is out of range 0-59");
    parse_bad("* 24 * * *", "hour: 24 is out of range 0-23");
    parse_bad("* * 0 * *", "day-of-month: 0 is out of range 1-31");
    parse_bad("* * 32 * *", "day-of-month: 32 is out of range 1-31");
    parse_bad("* * * 13 *", "month: 13 is out of range 1-12");
    parse_bad("* * * * 8", "day-of-week: 8 is out of range 0-7");
    parse_bad("99999999999 * * * *", "minute: 99999999999 is out of range 0-59");
    parse_bad("*/0 * * * *", "minute: step 0 is out of range 1-60");
    parse_bad("*/61 * * * *", "minute: step 61 is out of range 1-60");
    parse_bad("* */ * * *", "hour: a step needs a number after '/'");
    parse_bad("5/15 * * * *", "minute: a step needs '*' or a range (write 5-59/15)");
    parse_bad("30-10 * * * *", "minute: range 30-10 is backwards");
    parse_bad("* * * FOO *", "month: unknown name \"FOO\"");
    parse_bad("* * * * MONDAY", "day-of-week: unknown name \"MONDAY\"");
    parse_bad("* * * JAN-FOO *", "month: unknown name \"FOO\"");
    parse_bad("MON * * * *", "minute: expected a number, got \"MON\"");
    parse_bad("* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got at least 6");
    parse_bad("* * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 3");
    parse_bad("1,,2 * * * *", "minute: empty list item");
    parse_bad("1, * * * *", "minute: empty list item");
    parse_bad("1- * * * *", "minute: expected a number at \"\"");
    parse_bad("1x * * * *", "minute: unexpected \"x\"");
    parse_bad("-1 * * * *", "minute: expected a number at \"-1\"");
    parse_bad("@reboot", "@reboot is not supported");
    parse_bad("@often", "unknown macro \"@often\" (@yearly @annually @monthly @weekly @daily @midnight @hourly)");
    parse_bad("every 0s", "every: the interval must be between 1s and 366d");
    parse_bad("every 367d", "every: the interval must be between 1s and 366d");
    parse_bad("every 99999999999999999999h", "every: the interval must be between 1s and 366d");
    parse_bad("every 5", "every: the interval needs a unit (s, m, h or d)");
    parse_bad("every 5x", "every: unknown unit \"x\" (s, m, h or d)");
    parse_bad("every 5 m", "every: unknown unit \" m\" (s, m, h or d)");
    parse_bad("every m", "every: expected a number, e.g. \"every 90s\"");
    parse_bad("everyday", "expected \"every N<unit>\", e.g. \"every 90s\"");
}
END_TEST

START_TEST(parse_edges)
{
    djs_cron_t c;
    char err[64];
    ck_assert_int_eq(djs_cron_parse("* * * * *\0x", 11, &c, err, sizeof err), DJS_EINVAL);
    ck_assert_str_eq(err, "NUL byte in spec");
    char big[300];
    memset(big, ' ', sizeof big);
    memcpy(big, "* * * * *", 9);
    ck_assert_int_eq(djs_cron_parse(big, sizeof big, &c, err, sizeof err), DJS_EINVAL);
    ck_assert_str_eq(err, "spec longer than 256 bytes");
    ck_assert_int_eq(djs_cron_parse(NULL, 0, &c, err, sizeof err), DJS_EINVAL);
    ck_assert_int_eq(djs_cron_parse("60 * * * *", 10, &c, NULL, 0), DJS_EINVAL); /* err may be NULL */
    ck_assert_int_eq(djs_cron_parse("60 * * * *", 10, &c, err, 4), DJS_EINVAL);  /* truncated, terminated */
    ck_assert_str_eq(err, "min");
}
END_TEST

START_TEST(next_utc)
{
    djs_cron_t c = parse_ok("*/5 * * * *");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-01-01 00:00")), utc("2026-01-01 00:05"));
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-01-01 00:04:59")), utc("2026-01-01 00:05"));
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-12-31 23:59")), utc("2027-01-01 00:00"));
    c = parse_ok("0 0 1 1 *");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-06-15 12:00")), utc("2027-01-01 00:00"));
    ck_assert_int_eq(next_of(&c, NULL, utc("2027-01-01 00:00")), utc("2028-01-01 00:00"));
    c = parse_ok("0 0 29 2 *");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-03-01 00:00")), utc("2028-02-29 00:00"));
    c = parse_ok("30 4 * * mon-fri");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-12-04 04:30")), utc("2026-12-07 04:30")); /* Fri -> Mon */
    c = parse_ok("15 10 31 * *");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-04-01 00:00")), utc("2026-05-31 10:15")); /* April has 30 */
    c = parse_ok("0 12 * * *");
    ck_assert_int_eq(next_of(&c, NULL, utc("1969-12-31 13:00")), utc("1970-01-01 12:00")); /* before the epoch */
    ck_assert_int_eq(next_of(&c, NULL, utc("1900-03-01 00:00")), utc("1900-03-01 12:00"));
    int64_t n = 0;
    c = parse_ok("0 0 31 2 *");
    ck_assert_int_eq(djs_cron_next(&c, NULL, 0, utc("2026-01-01 00:00"), &n), DJS_ENOTFOUND);
    c = parse_ok("0 0 30 2 *");
    ck_assert_int_eq(djs_cron_next(&c, NULL, 0, utc("2026-01-01 00:00"), &n), DJS_ENOTFOUND);
    c = parse_ok("* * * * *");
    ck_assert_int_eq(djs_cron_next(&c, NULL, 0, INT64_MAX, &n), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_cron_next(&c, NULL, 0, INT64_MIN, &n), DJS_ENOTFOUND);
    /* a stored struct with stray bits outside the ranges: ignored */
    c = parse_ok("0 0 1 1 *");
    c.months |= 0xe001;
    c.hours |= 0xff000000u;
    c.minutes |= ~0ULL << 60;
    c.doms |= 1;
    c.dows |= 0x80;
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-06-15 12:00")), utc("2027-01-01 00:00"));
    ck_assert_int_eq(djs_cron_next(NULL, NULL, 0, 0, &n), DJS_EINVAL);
    ck_assert_int_eq(djs_cron_next(&c, NULL, 0, 0, NULL), DJS_EINVAL);
}
END_TEST

START_TEST(dom_dow_or_rule)
{
    /* both restricted: the 13th OR a Friday; 2026-02-01 is a Sunday */
    djs_cron_t c = parse_ok("0 0 13 * 5");
    int64_t t = next_of(&c, NULL, utc("2026-02-01 00:00"));
    ck_assert_int_eq(t, utc("2026-02-06 00:00"));                        /* Friday */
    ck_assert_int_eq(t = next_of(&c, NULL, t), utc("2026-02-13 00:00")); /* both */
    ck_assert_int_eq(t = next_of(&c, NULL, t), utc("2026-02-20 00:00"));
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-03-10 00:00")), utc("2026-03-13 00:00")); /* Friday the 13th */
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-04-11 00:00")), utc("2026-04-13 00:00")); /* a Monday: dom */
    /* one starred (even with a step): AND, the odd days that are Fridays */
    c = parse_ok("0 0 */2 * 5");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-02-01 00:00")), utc("2026-02-13 00:00"));
    c = parse_ok("0 0 * * 5");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-02-01 00:00")), utc("2026-02-06 00:00"));
    c = parse_ok("0 0 13 * *");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-02-01 00:00")), utc("2026-02-13 00:00"));
    /* Feb 30 or a Sunday: only Sundays exist */
    c = parse_ok("0 0 30 2 sun");
    ck_assert_int_eq(next_of(&c, NULL, utc("2026-02-02 00:00")), utc("2026-02-08 00:00"));
}
END_TEST

/* All fires of c from local day start .. start + hours (UTC bounds). */
static int fires(const djs_cron_t *c, const djs_tz_t *tz, int64_t from, int64_t to, int64_t *out, int max)
{
    int n = 0;
    for (int64_t t = from - 1; (t = next_of(c, tz, t)) < to;) {
        ck_assert_int_lt(n, max);
        if (n)
            ck_assert_int_gt(t, out[n - 1]);
        out[n++] = t;
    }
    return n;
}

START_TEST(dst_paris_0230)
{
    djs_tz_t *tz = zone("Europe/Paris");
    djs_cron_t c = parse_ok("30 2 * * *");
    int64_t f[8];
    /* 2026-03-29: local midnight is 23:00 UTC the day before; 02:30 does not exist */
    int n = fires(&c, tz, utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), f, 8);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(f[0], utc("2026-03-29 01:00")); /* 03:00 CEST, the first instant after the gap */
    ck_assert_int_eq(next_of(&c, tz, f[0]), utc("2026-03-30 00:30"));
    ck_assert_int_eq(next_of(&c, tz, utc("2026-03-28 12:00")), utc("2026-03-29 01:00"));
    /* 2026-10-25: 02:30 happens at 00:30 UTC (CEST) and 01:30 UTC (CET) */
    n = fires(&c, tz, utc("2026-10-24 22:00"), utc("2026-10-25 23:00"), f, 8);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(f[0], utc("2026-10-25 00:30"));
    ck_assert_int_eq(next_of(&c, tz, f[0]), utc("2026-10-26 01:30"));
    ck_assert_int_eq(next_of(&c, tz, utc("2026-10-25 01:15")), utc("2026-10-26 01:30")); /* inside the repeat */
    /* an hourly job on both days: one fire per existing local hour */
    int64_t h[32];
    c = parse_ok("0 * * * *");
    ck_assert_int_eq(fires(&c, tz, utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), h, 32), 23);
    ck_assert_int_eq(fires(&c, tz, utc("2026-10-24 22:00"), utc("2026-10-25 23:00"), h, 32), 24);
    djs_tz_close(tz);
}
END_TEST

/* local wall time as minutes of the day, 0..1439 */
static int local_minute(const djs_tz_t *tz, int64_t t)
{
    int64_t l = t + djs_tz_offset(tz, t);
    return (int)(((l % 86400) + 86400) % 86400 / 60);
}

START_TEST(dst_quarter_hours)
{
    djs_tz_t *tz = zone("Europe/Paris");
    djs_cron_t c = parse_ok("*/15 * * * *");
    int64_t f[128];
    /* spring forward: 23 real hours; the local 02:00..02:45 do not exist and
     * fire once, together with 03:00, at the change */
    int n = fires(&c, tz, utc("2026-03-28 23:00"), utc("2026-03-29 22:00"), f, 128);
    ck_assert_int_eq(n, 92);
    int seen[96] = {0};
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(f[i] % 900, 0); /* a real quarter hour */
        int m = local_minute(tz, f[i]);
        ck_assert_int_eq(m % 15, 0);
        ck_assert_int_eq(seen[m / 15]++, 0); /* no local time twice */
        if (i)
            ck_assert_int_eq(f[i] - f[i - 1], 900); /* and none left out */
    }
    for (int q = 0; q < 96; q++)
        ck_assert_int_eq(seen[q], q >= 8 && q < 12 ? 0 : 1);
    /* fall back: every local quarter hour once, at its first occurrence;
     * the repeated 02:00..02:45 CET fires nothing */
    n = fires(&c, tz, utc("2026-10-24 22:00"), utc("2026-10-25 23:00"), f, 128);
    ck_assert_int_eq(n, 96);
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(f[i] % 900, 0);
        int m = local_minute(tz, f[i]);
        ck_assert_int_eq(seen[m / 15]++, 0);
        ck_assert(f[i] < utc("2026-10-25 01:00") || f[i] >= utc("2026-10-25 02:00"));
    }
    djs_tz_close(tz);
}
END_TEST

START_TEST(dst_elsewhere)
{
    djs_tz_t *ny = zone("America/New_York"), *lh = zone("Australia/Lord_Howe");
    int64_t f[8];
    djs_cron_t c = parse_ok("30 2 * * *");
    /* New York, 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00 UTC */
    ck_assert_int_eq(fires(&c, ny, utc("2026-03-08 05:00"), utc("2026-03-09 04:00"), f, 8), 1);
    ck_assert_int_eq(f[0], utc("2026-03-08 07:00"));
    /* 2026-11-01: 01:30 happens twice, 02:30 once */
    c = parse_ok("30 1 * * *");
    ck_assert_int_eq(fires(&c, ny, utc("2026-11-01 04:00"), utc("2026-11-02 05:00"), f, 8), 1);
    ck_assert_int_eq(f[0], utc("2026-11-01 05:30"));
    /* Lord Howe: a 30-minute change. 2026-10-04 02:00 -> 02:30 (+11) */
    c = parse_ok("15 2 * * *");
    ck_assert_int_eq(next_of(&c, lh, utc("2026-10-03 12:00")), utc("2026-10-03 15:30"));
    ck_assert_int_eq(next_of(&c, lh, utc("2026-10-03 15:30")), utc("2026-10-04 15:15"));
    /* 2026-04-05 02:00 (+11) -> 01:30 (+10:30): 01:45 twice, fires at the first */
    c = parse_ok("45 1 * * *");
    ck_assert_int_eq(next_of(&c, lh, utc("2026-04-04 12:00")), utc("2026-04-04 14:45"));
    ck_assert_int_eq(next_of(&c, lh, utc("2026-04-04 14:45")), utc("2026-04-05 15:15"));
    /* far future: the footer rule (2100-03-28 is Paris' spring forward) */
    djs_tz_t *pa = zone("Europe/Paris");
    c = parse_ok("30 2 28 3 *");
    ck_assert_int_eq(next_of(&c, pa, utc("2100-01-01 00:00")), utc("2100-03-28 01:00"));
    djs_tz_close(pa);
    djs_tz_close(ny);
    djs_tz_close(lh);
}
END_TEST

START_TEST(intervals)
{
    djs_cron_t c = parse_ok("every 90s");
    int64_t n = 0;
    ck_assert_int_eq(djs_cron_next(&c, NULL, 1000, 500, &n), 0);
    ck_assert_int_eq(n, 1000); /* before the anchor: the anchor */
    ck_assert_int_eq(djs_cron_next(&c, NULL, 1000, 999, &n), 0);
    ck_assert_int_eq(n, 1000);
    ck_assert_int_eq(djs_cron_next(&c, NULL, 1000, 1000, &n), 0);
    ck_assert_int_eq(n, 1090);
    ck_assert_int_eq(djs_cron_next(&c, NULL, 1000, 1089, &n), 0);
    ck_assert_int_eq(n, 1090);
    ck_assert_int_eq(djs_cron_next(&c, NULL, 1000, 1090, &n), 0);
    ck_assert_int_eq(n, 1180);
    ck_assert_int_eq(djs_cron_next(&c, NULL, -1000, -1, &n), 0);
    ck_assert_int_eq(n, 80);
    /* tz is ignored: an interval is in elapsed seconds, DST or not */
    djs_tz_t *tz = zone("Europe/Paris");
    c = parse_ok("every 1h");
    ck_assert_int_eq(djs_cron_next(&c, tz, utc("2026-03-29 00:00"), utc("2026-03-29 00:30"), &n), 0);
    ck_assert_int_eq(n, utc("2026-03-29 01:00"));
    ck_assert_int_eq(djs_cron_next(&c, tz, utc("2026-03-29 00:00"), utc("2026-03-29 01:00"), &n), 0);
    ck_assert_int_eq(n, utc("2026-03-29 02:00"));
    djs_tz_close(tz);
    ck_assert_int_eq(djs_cron_next(&c, NULL, 0, INT64_MAX - 10, &n), DJS_ENOTFOUND); /* overflow */
    ck_assert_int_eq(djs_cron_next(&c, NULL, INT64_MIN, INT64_MAX - 10, &n), DJS_ENOTFOUND);
}
END_TEST

/* ---- the property check, against a brute force built on libc ---- */

static int bit(uint64_t mask, int i)
{
    return (int)((mask >> i) & 1);
}

/* Does local wall time l (minute-aligned, as seconds) match c? gmtime's
 * calendar, not the module's. */
static int matches(const djs_cron_t *c, int64_t l)
{
    time_t tt = (time_t)l;
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (!bit(c->minutes, tm.tm_min) || !bit(c->hours, (int)tm.tm_hour) || !bit(c->months, tm.tm_mon + 1))
        return 0;
    int dom = bit(c->doms, tm.tm_mday), dow = bit(c->dows, tm.tm_wday);
    return (c->flags & (DJS_CRON_DOM_STAR | DJS_CRON_DOW_STAR)) ? dom && dow : dom || dow;
}

/* Does c fire at instant m (minute-aligned)? */
static int fires_at(const djs_cron_t *c, const djs_tz_t *tz, int64_t m)
{
    int32_t o = djs_tz_offset(tz, m), op = djs_tz_offset(tz, m - 1);
    int64_t l = m + o;
    if (matches(c, l)) {
        for (int k = 1; k <= 4; k++) /* an earlier occurrence of l (overlaps of up to 2 h) */
            if (m - k * 1800 + djs_tz_offset(tz, m - k * 1800) == l)
                return 0;
        return 1;
    }
    if (op < o) /* a gap just before m: its local times fire at m */
        for (int64_t g = m + op; g < l; g += 60)
            if (matches(c, g))
                return 1;
    return 0;
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(uint64_t n)
{
    rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
    return rnd_state % n;
}

static int rnd_field(char *p, size_t cap, int lo, int hi)
{
    int a = lo + (int)rnd((uint64_t)(hi - lo + 1)), b = a + (int)rnd((uint64_t)(hi - a + 1)), s = 1 + (int)rnd(6);
    switch (rnd(6)) {
    case 0:
    case 1:
        return snprintf(p, cap, "*");
    case 2:
        return snprintf(p, cap, "*/%d", s);
    case 3:
        return snprintf(p, cap, "%d", a);
    case 4:
        return snprintf(p, cap, "%d-%d/%d", a, b, s);
    default:
        return snprintf(p, cap, "%d,%d-%d", a, a, b);
    }
}

static void rnd_spec(char *buf, size_t cap)
{
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    size_t n = 0;
    for (int i = 0; i < 5; i++) {
        n += (size_t)rnd_field(buf + n, cap - n, lo[i], hi[i]);
        if (i < 4)
            buf[n++] = ' ';
    }
}

static void check_one(const djs_cron_t *c, const djs_tz_t *tz, int64_t after, const char *spec)
{
    int64_t next = 0;
    int rc = djs_cron_next(c, tz, 0, after, &next);
    djs_cron_t daily = *c;
    daily.minutes = ~0ULL >> 4;
    daily.hours = 0xffffff;
    if (rc == DJS_ENOTFOUND) { /* no local date in 5 years matches */
        for (int64_t d = after + 86400; d < after + 5LL * 365 * 86400; d += 21600)
            if (matches(&daily, (d + djs_tz_offset(tz, d)) / 86400 * 86400))
                ck_abort_msg("%s in %s after %lld: not found, but %lld matches", spec, djs_tz_name(tz), (long long)after,
                             (long long)d);
        return;
    }
    REQ(rc == 0);
    if (!(next > after && next % 60 == 0 && fires_at(c, tz, next)))
        ck_abort_msg("%s in %s after %lld: next %lld does not fire", spec, djs_tz_name(tz), (long long)after, (long long)next);
    /* nothing fires in between: minute by minute near both ends, and day
     * by day (local dates, which must not match) in the middle */
    int64_t m = (after / 60 + 1) * 60, near = 2 * 86400;
    for (; m < next && m < after + near; m += 60)
        if (fires_at(c, tz, m))
            ck_abort_msg("%s in %s after %lld: %lld fires before next %lld", spec, djs_tz_name(tz), (long long)after, (long long)m,
                         (long long)next);
    for (m = next - near > m ? next - near : m; m < next; m += 60)
        if (fires_at(c, tz, m))
            ck_abort_msg("%s in %s: %lld fires before next %lld", spec, djs_tz_name(tz), (long long)m, (long long)next);
    for (int64_t d = after + near; d < next - near; d += 21600) /* 6 h: no local date skipped */
        if (matches(&daily, (d + djs_tz_offset(tz, d)) / 86400 * 86400))
            ck_abort_msg("%s in %s: day of %lld matches before next %lld", spec, djs_tz_name(tz), (long long)d, (long long)next);
}

START_TEST(property_random)
{
    const char *zones[] = {"UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"};
    djs_tz_t *tz[5];
    for (int i = 0; i < 5; i++)
        tz[i] = zone(zones[i]);
    int notfound = 0;
    for (int i = 0; i < 10000; i++) {
        char spec[128];
        rnd_spec(spec, sizeof spec);
        djs_cron_t c = parse_ok(spec);
        djs_tz_t *z = tz[rnd(5)];
        int64_t after = utc("2000-01-01 00:00") + (int64_t)rnd(60ULL * 365 * 86400); /* 2000..2060 */
        if (rnd(3) == 0) {                                                           /* just before a change */
            int64_t ch = djs_tz_next_change(z, after);
            if (ch != INT64_MAX)
                after = ch - (int64_t)rnd(4 * 3600);
        }
        int64_t n;
        notfound += djs_cron_next(&c, z, 0, after, &n) == DJS_ENOTFOUND;
        check_one(&c, z, after, spec);
    }
    printf("cron: 10000 random specs checked (%d with no fire in 5 years)\n", notfound);
    for (int i = 0; i < 5; i++)
        djs_tz_close(tz[i]);
}
END_TEST

START_TEST(timing)
{
    djs_tz_t *tz = zone("Europe/Paris");
    const char *specs[] = {"*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "0 0 29 2 *", "every 90s"};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        djs_cron_t c = parse_ok(specs[s]);
        int64_t t = utc("2026-01-01 00:00"), sum = 0;
        uint64_t t0 = djs_monotonic_ns();
        for (int i = 0; i < 10000; i++) {
            int64_t n;
            REQ(djs_cron_next(&c, tz, 0, t + i * 7919, &n) == 0);
            sum += n;
        }
        uint64_t ns = djs_monotonic_ns() - t0;
        printf("cron: next(\"%s\", Europe/Paris): %.0f ns per call (10000 calls, as built)\n", specs[s], (double)ns / 10000);
        ck_assert_int_ne(sum, 0);
    }
    djs_tz_close(tz);
}
END_TEST

static Suite *cron_suite(void)
{
    Suite *s = suite_create("cron");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, parse_forms);
    tcase_add_test(tc, parse_refusals);
    tcase_add_test(tc, parse_edges);
    tcase_add_test(tc, next_utc);
    tcase_add_test(tc, dom_dow_or_rule);
    tcase_add_test(tc, dst_paris_0230);
    tcase_add_test(tc, dst_quarter_hours);
    tcase_add_test(tc, dst_elsewhere);
    tcase_add_test(tc, intervals);
    tcase_add_test(tc, property_random);
    tcase_add_test(tc, timing);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(cron_suite)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/tz.h"
#include "testutil.h"

/* 2026-03-29 01:00 UTC: Europe/Paris springs forward (CET -> CEST);
 * 2026-10-25 01:00 UTC: it falls back. */
#define PARIS_SPRING 1774746000
#define PARIS_FALL 1792890000
#define Y1800 (-5364662400LL)  /* 1800-01-01 00:00 UTC */
#define Y2100_JAN 4102444800LL /* 2100-01-01 */
#define Y2100_JUL 4118083200LL /* 2100-07-01 */

static djs_tz_t *zone(const char *name)
{
    djs_tz_t *tz = NULL;
    int rc = djs_tz_open(name, strlen(name), &tz);
    ck_assert_msg(rc == 0, "%s: %s", name, djs_err_name(rc));
    ck_assert_str_eq(djs_tz_name(tz), name);
    return tz;
}

START_TEST(paris)
{
    djs_tz_t *tz = zone("Europe/Paris");
    ck_assert_int_eq(djs_tz_offset(tz, PARIS_SPRING - 1), 3600);
    ck_assert_int_eq(djs_tz_offset(tz, PARIS_SPRING), 7200);
    ck_assert_int_eq(djs_tz_offset(tz, PARIS_FALL - 1), 7200);
    ck_assert_int_eq(djs_tz_offset(tz, PARIS_FALL), 3600);
    ck_assert_int_eq(djs_tz_offset(tz, Y1800), 561);      /* Paris mean time, 0:09:21 */
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JAN), 3600); /* the footer rule */
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JUL), 7200);
    ck_assert_int_eq(djs_tz_offset(tz, INT64_MAX), 3600); /* no overflow */
    ck_assert_int_eq(djs_tz_offset(tz, INT64_MIN), 561);
    ck_assert_int_eq(djs_tz_next_change(tz, PARIS_SPRING - 100), PARIS_SPRING);
    ck_assert_int_eq(djs_tz_next_change(tz, PARIS_SPRING), PARIS_FALL);
    ck_assert_int_eq(djs_tz_prev_change(tz, PARIS_FALL - 1), PARIS_SPRING);
    ck_assert_int_eq(djs_tz_prev_change(tz, PARIS_FALL), PARIS_FALL);
    /* 2100: last Sunday of March is the 28th, of October the 31st */
    ck_assert_int_eq(djs_tz_next_change(tz, Y2100_JAN), Y2100_JAN + (86 * 86400) + 3600);
    ck_assert_int_eq(djs_tz_prev_change(tz, Y2100_JUL), Y2100_JAN + (86 * 86400) + 3600);
    djs_tz_close(tz);
}
END_TEST

START_TEST(new_york)
{
    djs_tz_t *tz = zone("America/New_York");
    ck_assert_int_eq(djs_tz_offset(tz, 1772953200 - 1), -18000); /* 2026-03-08 07:00 UTC */
    ck_assert_int_eq(djs_tz_offset(tz, 1772953200), -14400);
    ck_assert_int_eq(djs_tz_offset(tz, 1793512800 - 1), -14400); /* 2026-11-01 06:00 UTC */
    ck_assert_int_eq(djs_tz_offset(tz, 1793512800), -18000);
    ck_assert_int_eq(djs_tz_offset(tz, Y1800), -17762); /* LMT -4:56:02 */
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JAN), -18000);
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JUL), -14400);
    djs_tz_close(tz);
}
END_TEST

START_TEST(lord_howe_half_hour)
{
    djs_tz_t *tz = zone("Australia/Lord_Howe");
    /* 2026-04-05 02:00 +11 -> 01:30 +10:30; 2026-10-04 02:00 +10:30 -> 02:30 +11 */
    ck_assert_int_eq(djs_tz_offset(tz, 1775314800 - 1), 39600);
    ck_assert_int_eq(djs_tz_offset(tz, 1775314800), 37800);
    ck_assert_int_eq(djs_tz_offset(tz, 1791041400 - 1), 37800);
    ck_assert_int_eq(djs_tz_offset(tz, 1791041400), 39600);
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JAN), 39600); /* southern summer */
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JUL), 37800);
    djs_tz_close(tz);
}
END_TEST

START_TEST(kolkata_and_utc)
{
    djs_tz_t *tz = zone("Asia/Kolkata");
    ck_assert_int_eq(djs_tz_offset(tz, PARIS_SPRING), 19800);
    ck_assert_int_eq(djs_tz_offset(tz, Y2100_JUL), 19800);
    ck_assert_int_eq(djs_tz_offset(tz, Y1800), 21208); /* LMT +5:53:28 */
    ck_assert_int_eq(djs_tz_next_change(tz, PARIS_SPRING), INT64_MAX);
    djs_tz_close(tz);
    tz = zone("UTC");
    for (int64_t t = Y1800; t < Y2100_JUL; t += 86400 * 1000)
        ck_assert_int_eq(djs_tz_offset(tz, t), 0);
    ck_assert_int_eq(djs_tz_next_change(tz, 0), INT64_MAX);
    ck_assert_int_eq(djs_tz_prev_change(tz, 0), INT64_MIN);
    djs_tz_close(tz);
    ck_assert_int_eq(djs_tz_offset(NULL, 12345), 0);
    ck_assert_str_eq(djs_tz_name(NULL), "UTC");
    djs_tz_close(NULL);
}
END_TEST

START_TEST(bad_names)
{
    djs_tz_t *tz = (djs_tz_t *)0x1;
    const char *bad[] = {"../etc/passwd", "", "/etc/localtime", "Europe/../../etc/passwd", "Europe/Paris/", "Europe Paris", "a\nb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(djs_tz_open(bad[i], strlen(bad[i]), &tz) == DJS_EINVAL, "%s", bad[i]);
    char longname[200];
    memset(longname, 'a', sizeof longname);
    ck_assert_int_eq(djs_tz_open(longname, 129, &tz), DJS_EINVAL);
    ck_assert_int_eq(djs_tz_open("Europe/Paris\0x", 14, &tz), DJS_EINVAL); /* embedded NUL */
    ck_assert_int_eq(djs_tz_open("Mars/Olympus_Mons", 17, &tz), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_tz_open("Europe", 6, &tz), DJS_ENOTFOUND); /* a directory */
    ck_assert_ptr_eq(tz, (djs_tz_t *)0x1);                          /* untouched on error */
    /* not NUL-terminated: the length counts */
    ck_assert_int_eq(djs_tz_open("Europe/Paris, please", 12, &tz), 0);
    ck_assert_str_eq(djs_tz_name(tz), "Europe/Paris");
    djs_tz_close(tz);
}
END_TEST

static int open_bytes(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(tu_write_file(path, buf, len), 0);
    djs_tz_t *tz = NULL;
    int rc = djs_tz_open_dir(dir, name, strlen(name), &tz);
    djs_tz_close(tz);
    return rc;
}

START_TEST(corrupt_files)
{
    const char *dir = tu_tmpdir();
    size_t len;
    uint8_t *paris = tu_read_file(DJS_TZ_DIR "/Europe/Paris", &len);
    ck_assert_ptr_nonnull(paris);
    ck_assert_int_eq(open_bytes(dir, "Good", paris, len), 0);
    /* every truncation is refused, never read past */
    for (size_t n = 0; n < len; n++)
        REQ(open_bytes(dir, "Trunc", paris, n) == DJS_ECORRUPT);
    uint8_t *bad = malloc(len);
    memcpy(bad, paris, len);
    bad[0] = 'X'; /* not TZif */
    ck_assert_int_eq(open_bytes(dir, "Magic", bad, len), DJS_ECORRUPT);
    memcpy(bad, paris, len);
    memset(bad + 32, 0xff, 4); /* timecnt 4 G */
    ck_assert_int_eq(open_bytes(dir, "Counts", bad, len), DJS_ECORRUPT);
    memcpy(bad, paris, len);
    memset(bad + 36, 0, 4); /* typecnt 0 */
    ck_assert_int_eq(open_bytes(dir, "Types", bad, len), DJS_ECORRUPT);
    memcpy(bad, paris, len);
    uint8_t *m10 = memmem(bad + len - 30, 30, "M10", 3); /* month 13 in the footer */
    ck_assert_ptr_nonnull(m10);
    m10[2] = '3';
    ck_assert_int_eq(open_bytes(dir, "Footer", bad, len), DJS_ECORRUPT);
    /* a file over 1 MiB */
    uint8_t *big = calloc(1, DJS_TZ_FILE_MAX + 1);
    memcpy(big, paris, len);
    ck_assert_int_eq(open_bytes(dir, "Big", big, DJS_TZ_FILE_MAX + 1), DJS_ECORRUPT);
    ck_assert_int_eq(open_bytes(dir, "Empty", big, 0), DJS_ECORRUPT);
    djs_tz_t *tz = NULL;
    ck_assert_int_eq(djs_tz_open_dir(dir, "Missing", 7, &tz), DJS_ENOTFOUND);
    free(big);
    free(bad);
    free(paris);
}
END_TEST

/* Random byte flips of a real file: refused or loaded, never a crash. */
START_TEST(flipped_bytes)
{
    size_t len;
    uint8_t *paris = tu_read_file(DJS_TZ_DIR "/America/New_York", &len);
    ck_assert_ptr_nonnull(paris);
    uint8_t *b = malloc(len);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 3000; i++) {
        memcpy(b, paris, len);
        for (int k = 0; k < 3; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[x % len] = (uint8_t)(x >> 32);
        }
        djs_tz_t *tz = NULL;
        if (djs_tz_from_tzif("X", 1, b, len, &tz) == 0) {
            (void)djs_tz_offset(tz, (int64_t)(x >> 20) - ((int64_t)1 << 43));
            (void)djs_tz_next_change(tz, 0);
            (void)djs_tz_prev_change(tz, 0);
            djs_tz_close(tz);
        }
    }
    free(b);
    free(paris);
}
END_TEST

/* An independent implementation: Python's zoneinfo, where installed. */
static const char *const xzones[] = {
    "Europe/Paris",      "America/New_York",  "Australia/Lord_Howe", "Asia/Kolkata",     "UTC",         "Europe/Dublin",
    "America/Sao_Paulo", "Pacific/Chatham",   "America/St_Johns",    "Antarctica/Troll", "Asia/Tehran", "Pacific/Apia",
    "America/Santiago",  "Africa/Casablanca", "Asia/Gaza",           "America/Nuuk"};
#define XN 400

START_TEST(python_cross_check)
{
    if (access("/usr/bin/python3", X_OK) != 0 || system("/usr/bin/python3 -c 'import zoneinfo' 2>/dev/null") != 0) {
        printf("tz: python3 zoneinfo missing, cross-check skipped\n");
        return;
    }
    const char *dir = tu_tmpdir();
    char in[512], cmd[1200];
    snprintf(in, sizeof in, "%s/instants", dir);
    FILE *f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    size_t nz = sizeof xzones / sizeof xzones[0];
    int64_t *ts = malloc(sizeof *ts * XN);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < XN; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* 1900 .. 2200: table and footer rule */
        ts[i] = -2208988800LL + (int64_t)(x % (300ULL * 365 * 86400));
        fprintf(f, "%lld\n", (long long)ts[i]);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys,datetime as D,zoneinfo as Z\n"
             "ts=[int(l) for l in open(sys.argv[1])]\n"
             "for z in sys.argv[2:]:\n"
             " zi=Z.ZoneInfo(z)\n"
             " for t in ts: print(z,t,int(D.datetime.fromtimestamp(t,zi).utcoffset().total_seconds()))' %s",
             in);
    for (size_t z = 0; z < nz; z++)
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1), strncat(cmd, xzones[z], sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char zname[64];
    long long t;
    int off, n = 0, bad = 0;
    djs_tz_t *tz = NULL;
    while (fscanf(p, "%63s %lld %d", zname, &t, &off) == 3) {
        if (!tz || strcmp(djs_tz_name(tz), zname) != 0) {
            djs_tz_close(tz);
            tz = zone(zname);
        }
        if (djs_tz_offset(tz, t) != off && bad++ < 10)
            printf("tz: %s at %lld: djs %d, python %d\n", zname, t, djs_tz_offset(tz, t), off);
        n++;
    }
    djs_tz_close(tz);
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(n, (int)(XN * nz));
    ck_assert_int_eq(bad, 0);
    printf("tz: %d offsets agree with python zoneinfo\n", n);
    free(ts);
}
END_TEST

/* Every change the zone reports, in 2000..2100, is where python sees the
 * offset change too, and the offsets either side agree. */
START_TEST(python_changes)
{
    if (access("/usr/bin/python3", X_OK) != 0 || system("/usr/bin/python3 -c 'import zoneinfo' 2>/dev/null") != 0)
        return;
    const char *dir = tu_tmpdir();
    char in[512], cmd[1024];
    snprintf(in, sizeof in, "%s/changes", dir);
    FILE *f = fopen(in, "w");
    ck_assert_ptr_nonnull(f);
    int n = 0;
    for (size_t z = 0; z < sizeof xzones / sizeof xzones[0]; z++) {
        djs_tz_t *tz = zone(xzones[z]);
        for (int64_t t = 946684800; (t = djs_tz_next_change(tz, t)) < Y2100_JAN; n++)
            fprintf(f, "%s %lld %d %d\n", xzones[z], (long long)t, djs_tz_offset(tz, t - 1), djs_tz_offset(tz, t));
        djs_tz_close(tz);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import sys,datetime as D,zoneinfo as Z\n"
             "o=lambda z,t:int(D.datetime.fromtimestamp(t,Z.ZoneInfo(z)).utcoffset().total_seconds())\n"
             "bad=[l for l in open(sys.argv[1]) if (lambda z,t,a,b:(o(z,int(t)-1),o(z,int(t)))!=(int(a),int(b)))(*l.split())]\n"
             "print(len(bad)); sys.stdout.write(\"\".join(bad[:5]))' %s",
             in);
    FILE *p = popen(cmd, "r");
    int bad = -1;
    ck_assert_int_eq(fscanf(p, "%d", &bad), 1);
    char line[256];
    while (fgets(line, sizeof line, p))
        if (line[0] != '\n')
            printf("tz: change mismatch: %s", line);
    pclose(p);
    ck_assert_int_gt(n, 1000);
    ck_assert_int_eq(bad, 0);
    printf("tz: %d offset changes in 2000..2100 agree with python zoneinfo\n", n);
}
END_TEST

static Suite *tz_suite(void)
{
    Suite *s = suite_create("tz");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, paris);
    tcase_add_test(tc, new_york);
    tcase_add_test(tc, lord_howe_half_hour);
    tcase_add_test(tc, kolkata_and_utc);
    tcase_add_test(tc, bad_names);
    tcase_add_test(tc, corrupt_files);
    tcase_add_test(tc, flipped_bytes);
    tcase_add_test(tc, python_cross_check);
    tcase_add_test(tc, python_changes);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(tz_suite)

#include "tools/cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

const char *djs_cli_opt(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL || strncmp(argv[i], name, n) != 0)
            continue;
        if (argv[i][n] == '=') {
            const char *v = argv[i] + n + 1;
            argv[i] = NULL;
            return v;
        }
        if (argv[i][n] == '\0' && i + 1 < argc && argv[i + 1] != NULL) {
            const char *v = argv[i + 1];
            argv[i] = argv[i + 1] = NULL;
            return v;
        }
    }
    return NULL;
}

int djs_cli_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i] != NULL && strcmp(argv[i], name) == 0) {
            argv[i] = NULL;
            return 1;
        }
    }
    return 0;
}

int djs_cli_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == '\0' || *s == '-')
        return DJS_EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return DJS_ERANGE;
    if (errno != 0 || end == s)
        return DJS_EINVAL;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    else if (*end == 'G')
        mul = 1000000000, end++;
    if (*end != '\0')
        return DJS_EINVAL;
    if (mul > 1 && v > UINT64_MAX / mul)
        return DJS_ERANGE;
    *out = v * mul;
    return 0;
}

int djs_cli_duration(const char *s, uint64_t *secs)
{
    static const char units[] = "smhd";
    static const uint64_t mult[] = {1, 60, 3600, 86400};
    if (s == NULL || *s < '0' || *s > '9')
        return DJS_EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE)
        return DJS_ERANGE;
    uint64_t mul = 1;
    if (*end != '\0') {
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0')
            return DJS_EINVAL;
        mul = mult[u - units];
    }
    if (v > UINT64_MAX / mul)
        return DJS_ERANGE;
    *secs = v * mul;
    return 0;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int month_days(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

static int rfc3339(const char *s, uint64_t *ns)
{
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return DJS_EINVAL;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2), mi = digits(s + 14, 2),
        se = digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 60)
        return DJS_EINVAL;
    const char *p = s + 19;
    uint64_t frac = 0, scale = 1000000000ull;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return DJS_EINVAL;
        for (; *p >= '0' && *p <= '9'; p++)
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*p - '0') * scale;
            }
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return DJS_EINVAL;
        off = (*p == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
        p += 6;
    } else {
        return DJS_EINVAL;
    }
    if (*p != '\0')
        return DJS_EINVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
    if (secs < 0)
        return DJS_EINVAL;
    if ((uint64_t)secs > (UINT64_MAX - frac) / 1000000000ull)
        return DJS_ERANGE;
    *ns = (uint64_t)secs * 1000000000ull + frac;
    return 0;
}

int djs_cli_time(const char *s, uint64_t now_ns, uint64_t *ns)
{
    if (s == NULL || *s == '\0')
        return DJS_EINVAL;
    if (*s != '-')
        return rfc3339(s, ns);
    uint64_t secs;
    int rc = djs_cli_duration(s + 1, &secs);
    if (rc != 0)
        return rc;
    if (secs > now_ns / 1000000000ull)
        return DJS_ERANGE;
    *ns = now_ns - secs * 1000000000ull;
    return 0;
}

int djs_cli_point(const char *s, uint64_t now_ns, int *is_time, uint64_t *v)
{
    if (s == NULL || *s == '\0')
        return DJS_EINVAL;
    if (strspn(s, "0123456789") == strlen(s)) {
        *is_time = 0;
        return djs_cli_u64(s, v);
    }
    *is_time = 1;
    return djs_cli_time(s, now_ns, v);
}

void djs_cli_format_time(uint64_t ns, char *out, size_t n)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    char day[32];
    gmtime_r(&t, &tm);
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03uZ", day, (unsigned)(ns / 1000000ull % 1000));
}

int djs_cli_rest(int argc, char **argv, const char **pos, int maxpos, const char *usage)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (strncmp(argv[i], "--", 2) == 0) {
            fprintf(stderr, "djs: unknown option '%s'\nusage: %s\n", argv[i], usage);
            return DJS_EINVAL;
        }
        if (n == maxpos) {
            fprintf(stderr, "djs: unexpected argument '%s'\nusage: %s\n", argv[i], usage);
            return DJS_EINVAL;
        }
        pos[n++] = argv[i];
    }
    return n;
}

/* THROWAWAY STUB (see core/cron.h). */
#include "core/cron.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

static int bad(char *err, size_t errlen, const char *why)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", why);
    return DJS_EINVAL;
}

static int num(const char **p, const char *end, unsigned *v)
{
    if (*p >= end || **p < '0' || **p > '9')
        return -1;
    *v = 0;
    while (*p < end && **p >= '0' && **p <= '9' && *v < 1000)
        *v = *v * 10 + (unsigned)(*(*p)++ - '0');
    return 0;
}

/* One field "a", "*", "a-b", with "/n", comma lists, into bits lo..hi. */
static int field(const char *p, const char *end, unsigned lo, unsigned hi, uint64_t *bits, int *star)
{
    *bits = 0;
    *star = end - p == 1 && *p == '*';
    while (p < end) {
        unsigned a = lo, b = hi, step = 1;
        int single = 0;
        if (*p == '*') {
            p++;
        } else {
            single = 1;
            if (num(&p, end, &a) != 0)
                return -1;
            b = a;
            if (p < end && *p == '-') {
                p++;
                single = 0;
                if (num(&p, end, &b) != 0)
                    return -1;
            }
        }
        if (p < end && *p == '/') {
            p++;
            if (num(&p, end, &step) != 0 || step == 0)
                return -1;
            if (single)
                b = hi;
        }
        if (a < lo || b > hi || a > b)
            return -1;
        for (unsigned v = a; v <= b; v += step)
            *bits |= 1ULL << v;
        if (p < end && *p != ',')
            return -1;
        p += p < end;
    }
    return *bits != 0 ? 0 : -1;
}

static int parse_every(const char *s, size_t len, djs_cron_t *out, char *err, size_t errlen)
{
    const char *p = s + 6, *end = s + len;
    unsigned v;
    if (num(&p, end, &v) != 0 || end - p != 1)
        return bad(err, errlen, "an interval is 'every N' with a unit s, m, h or d");
    uint64_t mul = *p == 's' ? 1 : *p == 'm' ? 60 : *p == 'h' ? 3600 : *p == 'd' ? 86400 : 0;
    if (mul == 0 || v == 0 || (uint64_t)v * mul > 366ULL * 86400)
        return bad(err, errlen, "an interval is 1 s to 366 d");
    out->interval = 1;
    out->interval_s = v * mul;
    return 0;
}

static const struct {
    const char *name, *spec;
} macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
              {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"}};

int djs_cron_parse(const char *spec, size_t len, djs_cron_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (len > 6 && memcmp(spec, "every ", 6) == 0)
        return parse_every(spec, len, out, err, errlen);
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++)
        if (strlen(macros[i].name) == len && memcmp(macros[i].name, spec, len) == 0)
            return djs_cron_parse(macros[i].spec, strlen(macros[i].spec), out, err, errlen);
    const unsigned lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    uint64_t bits[5];
    int star[5];
    const char *p = spec, *end = spec + len;
    for (int f = 0; f < 5; f++) {
        while (p < end && *p == ' ')
            p++;
        const char *q = p;
        while (q < end && *q != ' ')
            q++;
        if (q == p || field(p, q, lo[f], hi[f], &bits[f], &star[f]) != 0)
            return bad(err, errlen, "a cron spec is 5 fields: minute hour day-of-month month day-of-week");
        p = q;
    }
    while (p < end && *p == ' ')
        p++;
    if (p != end)
        return bad(err, errlen, "a cron spec is 5 fields: minute hour day-of-month month day-of-week");
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 = Sunday */
    out->dom_star = (uint8_t)star[2];
    out->dow_star = (uint8_t)star[4];
    return 0;
}

int djs_cron_is_interval(const djs_cron_t *c)
{
    return c->interval;
}

static int day_ok(const djs_cron_t *c, const struct tm *tm)
{
    int dom = (c->mdays >> tm->tm_mday) & 1, dow = (c->wdays >> tm->tm_wday) & 1;
    if (!((c->months >> (tm->tm_mon + 1)) & 1))
        return 0;
    if (!c->dom_star && !c->dow_star)
        return dom || dow;
    return dom && dow;
}

int djs_cron_next(const djs_cron_t *c, const djs_tz_t *tz, int64_t anchor, int64_t after, int64_t *next)
{
    if (c->interval) {
        int64_t iv = (int64_t)c->interval_s;
        int64_t k = after < anchor ? 0 : (after - anchor) / iv + 1;
        *next = anchor + k * iv;
        return 0;
    }
    int32_t off = tz != NULL ? djs_tz_offset(tz, after) : 0;
    int64_t t = (after + off) / 60 * 60 + 60; /* local, next whole minute */
    for (int64_t limit = t + 5LL * 366 * 86400; t < limit;) {
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (!day_ok(c, &tm)) {
            t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60);
        } else if (!((c->hours >> tm.tm_hour) & 1)) {
            t += 3600 - tm.tm_min * 60;
        } else if (!((c->minutes >> tm.tm_min) & 1)) {
            t += 60;
        } else {
            *next = t - off;
            return 0;
        }
    }
    return DJS_ENOTFOUND;
}

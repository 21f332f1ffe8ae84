/* Schedule specs: parsing and next-fire computation (see cron.h).
 *
 * The next fire time walks the zone's segments of constant UTC offset from
 * `after`: in each, the next matching local time L is found by skipping
 * over the fields, and L - offset is the answer if it still lies in the
 * segment. At a segment's start a gap (spring forward) fires its matching
 * local times at the start instant; after a fall back the local times the
 * previous segment already covered are skipped.
 */
#include "core/cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"

typedef struct field {
    const char *name;
    int lo, hi;
    const char *const *names; /* 3-letter names of lo.., or NULL */
} field_t;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_t fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL}, {"day-of-month", 1, 31, NULL}, {"month", 1, 12, month_names},
    {"day-of-week", 0, 7, dow_names},
};

static const struct macro {
    const char *name, *spec;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

typedef struct span {
    const char *p, *end;
} span_t;

__attribute__((format(printf, 3, 4))) static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return DJS_EINVAL;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int is_alpha(char ch)
{
    return (ch | 32) >= 'a' && (ch | 32) <= 'z';
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* A number or (fields with names) a name at s->p; advances s->p. */
static int parse_value(const field_t *f, span_t *s, int *out, char *err, size_t errlen)
{
    const char *start = s->p;
    if (s->p < s->end && is_digit(*s->p)) {
        long v = 0;
        for (; s->p < s->end && is_digit(*s->p); s->p++)
            v = v > 1000 ? v : v * 10 + (*s->p - '0');
        if (v < f->lo || v > f->hi)
            return seterr(err, errlen, "%s: %.*s is out of range %d-%d", f->name, (int)(s->p - start), start, f->lo, f->hi);
        *out = (int)v;
        return 0;
    }
    while (s->p < s->end && is_alpha(*s->p))
        s->p++;
    int n = (int)(s->p - start);
    if (n == 0)
        return seterr(err, errlen, "%s: expected a number at \"%.*s\"", f->name, (int)(s->end - start), start);
    for (int i = 0; f->names && f->names[i]; i++)
        if (n == 3 && strncasecmp(start, f->names[i], 3) == 0) {
            *out = f->lo + i;
            return 0;
        }
    if (!f->names)
        return seterr(err, errlen, "%s: expected a number, got \"%.*s\"", f->name, n, start);
    return seterr(err, errlen, "%s: unknown name \"%.*s\"", f->name, n, start);
}

/* One list item: '*', a, a-b, each with an optional /step. */
static int parse_item(const field_t *f, span_t s, uint64_t *bits, char *err, size_t errlen)
{
    int a = f->lo, b = f->hi, step = 1, star = 0, range = 0;
    if (s.p == s.end)
        return seterr(err, errlen, "%s: empty list item", f->name);
    if (*s.p == '*') {
        s.p++;
        star = 1;
    } else {
        if (parse_value(f, &s, &a, err, errlen) < 0)
            return DJS_EINVAL;
        b = a;
        if (s.p < s.end && *s.p == '-') {
            s.p++;
            range = 1;
            if (parse_value(f, &s, &b, err, errlen) < 0)
                return DJS_EINVAL;
            if (b < a)
                return seterr(err, errlen, "%s: range %d-%d is backwards", f->name, a, b);
        }
    }
    if (s.p < s.end && *s.p == '/') {
        const char *at = ++s.p;
        long v = 0;
        for (; s.p < s.end && is_digit(*s.p); s.p++)
            v = v > 1000 ? v : v * 10 + (*s.p - '0');
        if (s.p == at)
            return seterr(err, errlen, "%s: a step needs a number after '/'", f->name);
        if (v < 1 || v > f->hi - f->lo + 1)
            return seterr(err, errlen, "%s: step %.*s is out of range 1-%d", f->name, (int)(s.p - at), at, f->hi - f->lo + 1);
        if (!star && !range)
            return seterr(err, errlen, "%s: a step needs '*' or a range (write %d-%d/%ld)", f->name, a, f->hi, v);
        step = (int)v;
    }
    if (s.p != s.end)
        return seterr(err, errlen, "%s: unexpected \"%.*s\"", f->name, (int)(s.end - s.p), s.p);
    for (int v = a; v <= b; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

static int parse_field(const field_t *f, span_t s, uint64_t *bits, char *err, size_t errlen)
{
    *bits = 0;
    for (;;) {
        const char *comma = memchr(s.p, ',', (size_t)(s.end - s.p));
        span_t item = {s.p, comma ? comma : s.end};
        if (parse_item(f, item, bits, err, errlen) < 0)
            return DJS_EINVAL;
        if (!comma)
            return 0;
        s.p = comma + 1;
    }
}

/* Split s into white-space separated fields; returns how many (up to 6). */
static int split(span_t s, span_t out[6])
{
    int n = 0;
    while (s.p < s.end && n < 6) {
        while (s.p < s.end && is_space(*s.p))
            s.p++;
        if (s.p == s.end)
            break;
        out[n].p = s.p;
        while (s.p < s.end && !is_space(*s.p))
            s.p++;
        out[n++].end = s.p;
    }
    return n;
}

static int parse_fields(span_t s, djs_cron_t *c, char *err, size_t errlen)
{
    span_t f[6];
    uint64_t bits[5];
    int n = split(s, f);
    if (n != 5)
        return seterr(err, errlen, "expected 5 fields (minute hour day-of-month month day-of-week), got %s%d",
                      n == 6 ? "at least " : "", n);
    for (int i = 0; i < 5; i++)
        if (parse_field(&fields[i], f[i], &bits[i], err, errlen) < 0)
            return DJS_EINVAL;
    c->minutes = bits[0];
    c->hours = (uint32_t)bits[1];
    c->doms = (uint32_t)bits[2];
    c->months = (uint16_t)bits[3];
    c->dows = (uint8_t)((bits[4] | bits[4] >> 7) & 0x7f); /* 7 is Sunday */
    c->flags = (uint8_t)((*f[2].p == '*' ? DJS_CRON_DOM_STAR : 0) | (*f[4].p == '*' ? DJS_CRON_DOW_STAR : 0));
    return 0;
}

static int parse_macro(span_t s, djs_cron_t *c, char *err, size_t errlen)
{
    size_t n = (size_t)(s.end - s.p);
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
        if (strlen(macros[i].name) == n && strncasecmp(s.p, macros[i].name, n) == 0) {
            span_t m = {macros[i].spec, macros[i].spec + strlen(macros[i].spec)};
            return parse_fields(m, c, err, errlen);
        }
    if (n == 7 && strncasecmp(s.p, "@reboot", 7) == 0)
        return seterr(err, errlen, "@reboot is not supported");
    return seterr(err, errlen, "unknown macro \"%.*s\" (@yearly @annually @monthly @weekly @daily @midnight @hourly)", (int)n, s.p);
}

/* "every" has been consumed: white space, a number, a unit. */
static int parse_interval(span_t s, djs_cron_t *c, char *err, size_t errlen)
{
    if (s.p == s.end || !is_space(*s.p))
        return seterr(err, errlen, "expected \"every N<unit>\", e.g. \"every 90s\"");
    while (s.p < s.end && is_space(*s.p))
        s.p++;
    int64_t v = 0;
    const char *at = s.p;
    for (; s.p < s.end && is_digit(*s.p); s.p++)
        v = v > DJS_CRON_INTERVAL_MAX ? v : v * 10 + (*s.p - '0');
    if (s.p == at)
        return seterr(err, errlen, "every: expected a number, e.g. \"every 90s\"");
    if (s.p == s.end)
        return seterr(err, errlen, "every: the interval needs a unit (s, m, h or d)");
    static const char units[] = "smhd";
    static const int64_t mult[] = {1, 60, 3600, 86400};
    const char *u = strchr(units, *s.p);
    if (!u || s.p + 1 != s.end)
        return seterr(err, errlen, "every: unknown unit \"%.*s\" (s, m, h or d)", (int)(s.end - s.p), s.p);
    if (v > DJS_CRON_INTERVAL_MAX || v * mult[u - units] < 1 || v * mult[u - units] > DJS_CRON_INTERVAL_MAX)
        return seterr(err, errlen, "every: the interval must be between 1s and 366d");
    c->interval = v * mult[u - units];
    c->flags = DJS_CRON_INTERVAL;
    return 0;
}

int djs_cron_parse(const char *spec, size_t len, djs_cron_t *out, char *err, size_t errlen)
{
    int rc;
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return seterr(err, errlen, "no output");
    memset(out, 0, sizeof *out);
    if (!spec)
        return seterr(err, errlen, "empty spec");
    if (len > DJS_CRON_SPEC_MAX)
        return seterr(err, errlen, "spec longer than %d bytes", DJS_CRON_SPEC_MAX);
    if (memchr(spec, '\0', len))
        return seterr(err, errlen, "NUL byte in spec");
    span_t s = {spec, spec + len};
    while (s.p < s.end && (is_space(*s.p) || *s.p == '\n' || *s.p == '\r'))
        s.p++;
    while (s.end > s.p && (is_space(s.end[-1]) || s.end[-1] == '\n' || s.end[-1] == '\r'))
        s.end--;
    if (s.p == s.end)
        return seterr(err, errlen, "empty spec");
    if (*s.p == '@')
        rc = parse_macro(s, out, err, errlen);
    else if (s.end - s.p >= 5 && strncasecmp(s.p, "every", 5) == 0)
        rc = parse_interval((span_t){s.p + 5, s.end}, out, err, errlen);
    else
        rc = parse_fields(s, out, err, errlen);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int djs_cron_is_interval(const djs_cron_t *c)
{
    return c && (c->flags & DJS_CRON_INTERVAL) ? 1 : 0;
}

int64_t djs_cron_interval(const djs_cron_t *c)
{
    return djs_cron_is_interval(c) ? c->interval : 0;
}

/* ---- next fire ---- */

/* The lowest set bit >= from in mask, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from >= 64)
        return -1;
    mask >>= from;
    return mask ? from + __builtin_ctzll(mask) : -1;
}

static int day_matches(const djs_cron_t *c, int64_t days, int d)
{
    int wd = (int)(((days + 4) % 7 + 7) % 7);
    int dom = (c->doms >> d) & 1, dow = (c->dows >> wd) & 1;
    if (c->flags & (DJS_CRON_DOM_STAR | DJS_CRON_DOW_STAR))
        return dom && dow;
    return dom || dow;
}

typedef struct civil {
    int64_t y, days; /* days since the epoch of (y, m, d) */
    int m, d, h, mi;
} civil_t;

static void to_month(civil_t *t, int64_t y, int m)
{
    t->y = y;
    t->m = m;
    t->d = 1;
    t->h = t->mi = 0;
    t->days = djs__days_from_civil(y, m, 1);
}

static void to_next_day(civil_t *t)
{
    if (t->d == djs__days_in_month(t->y, t->m)) {
        to_month(t, t->m == 12 ? t->y + 1 : t->y, t->m == 12 ? 1 : t->m + 1);
        return;
    }
    t->d++;
    t->days++;
    t->h = t->mi = 0;
}

/* One step of the field skip: 1 when t matches, 0 when t was moved on. */
static int skip_step(const djs_cron_t *c, civil_t *t)
{
    if (!((c->months >> t->m) & 1)) {
        int m = next_bit(c->months, t->m + 1);
        if (m < 0)
            to_month(t, t->y + 1, next_bit(c->months, 1));
        else
            to_month(t, t->y, m);
        return 0;
    }
    if (!day_matches(c, t->days, t->d)) {
        int d = c->dows == 0x7f && (c->flags & (DJS_CRON_DOM_STAR | DJS_CRON_DOW_STAR)) ? next_bit(c->doms, t->d + 1) : t->d + 1;
        if (d < 0 || d > djs__days_in_month(t->y, t->m)) { /* the day of month alone decides: jump */
            to_month(t, t->m == 12 ? t->y + 1 : t->y, t->m == 12 ? 1 : t->m + 1);
            return 0;
        }
        t->days += d - t->d;
        t->d = d;
        t->h = t->mi = 0;
        return 0;
    }
    int h = next_bit(c->hours, t->h);
    if (h < 0) {
        to_next_day(t);
        return 0;
    }
    if (h != t->h) {
        t->h = h;
        t->mi = 0;
    }
    int mi = next_bit(c->minutes, t->mi);
    if (mi >= 0) {
        t->mi = mi;
        return 1;
    }
    t->mi = 0;
    if (++t->h == 24)
        to_next_day(t);
    return 0;
}

/* The first matching local time >= from (local seconds), if <= limit. */
static int next_local(const djs_cron_t *c, int64_t from, int64_t limit, int64_t *out)
{
    civil_t t;
    int64_t min = from / 60 + (from % 60 > 0); /* ceil: '/' truncates */
    t.days = min / 1440 - (min % 1440 < 0);
    int64_t mod = min - t.days * 1440;
    t.h = (int)(mod / 60);
    t.mi = (int)(mod % 60);
    djs__civil_from_days(t.days, &t.y, &t.m, &t.d);
    if (!c->months || !c->hours || !c->minutes || !(c->doms | c->dows))
        return DJS_ENOTFOUND;
    while (t.days * 86400 <= limit) {
        if (skip_step(c, &t)) {
            *out = t.days * 86400 + t.h * 3600 + t.mi * 60;
            return *out <= limit ? 0 : DJS_ENOTFOUND;
        }
    }
    return DJS_ENOTFOUND;
}

static int next_interval(const djs_cron_t *c, int64_t anchor, int64_t after, int64_t *next)
{
    int64_t k, step, r;
    if (after < anchor) {
        *next = anchor;
        return 0;
    }
    k = (int64_t)(((uint64_t)after - (uint64_t)anchor) / (uint64_t)c->interval) + 1;
    if (__builtin_mul_overflow(k, c->interval, &step) || __builtin_add_overflow(anchor, step, &r))
        return DJS_ENOTFOUND;
    *next = r;
    return 0;
}

#define CRON_T_MAX ((int64_t)1 << 38) /* some 8,700 years */

/* The last local search of one djs_cron_next: the first match >= from is
 * L, so a later search from a point in [from, L] finds L again. */
typedef struct memo {
    int64_t from, L;
    int valid;
} memo_t;

static int next_local_memo(const djs_cron_t *c, memo_t *m, int64_t from, int64_t limit, int64_t *out)
{
    if (m->valid && from >= m->from && from <= m->L) {
        *out = m->L;
        return 0;
    }
    int rc = next_local(c, from, limit, out);
    if (rc == 0)
        *m = (memo_t){from, *out, 1};
    return rc;
}

/* One segment [t, T) of constant offset o; 1 with *next when it fires. */
static int segment(const djs_cron_t *c, const djs_tz_t *tz, memo_t *memo, int64_t t, int64_t limit, int64_t *next)
{
    int32_t o = djs_tz_offset(tz, t);
    int64_t T = djs_tz_next_change(tz, t), P = djs_tz_prev_change(tz, t), from = t + o, L;
    int gap = 0;
    if (P != INT64_MIN) {
        int32_t op = djs_tz_offset(tz, P - 1);
        if (op > o && P + op > from)
            from = P + op; /* fall back: the repeated local times fired before P */
        else if (op < o && P == t) {
            from = t + op; /* spring forward: the gap's local times fire at t */
            gap = 1;
        }
    }
    int rc = next_local_memo(c, memo, from, limit + o, &L);
    if (rc < 0)
        return rc;
    if (gap && L < t + o)
        *next = t;
    else if (L - o < T)
        *next = L - o;
    else
        return 0;
    return 1;
}

int djs_cron_next(const djs_cron_t *c, const djs_tz_t *tz, int64_t anchor, int64_t after, int64_t *next)
{
    if (!c || !next)
        return DJS_EINVAL;
    if (c->flags & DJS_CRON_INTERVAL)
        return c->interval > 0 ? next_interval(c, anchor, after, next) : DJS_EINVAL;
    if (after >= CRON_T_MAX || after <= -CRON_T_MAX)
        return DJS_ENOTFOUND;
    djs_cron_t m = *c; /* a stored struct may hold stray bits: keep the ranges */
    m.minutes &= ~0ULL >> 4;
    m.hours &= 0xffffff;
    m.doms &= 0xfffffffe;
    m.months &= 0x1ffe;
    m.dows &= 0x7f;
    c = &m;
    int64_t limit = after + (int64_t)DJS_CRON_HORIZON_YEARS * 366 * 86400, t = after + 1;
    memo_t memo = {0, 0, 0};
    while (t <= limit) {
        int rc = segment(c, tz, &memo, t, limit, next);
        if (rc != 0)
            return rc < 0 ? rc : 0;
        t = djs_tz_next_change(tz, t);
    }
    return DJS_ENOTFOUND;
}

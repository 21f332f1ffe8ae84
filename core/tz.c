/* IANA time zones: a TZif reader (RFC 8536) and POSIX TZ footer rules.
 *
 * The file is read whole (at most 1 MiB), its header counts checked
 * against its size before anything is indexed, then the transitions and
 * the offsets of their types are copied into one allocation. The footer
 * is parsed into a rule evaluated per year for instants after the last
 * transition.
 */
#include "core/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define TZIF_HDR 44
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599

/* One date rule of a POSIX TZ string: Mm.w.d, Jn (1..365, no Feb 29) or
 * n (0..365), at local time `time` (seconds, -167h..167h). */
typedef struct rule {
    char kind;
    int m, w, d, n;
    int32_t time;
} rule_t;

typedef struct prule {
    int32_t std_off, dst_off; /* UTC offsets (east positive) */
    int has_dst;
    rule_t start, end;
} prule_t;

struct djs_tz {
    char name[DJS_TZ_NAME_MAX + 1];
    uint32_t ntrans;
    int64_t *trans; /* ascending */
    int32_t *off;   /* offset from trans[i] on */
    int32_t off0;   /* before the first transition: type 0 */
    int has_rule;
    prule_t rule;
};

/* ---- calendar ---- */

int64_t djs__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void djs__civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int djs__days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- POSIX TZ strings ---- */

typedef struct cursor {
    const char *p, *end;
} cursor_t;

static int peek(const cursor_t *c)
{
    return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int parse_num(cursor_t *c, int max, int *out)
{
    int v = 0, n = 0;
    while (peek(c) >= '0' && peek(c) <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > max || ++n > 3)
            return DJS_ECORRUPT;
    }
    *out = v;
    return n ? 0 : DJS_ECORRUPT;
}

static int parse_abbr(cursor_t *c)
{
    int n = 0;
    if (peek(c) == '<') {
        c->p++;
        while (peek(c) != '>') {
            int ch = peek(c);
            if (ch < 0 || !(ch == '+' || ch == '-' || (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'z')))
                return DJS_ECORRUPT;
            c->p++;
            n++;
        }
        c->p++;
    } else {
        while (((peek(c) | 32) >= 'a' && (peek(c) | 32) <= 'z')) {
            c->p++;
            n++;
        }
    }
    return n >= 1 ? 0 : DJS_ECORRUPT;
}

/* [+-]hh[:mm[:ss]] with hh <= maxh, in seconds. */
static int parse_hms(cursor_t *c, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (peek(c) == '+' || peek(c) == '-')
        sign = *c->p++ == '-' ? -1 : 1;
    if (parse_num(c, maxh, &h) < 0)
        return DJS_ECORRUPT;
    if (peek(c) == ':') {
        c->p++;
        if (parse_num(c, 59, &m) < 0)
            return DJS_ECORRUPT;
        if (peek(c) == ':') {
            c->p++;
            if (parse_num(c, 59, &s) < 0)
                return DJS_ECORRUPT;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

static int parse_rule(cursor_t *c, rule_t *r)
{
    r->time = 7200;
    if (peek(c) == 'M') {
        c->p++;
        r->kind = 'M';
        if (parse_num(c, 12, &r->m) < 0 || r->m < 1 || peek(c) != '.')
            return DJS_ECORRUPT;
        c->p++;
        if (parse_num(c, 5, &r->w) < 0 || r->w < 1 || peek(c) != '.')
            return DJS_ECORRUPT;
        c->p++;
        if (parse_num(c, 6, &r->d) < 0)
            return DJS_ECORRUPT;
    } else if (peek(c) == 'J') {
        c->p++;
        r->kind = 'J';
        if (parse_num(c, 365, &r->n) < 0 || r->n < 1)
            return DJS_ECORRUPT;
    } else {
        r->kind = 'n';
        if (parse_num(c, 365, &r->n) < 0)
            return DJS_ECORRUPT;
    }
    if (peek(c) == '/') {
        c->p++;
        return parse_hms(c, 167, &r->time);
    }
    return 0;
}

static int parse_posix(const char *s, size_t len, prule_t *pr)
{
    cursor_t c = {s, s + len};
    int32_t off;
    memset(pr, 0, sizeof *pr);
    if (parse_abbr(&c) < 0 || parse_hms(&c, 24, &off) < 0)
        return DJS_ECORRUPT;
    pr->std_off = -off;
    pr->dst_off = pr->std_off;
    if (peek(&c) < 0)
        return 0;
    if (parse_abbr(&c) < 0)
        return DJS_ECORRUPT;
    pr->has_dst = 1;
    pr->dst_off = pr->std_off + 3600;
    if (peek(&c) != ',' && peek(&c) >= 0) {
        if (parse_hms(&c, 24, &off) < 0)
            return DJS_ECORRUPT;
        pr->dst_off = -off;
    }
    if (peek(&c) < 0) { /* POSIX's default: the US rules */
        pr->start = (rule_t){'M', 3, 2, 0, 0, 7200};
        pr->end = (rule_t){'M', 11, 1, 0, 0, 7200};
        return 0;
    }
    if (peek(&c) != ',')
        return DJS_ECORRUPT;
    c.p++;
    if (parse_rule(&c, &pr->start) < 0 || peek(&c) != ',')
        return DJS_ECORRUPT;
    c.p++;
    if (parse_rule(&c, &pr->end) < 0 || peek(&c) >= 0)
        return DJS_ECORRUPT;
    return 0;
}

/* The day (since the epoch) rule r names in year y. */
static int64_t rule_day(const rule_t *r, int64_t y)
{
    if (r->kind == 'J')
        return djs__days_from_civil(y, 1, 1) + r->n - 1 + (is_leap(y) && r->n >= 60);
    if (r->kind == 'n')
        return djs__days_from_civil(y, 1, 1) + r->n;
    int64_t first = djs__days_from_civil(y, r->m, 1);
    int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    int day = 1 + (r->d - wd + 7) % 7 + 7 * (r->w - 1);
    while (day > djs__days_in_month(y, r->m))
        day -= 7;
    return first + day - 1;
}

/* DST start and end instants (UTC) of year y. */
static void rule_year(const prule_t *pr, int64_t y, int64_t *start, int64_t *end)
{
    *start = rule_day(&pr->start, y) * 86400 + pr->start.time - pr->std_off;
    *end = rule_day(&pr->end, y) * 86400 + pr->end.time - pr->dst_off;
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    djs__civil_from_days(floor_div(t, 86400), &y, &m, &d);
    return y;
}

/* Rules are evaluated within +-2^40 s (some 34,000 years): no overflow. */
static int64_t clamp(int64_t t)
{
    const int64_t lim = (int64_t)1 << 40;
    return t < -lim ? -lim : t > lim ? lim : t;
}

static int32_t rule_offset(const prule_t *pr, int64_t t)
{
    t = clamp(t);
    if (!pr->has_dst)
        return pr->std_off;
    int64_t s, e;
    rule_year(pr, year_of(t + pr->std_off), &s, &e);
    int dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
    return dst ? pr->dst_off : pr->std_off;
}

/* The rule's changes in the years around t, ascending, into c[6]; a start
 * that meets the previous end (DST all year) is no change. Returns how many. */
static int rule_changes(const prule_t *pr, int64_t t, int64_t c[6])
{
    int64_t se[6], y0 = year_of(t);
    int n = 0;
    for (int i = 0; i < 3; i++)
        rule_year(pr, y0 - 1 + i, &se[2 * i], &se[2 * i + 1]);
    for (int i = 0; i < 6; i++) {
        int dup = 0;
        for (int j = 0; j < 6; j++)
            dup |= j != i && se[j] == se[i];
        if (!dup)
            c[n++] = se[i];
    }
    for (int i = 1; i < n; i++) /* insertion sort of at most 6 */
        for (int j = i; j > 0 && c[j] < c[j - 1]; j--) {
            int64_t x = c[j];
            c[j] = c[j - 1];
            c[j - 1] = x;
        }
    return n;
}

/* The first rule change > t (INT64_MAX when none). */
static int64_t rule_next(const prule_t *pr, int64_t t)
{
    int64_t c[6];
    if (!pr->has_dst || pr->std_off == pr->dst_off || t != clamp(t))
        return INT64_MAX;
    int n = rule_changes(pr, t, c);
    for (int i = 0; i < n; i++)
        if (c[i] > t)
            return c[i];
    return INT64_MAX;
}

/* The last rule change <= t (INT64_MIN when none). */
static int64_t rule_prev(const prule_t *pr, int64_t t)
{
    int64_t c[6];
    if (!pr->has_dst || pr->std_off == pr->dst_off || t != clamp(t))
        return INT64_MIN;
    for (int i = rule_changes(pr, t, c) - 1; i >= 0; i--)
        if (c[i] <= t)
            return c[i];
    return INT64_MIN;
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct hdr {
    uint32_t isut, isstd, leap, time, type, chars;
    size_t size; /* of the data block after the header */
} hdr_t;

/* Header at buf[0..len) with time size ts (4 or 8): counts checked. */
static int read_hdr(const uint8_t *buf, size_t len, int ts, hdr_t *h)
{
    if (len < TZIF_HDR || memcmp(buf, "TZif", 4) != 0)
        return DJS_ECORRUPT;
    uint32_t *f[6] = {&h->isut, &h->isstd, &h->leap, &h->time, &h->type, &h->chars};
    for (int i = 0; i < 6; i++)
        *f[i] = be32(buf + 20 + 4 * i);
    if (h->type < 1 || h->type > 256 || (h->isut && h->isut != h->type) || (h->isstd && h->isstd != h->type))
        return DJS_ECORRUPT;
    if (h->time > DJS_TZ_FILE_MAX || h->leap > DJS_TZ_FILE_MAX || h->chars > DJS_TZ_FILE_MAX)
        return DJS_ECORRUPT;
    h->size = (size_t)h->time * (ts + 1) + (size_t)h->type * 6 + h->chars + (size_t)h->leap * (ts + 4) + h->isstd + h->isut;
    return h->size <= len - TZIF_HDR ? 0 : DJS_ECORRUPT;
}

/* Copy transitions and offsets of the data block d (header h) into tz. */
static int load_block(djs_tz_t *tz, const hdr_t *h, const uint8_t *d, int ts)
{
    const uint8_t *idx = d + (size_t)h->time * ts, *types = idx + h->time;
    int32_t offs[256];
    for (uint32_t i = 0; i < h->type; i++) {
        int32_t o = (int32_t)be32(types + 6 * i);
        if (o < UTOFF_MIN || o > UTOFF_MAX || types[6 * i + 4] > 1 || types[6 * i + 5] >= h->chars)
            return DJS_ECORRUPT;
        offs[i] = o;
    }
    tz->trans = djs_malloc((h->time ? h->time : 1) * sizeof *tz->trans);
    tz->off = djs_malloc((h->time ? h->time : 1) * sizeof *tz->off);
    tz->ntrans = h->time;
    for (uint32_t i = 0; i < h->time; i++) {
        tz->trans[i] = ts == 8 ? be64(d + 8 * i) : (int32_t)be32(d + 4 * i);
        if ((i && tz->trans[i] <= tz->trans[i - 1]) || idx[i] >= h->type)
            return DJS_ECORRUPT;
        tz->off[i] = offs[idx[i]];
    }
    tz->off0 = offs[0];
    return 0;
}

/* The footer "\nTZ\n" at buf[0..len), which must be the end of the file. */
static int load_footer(djs_tz_t *tz, const uint8_t *buf, size_t len)
{
    if (len < 2 || buf[0] != '\n' || buf[len - 1] != '\n')
        return DJS_ECORRUPT;
    const char *s = (const char *)buf + 1;
    size_t n = len - 2;
    if (memchr(s, '\n', n) || memchr(s, '\0', n))
        return DJS_ECORRUPT;
    if (n == 0)
        return 0; /* no rule: the last type stays */
    tz->has_rule = 1;
    return parse_posix(s, n, &tz->rule);
}

static int parse_tzif(djs_tz_t *tz, const uint8_t *buf, size_t len)
{
    hdr_t h1, h2;
    if (len > DJS_TZ_FILE_MAX || read_hdr(buf, len, 4, &h1) < 0)
        return DJS_ECORRUPT;
    if (buf[4] == 0)
        return load_block(tz, &h1, buf + TZIF_HDR, 4);
    if (buf[4] < '2')
        return DJS_ECORRUPT;
    size_t off2 = TZIF_HDR + h1.size;
    if (read_hdr(buf + off2, len - off2, 8, &h2) < 0 || buf[off2 + 4] < '2')
        return DJS_ECORRUPT;
    int rc = load_block(tz, &h2, buf + off2 + TZIF_HDR, 8);
    if (rc < 0)
        return rc;
    size_t foot = off2 + TZIF_HDR + h2.size;
    return load_footer(tz, buf + foot, len - foot);
}

static int name_ok(const char *name, size_t len)
{
    if (!name || len == 0 || len > DJS_TZ_NAME_MAX || name[0] == '/' || name[len - 1] == '/')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' ||
                 ch == '+' || ch == '-' || ch == '.';
        if (!ok || (ch == '.' && i + 1 < len && name[i + 1] == '.'))
            return 0;
    }
    return 1;
}

int djs_tz_from_tzif(const char *name, size_t namelen, const uint8_t *buf, size_t len, djs_tz_t **out)
{
    if (!name || namelen == 0 || namelen > DJS_TZ_NAME_MAX || !buf || !out)
        return DJS_EINVAL;
    djs_tz_t *tz = djs_calloc(1, sizeof *tz);
    memcpy(tz->name, name, namelen);
    int rc = parse_tzif(tz, buf, len);
    if (rc < 0)
        goto fail;
    *out = tz;
    return 0;
fail:
    djs_tz_close(tz);
    return rc;
}

/* Read the regular file at path (at most DJS_TZ_FILE_MAX bytes). */
static int read_zone_file(const char *path, uint8_t **buf, size_t *len)
{
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    *buf = NULL;
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? DJS_ENOTFOUND : DJS_EIO;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = DJS_ENOTFOUND;
        goto fail;
    }
    if (st.st_size > DJS_TZ_FILE_MAX) {
        rc = DJS_ECORRUPT;
        goto fail;
    }
    *buf = djs_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got <= (size_t)st.st_size) { /* one byte more: a file that grew is refused */
        ssize_t n = read(fd, *buf + got, (size_t)st.st_size + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = DJS_EIO;
            goto fail;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got > (size_t)st.st_size) {
        rc = DJS_ECORRUPT;
        goto fail;
    }
    *len = got;
    close(fd);
    return 0;
fail:
    djs_free(*buf);
    *buf = NULL;
    close(fd);
    return rc;
}

int djs_tz_open_dir(const char *dir, const char *name, size_t len, djs_tz_t **out)
{
    char path[4096];
    uint8_t *buf = NULL;
    size_t n = 0;
    if (!dir || !out || !name_ok(name, len))
        return DJS_EINVAL;
    int w = snprintf(path, sizeof path, "%s/%.*s", dir, (int)len, name);
    if (w < 0 || (size_t)w >= sizeof path)
        return DJS_EINVAL;
    int rc = read_zone_file(path, &buf, &n);
    if (rc < 0)
        goto fail;
    rc = djs_tz_from_tzif(name, len, buf, n, out);
fail:
    djs_free(buf);
    return rc;
}

int djs_tz_open(const char *name, size_t len, djs_tz_t **out)
{
    int rc = djs_tz_open_dir(DJS_TZ_DIR, name, len, out);
    if (rc == DJS_ENOTFOUND && len == 3 && memcmp(name, "UTC", 3) == 0) {
        djs_tz_t *tz = djs_calloc(1, sizeof *tz);
        memcpy(tz->name, "UTC", 3);
        *out = tz;
        return 0;
    }
    return rc;
}

void djs_tz_close(djs_tz_t *tz)
{
    if (!tz)
        return;
    djs_free(tz->trans);
    djs_free(tz->off);
    djs_free(tz);
}

const char *djs_tz_name(const djs_tz_t *tz)
{
    return tz ? tz->name : "UTC";
}

/* Index of the last transition <= t, or -1. */
static int64_t find(const djs_tz_t *tz, int64_t t)
{
    int64_t lo = 0, hi = tz->ntrans; /* first index with trans > t */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

static int in_rule(const djs_tz_t *tz, int64_t t)
{
    return tz->has_rule && (tz->ntrans == 0 || t > tz->trans[tz->ntrans - 1]);
}

int32_t djs_tz_offset(const djs_tz_t *tz, int64_t t)
{
    if (!tz)
        return 0;
    if (in_rule(tz, t))
        return rule_offset(&tz->rule, t);
    int64_t i = find(tz, t);
    return i < 0 ? tz->off0 : tz->off[i];
}

static int32_t off_before(const djs_tz_t *tz, int64_t i)
{
    return i == 0 ? tz->off0 : tz->off[i - 1];
}

int64_t djs_tz_next_change(const djs_tz_t *tz, int64_t t)
{
    if (!tz)
        return INT64_MAX;
    if (!in_rule(tz, t)) {
        for (int64_t i = find(tz, t) + 1; i < tz->ntrans; i++)
            if (tz->off[i] != off_before(tz, i))
                return tz->trans[i];
    }
    if (!tz->has_rule)
        return INT64_MAX;
    int64_t from = tz->ntrans && t < tz->trans[tz->ntrans - 1] ? tz->trans[tz->ntrans - 1] : t;
    return rule_next(&tz->rule, from);
}

int64_t djs_tz_prev_change(const djs_tz_t *tz, int64_t t)
{
    if (!tz)
        return INT64_MIN;
    if (in_rule(tz, t)) {
        int64_t r = rule_prev(&tz->rule, t);
        if (r != INT64_MIN && (tz->ntrans == 0 || r > tz->trans[tz->ntrans - 1]))
            return r;
    }
    for (int64_t i = find(tz, t); i >= 0; i--)
        if (tz->off[i] != off_before(tz, i))
            return tz->trans[i];
    return INT64_MIN;
}

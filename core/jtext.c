#include "core/jtext.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* Days to civil date by H. Hinnant's algorithm, without gmtime_r and
 * strftime (they were a tenth of GET /jobs/{id}'s own time). u64
 * nanoseconds end in year 2554, so the year always has four digits. */
void djs_render_iso8601(char *out, size_t n, uint64_t ns)
{
    uint64_t secs = ns / 1000000000ULL, days = secs / 86400, sod = secs % 86400;
    unsigned ms = (unsigned)(ns / 1000000ULL % 1000);
    uint64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1), m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    unsigned y = (unsigned)(yoe + era * 400 + (m <= 2));
    unsigned v[6] = {y, m, d, (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60)};
    char t[25] = "0000-00-00T00:00:00.000Z";
    t[0] = (char)('0' + v[0] / 1000 % 10), t[1] = (char)('0' + v[0] / 100 % 10);
    t[2] = (char)('0' + v[0] / 10 % 10), t[3] = (char)('0' + v[0] % 10);
    for (int i = 1; i < 6; i++)
        t[2 + 3 * i] = (char)('0' + v[i] / 10), t[3 + 3 * i] = (char)('0' + v[i] % 10);
    t[20] = (char)('0' + ms / 100), t[21] = (char)('0' + ms / 10 % 10), t[22] = (char)('0' + ms % 10);
    if (n == 0)
        return;
    size_t k = n - 1 < 24 ? n - 1 : 24;
    memcpy(out, t, k);
    out[k] = '\0';
}

size_t djs_utf8_seq(const uint8_t *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
        (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

int djs_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0, k; i < n; i += k)
        if ((k = djs_utf8_seq((const uint8_t *)s + i, n - i)) == 0)
            return 0;
    return 1;
}

void djs_jt_lit(djs_buf_t *b, const char *lit)
{
    djs_buf_append(b, lit, strlen(lit));
}

/* jansson's escapes: the two-character forms it knows, \u00XX (upper-case
 * hex) for the other control characters, everything else as is. */
static void put_escaped(djs_buf_t *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t *o = djs_buf_reserve(b, 6 * n), *start = o;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u', *o++ = '0', *o++ = '0', *o++ = (uint8_t)hex[c >> 4], *o++ = (uint8_t)hex[c & 15];
        }
    }
    b->len += (size_t)(o - start);
}

int djs_jt_str(djs_buf_t *b, const char *p, size_t n)
{
    if (!djs_utf8_valid(p, n))
        return DJS_EINVAL;
    djs_buf_append(b, "\"", 1);
    put_escaped(b, p, n);
    djs_buf_append(b, "\"", 1);
    return 0;
}

void djs_jt_str_lossy(djs_buf_t *b, const char *p, size_t n)
{
    djs_buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        size_t k = 0, step; /* the valid run from i */
        while (i + k < n && (step = djs_utf8_seq((const uint8_t *)p + i + k, n - i - k)) > 0)
            k += step;
        put_escaped(b, p + i, k);
        i += k;
        if (i < n) {
            djs_buf_append(b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    djs_buf_append(b, "\"", 1);
}

static char *u64_text(char *end, uint64_t x)
{
    do
        *--end = (char)('0' + x % 10);
    while ((x /= 10) != 0);
    return end;
}

void djs_jt_int(djs_buf_t *b, int64_t x)
{
    char t[24], *p = u64_text(t + sizeof(t), x < 0 ? 0 - (uint64_t)x : (uint64_t)x);
    if (x < 0)
        *--p = '-';
    djs_buf_append(b, p, (size_t)(t + sizeof(t) - p));
}

/* jansson's jsonp_dtostr: "%.17g", ".0" when it would read back as an
 * integer, no '+' or leading zeros in the exponent. The C locale's '.' is
 * assumed (djs never calls setlocale). */
void djs_jt_real(djs_buf_t *b, double d)
{
    char t[48];
    if (!isfinite(d)) { /* json_real refuses it */
        djs_jt_lit(b, "null");
        return;
    }
    int n = snprintf(t, sizeof(t) - 3, "%.17g", d);
    if (strchr(t, '.') == NULL && strchr(t, 'e') == NULL) {
        t[n++] = '.';
        t[n++] = '0';
        t[n] = '\0';
    }
    char *start = strchr(t, 'e');
    if (start != NULL) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(n - (end - t)) + 1);
            n -= (int)(end - start);
        }
    }
    djs_buf_append(b, t, (size_t)n);
}

void djs_jt_id(djs_buf_t *b, const djs_id_t *id)
{
    char text[DJS_ID_TEXT_LEN + 2];
    djs_id_format(id, text + 1);
    text[0] = '"';
    text[DJS_ID_TEXT_LEN + 1] = '"';
    djs_buf_append(b, text, sizeof(text));
}

void djs_jt_time(djs_buf_t *b, uint64_t ns)
{
    char t[42];
    if (ns == 0) {
        djs_jt_lit(b, "null");
        return;
    }
    djs_render_iso8601(t + 1, sizeof(t) - 2, ns);
    t[0] = '"';
    size_t n = strlen(t);
    t[n] = '"';
    djs_buf_append(b, t, n + 1);
}

#define MAX_KEYS 64 /* maps with more keys than this take the slow path */

typedef struct mkey {
    const char *p;
    size_t len;
} mkey_t;

/* Does key (k, klen) repeat one of the n seen before? */
static int repeats(const mkey_t *seen, uint32_t n, const char *k, size_t klen)
{
    for (uint32_t j = 0; j < n; j++)
        if (seen[j].len == klen && memcmp(seen[j].p, k, klen) == 0)
            return 1;
    return 0;
}

/* A map entry of the slow path: its key as rendered text (mended to
 * UTF-8, quoted) and its value's text, in scratch buffers. */
typedef struct ment {
    const uint8_t *key, *val;
    size_t key_off, key_len, val_off, val_len;
    uint32_t idx;
    int drop;
} ment_t;

static int by_key_then_place(const void *a, const void *b)
{
    const ment_t *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c == 0)
        c = x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
    return c != 0 ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_place(const void *a, const void *b)
{
    const ment_t *x = a, *y = b;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int mp_value(djs_buf_t *b, djs_mp_reader_t *r, int depth);

/* Maps whose keys repeat (or repeat once mended to UTF-8, or are too many
 * to track): jansson's object rule, each key at its first place with its
 * last value, every value rendered (a bad one fails the whole map, as
 * djs_mp_to_json fails). Sorting keeps a hostile map O(n log n). */
static int map_slow(djs_buf_t *b, djs_mp_reader_t *r, int depth, const char *skip)
{
    uint32_t n;
    if (djs_mp_read_map(r, &n) != 0)
        return DJS_EINVAL;
    djs_buf_t keys, vals;
    djs_buf_init(&keys);
    djs_buf_init(&vals);
    ment_t *e = djs_malloc(((size_t)n + 1) * sizeof(*e));
    djs_buf_t sk;
    djs_buf_init(&sk);
    if (skip != NULL)
        djs_jt_str_lossy(&sk, skip, strlen(skip));
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        const char *k;
        size_t klen;
        if (djs_mp_read_str(r, &k, &klen) != 0) {
            rc = DJS_EINVAL;
            break;
        }
        e[i] = (ment_t){.key_off = keys.len, .val_off = vals.len, .idx = i};
        djs_jt_str_lossy(&keys, k, klen);
        rc = mp_value(&vals, r, depth + 1);
        e[i].key_len = keys.len - e[i].key_off;
        e[i].val_len = vals.len - e[i].val_off;
    }
    if (rc != 0)
        goto fail;
    for (uint32_t i = 0; i < n; i++)
        e[i].key = keys.base + e[i].key_off, e[i].val = vals.base + e[i].val_off;
    qsort(e, n, sizeof(*e), by_key_then_place);
    for (uint32_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && e[j].key_len == e[i].key_len && memcmp(e[j].key, e[i].key, e[i].key_len) == 0; j++)
            e[j].drop = 1;
        e[i].val = e[j - 1].val, e[i].val_len = e[j - 1].val_len;
        e[i].drop = skip != NULL && e[i].key_len == sk.len && memcmp(e[i].key, sk.base, sk.len) == 0;
    }
    qsort(e, n, sizeof(*e), by_place);
    djs_buf_append(b, "{", 1);
    for (uint32_t i = 0, first = 1; i < n; i++) {
        if (e[i].drop)
            continue;
        if (!first)
            djs_buf_append(b, ",", 1);
        first = 0;
        djs_buf_append(b, e[i].key, e[i].key_len);
        djs_buf_append(b, ":", 1);
        djs_buf_append(b, e[i].val, e[i].val_len);
    }
    djs_buf_append(b, "}", 1);
fail:
    djs_free(e);
    djs_buf_dispose(&sk);
    djs_buf_dispose(&keys);
    djs_buf_dispose(&vals);
    return rc;
}

/* A map (the next object), leaving out the entries whose key is skip. */
static int map_value(djs_buf_t *b, djs_mp_reader_t *r, int depth, const char *skip)
{
    djs_mp_reader_t start = *r;
    size_t mark = b->len;
    uint32_t n;
    if (djs_mp_read_map(r, &n) != 0)
        return DJS_EINVAL;
    mkey_t seen[MAX_KEYS];
    int first = 1;
    djs_buf_append(b, "{", 1);
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t klen;
        if (djs_mp_read_str(r, &k, &klen) != 0)
            return DJS_EINVAL;
        if (i >= MAX_KEYS || !djs_utf8_valid(k, klen) || repeats(seen, i, k, klen)) {
            *r = start; /* keys that jansson would mend or merge: its rule, slowly */
            b->len = mark;
            return map_slow(b, r, depth, skip);
        }
        seen[i] = (mkey_t){k, klen};
        if (skip != NULL && klen == strlen(skip) && memcmp(k, skip, klen) == 0) {
            if (djs_mp_skip(r, DJS_RENDER_MAX_DEPTH) != 0)
                return DJS_EINVAL;
            continue;
        }
        if (!first)
            djs_buf_append(b, ",", 1);
        first = 0;
        djs_jt_str(b, k, klen);
        djs_buf_append(b, ":", 1);
        int rc = mp_value(b, r, depth + 1);
        if (rc != 0)
            return rc;
    }
    djs_buf_append(b, "}", 1);
    return 0;
}

static int mp_value(djs_buf_t *b, djs_mp_reader_t *r, int depth)
{
    uint8_t tag;
    if (depth > DJS_RENDER_MAX_DEPTH + 2 || djs_mp_peek(r, &tag) != 0)
        return DJS_EINVAL;
    if ((tag >= 0x80 && tag <= 0x8f) || tag == 0xde || tag == 0xdf)
        return map_value(b, r, depth, NULL);
    if ((tag >= 0x90 && tag <= 0x9f) || tag == 0xdc || tag == 0xdd) {
        uint32_t n;
        if (djs_mp_read_array(r, &n) != 0)
            return DJS_EINVAL;
        djs_buf_append(b, "[", 1);
        for (uint32_t i = 0; i < n; i++) {
            if (i > 0)
                djs_buf_append(b, ",", 1);
            int rc = mp_value(b, r, depth + 1);
            if (rc != 0)
                return rc;
        }
        djs_buf_append(b, "]", 1);
        return 0;
    }
    const char *str;
    size_t len;
    int64_t iv;
    uint64_t uv;
    double d;
    int bo;
    const uint8_t *bin;
    if (djs_mp_read_str(r, &str, &len) == 0) {
        djs_jt_str_lossy(b, str, len);
    } else if (djs_mp_read_bin(r, &bin, &len) == 0) {
        if (len == 16) { /* ids: worker, upstream, workflow */
            djs_id_t id;
            memcpy(id.b, bin, 16);
            djs_jt_id(b, &id);
        } else {
            static const char hex[] = "0123456789abcdef";
            uint8_t *o = djs_buf_reserve(b, 2 * len + 2);
            *o++ = '"';
            for (size_t i = 0; i < len; i++)
                *o++ = (uint8_t)hex[bin[i] >> 4], *o++ = (uint8_t)hex[bin[i] & 15];
            *o = '"';
            b->len += 2 * len + 2;
        }
    } else if (djs_mp_read_int(r, &iv) == 0) {
        djs_jt_int(b, iv);
    } else if (djs_mp_read_uint(r, &uv) == 0) {
        djs_jt_real(b, (double)uv);
    } else if (djs_mp_read_double(r, &d) == 0) {
        if (!isfinite(d))
            return DJS_EINVAL; /* jansson has no value for it */
        djs_jt_real(b, d);
    } else if (djs_mp_read_bool(r, &bo) == 0) {
        djs_jt_lit(b, bo ? "true" : "false");
    } else if (djs_mp_read_nil(r) == 0) {
        djs_jt_lit(b, "null");
    } else {
        return DJS_EINVAL;
    }
    return 0;
}

int djs_jt_mp(djs_buf_t *b, djs_mp_reader_t *r, int depth)
{
    size_t mark = b->len;
    int rc = mp_value(b, r, depth);
    if (rc != 0)
        b->len = mark;
    return rc;
}

int djs_jt_event(djs_buf_t *b, const djs_event_t *ev)
{
    size_t mark = b->len;
    const char *type = djs_event_type_name(ev->type);
    djs_jt_lit(b, "{\"seq\":");
    djs_jt_int(b, (int64_t)ev->seq);
    djs_jt_lit(b, ",\"type\":");
    djs_jt_str_lossy(b, type, strlen(type));
    djs_jt_lit(b, ",\"at\":");
    djs_jt_time(b, ev->ts_ns);
    djs_jt_lit(b, ",\"actor\":");
    djs_jt_str_lossy(b, ev->actor, ev->actor_len);
    djs_jt_lit(b, ",\"entity\":");
    if (djs_id_is_nil(&ev->entity))
        djs_jt_lit(b, "null");
    else
        djs_jt_id(b, &ev->entity);
    djs_jt_lit(b, ",\"body\":");
    size_t body = b->len;
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, ev->body, ev->body_len);
    uint8_t tag;
    int rc;
    if (ev->type == DJS_EV_JOB_SUBMITTED && djs_mp_peek(&r, &tag) == 0 &&
        ((tag >= 0x80 && tag <= 0x8f) || tag == 0xde || tag == 0xdf))
        rc = map_value(b, &r, 0, "deps"); /* binary ids: listed by GET /jobs/{id} */
    else
        rc = mp_value(b, &r, 0);
    if (rc == DJS_EINVAL) { /* malformed: an empty body, as djs_event_json shows it */
        b->len = body;
        djs_jt_lit(b, "{}");
    } else if (rc != 0) {
        b->len = mark;
        return rc;
    }
    djs_buf_append(b, "}", 1);
    return 0;
}

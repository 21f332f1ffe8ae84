#include "api/jtext.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "core/error.h"

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

void djs_jt_real(djs_buf_t *b, double d)
{
    /* rare in events and answers: jansson's own rendering, exactly */
    json_t *r = json_real(d);
    char *t = r != NULL ? json_dumps(r, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(r);
    djs_jt_lit(b, t != NULL ? t : "null");
    free(t);
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

#define MAX_KEYS 64 /* maps with more keys than this are rendered by jansson */

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

static int mp_value(djs_buf_t *b, djs_mp_reader_t *r, int depth);

/* A map (the next object), leaving out the entries whose key is skip. */
static int map_value(djs_buf_t *b, djs_mp_reader_t *r, int depth, const char *skip)
{
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
        if (i >= MAX_KEYS || !djs_utf8_valid(k, klen) || repeats(seen, i, k, klen))
            return DJS_ECONFLICT; /* keys that jansson would mend or merge: its rendering */
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

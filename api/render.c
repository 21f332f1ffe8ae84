#include "api/render.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

json_t *djs_json_time(uint64_t ns)
{
    char buf[40];
    if (ns == 0)
        return json_null();
    djs_render_iso8601(buf, sizeof(buf), ns);
    return json_string(buf);
}

json_t *djs_json_id(const djs_id_t *id)
{
    char text[DJS_ID_TEXT_LEN + 1];
    djs_id_format(id, text);
    return json_string(text);
}

json_t *djs_json_str_lossy(const char *s, size_t n)
{
    if (djs_utf8_valid(s, n))
        return json_stringn(s, n);
    djs_buf_t b;
    djs_buf_init(&b);
    for (size_t i = 0, k; i < n; i += k) {
        if ((k = djs_utf8_seq((const uint8_t *)s + i, n - i)) == 0) {
            djs_buf_append(&b, "\xef\xbf\xbd", 3);
            k = 1;
        } else {
            djs_buf_append(&b, s + i, k);
        }
    }
    json_t *j = json_stringn((const char *)b.base, b.len);
    djs_buf_dispose(&b);
    return j;
}

json_t *djs_mp_to_json(djs_mp_reader_t *r, int depth)
{
    uint8_t tag;
    if (depth > DJS_RENDER_MAX_DEPTH + 2 || djs_mp_peek(r, &tag) != 0)
        return NULL;
    if ((tag >= 0x80 && tag <= 0x8f) || tag == 0xde || tag == 0xdf) {
        uint32_t n;
        if (djs_mp_read_map(r, &n) != 0)
            return NULL;
        json_t *o = json_object();
        for (uint32_t i = 0; i < n; i++) {
            const char *k;
            size_t klen;
            json_t *v;
            if (djs_mp_read_str(r, &k, &klen) != 0 || (v = djs_mp_to_json(r, depth + 1)) == NULL) {
                json_decref(o);
                return NULL;
            }
            json_t *kj = djs_json_str_lossy(k, klen); /* keys are whole: no cut, no merge */
            json_object_setn_new(o, json_string_value(kj), json_string_length(kj), v);
            json_decref(kj);
        }
        return o;
    }
    if ((tag >= 0x90 && tag <= 0x9f) || tag == 0xdc || tag == 0xdd) {
        uint32_t n;
        if (djs_mp_read_array(r, &n) != 0)
            return NULL;
        json_t *a = json_array();
        for (uint32_t i = 0; i < n; i++) {
            json_t *v = djs_mp_to_json(r, depth + 1);
            if (v == NULL) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    const char *str;
    size_t len;
    int64_t iv;
    uint64_t uv;
    double d;
    int b;
    const uint8_t *bin;
    if (djs_mp_read_str(r, &str, &len) == 0)
        return djs_json_str_lossy(str, len);
    if (djs_mp_read_bin(r, &bin, &len) == 0) {
        if (len == 16) { /* ids: worker, upstream, workflow */
            djs_id_t id;
            memcpy(id.b, bin, 16);
            return djs_json_id(&id);
        }
        char *hex = djs_malloc(2 * len + 1);
        for (size_t i = 0; i < len; i++)
            snprintf(hex + 2 * i, 3, "%02x", bin[i]);
        json_t *h = json_stringn(hex, 2 * len);
        djs_free(hex);
        return h;
    }
    if (djs_mp_read_int(r, &iv) == 0)
        return json_integer(iv);
    if (djs_mp_read_uint(r, &uv) == 0)
        return json_real((double)uv);
    if (djs_mp_read_double(r, &d) == 0)
        return json_real(d);
    if (djs_mp_read_bool(r, &b) == 0)
        return json_boolean(b);
    if (djs_mp_read_nil(r) == 0)
        return json_null();
    return NULL;
}

json_t *djs_event_json(const djs_event_t *ev)
{
    json_t *e = json_object();
    json_object_set_new(e, "seq", json_integer((json_int_t)ev->seq));
    json_object_set_new(e, "type", json_string(djs_event_type_name(ev->type)));
    json_object_set_new(e, "at", djs_json_time(ev->ts_ns));
    json_object_set_new(e, "actor", djs_json_str_lossy(ev->actor, ev->actor_len));
    json_object_set_new(e, "entity", djs_id_is_nil(&ev->entity) ? json_null() : djs_json_id(&ev->entity));
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, ev->body, ev->body_len);
    json_t *body = djs_mp_to_json(&r, 0);
    if (body != NULL && ev->type == DJS_EV_JOB_SUBMITTED)
        json_object_del(body, "deps"); /* binary ids: listed by GET /jobs/{id} */
    json_object_set_new(e, "body", body ? body : json_object());
    return e;
}

int djs_query_str(h2o_req_t *req, const char *name, const char **val, size_t *len)
{
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
    size_t nl = strlen(name);
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) >= nl + 1 && memcmp(q, name, nl) == 0 && q[nl] == '=') {
            *val = q + nl + 1;
            *len = (size_t)(stop - *val);
            return 1;
        }
        q = stop + 1;
    }
    return 0;
}

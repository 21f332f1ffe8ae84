#include "replay/export.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "core/bodies.h"
#include "core/error.h"
#include "core/jtext.h"

#define STOP_FOR_OUTPUT 1 /* the visitor's "stop here": a job.output record to finish outside the scan */

typedef struct exp {
    djs_log_t *log;
    const djs_export_options_t *o;
    djs_export_report_t *rep;
    FILE *out;
    djs_buf_t item, data;
    uint64_t total, done, next_report;
    uint64_t resume; /* the seq after the last one handled */
    djs_buf_t held;  /* a job.output record held back while its bytes are read */
} exp_t;

void djs_export_options_init(djs_export_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->format = DJS_EXPORT_JSONL;
}

__attribute__((format(printf, 4, 5))) static int fail_at(exp_t *x, uint64_t seq, int err, const char *fmt, ...)
{
    va_list ap;
    x->rep->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(x->rep->detail, sizeof(x->rep->detail), fmt, ap);
    va_end(ap);
    return err;
}

void djs_base64_encode(const uint8_t *p, size_t n, djs_buf_t *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t *o = djs_buf_reserve(out, (n + 2) / 3 * 4), *start = o;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)t[v >> 18], *o++ = (uint8_t)t[v >> 12 & 63], *o++ = (uint8_t)t[v >> 6 & 63], *o++ = (uint8_t)t[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = (uint8_t)t[v >> 18], *o++ = (uint8_t)t[v >> 12 & 63];
        *o++ = i + 1 < n ? (uint8_t)t[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    out->len += (size_t)(o - start);
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int djs_base64_decode(const char *s, size_t n, djs_buf_t *out)
{
    if (n % 4 != 0)
        return DJS_EINVAL;
    uint8_t *o = djs_buf_reserve(out, n / 4 * 3), *start = o;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int pad = last ? (s[i + 3] == '=') + (s[i + 2] == '=' && s[i + 3] == '=') : 0;
        int v[4];
        for (int k = 0; k < 4 - pad; k++)
            if ((v[k] = b64_value(s[i + k])) < 0)
                return DJS_EINVAL;
        for (int k = 4 - pad; k < 4; k++)
            v[k] = 0;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        *o++ = (uint8_t)(w >> 16);
        if (pad < 2)
            *o++ = (uint8_t)(w >> 8);
        if (pad < 1)
            *o++ = (uint8_t)w;
        if (pad > 0 && (w & (pad == 2 ? 0xffffu : 0xffu)) != 0)
            return DJS_EINVAL; /* non-canonical: bits under the padding */
    }
    out->len += (size_t)(o - start);
    return 0;
}

static void jt_hex(djs_buf_t *b, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t *o = djs_buf_reserve(b, 2 * n + 2);
    *o++ = '"';
    for (size_t i = 0; i < n; i++)
        *o++ = (uint8_t)hex[p[i] >> 4], *o++ = (uint8_t)hex[p[i] & 15];
    *o = '"';
    b->len += 2 * n + 2;
}

static void jt_b64(djs_buf_t *b, const uint8_t *p, size_t n)
{
    djs_buf_append(b, "\"", 1);
    djs_base64_encode(p, n, b);
    djs_buf_append(b, "\"", 1);
}

static void jt_key(djs_buf_t *b, const char *k, int first)
{
    if (!first)
        djs_buf_append(b, ",", 1);
    djs_jt_str(b, k, strlen(k));
    djs_buf_append(b, ":", 1);
}

static int buf_write(void *data, const char *p, size_t n)
{
    djs_buf_append(data, p, n);
    return 0;
}

static void mp_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

static int emit(exp_t *x)
{
    if (x->o->format == DJS_EXPORT_JSONL)
        djs_buf_append(&x->item, "\n", 1);
    if (x->item.len > 0 && fwrite(x->item.base, 1, x->item.len, x->out) != x->item.len)
        return fail_at(x, 0, DJS_EIO, "writing the export failed: %s", strerror(errno));
    x->rep->bytes += x->item.len;
    djs_buf_reset(&x->item);
    return 0;
}

typedef struct head {
    uint64_t log_first, log_last;
    uint8_t prev[DJS_HASH_LEN];
    int has_base;
    djs_log_base_t base;
} head_t;

static void header_jsonl(exp_t *x, const head_t *h)
{
    djs_buf_t *b = &x->item;
    const djs_export_report_t *r = x->rep;
    djs_jt_lit(b, "{\"format\":\"djs-export\",\"version\":");
    djs_jt_int(b, DJS_EXPORT_VERSION);
    djs_jt_lit(b, ",\"encoding\":\"jsonl\"");
    jt_key(b, "first_seq", 0), djs_jt_int(b, (int64_t)r->first_seq);
    jt_key(b, "last_seq", 0), djs_jt_int(b, (int64_t)r->last_seq);
    jt_key(b, "log_first_seq", 0), djs_jt_int(b, (int64_t)h->log_first);
    jt_key(b, "prev_hash", 0), jt_hex(b, h->prev, DJS_HASH_LEN);
    jt_key(b, "base", 0);
    if (h->has_base) {
        djs_jt_lit(b, "{\"seq\":"), djs_jt_int(b, (int64_t)h->base.seq);
        jt_key(b, "ts", 0), djs_jt_int(b, (int64_t)h->base.ts_ns);
        jt_key(b, "hash", 0), jt_hex(b, h->base.hash, DJS_HASH_LEN);
        djs_jt_lit(b, "}");
    } else {
        djs_jt_lit(b, "null");
    }
    jt_key(b, "complete", 0), djs_jt_lit(b, r->complete ? "true" : "false");
    jt_key(b, "types", 0);
    if (x->o->ntypes == 0)
        djs_jt_lit(b, "null");
    for (size_t i = 0; i < x->o->ntypes; i++) {
        const char *t = djs_event_type_name(x->o->types[i]);
        djs_jt_lit(b, i == 0 ? "[" : ",");
        djs_jt_str(b, t, strlen(t));
    }
    if (x->o->ntypes > 0)
        djs_jt_lit(b, "]");
    jt_key(b, "entity", 0);
    if (x->o->has_entity)
        djs_jt_id(b, &x->o->entity);
    else
        djs_jt_lit(b, "null");
    djs_jt_lit(b, "}");
}

static void header_msgpack(exp_t *x, const head_t *h)
{
    msgpack_packer pk;
    const djs_export_report_t *r = x->rep;
    msgpack_packer_init(&pk, &x->item, buf_write);
    msgpack_pack_map(&pk, 11);
    mp_key(&pk, "format"), mp_key(&pk, "djs-export");
    mp_key(&pk, "version"), msgpack_pack_uint32(&pk, DJS_EXPORT_VERSION);
    mp_key(&pk, "encoding"), mp_key(&pk, "msgpack");
    mp_key(&pk, "first_seq"), msgpack_pack_uint64(&pk, r->first_seq);
    mp_key(&pk, "last_seq"), msgpack_pack_uint64(&pk, r->last_seq);
    mp_key(&pk, "log_first_seq"), msgpack_pack_uint64(&pk, h->log_first);
    mp_key(&pk, "prev_hash"), msgpack_pack_bin_with_body(&pk, h->prev, DJS_HASH_LEN);
    mp_key(&pk, "base");
    if (h->has_base) {
        msgpack_pack_map(&pk, 3);
        mp_key(&pk, "seq"), msgpack_pack_uint64(&pk, h->base.seq);
        mp_key(&pk, "ts"), msgpack_pack_uint64(&pk, h->base.ts_ns);
        mp_key(&pk, "hash"), msgpack_pack_bin_with_body(&pk, h->base.hash, DJS_HASH_LEN);
    } else {
        msgpack_pack_nil(&pk);
    }
    mp_key(&pk, "complete");
    if (r->complete)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    mp_key(&pk, "types");
    if (x->o->ntypes == 0)
        msgpack_pack_nil(&pk);
    else
        msgpack_pack_array(&pk, x->o->ntypes);
    for (size_t i = 0; i < x->o->ntypes; i++)
        mp_key(&pk, djs_event_type_name(x->o->types[i]));
    mp_key(&pk, "entity");
    if (x->o->has_entity)
        msgpack_pack_bin_with_body(&pk, x->o->entity.b, 16);
    else
        msgpack_pack_nil(&pk);
}

static int write_record(exp_t *x, const djs_event_t *ev, const uint8_t *rec, size_t len)
{
    if (x->o->format == DJS_EXPORT_MSGPACK) {
        djs_buf_append(&x->item, rec, len);
    } else {
        djs_jt_event(&x->item, ev); /* {...}: reopen it for hash and rec */
        x->item.len--;
        djs_jt_lit(&x->item, ",\"hash\":");
        jt_hex(&x->item, ev->hash, DJS_HASH_LEN);
        djs_jt_lit(&x->item, ",\"rec\":");
        jt_b64(&x->item, rec, len);
        djs_jt_lit(&x->item, "}");
    }
    memcpy(x->rep->head, ev->hash, DJS_HASH_LEN);
    x->rep->events++;
    return emit(x);
}

static int write_output(exp_t *x, uint64_t seq, const djs_id_t *job, uint64_t off, const uint8_t *p, size_t n)
{
    if (x->o->format == DJS_EXPORT_MSGPACK) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &x->item, buf_write);
        msgpack_pack_map(&pk, 4);
        mp_key(&pk, "output"), msgpack_pack_uint64(&pk, seq);
        mp_key(&pk, "job"), msgpack_pack_bin_with_body(&pk, job->b, 16);
        mp_key(&pk, "offset"), msgpack_pack_uint64(&pk, off);
        mp_key(&pk, "data"), msgpack_pack_bin_with_body(&pk, p, n);
    } else {
        djs_jt_lit(&x->item, "{\"output\":");
        djs_jt_int(&x->item, (int64_t)seq);
        jt_key(&x->item, "job", 0), djs_jt_id(&x->item, job);
        jt_key(&x->item, "offset", 0), djs_jt_int(&x->item, (int64_t)off);
        jt_key(&x->item, "data", 0), jt_b64(&x->item, p, n);
        djs_jt_lit(&x->item, "}");
    }
    x->rep->chunks++;
    x->rep->output_bytes += n;
    return emit(x);
}

static int write_trailer(exp_t *x)
{
    const djs_export_report_t *r = x->rep;
    if (x->o->format == DJS_EXPORT_MSGPACK) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &x->item, buf_write);
        msgpack_pack_map(&pk, 6);
        mp_key(&pk, "end"), mp_key(&pk, "djs-export");
        mp_key(&pk, "events"), msgpack_pack_uint64(&pk, r->events);
        mp_key(&pk, "chunks"), msgpack_pack_uint64(&pk, r->chunks);
        mp_key(&pk, "output_bytes"), msgpack_pack_uint64(&pk, r->output_bytes);
        mp_key(&pk, "last_seq"), msgpack_pack_uint64(&pk, r->last_seq);
        mp_key(&pk, "head"), msgpack_pack_bin_with_body(&pk, r->head, DJS_HASH_LEN);
    } else {
        djs_jt_lit(&x->item, "{\"end\":\"djs-export\",\"events\":");
        djs_jt_int(&x->item, (int64_t)r->events);
        jt_key(&x->item, "chunks", 0), djs_jt_int(&x->item, (int64_t)r->chunks);
        jt_key(&x->item, "output_bytes", 0), djs_jt_int(&x->item, (int64_t)r->output_bytes);
        jt_key(&x->item, "last_seq", 0), djs_jt_int(&x->item, (int64_t)r->last_seq);
        jt_key(&x->item, "head", 0), jt_hex(&x->item, r->head, DJS_HASH_LEN);
        djs_jt_lit(&x->item, "}");
    }
    return emit(x);
}

static int type_wanted(const djs_export_options_t *o, int type)
{
    if (o->ntypes == 0)
        return 1;
    for (size_t i = 0; i < o->ntypes; i++)
        if (o->types[i] == type)
            return 1;
    return 0;
}

static void progress(exp_t *x, uint64_t seq)
{
    x->done = seq - x->rep->first_seq + 1;
    if (x->o->progress != NULL && x->done >= x->next_report) {
        x->o->progress(x->o->progress_arg, x->done, x->total);
        x->next_report = x->done + x->total / 100 + 1;
    }
}

static int on_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    exp_t *x = arg;
    djs_event_t ev;
    int rc = djs_event_decode(rec, len, &ev);
    x->resume = seq + 1;
    if (rc != 0)
        return fail_at(x, seq, DJS_ECORRUPT, "record %" PRIu64 " does not decode: %s", seq, djs_strerror(rc));
    if (ev.seq != seq)
        return fail_at(x, seq, DJS_ECORRUPT, "record stored at %" PRIu64 " claims seq %" PRIu64, seq, ev.seq);
    progress(x, seq);
    if (!type_wanted(x->o, ev.type))
        return 0;
    if (ev.type == DJS_EV_JOB_OUTPUT) { /* its bytes are read outside the scan's read transaction */
        djs_buf_reset(&x->held);
        djs_buf_append(&x->held, rec, len);
        return STOP_FOR_OUTPUT;
    }
    return write_record(x, &ev, rec, len);
}

/* The held job.output record, then the bytes it recorded. */
static int finish_output(exp_t *x)
{
    djs_event_t ev;
    djs_job_change_t c;
    uint64_t seq = x->resume - 1, next;
    int rc = djs_event_decode(x->held.base, x->held.len, &ev);
    if (rc == 0 && (rc = write_record(x, &ev, x->held.base, x->held.len)) != 0)
        return rc;
    if (rc != 0 || djs_body_read_job_change(ev.body, ev.body_len, &c) != 0)
        return fail_at(x, seq, DJS_ECORRUPT, "record %" PRIu64 ": job.output body does not decode", seq);
    if (c.out_len == 0)
        return 0;
    djs_buf_reset(&x->data);
    if ((rc = djs_log_read_output(x->log, &ev.entity, c.out_offset, c.out_len, &x->data, &next)) != 0)
        return fail_at(x, seq, rc, "record %" PRIu64 ": reading its output failed: %s", seq, djs_strerror(rc));
    if (x->data.len != c.out_len || next != c.out_offset + c.out_len)
        return fail_at(x, seq, DJS_ECORRUPT, "record %" PRIu64 ": %u output bytes at offset %" PRIu64 " recorded, %zu stored there",
                       seq, c.out_len, c.out_offset, x->data.len);
    return write_output(x, seq, &ev.entity, c.out_offset, x->data.base, x->data.len);
}

static int scan(exp_t *x)
{
    int rc;
    x->resume = x->rep->first_seq;
    while (x->resume <= x->rep->last_seq) {
        if (x->o->has_entity)
            rc = djs_log_scan_entity(x->log, &x->o->entity, x->resume, x->rep->last_seq, on_record, x);
        else
            rc = djs_log_scan(x->log, x->resume, x->rep->last_seq, on_record, x);
        if (rc == STOP_FOR_OUTPUT)
            rc = finish_output(x);
        else if (rc == 0)
            break;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int plan(exp_t *x, head_t *h)
{
    const djs_export_options_t *o = x->o;
    djs_export_report_t *r = x->rep;
    h->log_first = djs_log_first_seq(x->log);
    h->log_last = djs_log_last_seq(x->log);
    int rc = djs_log_get_base(x->log, &h->base);
    if (rc != 0 && rc != DJS_ENOTFOUND)
        return fail_at(x, 0, rc, "reading the log's archive base failed: %s", djs_strerror(rc));
    h->has_base = rc == 0;
    if (h->has_base)
        memcpy(h->prev, h->base.hash, DJS_HASH_LEN);
    if (o->format != DJS_EXPORT_JSONL && o->format != DJS_EXPORT_MSGPACK)
        return fail_at(x, 0, DJS_EINVAL, "unknown export format %d", (int)o->format);
    for (size_t i = 0; i < o->ntypes; i++)
        if (i >= DJS_EXPORT_MAX_TYPES || !djs_event_type_valid(o->types[i]))
            return fail_at(x, 0, DJS_EINVAL, "unknown event type %d", o->types[i]);
    r->first_seq = o->from_seq ? o->from_seq : h->log_first;
    r->last_seq = o->to_seq && o->to_seq < h->log_last ? o->to_seq : h->log_last;
    if (r->first_seq < h->log_first)
        return fail_at(x, 0, DJS_EARCHIVED, "seq %" PRIu64 " is archived: the log starts at %" PRIu64, r->first_seq, h->log_first);
    if (r->first_seq > h->log_last + 1 || r->last_seq + 1 < r->first_seq)
        return fail_at(x, 0, DJS_EINVAL, "range %" PRIu64 "..%" PRIu64 " is outside the log (%" PRIu64 "..%" PRIu64 ")",
                       r->first_seq, r->last_seq, h->log_first, h->log_last);
    r->complete = r->first_seq == h->log_first && o->ntypes == 0 && !o->has_entity;
    if (r->first_seq > h->log_first) { /* the chain hash before the range */
        djs_event_t ev;
        djs_buf_reset(&x->data);
        if ((rc = djs_log_get(x->log, r->first_seq - 1, &x->data)) != 0 ||
            (rc = djs_event_decode(x->data.base, x->data.len, &ev)) != 0)
            return fail_at(x, r->first_seq - 1, rc, "record %" PRIu64 " cannot be read: %s", r->first_seq - 1, djs_strerror(rc));
        memcpy(h->prev, ev.hash, DJS_HASH_LEN);
    }
    memcpy(r->head, h->prev, DJS_HASH_LEN);
    x->total = r->last_seq + 1 - r->first_seq;
    return 0;
}

int djs_export(djs_log_t *log, const djs_export_options_t *o, FILE *out, djs_export_report_t *rep)
{
    exp_t x = {.log = log, .o = o, .rep = rep, .out = out};
    head_t h = {0};
    memset(rep, 0, sizeof(*rep));
    djs_buf_init(&x.item);
    djs_buf_init(&x.data);
    djs_buf_init(&x.held);
    int rc = plan(&x, &h);
    if (rc != 0)
        goto fail;
    if (o->format == DJS_EXPORT_MSGPACK)
        header_msgpack(&x, &h);
    else
        header_jsonl(&x, &h);
    if ((rc = emit(&x)) != 0 || (rc = scan(&x)) != 0 || (rc = write_trailer(&x)) != 0)
        goto fail;
    if (fflush(out) != 0) {
        rc = fail_at(&x, 0, DJS_EIO, "writing the export failed: %s", strerror(errno));
        goto fail;
    }
    if (o->progress != NULL)
        o->progress(o->progress_arg, x.total, x.total);
fail:
    if (rc != 0 && rep->detail[0] == '\0')
        fail_at(&x, rep->bad_seq, rc, "export failed: %s", djs_strerror(rc));
    djs_buf_dispose(&x.item);
    djs_buf_dispose(&x.data);
    djs_buf_dispose(&x.held);
    return rc;
}

int djs_export_fd(djs_log_t *log, const djs_export_options_t *o, int fd, djs_export_report_t *rep)
{
    int dfd = dup(fd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "w") : NULL;
    if (f == NULL) {
        int rc = djs_err_from_errno(errno);
        if (dfd >= 0)
            close(dfd);
        memset(rep, 0, sizeof(*rep));
        snprintf(rep->detail, sizeof(rep->detail), "cannot write to fd %d: %s", fd, djs_strerror(rc));
        return rc;
    }
    int rc = djs_export(log, o, f, rep);
    if (fclose(f) != 0 && rc == 0) {
        rc = DJS_EIO;
        snprintf(rep->detail, sizeof(rep->detail), "writing the export failed: %s", strerror(errno));
    }
    return rc;
}

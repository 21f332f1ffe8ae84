#include "core/bodies.h"

#include <msgpack.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "core/job.h"
#include "core/mp.h"

/* ---- encoding ------------------------------------------------------------- */

static int buf_write(void *data, const char *p, size_t n)
{
    djs_buf_append((djs_buf_t *)data, p, n);
    return 0;
}

static void key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

static void kstr(msgpack_packer *pk, const char *k, djs_str_t s)
{
    key(pk, k);
    msgpack_pack_str_with_body(pk, s.p, s.len);
}

static void kid(msgpack_packer *pk, const char *k, const djs_id_t *id)
{
    key(pk, k);
    msgpack_pack_bin_with_body(pk, id->b, 16);
}

static void kuint(msgpack_packer *pk, const char *k, uint64_t v)
{
    key(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void strarray(msgpack_packer *pk, const char *k, const djs_str_t *v, uint32_t n)
{
    key(pk, k);
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_str_with_body(pk, v[i].p, v[i].len);
}

void djs_body_job_spec(djs_buf_t *out, const djs_job_spec_t *s, const djs_str_t *caps, uint32_t ncaps)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    int wf = !djs_id_is_nil(&s->workflow);
    uint32_t n = 6 + (s->description.len > 0) + (s->payload_len > 0) + (s->ndeps > 0) + (ncaps > 0) + (s->idem_key.len > 0) +
                 (s->scheduled_at > 0) + wf + (s->wf_key.len > 0) + 2 * (s->ckey.len > 0) + !djs_id_is_nil(&s->schedule);
    msgpack_pack_map(&pk, n);
    kstr(&pk, "name", s->name);
    kuint(&pk, "prio", s->priority);
    kuint(&pk, "timeout", s->timeout_s);
    kuint(&pk, "retries", s->max_retries);
    kstr(&pk, "owner", s->owner);
    if (s->description.len > 0)
        kstr(&pk, "desc", s->description);
    key(&pk, "v");
    msgpack_pack_uint32(&pk, 1); /* body layout version, for readers outside djs */
    if (s->payload_len > 0) {
        key(&pk, "payload");
        djs_buf_append(out, s->payload, s->payload_len);
    }
    if (s->ndeps > 0) {
        key(&pk, "deps");
        msgpack_pack_bin_with_body(&pk, s->deps, (size_t)s->ndeps * 16);
    }
    if (ncaps > 0)
        strarray(&pk, "caps", caps, ncaps);
    if (s->idem_key.len > 0)
        kstr(&pk, "idem", s->idem_key);
    if (s->scheduled_at > 0)
        kuint(&pk, "sched", s->scheduled_at);
    if (wf)
        kid(&pk, "wf", &s->workflow);
    if (s->wf_key.len > 0)
        kstr(&pk, "wfkey", s->wf_key);
    if (s->ckey.len > 0) {
        kstr(&pk, "ckey", s->ckey);
        kuint(&pk, "climit", s->climit);
    }
    if (!djs_id_is_nil(&s->schedule))
        kid(&pk, "schedule", &s->schedule);
}

void djs_body_job_change(djs_buf_t *out, int type, const djs_job_change_t *c)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    int w = !djs_id_is_nil(&c->worker), up = !djs_id_is_nil(&c->upstream);
    int att = type != DJS_EV_JOB_QUEUED && type != DJS_EV_JOB_CANCELLED && type != DJS_EV_JOB_UPDATED &&
              type != DJS_EV_JOB_DELETED && type != DJS_EV_JOB_RETRIED && type != DJS_EV_JOB_UPSTREAM_FAILED;
    int retry = type == DJS_EV_JOB_FAILED || type == DJS_EV_JOB_TIMED_OUT;
    int prog = type == DJS_EV_JOB_PROGRESS, outp = type == DJS_EV_JOB_OUTPUT;
    uint32_t n = (c->reason.len > 0) + w + up + att + (c->lease > 0) + retry + prog + (c->step.len > 0) + (c->eta > 0) +
                 (c->error.len > 0) + (c->result_len > 0) + (c->has_priority != 0) + (c->has_max_retries != 0) +
                 (c->has_timeout != 0) + (c->has_name != 0) + (c->has_description != 0) + /* flags are truthy ints, not 0/1 */
                 (outp ? 3 + (c->out_truncated != 0) + (c->has_out_sha != 0) : 0);
    msgpack_pack_map(&pk, n);
    if (c->reason.len > 0)
        kstr(&pk, "reason", c->reason);
    if (w)
        kid(&pk, "worker", &c->worker);
    if (up)
        kid(&pk, "upstream", &c->upstream);
    if (att)
        kuint(&pk, "attempt", c->attempt);
    if (c->lease > 0)
        kuint(&pk, "lease", c->lease);
    if (retry)
        kuint(&pk, "retry_at", c->retry_at);
    if (prog)
        kuint(&pk, "pct", c->percent);
    if (c->step.len > 0)
        kstr(&pk, "step", c->step);
    if (c->eta > 0)
        kuint(&pk, "eta", c->eta);
    if (c->error.len > 0)
        kstr(&pk, "error", c->error);
    if (c->result_len > 0) {
        key(&pk, "result");
        djs_buf_append(out, c->result, c->result_len);
    }
    if (c->has_priority)
        kuint(&pk, "prio", c->priority);
    if (c->has_max_retries)
        kuint(&pk, "retries", c->max_retries);
    if (c->has_timeout)
        kuint(&pk, "timeout", c->timeout_s);
    if (c->has_name)
        kstr(&pk, "name", c->name);
    if (c->has_description)
        kstr(&pk, "desc", c->description);
    if (outp) {
        kuint(&pk, "out_off", c->out_offset);
        kuint(&pk, "out_len", c->out_len);
        kuint(&pk, "out_recv", c->out_recv);
    }
    if (outp && c->out_truncated) {
        key(&pk, "trunc");
        msgpack_pack_true(&pk);
    }
    if (outp && c->has_out_sha) {
        key(&pk, "out_sha");
        msgpack_pack_bin(&pk, sizeof(c->out_sha));
        msgpack_pack_bin_body(&pk, c->out_sha, sizeof(c->out_sha));
    }
}

void djs_body_worker(djs_buf_t *out, int type, const djs_worker_info_t *w, const djs_str_t *caps, uint32_t ncaps)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    int reg = type == DJS_EV_WORKER_REGISTERED;
    int hb = type == DJS_EV_WORKER_HEARTBEAT || (w->has_load && type == DJS_EV_WORKER_REGISTERED);
    int slots = reg || w->has_slots, capsf = reg || w->has_caps;
    uint32_t n =
        (w->name.len > 0) + (w->host.len > 0) + slots + capsf + (hb ? 4 : 0) + (w->addr.len > 0) + (w->port > 0) + (w->tags.n > 0);
    msgpack_pack_map(&pk, n);
    if (w->name.len > 0)
        kstr(&pk, "name", w->name);
    if (w->host.len > 0)
        kstr(&pk, "host", w->host);
    if (w->addr.len > 0)
        kstr(&pk, "addr", w->addr);
    if (w->port > 0)
        kuint(&pk, "port", w->port);
    if (w->tags.n > 0) {
        key(&pk, "tags");
        djs_buf_append(out, w->tags.mp, w->tags.mp_len); /* already a packed array */
    }
    if (slots)
        kuint(&pk, "slots", w->slots);
    if (capsf)
        strarray(&pk, "caps", caps, ncaps);
    if (hb) {
        kuint(&pk, "cpu", w->cpu_pm);
        kuint(&pk, "mem", w->mem_pm);
        kuint(&pk, "resp", w->resp_ms);
        kuint(&pk, "running", w->running);
    }
}

void djs_body_strlist(djs_buf_t *out, const djs_str_t *v, uint32_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_str_with_body(&pk, v[i].p, v[i].len);
}

void djs_body_server(djs_buf_t *out, const djs_server_info_t *s)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, 2);
    key(&pk, "pid");
    msgpack_pack_int64(&pk, s->pid);
    kstr(&pk, "listen", s->listen);
}

const djs_id_t djs_cluster_entity = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

void djs_body_cluster_leader(djs_buf_t *out, const djs_cluster_leader_t *l)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, 4);
    kuint(&pk, "term", l->term);
    kuint(&pk, "node", l->node);
    kstr(&pk, "url", l->url);
    kuint(&pk, "graceMs", l->grace_ms);
}

/* ---- decoding --------------------------------------------------------------- */

int djs_strlist_next(const djs_strlist_t *l, size_t *off, djs_str_t *s)
{
    if (l->mp == NULL)
        return 0;
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, l->mp, l->mp_len);
    uint32_t n;
    if (*off == 0) {
        if (djs_mp_read_array(&r, &n) != 0)
            return 0;
    } else {
        r.p += *off;
    }
    if (r.p >= r.end || djs_mp_read_str(&r, &s->p, &s->len) != 0)
        return 0;
    *off = (size_t)(r.p - l->mp);
    return 1;
}

static int keyis(const djs_str_t *k, const char *lit)
{
    return k->len == strlen(lit) && memcmp(k->p, lit, k->len) == 0;
}

static int rd_u32(djs_mp_reader_t *r, uint32_t *v)
{
    uint64_t u;
    int rc = djs_mp_read_uint(r, &u);
    if (rc != 0)
        return rc;
    if (u > UINT32_MAX)
        return DJS_ERANGE;
    *v = (uint32_t)u;
    return 0;
}

static int rd_str(djs_mp_reader_t *r, djs_str_t *s, size_t max)
{
    int rc = djs_mp_read_str(r, &s->p, &s->len);
    if (rc == 0 && s->len > max)
        return DJS_ETOOBIG;
    return rc;
}

static int rd_id(djs_mp_reader_t *r, djs_id_t *id)
{
    const uint8_t *b;
    size_t n;
    int rc = djs_mp_read_bin(r, &b, &n);
    if (rc != 0)
        return rc;
    if (n != 16)
        return DJS_EBADTYPE;
    memcpy(id->b, b, 16);
    return 0;
}

/* A raw nested value: its bytes, validated. */
static int rd_raw(djs_mp_reader_t *r, const uint8_t **p, size_t *len)
{
    const uint8_t *start = r->p;
    int rc = djs_mp_skip(r, DJS_EVENT_MAX_DEPTH);
    if (rc != 0)
        return rc;
    *p = start;
    *len = (size_t)(r->p - start);
    return 0;
}

static int rd_strlist(djs_mp_reader_t *r, djs_strlist_t *l, uint32_t max_n, size_t max_len)
{
    const uint8_t *start = r->p;
    uint32_t n;
    int rc = djs_mp_read_array(r, &n);
    if (rc != 0)
        return rc;
    if (n > max_n)
        return DJS_ETOOBIG;
    for (uint32_t i = 0; i < n; i++) {
        djs_str_t s;
        if ((rc = rd_str(r, &s, max_len)) != 0)
            return rc;
    }
    l->mp = start;
    l->mp_len = (size_t)(r->p - start);
    l->n = n;
    return 0;
}

typedef int (*field_fn)(void *out, const djs_str_t *k, djs_mp_reader_t *r);

static int read_map(const uint8_t *body, size_t len, field_fn fn, void *out)
{
    djs_mp_reader_t r;
    uint32_t n;
    djs_mp_reader_init(&r, body, len);
    int rc = djs_mp_read_map(&r, &n);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        djs_str_t k;
        if ((rc = djs_mp_read_str(&r, &k.p, &k.len)) != 0)
            return rc;
        if ((rc = fn(out, &k, &r)) == 1)
            rc = djs_mp_skip(&r, DJS_EVENT_MAX_DEPTH); /* unknown key */
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int spec_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_job_spec_t *s = out;
    uint32_t u = 0;
    int rc;
    if (keyis(k, "name"))
        return rd_str(r, &s->name, DJS_JOB_MAX_NAME);
    if (keyis(k, "desc"))
        return rd_str(r, &s->description, DJS_JOB_MAX_DESCRIPTION);
    if (keyis(k, "owner"))
        return rd_str(r, &s->owner, DJS_EVENT_MAX_ACTOR);
    if (keyis(k, "idem"))
        return rd_str(r, &s->idem_key, DJS_JOB_MAX_IDEM_KEY);
    if (keyis(k, "wfkey"))
        return rd_str(r, &s->wf_key, DJS_JOB_MAX_NAME);
    if (keyis(k, "ckey"))
        return rd_str(r, &s->ckey, DJS_JOB_MAX_CONCURRENCY_KEY);
    if (keyis(k, "climit"))
        return rd_u32(r, &s->climit);
    if (keyis(k, "prio")) {
        if ((rc = rd_u32(r, &u)) == 0 && u >= DJS_NPRIO)
            rc = DJS_ERANGE;
        s->priority = (uint8_t)u;
        return rc;
    }
    if (keyis(k, "timeout"))
        return rd_u32(r, &s->timeout_s);
    if (keyis(k, "retries"))
        return rd_u32(r, &s->max_retries);
    if (keyis(k, "sched"))
        return djs_mp_read_uint(r, &s->scheduled_at);
    if (keyis(k, "wf"))
        return rd_id(r, &s->workflow);
    if (keyis(k, "schedule"))
        return rd_id(r, &s->schedule);
    if (keyis(k, "caps"))
        return rd_strlist(r, &s->caps, DJS_JOB_MAX_CAPS, DJS_JOB_MAX_CAP_LEN);
    if (keyis(k, "payload"))
        return rd_raw(r, &s->payload, &s->payload_len);
    if (keyis(k, "deps")) {
        size_t n;
        if ((rc = djs_mp_read_bin(r, &s->deps, &n)) != 0)
            return rc;
        if (n % 16 != 0)
            return DJS_EBADTYPE;
        if (n / 16 > DJS_JOB_MAX_DEPS)
            return DJS_ETOOBIG;
        s->ndeps = (uint32_t)(n / 16);
        return 0;
    }
    return 1;
}

int djs_body_read_job_spec(const uint8_t *body, size_t len, djs_job_spec_t *s)
{
    memset(s, 0, sizeof(*s));
    s->priority = DJS_PRIO_NORMAL;
    return read_map(body, len, spec_field, s);
}

static int change_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_job_change_t *c = out;
    uint32_t u = 0;
    int rc;
    if (keyis(k, "reason"))
        return rd_str(r, &c->reason, 256);
    if (keyis(k, "worker"))
        return rd_id(r, &c->worker);
    if (keyis(k, "upstream"))
        return rd_id(r, &c->upstream);
    if (keyis(k, "attempt"))
        return rd_u32(r, &c->attempt);
    if (keyis(k, "lease"))
        return djs_mp_read_uint(r, &c->lease);
    if (keyis(k, "retry_at"))
        return djs_mp_read_uint(r, &c->retry_at);
    if (keyis(k, "pct")) {
        if ((rc = rd_u32(r, &c->percent)) == 0 && c->percent > 100)
            rc = DJS_ERANGE;
        return rc;
    }
    if (keyis(k, "step"))
        return rd_str(r, &c->step, DJS_JOB_MAX_NAME);
    if (keyis(k, "eta"))
        return djs_mp_read_uint(r, &c->eta);
    if (keyis(k, "error"))
        return rd_str(r, &c->error, DJS_JOB_MAX_DESCRIPTION);
    if (keyis(k, "result"))
        return rd_raw(r, &c->result, &c->result_len);
    if (keyis(k, "prio")) {
        c->has_priority = 1;
        if ((rc = rd_u32(r, &u)) == 0 && u >= DJS_NPRIO)
            rc = DJS_ERANGE;
        c->priority = (uint8_t)u;
        return rc;
    }
    if (keyis(k, "retries"))
        return c->has_max_retries = 1, rd_u32(r, &c->max_retries);
    if (keyis(k, "timeout"))
        return c->has_timeout = 1, rd_u32(r, &c->timeout_s);
    if (keyis(k, "name"))
        return c->has_name = 1, rd_str(r, &c->name, DJS_JOB_MAX_NAME);
    if (keyis(k, "desc"))
        return c->has_description = 1, rd_str(r, &c->description, DJS_JOB_MAX_DESCRIPTION);
    if (keyis(k, "out_off"))
        return djs_mp_read_uint(r, &c->out_offset);
    if (keyis(k, "out_len"))
        return rd_u32(r, &c->out_len);
    if (keyis(k, "out_recv"))
        return rd_u32(r, &c->out_recv);
    if (keyis(k, "trunc"))
        return djs_mp_read_bool(r, &c->out_truncated);
    if (keyis(k, "out_sha")) {
        const uint8_t *p;
        size_t n;
        int rc = djs_mp_read_bin(r, &p, &n);
        if (rc == 0 && n != sizeof(c->out_sha))
            rc = DJS_EBADTYPE;
        if (rc == 0) {
            memcpy(c->out_sha, p, n);
            c->has_out_sha = 1;
        }
        return rc;
    }
    return 1;
}

int djs_body_read_job_change(const uint8_t *body, size_t len, djs_job_change_t *c)
{
    memset(c, 0, sizeof(*c));
    return read_map(body, len, change_field, c);
}

static int worker_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_worker_info_t *w = out;
    if (keyis(k, "name"))
        return rd_str(r, &w->name, DJS_JOB_MAX_NAME);
    if (keyis(k, "host"))
        return rd_str(r, &w->host, DJS_JOB_MAX_NAME);
    if (keyis(k, "caps"))
        return w->has_caps = 1, rd_strlist(r, &w->caps, DJS_JOB_MAX_CAPS, DJS_JOB_MAX_CAP_LEN);
    if (keyis(k, "slots"))
        return w->has_slots = 1, rd_u32(r, &w->slots);
    if (keyis(k, "cpu"))
        return w->has_load = 1, rd_u32(r, &w->cpu_pm);
    if (keyis(k, "mem"))
        return rd_u32(r, &w->mem_pm);
    if (keyis(k, "resp"))
        return rd_u32(r, &w->resp_ms);
    if (keyis(k, "running"))
        return rd_u32(r, &w->running);
    if (keyis(k, "addr"))
        return rd_str(r, &w->addr, DJS_WORKER_MAX_ADDR);
    if (keyis(k, "port")) {
        int rc = rd_u32(r, &w->port);
        return rc == 0 && w->port > DJS_WORKER_MAX_PORT ? DJS_ERANGE : rc;
    }
    if (keyis(k, "tags"))
        return rd_strlist(r, &w->tags, DJS_WORKER_MAX_TAGS, DJS_WORKER_MAX_TAG_LEN);
    return 1;
}

int djs_body_read_worker(const uint8_t *body, size_t len, djs_worker_info_t *w)
{
    memset(w, 0, sizeof(*w));
    return read_map(body, len, worker_field, w);
}

static int server_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_server_info_t *s = out;
    if (keyis(k, "pid"))
        return djs_mp_read_int(r, &s->pid);
    if (keyis(k, "listen"))
        return rd_str(r, &s->listen, DJS_SERVER_MAX_LISTEN);
    return 1;
}

int djs_body_read_server(const uint8_t *body, size_t len, djs_server_info_t *s)
{
    memset(s, 0, sizeof(*s));
    return read_map(body, len, server_field, s);
}

static int leader_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_cluster_leader_t *l = out;
    if (keyis(k, "term"))
        return djs_mp_read_uint(r, &l->term);
    if (keyis(k, "node"))
        return djs_mp_read_uint(r, &l->node);
    if (keyis(k, "url"))
        return rd_str(r, &l->url, DJS_CLUSTER_MAX_URL);
    if (keyis(k, "graceMs"))
        return rd_u32(r, &l->grace_ms);
    return 1;
}

int djs_body_read_cluster_leader(const uint8_t *body, size_t len, djs_cluster_leader_t *l)
{
    memset(l, 0, sizeof(*l));
    return read_map(body, len, leader_field, l);
}

/* ---- schedules ----------------------------------------------------------------- */

void djs_body_schedule_def(djs_buf_t *out, const djs_schedule_def_t *d)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, 11 + (d->tmpl_len > 0));
    kstr(&pk, "name", d->name);
    kstr(&pk, "spec", d->spec);
    kstr(&pk, "tz", d->tz);
    kstr(&pk, "owner", d->owner);
    kuint(&pk, "overlap", d->overlap);
    kuint(&pk, "catchup", d->catchup);
    kuint(&pk, "catchupMax", d->catchup_max);
    kuint(&pk, "start", d->start_ns);
    kuint(&pk, "end", d->end_ns);
    kuint(&pk, "jitter", d->jitter_s);
    kuint(&pk, "njit", d->next_jitter_ms);
    if (d->tmpl_len > 0) {
        key(&pk, "tmpl");
        djs_buf_append(out, d->tmpl, d->tmpl_len);
    }
}

static int rd_u8max(djs_mp_reader_t *r, uint8_t *v, uint32_t max)
{
    uint32_t u = 0;
    int rc = rd_u32(r, &u);
    if (rc == 0 && u > max)
        rc = DJS_ERANGE;
    *v = (uint8_t)u;
    return rc;
}

static int def_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_schedule_def_t *d = out;
    if (keyis(k, "name"))
        return rd_str(r, &d->name, DJS_JOB_MAX_NAME);
    if (keyis(k, "spec"))
        return rd_str(r, &d->spec, DJS_SCHEDULE_MAX_SPEC);
    if (keyis(k, "tz"))
        return rd_str(r, &d->tz, DJS_SCHEDULE_MAX_TZ);
    if (keyis(k, "owner"))
        return rd_str(r, &d->owner, DJS_EVENT_MAX_ACTOR);
    if (keyis(k, "overlap"))
        return rd_u8max(r, &d->overlap, DJS_OVERLAP_CANCEL);
    if (keyis(k, "catchup"))
        return rd_u8max(r, &d->catchup, DJS_CATCHUP_ALL);
    if (keyis(k, "catchupMax"))
        return rd_u32(r, &d->catchup_max);
    if (keyis(k, "start"))
        return djs_mp_read_uint(r, &d->start_ns);
    if (keyis(k, "end"))
        return djs_mp_read_uint(r, &d->end_ns);
    if (keyis(k, "jitter"))
        return rd_u32(r, &d->jitter_s);
    if (keyis(k, "njit"))
        return rd_u32(r, &d->next_jitter_ms);
    if (keyis(k, "tmpl"))
        return rd_raw(r, &d->tmpl, &d->tmpl_len);
    return 1;
}

int djs_body_read_schedule_def(const uint8_t *body, size_t len, djs_schedule_def_t *d)
{
    memset(d, 0, sizeof(*d));
    return read_map(body, len, def_field, d);
}

void djs_body_schedule_fire(djs_buf_t *out, const djs_schedule_fire_t *f)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_map(&pk, 5 + (f->cancelled > 0) + (f->skipped.len > 0) + (f->error.len > 0) + (f->njobs > 0));
    kuint(&pk, "nominal", f->nominal_s);
    kuint(&pk, "jit", f->jitter_ms);
    kuint(&pk, "njit", f->next_jitter_ms);
    kuint(&pk, "missed", f->missed);
    key(&pk, "v");
    msgpack_pack_uint32(&pk, 1);
    if (f->cancelled > 0)
        kuint(&pk, "cancelled", f->cancelled);
    if (f->skipped.len > 0)
        kstr(&pk, "skipped", f->skipped);
    if (f->error.len > 0)
        kstr(&pk, "error", f->error);
    if (f->njobs > 0) {
        key(&pk, "jobs");
        msgpack_pack_bin_with_body(&pk, f->jobs, (size_t)f->njobs * 16);
    }
}

static int fire_field(void *out, const djs_str_t *k, djs_mp_reader_t *r)
{
    djs_schedule_fire_t *f = out;
    if (keyis(k, "nominal"))
        return djs_mp_read_uint(r, &f->nominal_s);
    if (keyis(k, "jit"))
        return rd_u32(r, &f->jitter_ms);
    if (keyis(k, "njit"))
        return rd_u32(r, &f->next_jitter_ms);
    if (keyis(k, "missed"))
        return rd_u32(r, &f->missed);
    if (keyis(k, "cancelled"))
        return rd_u32(r, &f->cancelled);
    if (keyis(k, "skipped"))
        return rd_str(r, &f->skipped, 64);
    if (keyis(k, "error"))
        return rd_str(r, &f->error, 512);
    if (keyis(k, "jobs")) {
        size_t n;
        int rc = djs_mp_read_bin(r, &f->jobs, &n);
        if (rc != 0)
            return rc;
        if (n % 16 != 0)
            return DJS_EBADTYPE;
        if (n / 16 > DJS_WORKFLOW_MAX_JOBS)
            return DJS_ETOOBIG;
        f->njobs = (uint32_t)(n / 16);
        return 0;
    }
    return 1;
}

int djs_body_read_schedule_fire(const uint8_t *body, size_t len, djs_schedule_fire_t *f)
{
    memset(f, 0, sizeof(*f));
    return read_map(body, len, fire_field, f);
}

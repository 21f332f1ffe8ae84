/* Audit queries: a scan of the log (or of one entity's index) with the
 * filters applied to each record, and the body facts of each match. */
#include "replay/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

void djs_audit_query_init(djs_audit_query_t *q)
{
    memset(q, 0, sizeof(*q));
    q->to_seq = UINT64_MAX;
}

int djs_audit_query_add_type(djs_audit_query_t *q, int type)
{
    if (type <= 0 || type >= DJS_AUDIT_MAX_TYPE || !djs_event_type_valid(type))
        return DJS_EINVAL;
    q->types[type / 64] |= 1ull << (type % 64);
    return 0;
}

int djs_audit_query_add_types(djs_audit_query_t *q, const char *s, size_t len, const char **bad, size_t *bad_len)
{
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < len && s[j] != ',')
            j++;
        int t = djs_event_type_from_name(s + i, j - i);
        if (j == i || t < 0 || djs_audit_query_add_type(q, t) != 0) {
            if (bad != NULL) {
                *bad = s + i;
                *bad_len = j - i;
            }
            return DJS_EINVAL;
        }
        if (j >= len)
            return 0;
        i = j + 1;
    }
}

/* ---- facts ---------------------------------------------------------------------- */

static void fact_id(djs_audit_match_t *m, const char *key, const djs_id_t *id)
{
    if (djs_id_is_nil(id) || m->nfacts >= DJS_AUDIT_MAX_FACTS)
        return;
    djs_audit_fact_t *f = &m->facts[m->nfacts++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->kind = DJS_AUDIT_ID;
    f->id = *id;
}

static void fact_u(djs_audit_match_t *m, const char *key, int kind, uint64_t u)
{
    if (m->nfacts >= DJS_AUDIT_MAX_FACTS)
        return;
    djs_audit_fact_t *f = &m->facts[m->nfacts++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->kind = kind;
    f->u = u;
}

static void fact_s(djs_audit_match_t *m, const char *key, djs_str_t s)
{
    if (s.len == 0 || m->nfacts >= DJS_AUDIT_MAX_FACTS)
        return;
    djs_audit_fact_t *f = &m->facts[m->nfacts++];
    memset(f, 0, sizeof(*f));
    f->key = key;
    f->kind = DJS_AUDIT_STR;
    f->s = s;
}

static int is_job_change(int type)
{
    return type > DJS_EV_JOB_SUBMITTED && type <= DJS_EV_JOB_OUTPUT;
}

static void job_facts(djs_audit_match_t *m, const djs_event_t *ev)
{
    djs_job_change_t c;
    if (djs_body_read_job_change(ev->body, ev->body_len, &c) != 0)
        return;
    fact_id(m, "worker", &c.worker);
    if (c.attempt != 0)
        fact_u(m, "attempt", DJS_AUDIT_UINT, c.attempt);
    fact_s(m, "reason", c.reason);
    fact_s(m, "error", c.error);
    if (c.retry_at != 0)
        fact_u(m, "retryAt", DJS_AUDIT_TIME, c.retry_at);
    fact_id(m, "upstream", &c.upstream);
    if (ev->type == DJS_EV_JOB_UPDATED && c.has_name)
        fact_s(m, "name", c.name);
    if (ev->type == DJS_EV_JOB_PROGRESS)
        fact_u(m, "percent", DJS_AUDIT_UINT, c.percent);
}

static void body_facts(djs_audit_match_t *m, const djs_event_t *ev)
{
    if (ev->type == DJS_EV_JOB_SUBMITTED) {
        djs_job_spec_t s;
        if (djs_body_read_job_spec(ev->body, ev->body_len, &s) != 0)
            return;
        fact_s(m, "name", s.name);
        fact_s(m, "owner", s.owner);
        fact_id(m, "schedule", &s.schedule);
    } else if (is_job_change(ev->type)) {
        job_facts(m, ev);
    } else if (ev->type == DJS_EV_WORKER_REGISTERED || ev->type == DJS_EV_WORKER_UPDATED) {
        djs_worker_info_t w;
        if (djs_body_read_worker(ev->body, ev->body_len, &w) == 0)
            fact_s(m, "name", w.name);
    } else if (ev->type == DJS_EV_SCHEDULE_CREATED || ev->type == DJS_EV_SCHEDULE_UPDATED) {
        djs_schedule_def_t d;
        if (djs_body_read_schedule_def(ev->body, ev->body_len, &d) == 0) {
            fact_s(m, "name", d.name);
            fact_s(m, "owner", d.owner);
        }
    } else if (ev->type == DJS_EV_SCHEDULE_FIRED) {
        djs_schedule_fire_t f;
        if (djs_body_read_schedule_fire(ev->body, ev->body_len, &f) == 0) {
            fact_u(m, "jobs", DJS_AUDIT_UINT, f.njobs);
            fact_s(m, "skipped", f.skipped);
            fact_s(m, "error", f.error);
        }
    }
}

/* ---- the scan ------------------------------------------------------------------- */

typedef struct run {
    const djs_audit_query_t *q;
    djs_audit_cb cb;
    void *arg;
    int any_type;
    uint64_t last; /* last record examined */
    int stopped;   /* by limit or budget */
    int cb_rc;     /* the callback's stop value */
    djs_audit_result_t *res;
} run_t;

static int matches(const run_t *r, const djs_event_t *ev)
{
    const djs_audit_query_t *q = r->q;
    if (!r->any_type && (ev->type >= DJS_AUDIT_MAX_TYPE || !(q->types[ev->type / 64] & (1ull << (ev->type % 64)))))
        return 0;
    if (q->actor != NULL && (ev->actor_len != q->actor_len || memcmp(ev->actor, q->actor, q->actor_len) != 0))
        return 0;
    return !q->has_entity || memcmp(ev->entity.b, q->entity.b, sizeof(ev->entity.b)) == 0;
}

static int on_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    run_t *r = arg;
    if (r->q->budget != 0 && r->res->examined >= r->q->budget) {
        r->stopped = 1;
        return 1;
    }
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    r->res->examined++;
    r->last = seq;
    if (!matches(r, &ev))
        return 0;
    djs_audit_match_t m;
    m.seq = seq;
    m.ts_ns = ev.ts_ns;
    m.type = ev.type;
    m.actor = (djs_str_t){ev.actor, ev.actor_len};
    m.entity = ev.entity;
    m.nfacts = 0;
    body_facts(&m, &ev);
    r->res->matched++;
    int rc = r->cb(r->arg, &m);
    if (rc != 0) {
        r->cb_rc = rc;
        return 1;
    }
    if (r->q->limit != 0 && r->res->matched >= r->q->limit) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

int djs_audit_run(djs_log_t *log, const djs_audit_query_t *q, djs_audit_cb cb, void *arg, djs_audit_result_t *res)
{
    if (log == NULL || q == NULL || cb == NULL || res == NULL)
        return DJS_EINVAL;
    memset(res, 0, sizeof(*res));
    uint64_t from = q->from_seq ? q->from_seq : 1, to = q->to_seq, last = djs_log_last_seq(log);
    if (to > last)
        to = last;
    if (from > to)
        return 0;
    run_t r = {q, cb, arg, 1, 0, 0, 0, res};
    for (size_t i = 0; i < DJS_AUDIT_MAX_TYPE / 64; i++)
        if (q->types[i] != 0)
            r.any_type = 0;
    int rc =
        q->has_entity ? djs_log_scan_entity(log, &q->entity, from, to, on_record, &r) : djs_log_scan(log, from, to, on_record, &r);
    if (rc < 0)
        return rc;
    if (rc == 1 && (r.stopped || r.cb_rc != 0) && r.last < to)
        res->next_seq = r.last + 1;
    return r.cb_rc;
}

static int on_any(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)arg, (void)seq, (void)rec, (void)len;
    return 1;
}

int djs_audit_entity_known(djs_log_t *log, const djs_id_t *entity)
{
    int rc = djs_log_scan_entity(log, entity, 0, UINT64_MAX, on_any, NULL);
    return rc < 0 ? rc : rc == 1;
}

/* ---- text ------------------------------------------------------------------------- */

/* Append s[0..len) to out (n bytes, NUL-terminated), cutting it short. */
static void put(char *out, size_t n, size_t *at, const char *s, size_t len)
{
    if (*at + 1 >= n)
        return;
    size_t room = n - *at - 1;
    if (len > room)
        len = room;
    memcpy(out + *at, s, len);
    *at += len;
    out[*at] = '\0';
}

char *djs_audit_facts_text(const djs_audit_match_t *m, char *out, size_t n)
{
    size_t at = 0;
    if (n == 0)
        return out;
    out[0] = '\0';
    for (uint32_t i = 0; i < m->nfacts; i++) {
        const djs_audit_fact_t *f = &m->facts[i];
        char v[64];
        if (i != 0)
            put(out, n, &at, " ", 1);
        put(out, n, &at, f->key, strlen(f->key));
        put(out, n, &at, "=", 1);
        if (f->kind == DJS_AUDIT_ID) {
            djs_id_format(&f->id, v);
            put(out, n, &at, v, strlen(v));
        } else if (f->kind == DJS_AUDIT_UINT) {
            snprintf(v, sizeof(v), "%" PRIu64, f->u);
            put(out, n, &at, v, strlen(v));
        } else if (f->kind == DJS_AUDIT_TIME) {
            time_t t = (time_t)(f->u / 1000000000ull);
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(v, sizeof(v), "%Y-%m-%dT%H:%M:%SZ", &tm);
            put(out, n, &at, v, strlen(v));
        } else {
            size_t start = at;
            put(out, n, &at, f->s.p, f->s.len);
            for (size_t k = start; k < at; k++)
                if ((unsigned char)out[k] < 0x20 || out[k] == 0x7f)
                    out[k] = '?';
        }
    }
    return out;
}

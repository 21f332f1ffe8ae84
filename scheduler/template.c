/* A schedule's template job request: the POST /jobs body as MessagePack
 * (one job, or {"jobs":[...]} for a workflow), read back into engine
 * requests at each fire (scheduler/engine_internal.h). */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/job.h"
#include "core/mp.h"
#include "scheduler/engine_internal.h"

static int keyis(const djs_str_t *k, const char *lit)
{
    return k->len == strlen(lit) && memcmp(k->p, lit, k->len) == 0;
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return DJS_EINVAL;
}

/* An array of strings into a new array (*out, *n); ids parsed if want_ids. */
static int rd_strs(djs_mp_reader_t *r, djs_str_t **out, uint32_t *n)
{
    uint32_t m;
    if (djs_mp_read_array(r, &m) != 0 || m > DJS_WORKFLOW_MAX_JOBS)
        return DJS_EINVAL;
    djs_str_t *v = djs_malloc((m ? m : 1) * sizeof(*v));
    for (uint32_t i = 0; i < m; i++)
        if (djs_mp_read_str(r, &v[i].p, &v[i].len) != 0) {
            djs_free(v);
            return DJS_EINVAL;
        }
    *out = v;
    *n = m;
    return 0;
}

static int rd_uint32(djs_mp_reader_t *r, uint32_t *v)
{
    uint64_t u;
    if (djs_mp_read_uint(r, &u) != 0 || u > UINT32_MAX)
        return DJS_EINVAL;
    *v = (uint32_t)u;
    return 0;
}

static int rd_deps(djs_mp_reader_t *r, djs_job_request_t *q)
{
    djs_str_t *v;
    uint32_t n;
    if (rd_strs(r, &v, &n) != 0)
        return DJS_EINVAL;
    djs_id_t *ids = djs_malloc((n ? n : 1) * sizeof(*ids));
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = djs_id_parse(v[i].p, v[i].len, &ids[i]) != 0 ? DJS_EINVAL : 0;
    djs_free(v);
    djs_free((void *)q->dep_ids);
    q->dep_ids = ids;
    q->ndep_ids = n;
    return rc;
}

/* One field of a job object; 1 for an unknown key. */
static int job_field(const djs_str_t *k, djs_mp_reader_t *r, djs_job_request_t *q, int wf)
{
    const uint8_t *p0 = r->p;
    if (keyis(k, "name"))
        return djs_mp_read_str(r, &q->spec.name.p, &q->spec.name.len) != 0 ? DJS_EINVAL : 0;
    if (keyis(k, "description"))
        return djs_mp_read_str(r, &q->spec.description.p, &q->spec.description.len) != 0 ? DJS_EINVAL : 0;
    if (keyis(k, "priority")) {
        djs_str_t s;
        int pr = djs_mp_read_str(r, &s.p, &s.len) != 0 ? DJS_EINVAL : djs_priority_parse(s.p, s.len);
        q->spec.priority = pr >= 0 ? (uint8_t)pr : 0;
        return pr < 0 ? DJS_EINVAL : 0;
    }
    if (keyis(k, "timeoutSeconds"))
        return rd_uint32(r, &q->spec.timeout_s);
    if (keyis(k, "maxRetries"))
        return rd_uint32(r, &q->spec.max_retries);
    if (keyis(k, "payload")) {
        uint32_t n;
        if (djs_mp_read_map(r, &n) != 0)
            return DJS_EINVAL;
        r->p = p0;
        if (djs_mp_skip(r, DJS_EVENT_MAX_DEPTH - 2) != 0)
            return DJS_EINVAL;
        q->spec.payload = p0;
        q->spec.payload_len = (size_t)(r->p - p0);
        return 0;
    }
    if (keyis(k, "requiredCapabilities")) {
        djs_free((void *)q->caps);
        q->caps = NULL;
        return rd_strs(r, (djs_str_t **)&q->caps, &q->ncaps);
    }
    if (keyis(k, "dependencies"))
        return rd_deps(r, q);
    if (wf && keyis(k, "key"))
        return djs_mp_read_str(r, &q->key.p, &q->key.len) != 0 || q->key.len == 0 ? DJS_EINVAL : 0;
    if (wf && keyis(k, "dependsOn")) {
        djs_free((void *)q->dep_keys);
        q->dep_keys = NULL;
        return rd_strs(r, (djs_str_t **)&q->dep_keys, &q->ndep_keys);
    }
    return 1;
}

static int rd_job(djs_mp_reader_t *r, djs_job_request_t *q, int wf, const char *at, char *err, size_t errlen)
{
    uint32_t n;
    memset(q, 0, sizeof(*q));
    q->spec.priority = DJS_PRIO_NORMAL;
    if (djs_mp_read_map(r, &n) != 0)
        return bad(err, errlen, "%sa job is an object", at);
    for (uint32_t i = 0; i < n; i++) {
        djs_str_t k;
        if (djs_mp_read_str(r, &k.p, &k.len) != 0)
            return bad(err, errlen, "%sa job's keys are strings", at);
        int rc = job_field(&k, r, q, wf);
        if (rc == 1)
            return bad(err, errlen, "%sunknown field '%.*s'", at, (int)k.len, k.p);
        if (rc != 0)
            return bad(err, errlen, "%s%.*s has the wrong type or value", at, (int)k.len, k.p);
    }
    if (q->spec.name.p == NULL)
        return bad(err, errlen, "%sname is required", at);
    return 0;
}

void djs__tmpl_dispose(djs__tmpl_t *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        djs_free((void *)t->reqs[i].caps);
        djs_free((void *)t->reqs[i].dep_ids);
        djs_free((void *)t->reqs[i].dep_keys);
    }
    djs_free(t->reqs);
    memset(t, 0, sizeof(*t));
}

/* A map with a "jobs" key is a workflow; otherwise one job. */
static int is_workflow(const uint8_t *p, size_t len, uint32_t *njobs, djs_mp_reader_t *at_jobs)
{
    djs_mp_reader_t r;
    uint32_t n;
    djs_mp_reader_init(&r, p, len);
    if (djs_mp_read_map(&r, &n) != 0)
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        djs_str_t k;
        if (djs_mp_read_str(&r, &k.p, &k.len) != 0)
            return 0;
        if (keyis(&k, "jobs") && n == 1) {
            *at_jobs = r;
            return djs_mp_read_array(at_jobs, njobs) == 0;
        }
        if (djs_mp_skip(&r, DJS_EVENT_MAX_DEPTH) != 0)
            return 0;
    }
    return 0;
}

int djs__tmpl_decode(const uint8_t *p, size_t len, djs__tmpl_t *t, char *err, size_t errlen)
{
    djs_mp_reader_t r;
    uint32_t n = 1;
    memset(t, 0, sizeof(*t));
    int wf = is_workflow(p, len, &n, &r);
    if (!wf)
        djs_mp_reader_init(&r, p, len);
    if (n == 0 || n > DJS_WORKFLOW_MAX_JOBS)
        return bad(err, errlen, "a workflow holds 1 to %d jobs", DJS_WORKFLOW_MAX_JOBS);
    t->reqs = djs_calloc(n, sizeof(*t->reqs));
    for (uint32_t i = 0; i < n; i++) {
        char at[32] = "";
        if (wf)
            snprintf(at, sizeof(at), "jobs[%u].", i);
        t->n = i + 1;
        int rc = rd_job(&r, &t->reqs[i], wf, at, err, errlen);
        if (rc != 0) {
            djs__tmpl_dispose(t);
            return rc;
        }
    }
    if (!wf && r.p != r.end) {
        djs__tmpl_dispose(t);
        return bad(err, errlen, "the template is one job object or {\"jobs\":[...]}");
    }
    return 0;
}

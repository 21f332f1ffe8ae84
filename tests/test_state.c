/* The projection: replaying the log equals the live state (digest), for a
 * long randomized workload driven through the engine; snapshots restore to
 * the same state and refuse damage; the engine reopens from snapshots (and
 * survives a bad one); time travel; the terminal window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "core/buf.h"
#include "enginetest.h"
#include "projections/snapshot.h"

#define NW 20

typedef struct wl_worker {
    char name[16];
    djs_id_t id;
    int registered; /* has an id */
    int silent;     /* stopped beating (an agent that hangs or crashed) */
    uint64_t last_hb;
} wl_worker_t;

typedef struct wl {
    et_t t;
    uint64_t seed;
    uint64_t rng[2];
    djs_id_t *jobs;
    uint32_t njobs, cap;
    wl_worker_t w[NW];
    uint64_t ops;
    uint64_t stale_checked, completed, failed_reports, retries_ok;
    djs_state_t *shadow; /* replayed alongside, compared every so often */
    uint64_t shadow_seq;
    int keys;           /* jobs carry concurrency keys (draws nothing when 0: the other seeds keep their workloads) */
    uint64_t full_seen; /* ready jobs seen held back by a full key */
} wl_t;

static uint64_t rnd(wl_t *x, uint64_t n)
{
    return n ? djs_rand_next(x->rng) % n : 0;
}

static int chance(wl_t *x, unsigned permille)
{
    return rnd(x, 1000) < permille;
}

static void wl_add_job(wl_t *x, const djs_id_t *id)
{
    if (x->njobs == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 1024;
        x->jobs = realloc(x->jobs, x->cap * sizeof(djs_id_t));
    }
    x->jobs[x->njobs++] = *id;
}

static const djs_id_t *wl_any_job(wl_t *x)
{
    return x->njobs ? &x->jobs[rnd(x, x->njobs)] : NULL;
}

static const djs_id_t *wl_recent_job(wl_t *x)
{
    uint32_t span = x->njobs < 60 ? x->njobs : 60;
    return span ? &x->jobs[x->njobs - 1 - rnd(x, span)] : NULL;
}

static const djs_str_t CAPS[] = {{"gpu", 3}, {"ssd", 3}, {"arm", 3}};
static const djs_str_t CKEYS[] = {{"svc-a", 5}, {"svc-b", 5}, {"svc-c", 5}, {"svc-d", 5}};

/* Half the jobs of a keyed workload get one of four keys, with a limit of
 * 1 to 3 (jobs of one key do not always agree on it). */
static void wl_ckey(wl_t *x, djs_job_spec_t *sp)
{
    if (!x->keys || !chance(x, 500))
        return;
    sp->ckey = CKEYS[rnd(x, 4)];
    sp->climit = (uint32_t)rnd(x, 4); /* 0: the default, 1 */
}

static uint32_t wl_caps(wl_t *x, djs_str_t *out, int job)
{
    uint32_t n = 0;
    if (chance(x, job ? 150 : 350))
        out[n++] = CAPS[0];
    if (chance(x, job ? 100 : 450))
        out[n++] = CAPS[1];
    if (chance(x, job ? 20 : 100))
        out[n++] = CAPS[2];
    return n;
}

/* Half the workers register with the original design's hostAddress, port
 * and tags (which replay, snapshots and digests must keep too). */
static void wl_register(wl_t *x, int i)
{
    djs_str_t caps[3], tags[2] = {{"rack-1", 6}, {"eu", 2}};
    uint32_t nc = wl_caps(x, caps, 0);
    djs_id_t id;
    djs_worker_info_t w;
    djs_buf_t tb;
    uint64_t seq;
    memset(&w, 0, sizeof(w));
    djs_buf_init(&tb);
    w.name = (djs_str_t){x->w[i].name, strlen(x->w[i].name)};
    w.host = ET_S("testhost");
    w.slots = 1 + (uint32_t)rnd(x, 4);
    if (i % 2 == 0) { /* not drawn: the workloads' random streams stay as they were */
        w.addr = ET_S("10.1.2.3");
        w.port = 8000 + (uint32_t)i;
        uint32_t nt = (uint32_t)(i / 2 % 3);
        djs_body_strlist(&tb, tags, nt);
        w.tags = (djs_strlist_t){(const uint8_t *)tb.base, tb.len, nt};
    }
    REQ_RC(djs_engine_register(x->t.e, "admin", &w, caps, nc, &id, &seq), 0);
    djs_buf_dispose(&tb);
    if (x->w[i].registered)
        REQ(et_id_eq(&id, &x->w[i].id));
    x->w[i].id = id;
    x->w[i].registered = 1;
    x->w[i].silent = 0;
    x->w[i].last_hb = x->t.now;
}

static void wl_init(wl_t *x, uint64_t seed, const djs_engine_config_t *base)
{
    memset(x, 0, sizeof(*x));
    x->seed = seed;
    fprintf(stderr, "workload seed %llu\n", (unsigned long long)seed); /* for any failure below */
    djs_rand_seed(x->rng, seed);
    djs_engine_config_t cfg;
    if (base != NULL)
        cfg = *base;
    else
        djs_engine_config_init(&cfg);
    cfg.seed = seed;
    cfg.lease_ns = 8 * ET_SEC;
    cfg.retry_base_ns = 500 * ET_MS;
    cfg.retry_cap_ns = 20 * ET_SEC;
    cfg.aging_ns = 30 * ET_SEC;
    et_open(&x->t, &cfg);
    for (int i = 0; i < NW; i++) {
        snprintf(x->w[i].name, sizeof(x->w[i].name), "worker-%02d", i);
        wl_register(x, i);
    }
}

static void wl_free(wl_t *x)
{
    if (x->shadow != NULL)
        djs_state_free(x->shadow);
    et_close(&x->t);
    free(x->jobs);
}

static void wl_submit_one(wl_t *x)
{
    djs_job_request_t r;
    djs_str_t caps[3];
    djs_id_t deps[3], id;
    char idem[16];
    et_req(&r, "job", (int)rnd(x, DJS_NPRIO));
    r.caps = caps;
    r.ncaps = wl_caps(x, caps, 1);
    if (chance(x, 300)) {
        uint32_t n = 1 + (uint32_t)rnd(x, 3);
        for (uint32_t k = 0; k < n && x->njobs > 0; k++)
            deps[r.ndep_ids++] = *wl_recent_job(x);
        r.dep_ids = deps;
    }
    if (chance(x, 80))
        r.spec.scheduled_at = x->t.now + rnd(x, 30 * ET_SEC);
    r.spec.max_retries = (uint32_t)rnd(x, 4);
    if (chance(x, 200))
        r.spec.timeout_s = 1 + (uint32_t)rnd(x, 20);
    if (chance(x, 80)) {
        snprintf(idem, sizeof(idem), "k%u", (unsigned)rnd(x, 300));
        r.spec.idem_key = (djs_str_t){idem, strlen(idem)};
    }
    wl_ckey(x, &r.spec);
    if (chance(x, 100)) {
        static const uint8_t payload[] = {0x82, 0xa3, 'c', 'm', 'd', 0xa4, 'e', 'c', 'h', 'o', 0xa1, 'n', 0x2a};
        r.spec.payload = payload;
        r.spec.payload_len = sizeof(payload);
    }
    uint64_t seq;
    int existed;
    int rc = djs_engine_submit(x->t.e, chance(x, 500) ? "alice" : "bob", &r, 1, &id, &seq, &existed);
    REQ(rc == 0 || rc == DJS_ECONFLICT || rc == DJS_ENOTFOUND);
    if (rc == 0 && !existed)
        wl_add_job(x, &id);
}

static void wl_submit_workflow(wl_t *x)
{
    enum { MAXN = 8 };
    static const char *keys[MAXN] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    djs_job_request_t r[MAXN];
    djs_str_t dk[MAXN][2];
    djs_str_t caps[MAXN][3];
    djs_id_t ext[MAXN], ids[MAXN];
    uint32_t n = 2 + (uint32_t)rnd(x, MAXN - 1);
    for (uint32_t i = 0; i < n; i++) {
        et_req(&r[i], keys[i], (int)rnd(x, DJS_NPRIO));
        r[i].key = (djs_str_t){keys[i], 1};
        r[i].caps = caps[i];
        r[i].ncaps = wl_caps(x, caps[i], 1);
        r[i].spec.max_retries = (uint32_t)rnd(x, 3);
        uint32_t nd = i ? (uint32_t)rnd(x, 3) : 0;
        for (uint32_t k = 0; k < nd; k++)
            dk[i][k] = (djs_str_t){keys[rnd(x, i)], 1};
        r[i].dep_keys = dk[i];
        r[i].ndep_keys = nd;
        if (i == 0 && x->njobs > 0 && chance(x, 300)) {
            ext[i] = *wl_recent_job(x);
            r[i].dep_ids = &ext[i];
            r[i].ndep_ids = 1;
        }
        if (chance(x, 50))
            r[i].spec.timeout_s = 1 + (uint32_t)rnd(x, 10);
        wl_ckey(x, &r[i].spec);
    }
    /* shuffle: the engine orders them */
    for (uint32_t i = n; i > 1; i--) {
        uint32_t k = (uint32_t)rnd(x, i);
        djs_job_request_t tmp = r[i - 1];
        r[i - 1] = r[k];
        r[k] = tmp;
    }
    uint64_t seq;
    int existed;
    int rc = djs_engine_submit(x->t.e, "carol", r, n, ids, &seq, &existed);
    REQ(rc == 0 || rc == DJS_ECONFLICT || rc == DJS_ENOTFOUND);
    if (rc == 0)
        for (uint32_t i = 0; i < n; i++)
            wl_add_job(x, &ids[i]);
}

/* A worker acts on its assignments: start, progress, complete, fail, or
 * sit on them (leases expire, runs time out). */
static void wl_work(wl_t *x, int i)
{
    const djs_state_t *st = et_st(&x->t);
    const djs_worker_t *w = djs_state_worker(st, &x->w[i].id);
    if (w == NULL || w->njobs == 0)
        return;
    uint32_t n = w->njobs;
    djs_id_t jobs[64];
    if (n > 64)
        n = 64;
    for (uint32_t k = 0; k < n; k++)
        jobs[k] = djs_state_job_at(st, w->jobs[k])->id;
    for (uint32_t k = 0; k < n; k++) {
        const djs_job_t *j = djs_state_job(st, &jobs[k]);
        if (j == NULL || j->worker == DJS_NONE || !et_id_eq(&djs_state_worker_at(st, j->worker)->id, &x->w[i].id))
            continue;
        uint32_t at = j->attempt;
        uint64_t seq;
        if (chance(x, 20)) { /* a stale report */
            REQ_RC(djs_engine_start(x->t.e, &x->w[i].id, &jobs[k], at - 1, &seq), DJS_ESTALE);
            REQ_RC(djs_engine_complete(x->t.e, &x->w[i].id, &jobs[k], at + 1, NULL, 0, &seq), DJS_ESTALE);
            x->stale_checked++;
        }
        if (j->state == DJS_JOB_SCHEDULED) {
            if (chance(x, 850))
                REQ_RC(djs_engine_start(x->t.e, &x->w[i].id, &jobs[k], at, &seq), 0);
            else if (chance(x, 200))
                REQ_RC(djs_engine_fail(x->t.e, &x->w[i].id, &jobs[k], at, ET_S("could not start"), &seq), 0);
        } else if (j->state == DJS_JOB_RUNNING) {
            uint64_t p = rnd(x, 100);
            if (p < 45) {
                static const uint8_t result[] = {0x81, 0xa2, 'r', 'c', 0x00};
                REQ_RC(djs_engine_complete(x->t.e, &x->w[i].id, &jobs[k], at, result, sizeof(result), &seq), 0);
                x->completed++;
            } else if (p < 55) {
                REQ_RC(djs_engine_fail(x->t.e, &x->w[i].id, &jobs[k], at, ET_S("exit status 1"), &seq), 0);
                x->failed_reports++;
            } else if (p < 75) {
                REQ_RC(djs_engine_progress(x->t.e, &x->w[i].id, &jobs[k], at, (uint32_t)rnd(x, 101), ET_S("step"),
                                           x->t.now + ET_SEC, &seq),
                       0);
            } else if (p < 85) {
                /* a chunk of output at what the agent has sent so far (a
                 * retried, overlapping chunk now and then) */
                static const char line[] = "line of output\n";
                uint64_t off = djs_state_job(djs_engine_state(x->t.e), &jobs[k])->out_recv, recv;
                if (off >= 4 && rnd(x, 4) == 0)
                    off -= 4;
                REQ_RC(
                    djs_engine_output(x->t.e, &x->w[i].id, &jobs[k], at, off, (const uint8_t *)line, sizeof(line) - 1, &seq, &recv),
                    0);
            }
        }
    }
}

static void wl_heartbeats(wl_t *x)
{
    const djs_state_t *st = et_st(&x->t);
    for (int i = 0; i < NW; i++) {
        wl_worker_t *w = &x->w[i];
        if (!w->registered || w->silent || x->t.now - w->last_hb < 3 * ET_SEC)
            continue;
        const djs_worker_t *sw = djs_state_worker(st, &w->id);
        if (sw->status != DJS_WORKER_ACTIVE && sw->status != DJS_WORKER_DRAINING)
            continue;
        uint64_t seq;
        uint32_t cpu = sw->cpu_pm, mem = sw->mem_pm;
        if (chance(x, 300)) {
            cpu = (uint32_t)rnd(x, 1001);
            mem = (uint32_t)rnd(x, 1001);
        }
        REQ_RC(djs_engine_heartbeat(x->t.e, &w->id, cpu, mem, (uint32_t)rnd(x, 300), &seq), 0);
        w->last_hb = x->t.now;
    }
}

static void wl_worker_admin(wl_t *x)
{
    int i = (int)rnd(x, NW);
    wl_worker_t *w = &x->w[i];
    const djs_worker_t *sw = djs_state_worker(et_st(&x->t), &w->id);
    uint64_t seq;
    int rc;
    switch (rnd(x, 6)) {
    case 0: /* hangs: stops beating */
        w->silent = 1;
        break;
    case 1: /* (re)starts: registers again by name */
        wl_register(x, i);
        break;
    case 2:
        rc = djs_engine_drain(x->t.e, "admin", &w->id, &seq);
        REQ(rc == 0 || rc == DJS_ECONFLICT);
        break;
    case 3:
        rc = djs_engine_deregister(x->t.e, "admin", &w->id, &seq);
        REQ(rc == 0 || rc == DJS_ECONFLICT);
        if (rc == 0)
            w->silent = 1; /* gone: comes back by registering */
        break;
    case 4: {
        djs_worker_info_t wi;
        djs_str_t caps[3];
        memset(&wi, 0, sizeof(wi));
        wi.has_slots = chance(x, 600);
        wi.slots = 1 + (uint32_t)rnd(x, 4);
        wi.has_caps = !wi.has_slots || chance(x, 300);
        uint32_t nc = wi.has_caps ? wl_caps(x, caps, 0) : 0;
        rc = djs_engine_update_worker(x->t.e, "admin", &w->id, &wi, caps, nc, &seq);
        REQ(rc == 0 || rc == DJS_ECONFLICT);
        break;
    }
    default:
        if (sw->status == DJS_WORKER_LOST || sw->status == DJS_WORKER_GONE || w->silent)
            wl_register(x, i);
        break;
    }
}

static void wl_job_admin(wl_t *x)
{
    const djs_id_t *id = chance(x, 500) ? wl_recent_job(x) : wl_any_job(x);
    if (id == NULL)
        return;
    djs_id_t j = *id;
    uint64_t seq;
    int rc;
    switch (rnd(x, 8)) {
    case 0:
    case 1:
        rc = djs_engine_cancel(x->t.e, "admin", &j, &seq);
        break;
    case 2:
        /* mostly jobs still waiting on others */
        for (int k = 0; k < 40 && chance(x, 800); k++) {
            const djs_job_t *jp = djs_state_job(et_st(&x->t), &j);
            if (jp != NULL && jp->state == DJS_JOB_CREATED && jp->unmet > 0)
                break;
            j = *wl_recent_job(x);
        }
        rc = djs_engine_delete(x->t.e, "admin", &j, &seq);
        break;
    case 3:
    case 4:
    case 5:
        /* look for a failed one (most jobs are not) */
        for (int k = 0; k < 40; k++) {
            const djs_job_t *jp = djs_state_job(et_st(&x->t), &j);
            if (jp != NULL && jp->state == DJS_JOB_FAILED)
                break;
            j = *wl_any_job(x);
        }
        rc = djs_engine_retry(x->t.e, "admin", &j, &seq);
        x->retries_ok += rc == 0;
        break;
    default: {
        djs_job_change_t c;
        memset(&c, 0, sizeof(c));
        c.has_priority = chance(x, 700);
        c.priority = (uint8_t)rnd(x, DJS_NPRIO);
        c.has_max_retries = chance(x, 300);
        c.max_retries = (uint32_t)rnd(x, 5);
        c.has_timeout = chance(x, 200);
        c.timeout_s = (uint32_t)rnd(x, 30);
        c.has_name = !c.has_priority && !c.has_max_retries && !c.has_timeout;
        c.name = ET_S("renamed");
        rc = djs_engine_update(x->t.e, "admin", &j, &c, &seq);
        break;
    }
    }
    REQ(rc == 0 || rc == DJS_ECONFLICT || rc == DJS_ENOTFOUND);
}

static void wl_check_keys(wl_t *x);

/* Invariants a replay cannot see (it repeats any mistake faithfully): a
 * waiting job's unmet count is its dependencies (from its job.submitted
 * record) not yet completed; workers and their jobs point at each other. */
static void wl_check_invariants(wl_t *x)
{
    const djs_state_t *st = et_st(&x->t);
    djs_buf_t rec;
    djs_buf_init(&rec);
    et_sync(&x->t); /* the records read below must be durable */
    for (uint32_t s = 0; s < djs_state_njob_slots(st); s++) {
        const djs_job_t *j = djs_state_job_at(st, s);
        if (j == NULL)
            continue;
        if (j->state == DJS_JOB_SCHEDULED || j->state == DJS_JOB_RUNNING) {
            REQ(j->worker != DJS_NONE);
            const djs_worker_t *w = djs_state_worker_at(st, j->worker);
            int found = 0;
            for (uint32_t k = 0; k < w->njobs; k++)
                found += w->jobs[k] == s;
            REQ_EQ(found, 1);
        } else {
            REQ_EQ(j->worker, DJS_NONE);
        }
        if (j->state != DJS_JOB_CREATED && j->state != DJS_JOB_QUEUED && j->state != DJS_JOB_SCHEDULED &&
            j->state != DJS_JOB_RUNNING)
            continue;
        djs_event_t ev;
        djs_job_spec_t sp;
        djs_buf_reset(&rec);
        REQ_RC(djs_log_get(x->t.log, j->submit_seq, &rec), 0);
        REQ_RC(djs_event_decode(rec.base, rec.len, &ev), 0);
        REQ_RC(djs_body_read_job_spec(ev.body, ev.body_len, &sp), 0);
        uint32_t unmet = 0;
        for (uint32_t k = 0; k < sp.ndeps; k++) {
            djs_id_t d;
            memcpy(d.b, sp.deps + 16 * k, 16);
            const djs_job_t *dj = djs_state_job(st, &d);
            if (dj != NULL && dj->state != DJS_JOB_COMPLETED) {
                if (j->state == DJS_JOB_CREATED)
                    REQ(!djs_job_state_final(dj->state)); /* else it would have failed upstream */
                unmet++;
            }
        }
        if (j->state == DJS_JOB_CREATED && j->unmet != unmet)
            ck_abort_msg("seed %llu, after %llu ops: a waiting job counts %u unmet dependencies, its record says %u",
                         (unsigned long long)x->seed, (unsigned long long)x->ops, j->unmet, unmet);
        if (j->state != DJS_JOB_CREATED && unmet != 0)
            ck_abort_msg("seed %llu, after %llu ops: a %s job has %u dependencies not completed", (unsigned long long)x->seed,
                         (unsigned long long)x->ops, djs_job_state_name(j->state), unmet);
    }
    for (uint32_t ws = 0; ws < djs_state_nworker_slots(st); ws++) {
        const djs_worker_t *w = djs_state_worker_at(st, ws);
        REQ_EQ(w->running, w->njobs);
        for (uint32_t k = 0; k < w->njobs; k++)
            REQ_EQ(djs_state_job_at(st, w->jobs[k])->worker, ws);
    }
    djs_buf_dispose(&rec);
    if (x->keys)
        wl_check_keys(x);
}

/* Concurrency keys: a key's holders are exactly its SCHEDULED and RUNNING
 * jobs; and nothing that may run is left behind (after a run of the
 * engine, a ready job either has its key at its limit or fits no
 * available worker): a full key blocks nobody else. */
static void wl_check_keys(wl_t *x)
{
    djs_state_t *st = (djs_state_t *)et_st(&x->t); /* class_fits interns nothing, changes nothing */
    uint32_t held[4] = {0};
    for (uint32_t s = 0; s < djs_state_njob_slots(st); s++) {
        const djs_job_t *j = djs_state_job_at(st, s);
        djs_concurrency_t c;
        if (j == NULL || djs_state_job_concurrency(st, j, &c) != 0)
            continue;
        int k = c.key.p[4] - 'a';
        REQ(k >= 0 && k < 4 && c.limit >= 1 && c.limit <= 3);
        if (j->state == DJS_JOB_SCHEDULED || j->state == DJS_JOB_RUNNING) {
            held[k]++;
            int found = 0;
            for (uint32_t i = 0; i < c.held; i++)
                found += c.holders[i] == s;
            REQ_EQ(found, 1);
        }
        if (j->state != DJS_JOB_QUEUED || j->timer_kind != DJS_TIMER_NONE)
            continue;
        if (c.held >= c.limit) {
            x->full_seen++;
            continue;
        }
        for (uint32_t ws = 0; ws < djs_state_nworker_slots(st); ws++) {
            const djs_worker_t *w = djs_state_worker_at(st, ws);
            if (w->status == DJS_WORKER_ACTIVE && w->running < w->slots && djs_state_class_fits(st, j->cls, w->caps))
                ck_abort_msg("seed %llu, after %llu ops: a ready job of %.*s (%u of %u held) fits free worker %s",
                             (unsigned long long)x->seed, (unsigned long long)x->ops, (int)c.key.len, c.key.p, c.held, c.limit,
                             w->name);
        }
    }
    for (int k = 0; k < 4; k++) {
        djs_concurrency_t c;
        if (djs_state_concurrency_key(st, CKEYS[k].p, CKEYS[k].len, &c) == 0)
            REQ_EQ(c.held, held[k]);
        else
            REQ_EQ(held[k], 0);
    }
}

static void wl_check_shadow(wl_t *x)
{
    et_sync(&x->t);
    uint64_t last = djs_log_last_seq(x->t.log);
    if (x->shadow == NULL)
        x->shadow = djs_state_new(&x->t.cfg.state);
    et_apply_range(x->t.log, x->shadow, x->shadow_seq + 1, last);
    x->shadow_seq = last;
    uint8_t a[32], b[32];
    djs_state_digest(x->shadow, a);
    et_digest(&x->t, b);
    if (memcmp(a, b, 32) != 0)
        ck_abort_msg("seed %llu: replay differs from live after %llu ops (seq %llu)", (unsigned long long)x->seed,
                     (unsigned long long)x->ops, (unsigned long long)last);
    wl_check_invariants(x);
}

/* One step of the workload. */
static void wl_step(wl_t *x)
{
    uint64_t p = rnd(x, 1000);
    if (p < 600)
        et_advance(&x->t, rnd(x, 1500) * ET_MS);
    else if (p < 615)
        et_advance(&x->t, (20 + rnd(x, 25)) * ET_SEC); /* leases, timeouts, silent workers */
    wl_heartbeats(x);
    p = rnd(x, 1000);
    if (p < 330)
        wl_submit_one(x);
    else if (p < 380)
        wl_submit_workflow(x);
    else if (p < 800) {
        for (int k = 0; k < 5; k++) {
            int i = (int)rnd(x, NW);
            if (!x->w[i].silent)
                wl_work(x, i);
        }
    } else if (p < 920)
        wl_job_admin(x);
    else if (p < 960)
        wl_worker_admin(x);
    et_run(&x->t);
    x->ops++;
}

/* Run until at least `jobs` jobs were submitted; compare with a replay every
 * `check_every` steps (0: never). */
static void wl_run(wl_t *x, uint32_t jobs, uint64_t check_every)
{
    while (x->njobs < jobs) {
        wl_step(x);
        if (check_every && x->ops % check_every == 0)
            wl_check_shadow(x);
        else if (check_every && x->ops % (check_every / 4) == 0)
            wl_check_invariants(x);
    }
    /* let every worker catch up once, so the tail has completions too */
    for (int i = 0; i < NW; i++)
        if (!x->w[i].silent)
            wl_work(x, i);
    et_run(&x->t);
    et_sync(&x->t);
}

static int count_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    uint64_t *by_type = arg;
    djs_event_t ev;
    (void)seq;
    REQ_RC(djs_event_decode(rec, len, &ev), 0);
    by_type[ev.type & 127]++;
    return 0;
}

static void expect_digest_eq(const djs_state_t *a, const djs_state_t *b, uint64_t seed, const char *what)
{
    uint8_t da[32], db[32];
    char ha[65], hb[65];
    djs_state_digest(a, da);
    djs_state_digest(b, db);
    if (memcmp(da, db, 32) != 0) {
        et_hex(da, ha);
        et_hex(db, hb);
        ck_abort_msg("seed %llu: %s: digests differ (%s vs %s)", (unsigned long long)seed, what, ha, hb);
    }
}

/* ---- replay equals live --------------------------------------------------------------- */

static void replay_equals_live(uint64_t seed, const djs_engine_config_t *base)
{
    wl_t *x = calloc(1, sizeof(*x));
    wl_init(x, seed, base);
    wl_run(x, 3000, 700);
    const djs_metrics_t *m = djs_state_metrics(et_st(&x->t));
    /* the workload did reach the interesting places */
    ck_assert_msg(m->completed > 500 && m->failed > 20 && m->cancelled > 20 && m->deleted > 5 && m->timed_out > 5 &&
                      m->lease_expired > 5 && m->upstream_failed > 5 && m->retried > 5,
                  "seed %llu: workload too tame: completed %llu failed %llu cancelled %llu deleted %llu timed_out %llu "
                  "lease_expired %llu upstream %llu retried %llu",
                  (unsigned long long)seed, (unsigned long long)m->completed, (unsigned long long)m->failed,
                  (unsigned long long)m->cancelled, (unsigned long long)m->deleted, (unsigned long long)m->timed_out,
                  (unsigned long long)m->lease_expired, (unsigned long long)m->upstream_failed, (unsigned long long)m->retried);
    ck_assert_uint_gt(x->stale_checked, 0);
    fprintf(stderr,
            "seed %llu: %llu ops, %u jobs, %llu events: completed %llu failed %llu cancelled %llu deleted %llu timed_out %llu "
            "lease_expired %llu upstream %llu retried %llu live jobs %llu\n",
            (unsigned long long)seed, (unsigned long long)x->ops, x->njobs, (unsigned long long)djs_log_last_seq(x->t.log),
            (unsigned long long)m->completed, (unsigned long long)m->failed, (unsigned long long)m->cancelled,
            (unsigned long long)m->deleted, (unsigned long long)m->timed_out, (unsigned long long)m->lease_expired,
            (unsigned long long)m->upstream_failed, (unsigned long long)m->retried,
            (unsigned long long)djs_state_njobs(et_st(&x->t)));
    /* every kind of event occurred (a worker lost, re-registered, drained, ...) */
    uint64_t by_type[128] = {0};
    ck_assert_int_eq(djs_log_scan(x->t.log, 1, UINT64_MAX, count_visit, by_type), 0);
    const int *types;
    size_t nt = djs_event_types(&types);
    for (size_t i = 0; i < nt; i++)
        if (types[i] < DJS_EV_SERVER_STARTED)
            ck_assert_msg(by_type[types[i]] > 0, "seed %llu: no %s event in the workload", (unsigned long long)seed,
                          djs_event_type_name(types[i]));
    djs_state_t *st = et_replay(x->t.log, &x->t.cfg.state, djs_log_last_seq(x->t.log));
    expect_digest_eq(st, et_st(&x->t), seed, "full replay vs live");
    ck_assert_uint_eq(djs_state_seq(st), djs_log_last_seq(x->t.log));
    djs_state_free(st);
    /* the index hash of idempotency keys is not state: a replay with the
     * default hash equals a live state that used another (the test seam) */
    st = et_replay(x->t.log, NULL, djs_log_last_seq(x->t.log));
    expect_digest_eq(st, et_st(&x->t), seed, "full replay with the default idempotency hash vs live");
    djs_state_free(st);
    wl_free(x);
    free(x);
}

START_TEST(replay_equals_live_seed_1)
{
    replay_equals_live(0x5eed0001, NULL);
}
END_TEST

START_TEST(replay_equals_live_seed_2)
{
    replay_equals_live(20240607, NULL);
}
END_TEST

START_TEST(replay_equals_live_seed_3)
{
    replay_equals_live(0xdeadbeefcafeULL, NULL);
}
END_TEST

/* Idempotency keys whose 64-bit index hashes collide (the test seam makes
 * them all collide): the workload replays equal to live all the same. */
static uint64_t idem_collide(const uint8_t digest[16])
{
    (void)digest;
    return 0x1dea; /* one probe chain for every key */
}

START_TEST(replay_equals_live_idem_collisions)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.state.idem_hash = idem_collide;
    replay_equals_live(0x1de111, &cfg);
}
END_TEST

static djs_state_t *roundtrip(const djs_state_t *st, const djs_state_config_t *c, size_t *len);

/* A replay that checks, before each job.scheduled, that the job's key was
 * below the job's limit. */
static int limit_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    djs_state_t *st = arg;
    djs_event_t ev;
    djs_concurrency_t c;
    REQ_RC(djs_event_decode(rec, len, &ev), 0);
    const djs_job_t *j = ev.type == DJS_EV_JOB_SCHEDULED ? djs_state_job(st, &ev.entity) : NULL;
    if (j != NULL && djs_state_job_concurrency(st, j, &c) == 0 && c.held >= c.limit)
        ck_abort_msg("seq %llu: a job of %.*s placed with %u of its %u held", (unsigned long long)seq, (int)c.key.len, c.key.p,
                     c.held, c.limit);
    REQ_RC(djs_state_apply(st, &ev), 0);
    return 0;
}

/* The random workload with concurrency keys (and a restart in the middle:
 * the rebuilt projection parks nothing, and must decide by the same rule):
 * limits hold at every placement, nobody waits behind a full key, and
 * replay and snapshots equal live. */
START_TEST(replay_equals_live_with_keys)
{
    const uint64_t seed = 0xc0ffee12;
    wl_t *x = calloc(1, sizeof(*x));
    wl_init(x, seed, NULL);
    x->keys = 1;
    wl_run(x, 1500, 300);
    et_reopen(&x->t, NULL);
    et_run(&x->t);
    wl_check_invariants(x);
    wl_run(x, 3000, 300);
    ck_assert_msg(x->full_seen > 100, "seed %llu: keys were rarely full (%llu)", (unsigned long long)seed,
                  (unsigned long long)x->full_seen);
    djs_state_t *st = djs_state_new(&x->t.cfg.state);
    REQ_RC(djs_log_scan(x->t.log, 1, UINT64_MAX, limit_visit, st), 0);
    expect_digest_eq(st, et_st(&x->t), seed, "full replay vs live, with keys");
    djs_state_t *rs = roundtrip(et_st(&x->t), &x->t.cfg.state, NULL);
    expect_digest_eq(rs, et_st(&x->t), seed, "snapshot vs live, with keys");
    djs_state_free(rs);
    /* restore at a point in the middle, replay the rest */
    djs_state_t *half = et_replay(x->t.log, &x->t.cfg.state, djs_log_last_seq(x->t.log) / 2);
    rs = roundtrip(half, &x->t.cfg.state, NULL);
    et_apply_range(x->t.log, rs, djs_log_last_seq(x->t.log) / 2 + 1, djs_log_last_seq(x->t.log));
    expect_digest_eq(rs, st, seed, "snapshot at N/2 + replay vs full replay, with keys");
    djs_state_free(rs);
    djs_state_free(half);
    djs_state_free(st);
    wl_free(x);
    free(x);
}
END_TEST

/* A deleted job that waited on another must not haunt its slot: the next
 * job in that slot is not the dependency's dependent. */
START_TEST(deleted_dependent_slot_reuse)
{
    et_t t;
    et_open(&t, NULL);
    djs_id_t w = et_worker(&t, "w", 4);
    (void)w;
    djs_id_t x = et_job(&t, "x", DJS_PRIO_NORMAL), y = et_job(&t, "y", DJS_PRIO_LOW);
    djs_job_request_t r;
    djs_id_t j, k;
    et_req(&r, "j", DJS_PRIO_NORMAL);
    r.dep_ids = &x;
    r.ndep_ids = 1;
    ck_assert_int_eq(et_submit_req(&t, &r, &j), 0);
    uint64_t seq;
    ck_assert_int_eq(djs_engine_delete(t.e, "admin", &j, &seq), 0);
    /* k waits on y only, and most likely takes j's slot */
    r.dep_ids = &y;
    ck_assert_int_eq(et_submit_req(&t, &r, &k), 0);
    et_run(&t);
    et_finish(&t, &x);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &k), DJS_JOB_CREATED);
    ck_assert_uint_eq(et_jobp(&t, &k)->unmet, 1);
    /* and x's failure would not fail k either: a second round with a cancel */
    djs_id_t x2 = et_job(&t, "x2", DJS_PRIO_NORMAL), j2, k2;
    r.dep_ids = &x2;
    ck_assert_int_eq(et_submit_req(&t, &r, &j2), 0);
    ck_assert_int_eq(djs_engine_delete(t.e, "admin", &j2, &seq), 0);
    r.dep_ids = &y;
    ck_assert_int_eq(et_submit_req(&t, &r, &k2), 0);
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &x2, &seq), 0);
    ck_assert_int_eq(et_state_of(&t, &k2), DJS_JOB_CREATED);
    /* snapshots of this state restore to the same state */
    djs_buf_t snap;
    djs_buf_init(&snap);
    djs_state_snapshot(et_st(&t), &snap);
    djs_state_t *rs = NULL;
    ck_assert_int_eq(djs_state_restore(snap.base, snap.len, &t.cfg.state, &rs), 0);
    expect_digest_eq(rs, et_st(&t), 0, "restored");
    djs_state_free(rs);
    djs_buf_dispose(&snap);
    /* y completes: both k's become ready */
    et_finish(&t, &y);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &k), DJS_JOB_SCHEDULED);
    ck_assert_int_eq(et_state_of(&t, &k2), DJS_JOB_SCHEDULED);
    et_sync(&t);
    djs_state_t *st = et_replay(t.log, &t.cfg.state, djs_log_last_seq(t.log));
    expect_digest_eq(st, et_st(&t), 0, "replay");
    djs_state_free(st);
    et_close(&t);
}
END_TEST

/* ---- snapshots -------------------------------------------------------------------------- */

static int submitted_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    djs_event_t ev;
    (void)seq;
    REQ_RC(djs_event_decode(rec, len, &ev), 0);
    if (ev.type == DJS_EV_JOB_SUBMITTED)
        REQ_RC(djs_state_apply(arg, &ev), 0);
    return 0;
}

/* Apply only the job.submitted records of 1..to (a state that is not the log's). */
static void et_apply_submitted(djs_log_t *log, djs_state_t *st, uint64_t to)
{
    REQ_RC(djs_log_scan(log, 1, to, submitted_visit, st), 0);
}

static djs_state_t *roundtrip(const djs_state_t *st, const djs_state_config_t *c, size_t *len)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(st, &b);
    djs_state_t *out = NULL;
    REQ_RC(djs_state_restore(b.base, b.len, c, &out), 0);
    if (len != NULL)
        *len = b.len;
    djs_buf_dispose(&b);
    return out;
}

START_TEST(snapshot_plus_replay_equals_full_replay)
{
    const uint64_t seed = 77;
    wl_t *x = calloc(1, sizeof(*x));
    wl_init(x, seed, NULL);
    wl_run(x, 2000, 0);
    djs_log_t *log = x->t.log;
    const djs_state_config_t *c = &x->t.cfg.state;
    uint64_t n = djs_log_last_seq(log);
    djs_state_t *full = et_replay(log, c, n);
    expect_digest_eq(full, et_st(&x->t), seed, "full replay vs live");

    /* one walk: at each point K, snapshot the replayed state, restore it,
     * carry the restored copy on to N and compare with the full replay */
    const uint64_t points[] = {1, 2, n / 7, n / 3, n / 2, (2 * n) / 3, n - 1, n};
    djs_state_t *walk = djs_state_new(c);
    uint64_t at = 0;
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        uint64_t k = points[i];
        et_apply_range(log, walk, at + 1, k);
        at = k;
        size_t len;
        djs_state_t *rs = roundtrip(walk, c, &len);
        ck_assert_uint_eq(djs_state_seq(rs), k);
        expect_digest_eq(rs, walk, seed, "restored vs replayed at K");
        /* a restored state snapshots to a state that restores equal again */
        djs_state_t *rs2 = roundtrip(rs, c, NULL);
        expect_digest_eq(rs2, walk, seed, "restored twice");
        djs_state_free(rs2);
        et_apply_range(log, rs, k + 1, n);
        expect_digest_eq(rs, full, seed, "restore at K + replay K+1..N vs full replay");
        djs_state_free(rs);
    }
    djs_state_free(walk);

    /* damage: every flipped byte (sampled) and every truncation is refused, never a crash */
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(full, &b);
    uint8_t *copy = malloc(b.len);
    size_t step = b.len / 1500 + 1;
    int refused = 0, tried = 0;
    for (size_t pos = 0; pos < b.len; pos += step + (pos % 5)) {
        memcpy(copy, b.base, b.len);
        copy[pos] ^= (uint8_t)(1u << (pos % 8));
        djs_state_t *bad = NULL;
        int rc = djs_state_restore(copy, b.len, c, &bad);
        tried++;
        if (rc != 0) {
            refused++;
            REQ(bad == NULL || rc != 0);
        } else {
            djs_state_free(bad);
            ck_abort_msg("seed %llu: a snapshot with byte %zu of %zu flipped was accepted", (unsigned long long)seed, pos, b.len);
        }
    }
    ck_assert_int_eq(refused, tried);
    for (size_t len = 0; len < b.len; len += (len < 64 ? 1 : b.len / 300 + 1)) {
        djs_state_t *bad = NULL;
        int rc = djs_state_restore(b.base, len, c, &bad);
        ck_assert_msg(rc != 0, "truncated to %zu of %zu bytes: accepted", len, b.len);
    }
    /* trailing garbage */
    memcpy(copy, b.base, b.len);
    djs_buf_append(&b, "x", 1);
    djs_state_t *bad = NULL;
    ck_assert_int_ne(djs_state_restore(b.base, b.len, c, &bad), 0);
    b.len--;
    /* random bytes */
    for (int k = 0; k < 200; k++) {
        for (size_t i = 0; i < 4096 && i < b.len; i++)
            copy[i] = (uint8_t)rnd(x, 256);
        ck_assert_int_ne(djs_state_restore(copy, 4096 < b.len ? 4096 : b.len, c, &bad), 0);
    }
    /* a version we do not know */
    memcpy(copy, b.base, b.len);
    ck_assert_uint_eq(copy[1], 0xa9); /* [ "djs-state", version, ... ] */
    ck_assert(memcmp(copy + 2, "djs-state", 9) == 0);
    ck_assert_uint_lt(copy[11], 0x10);
    copy[11] = (uint8_t)(copy[11] + 1);
    ck_assert_int_eq(djs_state_restore(copy, b.len, c, &bad), DJS_EVERSION);
    copy[11] = 0x7f;
    ck_assert_int_eq(djs_state_restore(copy, b.len, c, &bad), DJS_EVERSION);
    /* an older version with another number of fields (versions 1-3 had 13):
     * the version is judged first, so DJS_EVERSION, not "corrupt" ... */
    ck_assert_uint_eq(copy[0] & 0xf0, 0x90);
    copy[0] = 0x90 | 13;
    copy[11] = 3;
    ck_assert_int_eq(djs_state_restore(copy, b.len, c, &bad), DJS_EVERSION);
    /* ... and this version with another count is damaged */
    copy[11] = b.base[11];
    ck_assert_int_eq(djs_state_restore(copy, b.len, c, &bad), DJS_ECORRUPT);
    /* the untouched one still restores */
    ck_assert_int_eq(djs_state_restore(b.base, b.len, c, &bad), 0);
    expect_digest_eq(bad, full, seed, "pristine snapshot");
    djs_state_free(bad);
    free(copy);
    djs_buf_dispose(&b);
    djs_state_free(full);
    wl_free(x);
    free(x);
}
END_TEST

START_TEST(engine_open_uses_snapshots)
{
    const uint64_t seed = 4242;
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.snapshot_every = 500;
    cfg.snapshots_kept = 4;
    wl_t *x = calloc(1, sizeof(*x));
    wl_init(x, seed, &cfg);
    wl_run(x, 1500, 0);
    uint64_t last = djs_log_last_seq(x->t.log), n = 0, sseq = 0;
    ck_assert_uint_gt(last, 5000);
    uint8_t before[32], after[32];
    et_digest(&x->t, before);
    djs_buf_t b;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get_snapshot(x->t.log, UINT64_MAX, &sseq, &b), 0);
    ck_assert_uint_gt(sseq, last - 1500);

    et_reopen(&x->t, &n);
    et_digest(&x->t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(n, last - sseq); /* only the tail after the newest snapshot */

    /* the newest snapshot damaged (one flipped byte), then replaced by garbage:
     * the engine falls back and still rebuilds the same state */
    b.base[b.len / 2] ^= 0x10;
    ck_assert_int_eq(djs_log_put_snapshot(x->t.log, sseq, b.base, b.len, cfg.snapshots_kept), 0);
    et_sync(&x->t);
    et_reopen(&x->t, &n);
    et_digest(&x->t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_gt(n, last - sseq); /* from an older snapshot ... */
    ck_assert_uint_lt(n, last);        /* ... not from scratch */
    ck_assert_int_eq(djs_log_put_snapshot(x->t.log, sseq, "garbage", 7, cfg.snapshots_kept), 0);
    et_sync(&x->t);
    et_reopen(&x->t, &n);
    et_digest(&x->t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_gt(n, last - sseq);
    ck_assert_uint_lt(n, last);
    /* time travel to a point before the damaged snapshot is unaffected,
     * and to a point after it falls back the same way */
    djs_state_t *tt = NULL;
    ck_assert_int_eq(djs_state_at(x->t.log, &x->t.cfg.state, last, &tt), 0);
    expect_digest_eq(tt, et_st(&x->t), seed, "state_at past a damaged snapshot");
    djs_state_free(tt);
    /* a snapshot that restores but does not fit the log (a foreign one, or
     * a bug): the events after it do not apply, and the whole log is replayed */
    static const djs_str_t only[] = {{"only-here", 9}};
    djs_id_t fresh, odd_job;
    ck_assert_int_eq(et_register(&x->t, "fresh", 10000, only, 1, &fresh), 0);
    djs_job_request_t r;
    et_req(&r, "odd", DJS_PRIO_HIGH);
    r.caps = only;
    r.ncaps = 1;
    ck_assert_int_eq(et_submit_req(&x->t, &r, &odd_job), 0);
    uint64_t k = djs_log_last_seq(x->t.log);
    et_run(&x->t);
    ck_assert_int_eq(et_state_of(&x->t, &odd_job), DJS_JOB_SCHEDULED);
    et_sync(&x->t);
    last = djs_log_last_seq(x->t.log);
    et_digest(&x->t, before);
    djs_state_t *odd = djs_state_new(&x->t.cfg.state);
    et_apply_submitted(x->t.log, odd, k); /* job.submitted records only */
    ck_assert_uint_eq(djs_state_seq(odd), k);
    djs_buf_reset(&b);
    djs_state_snapshot(odd, &b);
    djs_state_free(odd);
    ck_assert_int_eq(djs_log_put_snapshot(x->t.log, k, b.base, b.len, cfg.snapshots_kept), 0);
    et_sync(&x->t);
    et_reopen(&x->t, &n);
    et_digest(&x->t, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_uint_eq(n, last);
    /* and carries on: more work, more snapshots, reopen once more */
    wl_run(x, 1800, 0);
    et_digest(&x->t, before);
    et_reopen(&x->t, &n);
    et_digest(&x->t, after);
    ck_assert_mem_eq(before, after, 32);
    djs_buf_dispose(&b);
    wl_free(x);
    free(x);
}
END_TEST

/* An engine on a loop serializes its snapshots in a forked child: the loop
 * goes on, a snapshot due meanwhile is skipped, and the one the child wrote
 * is what the next start uses. */
static void fk_jobs(et_t *t, int n, int finish_some)
{
    for (int i = 0; i < n; i++) {
        djs_id_t j = et_job(t, "fk", i % 3);
        if (!finish_some || i % 4 != 0)
            continue;
        et_run(t);
        if (et_state_of(t, &j) == DJS_JOB_SCHEDULED)
            et_finish(t, &j);
    }
    et_run(t);
}

START_TEST(forked_snapshot_used_on_restart)
{
    uv_loop_t loop;
    et_t t;
    memset(&t, 0, sizeof(t));
    snprintf(t.dir, sizeof(t.dir), "%s", tu_tmpdir());
    t.now = ET_T0;
    djs_engine_config_init(&t.cfg);
    t.cfg.seed = 7;
    t.cfg.snapshot_every = 300;
    t.cfg.snapshots_kept = 4;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    et_open_log(&t);
    ck_assert_int_eq(djs_log_attach(t.log, &loop), 0);
    ck_assert_int_eq(djs_engine_open(&t.e, t.log, &loop, &t.cfg, NULL, NULL), 0);
    et_worker(&t, "w1", 40);
    fk_jobs(&t, 40, 1);
    ck_assert_int_eq(djs_engine_snapshot_busy(t.e), 0);
    ck_assert_uint_lt(djs_log_last_seq(t.log), 300);
    fk_jobs(&t, 200, 0);                                /* one run at the end: the snapshot is taken there */
    ck_assert_int_eq(djs_engine_snapshot_busy(t.e), 1); /* forked; the loop has not run yet */
    uint64_t sseq = djs_state_seq(et_st(&t));
    ck_assert_uint_ge(sseq, 300);
    djs_buf_t here, got;
    djs_buf_init(&here);
    djs_buf_init(&got);
    djs_state_snapshot(et_st(&t), &here); /* what the child serializes */
    /* more than snapshot_every further while the child works: skipped */
    fk_jobs(&t, 400, 0);
    uint64_t last = djs_log_last_seq(t.log);
    ck_assert_uint_ge(last, sseq + 300);
    while (djs_engine_snapshot_busy(t.e))
        uv_run(&loop, UV_RUN_ONCE);
    et_sync(&t);
    uint64_t seq = 0;
    ck_assert_int_eq(djs_log_get_snapshot(t.log, UINT64_MAX, &seq, &got), 0);
    ck_assert_uint_eq(seq, sseq);
    ck_assert_uint_eq(got.len, here.len);
    ck_assert_mem_eq(got.base, here.base, here.len);
    uint8_t before[32], after[32];
    et_digest(&t, before);
    djs_engine_close(t.e);
    djs_log_close(t.log);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    t.e = NULL;
    t.log = NULL;

    uint64_t n = 0;
    et_open_log(&t);
    et_open_engine(&t, &n);
    ck_assert_uint_eq(n, last - sseq); /* only what came after the child's snapshot */
    et_digest(&t, after);
    ck_assert_mem_eq(before, after, 32);
    et_close(&t);

    /* closing while a child is at work stops it; nothing half-written is seen */
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    et_open_log(&t);
    ck_assert_int_eq(djs_log_attach(t.log, &loop), 0);
    ck_assert_int_eq(djs_engine_open(&t.e, t.log, &loop, &t.cfg, NULL, NULL), 0);
    fk_jobs(&t, 320, 0);
    ck_assert_int_eq(djs_engine_snapshot_busy(t.e), 1);
    djs_engine_close(t.e);
    djs_log_close(t.log);
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    t.e = NULL;
    t.log = NULL;
    et_open_log(&t);
    djs_buf_reset(&got);
    ck_assert_int_eq(djs_log_get_snapshot(t.log, UINT64_MAX, &seq, &got), 0);
    ck_assert_uint_eq(seq, sseq);
    et_close(&t);
    djs_buf_dispose(&here);
    djs_buf_dispose(&got);
}
END_TEST

START_TEST(time_travel)
{
    const uint64_t seed = 31337;
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.snapshot_every = 1000;
    cfg.snapshots_kept = 1000;
    wl_t *x = calloc(1, sizeof(*x));
    wl_init(x, seed, &cfg);
    wl_run(x, 1200, 0);
    djs_log_t *log = x->t.log;
    const djs_state_config_t *c = &x->t.cfg.state;
    uint64_t n = djs_log_durable_seq(log);
    uint8_t live_before[32], live_after[32];
    et_digest(&x->t, live_before);
    djs_state_t *walk = djs_state_new(c);
    uint64_t at = 0, points = 0;
    for (uint64_t k = 97; k <= n; k += 97) {
        et_apply_range(log, walk, at + 1, k);
        at = k;
        djs_state_t *tt = NULL;
        REQ_RC(djs_state_at(log, c, k, &tt), 0);
        REQ_EQ(djs_state_seq(tt), k);
        expect_digest_eq(tt, walk, seed, "state_at vs replay");
        djs_state_free(tt);
        points++;
    }
    ck_assert_uint_gt(points, 50);
    djs_state_t *tt = NULL;
    ck_assert_int_eq(djs_state_at(log, c, n, &tt), 0);
    expect_digest_eq(tt, et_st(&x->t), seed, "state_at(N) vs live");
    djs_state_free(tt);
    ck_assert_int_eq(djs_state_at(log, c, n + 1, &tt), DJS_ERANGE);
    et_digest(&x->t, live_after);
    ck_assert_mem_eq(live_before, live_after, 32);
    /* the live engine goes on unharmed */
    wl_run(x, 1300, 0);
    djs_state_t *st = et_replay(log, c, djs_log_last_seq(log));
    expect_digest_eq(st, et_st(&x->t), seed, "replay vs live after time travel");
    djs_state_free(st);
    djs_state_free(walk);
    wl_free(x);
    free(x);
}
END_TEST

/* ---- idempotency keys ----------------------------------------------------------------- */

static int idem_submit(et_t *t, const char *owner, const char *key, djs_id_t *id, int *existed)
{
    djs_job_request_t r;
    uint64_t seq;
    et_req(&r, key, DJS_PRIO_NORMAL);
    r.spec.idem_key = (djs_str_t){key, strlen(key)};
    return djs_engine_submit(t->e, owner, &r, 1, id, &seq, existed);
}

static const djs_job_t *idem_find(const djs_state_t *st, const char *owner, const char *key)
{
    return djs_state_job_by_idem(st, owner, strlen(owner), key, strlen(key));
}

/* Every (owner, key) of the test names its own job in st, and no other. */
#define IDEM_N 6
static const char *const idem_owner[2] = {"alice", "bob"};
static const char *const idem_key[IDEM_N] = {"a", "b", "ab", "order-17", "order-71", "k"};

static void idem_expect(const djs_state_t *st, djs_id_t ids[2][IDEM_N], const char *what)
{
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < IDEM_N; k++) {
            const djs_job_t *j = idem_find(st, idem_owner[o], idem_key[k]);
            ck_assert_msg(j != NULL && et_id_eq(&j->id, &ids[o][k]), "%s: %s's key '%s' gives the wrong job", what, idem_owner[o],
                          idem_key[k]);
        }
    ck_assert_msg(idem_find(st, "alice", "zz") == NULL, "%s: an unknown key finds a job", what);
    ck_assert_msg(idem_find(st, "carol", "a") == NULL, "%s: another owner's key finds a job", what);
    /* owner and key are length-prefixed in the digest: "alice"+"b" is not "alic"+"eb" */
    ck_assert_msg(idem_find(st, "alic", "eb") == NULL, "%s: a shifted owner/key split finds a job", what);
}

/* With the test seam every key has the same 64-bit index hash: different
 * keys still give different jobs, the same key the same job, deleting a
 * job frees only its key, and replay, snapshot and restore (with the seam
 * or the default hash) agree with the live state. */
START_TEST(idempotency_forced_collision)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 7;
    cfg.state.idem_hash = idem_collide;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t ids[2][IDEM_N], id;
    int existed;
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < IDEM_N; k++) {
            REQ_RC(idem_submit(&t, idem_owner[o], idem_key[k], &ids[o][k], &existed), 0);
            ck_assert_int_eq(existed, 0);
            for (int p = 0; p <= o; p++)
                for (int q = 0; q < (p < o ? IDEM_N : k); q++)
                    ck_assert(!et_id_eq(&ids[o][k], &ids[p][q]));
        }
    ck_assert_uint_eq(djs_state_njobs(et_st(&t)), 2 * IDEM_N);
    /* the same key again: the same job, no new one */
    for (int o = 0; o < 2; o++)
        for (int k = 0; k < IDEM_N; k++) {
            REQ_RC(idem_submit(&t, idem_owner[o], idem_key[k], &id, &existed), 0);
            ck_assert_int_eq(existed, 1);
            ck_assert(et_id_eq(&id, &ids[o][k]));
        }
    ck_assert_uint_eq(djs_state_njobs(et_st(&t)), 2 * IDEM_N);
    idem_expect(et_st(&t), ids, "live");

    /* delete alice's "ab": its key is free again, the others still answer */
    uint64_t seq;
    REQ_RC(djs_engine_cancel(t.e, "admin", &ids[0][2], &seq), 0);
    REQ_RC(djs_engine_delete(t.e, "admin", &ids[0][2], &seq), 0);
    ck_assert_ptr_null(idem_find(et_st(&t), "alice", "ab"));
    ck_assert_ptr_nonnull(idem_find(et_st(&t), "bob", "ab"));
    REQ_RC(idem_submit(&t, "alice", "ab", &ids[0][2], &existed), 0);
    ck_assert_int_eq(existed, 0);
    idem_expect(et_st(&t), ids, "live, after a delete");

    /* replay == live, with the seam and without it (the index hash is not state) */
    et_sync(&t);
    uint64_t last = djs_log_last_seq(t.log);
    djs_state_t *st = et_replay(t.log, &t.cfg.state, last);
    expect_digest_eq(st, et_st(&t), 7, "replay with the colliding hash vs live");
    idem_expect(st, ids, "replayed");
    djs_state_free(st);
    st = et_replay(t.log, NULL, last);
    expect_digest_eq(st, et_st(&t), 7, "replay with the default hash vs live");
    idem_expect(st, ids, "replayed with the default hash");
    /* snapshots keep the digests: restored under either hash, same answers */
    djs_state_t *back = roundtrip(et_st(&t), NULL, NULL);
    expect_digest_eq(back, et_st(&t), 7, "colliding snapshot restored with the default hash");
    idem_expect(back, ids, "restored with the default hash");
    djs_state_free(back);
    back = roundtrip(st, &t.cfg.state, NULL);
    expect_digest_eq(back, et_st(&t), 7, "snapshot restored with the colliding hash");
    idem_expect(back, ids, "restored with the colliding hash");
    djs_state_free(back);
    djs_state_free(st);

    /* and after a restart the engine still tells the keys apart */
    et_reopen(&t, NULL);
    idem_expect(et_st(&t), ids, "reopened");
    REQ_RC(idem_submit(&t, "bob", "order-71", &id, &existed), 0);
    ck_assert(existed && et_id_eq(&id, &ids[1][4]));
    et_close(&t);
}
END_TEST

/* ---- the terminal window -------------------------------------------------------------- */

START_TEST(eviction)
{
    djs_engine_config_t cfg;
    djs_engine_config_init(&cfg);
    cfg.seed = 5;
    cfg.state.max_terminal = 100;
    et_t t;
    et_open(&t, &cfg);
    djs_id_t w = et_worker(&t, "w", 8);
    (void)w;
    djs_id_t first, last, cancelled;
    for (int i = 0; i < 1000; i++) {
        djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
        if (i == 0)
            first = j;
        last = j;
        et_run(&t);
        et_finish(&t, &j);
        if (i % 100 == 0)
            et_advance(&t, ET_SEC);
    }
    const djs_state_t *st = et_st(&t);
    ck_assert_uint_eq(djs_state_metrics(st)->completed, 1000);
    ck_assert_uint_ge(djs_state_njobs(st), 95);
    ck_assert_uint_le(djs_state_njobs(st), 105);
    ck_assert_ptr_null(djs_state_job(st, &first));
    ck_assert_ptr_nonnull(djs_state_job(st, &last));
    /* an evicted job is still known: it can be a dependency (met) */
    et_sync(&t);
    djs_job_request_t r;
    djs_id_t dep;
    et_req(&r, "after", DJS_PRIO_NORMAL);
    r.dep_ids = &first;
    r.ndep_ids = 1;
    ck_assert_int_eq(et_submit_req(&t, &r, &dep), 0);
    et_run(&t);
    ck_assert_int_eq(et_state_of(&t, &dep), DJS_JOB_SCHEDULED);
    /* ... unless it was cancelled */
    cancelled = et_job(&t, "c", DJS_PRIO_LOW);
    uint64_t seq;
    ck_assert_int_eq(djs_engine_cancel(t.e, "admin", &cancelled, &seq), 0);
    for (int i = 0; i < 150; i++) {
        djs_id_t j = et_job(&t, "j", DJS_PRIO_NORMAL);
        et_run(&t);
        et_finish(&t, &j);
    }
    ck_assert_ptr_null(djs_state_job(st, &cancelled));
    et_sync(&t);
    r.dep_ids = &cancelled;
    ck_assert_int_eq(et_submit_req(&t, &r, &dep), DJS_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(djs_engine_errmsg(t.e), "cancelled"));
    djs_state_t *rs = et_replay(t.log, &cfg.state, djs_log_last_seq(t.log));
    expect_digest_eq(rs, st, 5, "replay vs live with eviction");
    djs_state_free(rs);
    /* snapshots of a state with a full window */
    rs = roundtrip(st, &cfg.state, NULL);
    expect_digest_eq(rs, st, 5, "snapshot with eviction");
    djs_state_free(rs);
    et_close(&t);

    /* the random workload with a small window: replay still equals live */
    djs_engine_config_init(&cfg);
    cfg.state.max_terminal = 100;
    cfg.state.max_terminal_age = 600 * ET_SEC;
    wl_t *x = calloc(1, sizeof(*x));
    wl_init(x, 555, &cfg);
    wl_run(x, 1500, 700);
    ck_assert_uint_lt(djs_state_njobs(et_st(&x->t)), 1000);
    rs = et_replay(x->t.log, &cfg.state, djs_log_last_seq(x->t.log));
    expect_digest_eq(rs, et_st(&x->t), 555, "replay vs live, small window");
    djs_state_free(rs);
    rs = roundtrip(et_st(&x->t), &cfg.state, NULL);
    expect_digest_eq(rs, et_st(&x->t), 555, "snapshot vs live, small window");
    djs_state_free(rs);
    wl_free(x);
    free(x);
}
END_TEST

static Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, replay_equals_live_seed_1);
    tcase_add_test(tc, replay_equals_live_seed_2);
    tcase_add_test(tc, replay_equals_live_seed_3);
    tcase_add_test(tc, deleted_dependent_slot_reuse);
    tcase_add_test(tc, replay_equals_live_with_keys);
    suite_add_tcase(s, tc);
    tc = tcase_create("snapshots");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, snapshot_plus_replay_equals_full_replay);
    tcase_add_test(tc, engine_open_uses_snapshots);
    tcase_add_test(tc, forked_snapshot_used_on_restart);
    tcase_add_test(tc, time_travel);
    tcase_add_test(tc, eviction);
    suite_add_tcase(s, tc);
    tc = tcase_create("idempotency");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, idempotency_forced_collision);
    tcase_add_test(tc, replay_equals_live_idem_collisions);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(state_suite)

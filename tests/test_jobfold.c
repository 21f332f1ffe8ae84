/* The live projection and the one-job fold agree, field by field, at every
 * seq: random job events (random types on random jobs, most of which the
 * state machine refuses) are offered to a live djs_state_t and to an
 * in-memory djs_job_view_t of their job; both must accept or refuse them
 * alike (same code, nothing changed on refusal). The accepted ones go to a
 * real log, and afterwards djs_job_view_at(log, id, seq) must give, for
 * every seq, what the projection held at that seq.
 *
 * Seeded and reproducible: every failure names the seed and the seq; set
 * DJS_JOBFOLD_SEED to run one seed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bodies.h"
#include "core/error.h"
#include "core/event.h"
#include "core/id.h"
#include "core/job.h"
#include "eventlog/log.h"
#include "projections/jobview.h"
#include "projections/replay.h"
#include "projections/state.h"
#include "scheduler/engine.h"
#include "testutil.h"

#define NSTEPS 4000 /* events offered per seed */
#define MAXJOBS 512
#define NWORKERS 3
#define CHECK_ALL_EVERY 400 /* accepted events between checks of every job */
#define SEC 1000000000ULL

/* What both sides say about one job. */
typedef struct fields {
    int exists;
    uint8_t state, prio, percent, fail_reason;
    uint32_t attempt, failures, max_retries, timeout_s;
    uint64_t submit_seq, last_seq, events, progress_seq;
    uint64_t created_ns, queued_ns, started_ns, finished_ns, retry_at_ns, out_len;
    uint32_t out_recv;
    djs_id_t worker;
} fields_t;

/* One expected answer: job k at seq was `f`. */
typedef struct expect {
    uint64_t seq;
    uint32_t k;
    fields_t f;
} expect_t;

typedef struct fold {
    uint64_t seed, rng[2], now;
    djs_log_t *log;
    djs_state_t *st;
    djs_id_t workers[NWORKERS];
    djs_id_t jobs[MAXJOBS];
    djs_job_view_t views[MAXJOBS];
    uint64_t events[MAXJOBS]; /* accepted events since its submission */
    uint32_t njobs;
    expect_t *exp;
    size_t nexp, cap_exp;
    uint64_t accepted, refused, by_code[4];
    djs_buf_t body, rec;
} fold_t;

#define FREQ(x, c, ...)                                                                                                            \
    do {                                                                                                                           \
        if (!(c)) {                                                                                                                \
            char m_[512];                                                                                                          \
            snprintf(m_, sizeof(m_), __VA_ARGS__);                                                                                 \
            ck_abort_msg("seed %llu: %s (%s:%d: %s)", (unsigned long long)(x)->seed, m_, __FILE__, __LINE__, #c);                  \
        }                                                                                                                          \
    } while (0)

static uint64_t rnd(fold_t *x, uint64_t n)
{
    return n ? djs_rand_next(x->rng) % n : 0;
}

static uint64_t fake_clock(void *arg)
{
    return *(const uint64_t *)arg;
}

static djs_id_t make_id(uint32_t tag, uint32_t k)
{
    djs_id_t id;
    memset(&id, 0, sizeof(id));
    id.b[0] = 0x01;
    id.b[6] = 0x70;
    id.b[8] = 0x80;
    id.b[9] = (uint8_t)tag;
    id.b[12] = (uint8_t)(k >> 24);
    id.b[13] = (uint8_t)(k >> 16);
    id.b[14] = (uint8_t)(k >> 8);
    id.b[15] = (uint8_t)k;
    return id;
}

/* ---- the two sides' fields ---------------------------------------------------- */

static fields_t from_state(fold_t *x, uint32_t k)
{
    fields_t f;
    memset(&f, 0, sizeof(f));
    const djs_job_t *j = djs_state_job(x->st, &x->jobs[k]);
    if (j == NULL)
        return f;
    f.exists = 1;
    f.state = j->state;
    f.prio = j->prio;
    f.percent = j->percent;
    f.fail_reason = j->fail_reason;
    f.attempt = j->attempt;
    f.failures = j->failures;
    f.max_retries = j->max_retries;
    f.timeout_s = j->timeout_s;
    f.submit_seq = j->submit_seq;
    f.last_seq = j->last_seq;
    f.events = x->events[k];
    f.progress_seq = j->progress_seq;
    f.created_ns = j->created_ns;
    f.queued_ns = j->queued_ns;
    f.started_ns = j->started_ns;
    f.finished_ns = j->finished_ns;
    f.retry_at_ns = j->timer_kind == DJS_TIMER_RETRY ? j->deadline_ns : 0;
    f.out_len = j->out_len;
    f.out_recv = j->out_recv;
    if (j->worker != DJS_NONE)
        f.worker = djs_state_worker_at(x->st, j->worker)->id;
    return f;
}

static fields_t from_view(const djs_job_view_t *v)
{
    fields_t f;
    memset(&f, 0, sizeof(f));
    if (!v->found)
        return f;
    f.exists = 1;
    f.state = v->state;
    f.prio = v->prio;
    f.percent = v->percent;
    f.fail_reason = v->fail_reason;
    f.attempt = v->attempt;
    f.failures = v->failures;
    f.max_retries = v->max_retries;
    f.timeout_s = v->timeout_s;
    f.submit_seq = v->submit_seq;
    f.last_seq = v->last_seq;
    f.events = v->events;
    djs_event_t ev;
    if (v->last_progress.len > 0 && djs_event_decode(v->last_progress.base, v->last_progress.len, &ev) == 0)
        f.progress_seq = ev.seq;
    f.created_ns = v->created_ns;
    f.queued_ns = v->queued_ns;
    f.started_ns = v->started_ns;
    f.finished_ns = v->finished_ns;
    f.retry_at_ns = v->retry_at_ns;
    f.out_len = v->out_len;
    f.out_recv = v->out_recv;
    f.worker = v->worker;
    return f;
}

static void same(fold_t *x, const fields_t *a, const fields_t *b, uint64_t seq, uint32_t k, const char *what)
{
#define SAME(field)                                                                                                                \
    FREQ(x, a->field == b->field, "%s, job %u at seq %llu: %s is %llu in the projection, %llu in the view", what, k,               \
         (unsigned long long)seq, #field, (unsigned long long)a->field, (unsigned long long)b->field)
    SAME(exists);
    if (!a->exists)
        return;
    SAME(state);
    SAME(prio);
    SAME(percent);
    SAME(fail_reason);
    SAME(attempt);
    SAME(failures);
    SAME(max_retries);
    SAME(timeout_s);
    SAME(submit_seq);
    SAME(last_seq);
    SAME(events);
    SAME(progress_seq);
    SAME(created_ns);
    SAME(queued_ns);
    SAME(started_ns);
    SAME(finished_ns);
    SAME(retry_at_ns);
    SAME(out_len);
    SAME(out_recv);
#undef SAME
    FREQ(x, djs_id_cmp(&a->worker, &b->worker) == 0, "%s, job %u at seq %llu: the worker differs", what, k,
         (unsigned long long)seq);
}

static void expect(fold_t *x, uint64_t seq, uint32_t k)
{
    if (x->nexp == x->cap_exp) {
        x->cap_exp = x->cap_exp ? x->cap_exp * 2 : 4096;
        x->exp = realloc(x->exp, x->cap_exp * sizeof(expect_t));
    }
    x->exp[x->nexp++] = (expect_t){seq, k, from_state(x, k)};
}

/* ---- random events ------------------------------------------------------------- */

static const char *const REASONS[] = {"error", "timeout", "worker_lost", "lease_expired", "upstream_failed", "bogus"};

static void random_spec(fold_t *x, djs_job_spec_t *sp, uint8_t dep[16])
{
    memset(sp, 0, sizeof(*sp));
    sp->name = (djs_str_t){"job", 3};
    sp->owner = (djs_str_t){"alice", 5};
    sp->priority = (uint8_t)rnd(x, DJS_NPRIO);
    sp->max_retries = rnd(x, 20) == 0 ? 65536 + (uint32_t)rnd(x, 1000) : (uint32_t)rnd(x, 4);
    sp->timeout_s = rnd(x, 3) == 0 ? 0 : 1 + (uint32_t)rnd(x, 100);
    if (x->njobs > 0 && rnd(x, 4) == 0) {
        memcpy(dep, x->jobs[rnd(x, x->njobs)].b, 16);
        sp->deps = dep;
        sp->ndeps = 1;
    }
    uint64_t r = rnd(x, 10);
    sp->scheduled_at = r == 0 ? x->now + 1 + rnd(x, 10 * SEC) : r == 1 ? x->now - SEC : 0;
}

static void random_output(fold_t *x, const djs_job_t *j, djs_job_change_t *c)
{
    uint32_t len = (uint32_t)rnd(x, 200);
    c->out_offset = j != NULL ? j->out_len : 0;
    c->out_len = len;
    c->out_recv = (j != NULL ? j->out_recv : 0) + len + (uint32_t)rnd(x, 3);
    uint64_t r = rnd(x, 20);
    if (r == 0)
        c->out_offset += 1 + rnd(x, 5); /* a gap */
    else if (r == 1 && c->out_recv > 0 && j != NULL && j->out_recv > 0)
        c->out_recv = j->out_recv - 1; /* received went back */
}

/* A body for a job change of `type` to the job at slot j (NULL if none). */
static void random_change(fold_t *x, int type, const djs_job_t *j, djs_job_change_t *c, int *unknown_worker)
{
    memset(c, 0, sizeof(*c));
    c->attempt = j != NULL ? j->attempt + (type == DJS_EV_JOB_SCHEDULED) : 1;
    *unknown_worker = rnd(x, 40) == 0;
    c->worker = *unknown_worker ? make_id(9, (uint32_t)rnd(x, 1000)) : x->workers[rnd(x, NWORKERS)];
    if (type == DJS_EV_JOB_SCHEDULED)
        c->lease = x->now + 8 * SEC;
    if (type == DJS_EV_JOB_FAILED || type == DJS_EV_JOB_TIMED_OUT) {
        c->retry_at = rnd(x, 2) ? x->now + 1 + rnd(x, 5 * SEC) : 0;
        const char *why = REASONS[rnd(x, sizeof(REASONS) / sizeof(REASONS[0]))];
        c->reason = (djs_str_t){why, strlen(why)};
        c->error = (djs_str_t){"boom", 4};
    }
    if (type == DJS_EV_JOB_PROGRESS) {
        c->percent = (uint32_t)rnd(x, 101);
        c->step = (djs_str_t){"step", 4};
        c->eta = rnd(x, 2) ? x->now + rnd(x, 100 * SEC) : 0;
    }
    if (type == DJS_EV_JOB_UPDATED) {
        c->has_priority = rnd(x, 2) == 0;
        c->priority = (uint8_t)rnd(x, DJS_NPRIO);
        c->has_max_retries = rnd(x, 2) == 0;
        c->max_retries = rnd(x, 10) == 0 ? 70000 : (uint32_t)rnd(x, 5);
        c->has_timeout = rnd(x, 3) == 0;
        c->timeout_s = (uint32_t)rnd(x, 50);
    }
    if (type == DJS_EV_JOB_OUTPUT)
        random_output(x, j, c);
}

/* A job to aim at: mostly a recent one, sometimes any, sometimes a new id. */
static uint32_t pick_job(fold_t *x, int submit)
{
    if (x->njobs < MAXJOBS && (x->njobs == 0 || (submit && rnd(x, 5) != 0) || rnd(x, 50) == 0)) {
        x->jobs[x->njobs] = make_id(1, x->njobs);
        djs_job_view_init(&x->views[x->njobs]);
        return x->njobs++;
    }
    uint32_t span = x->njobs < 30 ? x->njobs : 30;
    return rnd(x, 4) == 0 ? (uint32_t)rnd(x, x->njobs) : x->njobs - 1 - (uint32_t)rnd(x, span);
}

/* A type: half the time one the machine allows where the job is (to get
 * deep into the machine), else any job event type. */
static int pick_type(fold_t *x, int pos)
{
    if (rnd(x, 2) == 0) {
        int ok[DJS_EV_JOB_OUTPUT + 1], n = 0;
        for (int t = DJS_EV_JOB_SUBMITTED; t <= DJS_EV_JOB_OUTPUT; t++)
            if (djs_job_event_allowed(t, pos))
                ok[n++] = t;
        if (n > 0)
            return ok[rnd(x, (uint64_t)n)];
    }
    return DJS_EV_JOB_SUBMITTED + (int)rnd(x, DJS_EV_JOB_OUTPUT);
}

/* ---- one step -------------------------------------------------------------------- */

/* Encode an event of `type` for job k with the body in x->body as the
 * record the log will write next, and decode it back into *ev (pointing
 * into x->rec). */
static void make_record(fold_t *x, int type, uint32_t k, djs_event_t *ev)
{
    djs_event_t e;
    memset(&e, 0, sizeof(e));
    e.type = (uint16_t)type;
    e.seq = djs_log_last_seq(x->log) + 1;
    e.ts_ns = x->now;
    e.actor = "fold";
    e.actor_len = 4;
    e.entity = x->jobs[k];
    e.body = x->body.base;
    e.body_len = x->body.len;
    uint8_t prev[DJS_HASH_LEN] = {0};
    djs_buf_reset(&x->rec);
    FREQ(x, djs_event_encode(&e, prev, &x->rec) == 0, "encoding a %s", djs_event_type_name(type));
    FREQ(x, djs_event_decode(x->rec.base, x->rec.len, ev) == 0, "decoding a %s", djs_event_type_name(type));
}

/* What a refused event must leave as it was. */
typedef struct snap {
    int digested;
    uint8_t digest[32];
    djs_job_t job;
    djs_metrics_t metrics;
} snap_t;

static void take_snap(fold_t *x, uint32_t k, snap_t *s, int digest)
{
    memset(s, 0, sizeof(*s));
    s->digested = digest;
    if (digest)
        djs_state_digest(x->st, s->digest);
    const djs_job_t *j = djs_state_job(x->st, &x->jobs[k]);
    if (j != NULL)
        memcpy(&s->job, j, sizeof(*j));
    memcpy(&s->metrics, djs_state_metrics(x->st), sizeof(s->metrics));
}

static void take(fold_t *x, uint32_t k, djs_event_t *ev)
{
    djs_event_t out = *ev;
    FREQ(x, djs_log_append(x->log, &out) == 0, "append");
    FREQ(x, out.seq == ev->seq && out.ts_ns == ev->ts_ns, "the log wrote seq %llu at %llu, not %llu at %llu",
         (unsigned long long)out.seq, (unsigned long long)out.ts_ns, (unsigned long long)ev->seq, (unsigned long long)ev->ts_ns);
    x->events[k] = ev->type == DJS_EV_JOB_SUBMITTED ? 1 : x->events[k] + 1;
    x->accepted++;
    fields_t s = from_state(x, k), v = from_view(&x->views[k]);
    same(x, &s, &v, ev->seq, k, "in memory");
    expect(x, ev->seq, k);
    if (x->accepted % CHECK_ALL_EVERY == 0)
        for (uint32_t i = 0; i < x->njobs; i++)
            expect(x, ev->seq, i);
}

static void refuse(fold_t *x, uint32_t k, const djs_event_t *ev, int rc_state, int rc_view, const fields_t *before,
                   const snap_t *snap)
{
    snap_t after;
    take_snap(x, k, &after, snap->digested);
    FREQ(x, memcmp(snap, &after, sizeof(after)) == 0, "a refused %s (%s) changed the projection", djs_event_type_name(ev->type),
         djs_err_name(rc_state));
    FREQ(x, rc_view == rc_state, "a %s for job %u: the projection says %s, the view %s", djs_event_type_name(ev->type), k,
         djs_err_name(rc_state), djs_err_name(rc_view));
    fields_t v = from_view(&x->views[k]);
    same(x, before, &v, ev->seq, k, "after a refusal");
    x->refused++;
    x->by_code[rc_state == DJS_ECONFLICT ? 0 : rc_state == DJS_ENOTFOUND ? 1 : rc_state == DJS_EEXISTS ? 2 : 3]++;
}

static void step(fold_t *x)
{
    x->now += 1 + rnd(x, 3 * SEC / 1000);
    int submit = rnd(x, 8) == 0;
    uint32_t k = pick_job(x, submit);
    const djs_job_t *j = djs_state_job(x->st, &x->jobs[k]);
    int type = submit ? DJS_EV_JOB_SUBMITTED : pick_type(x, j != NULL ? djs_state_job_pos(j) : DJS_JOB_SM_NONE);
    int unknown_worker = 0;
    uint8_t dep[16];
    djs_buf_reset(&x->body);
    if (type == DJS_EV_JOB_SUBMITTED) {
        djs_job_spec_t sp;
        random_spec(x, &sp, dep);
        djs_body_job_spec(&x->body, &sp, NULL, 0);
    } else {
        djs_job_change_t c;
        random_change(x, type, j, &c, &unknown_worker);
        djs_body_job_change(&x->body, type, &c);
    }
    djs_event_t ev;
    make_record(x, type, k, &ev);
    /* the whole state's digest is slow under ASan: every 16th step; the
     * job's record and the metrics every step */
    snap_t snap;
    take_snap(x, k, &snap, rnd(x, 16) == 0);
    fields_t before = from_view(&x->views[k]);
    int rc_state = djs_state_apply(x->st, &ev);
    /* whether a job.scheduled's worker exists only the whole state knows */
    if (type == DJS_EV_JOB_SCHEDULED && unknown_worker) {
        FREQ(x, rc_state != 0, "a job.scheduled to an unknown worker was accepted");
        return;
    }
    int rc_view = djs_job_view_apply(&x->views[k], &ev, x->rec.base, x->rec.len);
    if (rc_state == 0) {
        FREQ(x, rc_view == 0, "a %s for job %u: the projection accepts it, the view says %s", djs_event_type_name(type), k,
             djs_err_name(rc_view));
        take(x, k, &ev);
    } else {
        refuse(x, k, &ev, rc_state, rc_view, &before, &snap);
    }
}

/* ---- the run ---------------------------------------------------------------------- */

static void register_workers(fold_t *x)
{
    for (uint32_t i = 0; i < NWORKERS; i++) {
        djs_worker_info_t wi;
        memset(&wi, 0, sizeof(wi));
        char name[8];
        snprintf(name, sizeof(name), "w%u", i);
        wi.name = (djs_str_t){name, strlen(name)};
        wi.slots = 1000;
        x->workers[i] = make_id(2, i);
        djs_buf_reset(&x->body);
        djs_body_worker(&x->body, DJS_EV_WORKER_REGISTERED, &wi, NULL, 0);
        djs_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = DJS_EV_WORKER_REGISTERED;
        ev.actor = "fold";
        ev.actor_len = 4;
        ev.entity = x->workers[i];
        ev.body = x->body.base;
        ev.body_len = x->body.len;
        x->now += SEC / 1000;
        FREQ(x, djs_log_append(x->log, &ev) == 0, "append");
        FREQ(x, djs_state_apply(x->st, &ev) == 0, "registering a worker");
    }
}

/* Every expected answer, asked of the log through djs_job_view_at. */
static void check_log(fold_t *x)
{
    for (size_t i = 0; i < x->nexp; i++) {
        const expect_t *e = &x->exp[i];
        djs_job_view_t v;
        djs_job_view_init(&v);
        int rc = djs_job_view_at(x->log, &x->jobs[e->k], e->seq, &v);
        FREQ(x, rc == 0 || rc == DJS_ENOTFOUND, "djs_job_view_at(job %u, seq %llu) gave %s", e->k, (unsigned long long)e->seq,
             djs_err_name(rc));
        FREQ(x, (rc == 0) == (v.found != 0), "djs_job_view_at's code and found disagree");
        fields_t f = from_view(&v);
        same(x, &e->f, &f, e->seq, e->k, "from the log");
        djs_job_view_dispose(&v);
    }
}

static void run_seed(uint64_t seed)
{
    fold_t *x = calloc(1, sizeof(*x));
    x->seed = seed;
    fprintf(stderr, "jobfold seed %llu\n", (unsigned long long)seed); /* for any failure below */
    djs_rand_seed(x->rng, seed);
    x->now = 1700000000ULL * SEC;
    djs_buf_init(&x->body);
    djs_buf_init(&x->rec);
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.clock = fake_clock;
    o.clock_arg = &x->now;
    FREQ(x, djs_log_open(&x->log, tu_tmpdir(), &o) == 0, "opening the log");
    x->st = djs_state_new(NULL);
    register_workers(x);
    for (int i = 0; i < NSTEPS; i++)
        step(x);
    FREQ(x, djs_log_sync(x->log) == 0, "sync");
    check_log(x);
    /* the run reached every state, and refused events for each reason */
    const djs_metrics_t *m = djs_state_metrics(x->st);
    FREQ(x, m->completed > 0 && m->failed > 0 && m->cancelled > 0 && m->deleted > 0 && m->retried > 0, "a shallow run");
    FREQ(x, x->by_code[0] > 0 && x->by_code[1] > 0 && x->by_code[2] > 0, "a run without refusals of every kind");
    fprintf(stderr, "jobfold seed %llu: %llu accepted, %llu refused, %zu answers checked against the log\n",
            (unsigned long long)seed, (unsigned long long)x->accepted, (unsigned long long)x->refused, x->nexp);
    for (uint32_t k = 0; k < x->njobs; k++)
        djs_job_view_dispose(&x->views[k]);
    djs_state_free(x->st);
    djs_log_close(x->log);
    djs_buf_dispose(&x->body);
    djs_buf_dispose(&x->rec);
    free(x->exp);
    free(x);
}

START_TEST(projection_and_fold_agree)
{
    const char *env = getenv("DJS_JOBFOLD_SEED");
    if (env != NULL) {
        run_seed(strtoull(env, NULL, 10));
        return;
    }
    static const uint64_t seeds[] = {1, 2, 20250611};
    run_seed(seeds[_i]);
}
END_TEST

/* A refused event that is in the log anyway (a foreign or damaged log):
 * the replay and the one-job fold both stop at it with the same code. */
START_TEST(refused_in_log_stops_both)
{
    fold_t *x = calloc(1, sizeof(*x));
    x->seed = 0;
    x->now = 1700000000ULL * SEC;
    djs_buf_init(&x->body);
    djs_buf_init(&x->rec);
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.clock = fake_clock;
    o.clock_arg = &x->now;
    ck_assert_int_eq(djs_log_open(&x->log, tu_tmpdir(), &o), 0);
    x->jobs[0] = make_id(1, 0);
    djs_job_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.name = (djs_str_t){"a", 1};
    djs_body_job_spec(&x->body, &sp, NULL, 0);
    djs_event_t ev = {.type = DJS_EV_JOB_SUBMITTED, .actor = "t", .actor_len = 1, .entity = x->jobs[0]};
    ev.body = x->body.base;
    ev.body_len = x->body.len;
    x->now += SEC;
    ck_assert_int_eq(djs_log_append(x->log, &ev), 0);
    djs_job_change_t c;
    memset(&c, 0, sizeof(c));
    djs_buf_reset(&x->body);
    djs_body_job_change(&x->body, DJS_EV_JOB_SUCCEEDED, &c); /* QUEUED cannot succeed */
    ev = (djs_event_t){.type = DJS_EV_JOB_SUCCEEDED, .actor = "t", .actor_len = 1, .entity = x->jobs[0]};
    ev.body = x->body.base;
    ev.body_len = x->body.len;
    x->now += SEC;
    ck_assert_int_eq(djs_log_append(x->log, &ev), 0);
    ck_assert_int_eq(djs_log_sync(x->log), 0);
    djs_job_view_t v;
    djs_job_view_init(&v);
    ck_assert_int_eq(djs_job_view_at(x->log, &x->jobs[0], 1, &v), 0);
    ck_assert_int_eq(v.state, DJS_JOB_QUEUED);
    djs_job_view_dispose(&v);
    djs_job_view_init(&v);
    ck_assert_int_eq(djs_job_view_at(x->log, &x->jobs[0], 2, &v), DJS_ECONFLICT);
    ck_assert_int_eq(v.state, DJS_JOB_QUEUED); /* unchanged by the refused event */
    djs_job_view_dispose(&v);
    djs_state_t *st = NULL;
    ck_assert_int_eq(djs_state_at(x->log, NULL, 1, &st), 0);
    djs_state_free(st);
    st = djs_state_new(NULL);
    uint64_t applied = 0, bad = 0;
    int err = 0;
    ck_assert_int_ne(djs_state_replay(st, x->log, 1, 2, &applied, &bad, &err), 0);
    ck_assert_uint_eq(bad, 2);
    ck_assert_int_eq(err, DJS_ECONFLICT);
    djs_state_free(st);
    djs_log_close(x->log);
    djs_buf_dispose(&x->body);
    djs_buf_dispose(&x->rec);
    free(x);
}
END_TEST

static Suite *jobfold_suite(void)
{
    Suite *s = suite_create("jobfold");
    TCase *tc = tcase_create("jobfold");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, projection_and_fold_agree, 0, getenv("DJS_JOBFOLD_SEED") != NULL ? 1 : 3);
    tcase_add_test(tc, refused_in_log_stops_both);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(jobfold_suite)

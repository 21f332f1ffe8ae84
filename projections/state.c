#include "projections/state.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/heap.h"
#include "core/idx.h"
#include "projections/state_internal.h"

const double djs_hist_bounds[DJS_HIST_BUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600};

/* ---- hashing callbacks for the indexes -------------------------------------- */

#define id_hash djs__id_hash

static uint64_t job_hash_cb(void *ctx, uint32_t slot)
{
    return id_hash(&((djs_state_t *)ctx)->jobs[slot].id);
}

static int job_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    return memcmp(((djs_state_t *)ctx)->jobs[slot].id.b, key, 16) == 0;
}

static uint64_t worker_hash_cb(void *ctx, uint32_t slot)
{
    return id_hash(&((djs_state_t *)ctx)->workers[slot].id);
}

static int worker_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    return memcmp(((djs_state_t *)ctx)->workers[slot].id.b, key, 16) == 0;
}

static uint64_t wname_hash_cb(void *ctx, uint32_t slot)
{
    const char *n = ((djs_state_t *)ctx)->workers[slot].name;
    return djs_hash_bytes(n, strlen(n));
}

static int wname_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    const djs_str_t *k = key;
    const char *n = ((djs_state_t *)ctx)->workers[slot].name;
    return strlen(n) == k->len && memcmp(n, k->p, k->len) == 0;
}

static uint64_t str_hash_cb(void *ctx, uint32_t slot)
{
    djs_state_t *st = ctx;
    return djs_hash_bytes(st->strs[slot], st->str_lens[slot]);
}

static int str_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    djs_state_t *st = ctx;
    const djs_str_t *k = key;
    return st->str_lens[slot] == k->len && memcmp(st->strs[slot], k->p, k->len) == 0;
}

static uint64_t set_hash(const uint32_t *v, uint32_t n)
{
    return djs_hash_bytes(v, (uint64_t)n * sizeof(uint32_t));
}

static uint64_t set_hash_cb(void *ctx, uint32_t slot)
{
    djs_state_t *st = ctx;
    return set_hash(st->sets[slot].v, st->sets[slot].n);
}

static int set_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    djs_state_t *st = ctx;
    const capset_t *k = key;
    return st->sets[slot].n == k->n && (k->n == 0 || memcmp(st->sets[slot].v, k->v, k->n * sizeof(uint32_t)) == 0);
}

static uint64_t idem_hash_cb(void *ctx, uint32_t slot)
{
    return ((djs_state_t *)ctx)->idem[slot].h;
}

static int idem_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    return memcmp(((djs_state_t *)ctx)->idem[slot].d, key, DJS__IDEM_DIGEST) == 0;
}

/* ---- life cycle ----------------------------------------------------------------- */

void djs_state_config_init(djs_state_config_t *c)
{
    c->max_terminal = 100000;
    c->max_terminal_age = 3600ULL * 1000000000ULL;
    djs_weights_default(&c->weights);
    c->idem_hash = NULL;
}

djs_state_t *djs_state_new(const djs_state_config_t *c)
{
    djs_state_t *st = djs_calloc(1, sizeof(*st));
    if (c != NULL)
        st->cfg = *c;
    else
        djs_state_config_init(&st->cfg);
    djs_idx_init(&st->job_idx, job_hash_cb, job_eq_cb, st);
    djs_idx_init(&st->worker_idx, worker_hash_cb, worker_eq_cb, st);
    djs_idx_init(&st->wname_idx, wname_hash_cb, wname_eq_cb, st);
    djs_idx_init(&st->str_idx, str_hash_cb, str_eq_cb, st);
    djs_idx_init(&st->set_idx, set_hash_cb, set_eq_cb, st);
    djs_idx_init(&st->idem_idx, idem_hash_cb, idem_eq_cb, st);
    djs_heap_init(&st->timers, &st->tpos);
    /* SHA-256 is always there: failing to get it is out of memory, which aborts (STYLE.md) */
    if ((st->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL || (st->md_ctx = EVP_MD_CTX_new()) == NULL)
        abort();
    /* set 0 is the empty capability set */
    capset_t empty = {NULL, 0};
    djs__state_intern_set(st, &empty);
    st->sched = djs__sched_new();
    return st;
}

void djs_state_free(djs_state_t *st)
{
    if (st == NULL)
        return;
    for (uint32_t i = 0; i < st->nworkers; i++) {
        djs_free(st->workers[i].name);
        djs_free(st->workers[i].host);
        djs_free(st->workers[i].addr);
        djs_free(st->workers[i].tags);
        djs_free(st->workers[i].jobs);
    }
    for (uint32_t i = 0; i < st->nstrs; i++)
        djs_free(st->strs[i]);
    for (uint32_t i = 0; i < st->nsets; i++) {
        djs_free(st->sets[i].v);
        if (st->classes[i] != NULL) {
            for (int t = 0; t < DJS_NPRIO; t++)
                djs_heap_dispose(&st->classes[i]->tiers[t]);
            djs_heap_dispose(&st->classes[i]->workers);
            djs_free(st->classes[i]->wpos);
            djs_free(st->classes[i]);
        }
    }
    for (uint32_t i = 0; i < st->ndeplists; i++) {
        djs_free(st->deplists[i].v);
        djs_free(st->deplists[i].seq);
    }
    djs_free(st->deplists);
    djs_free(st->free_deplists);
    for (uint32_t i = 0; i < st->nckeys; i++) {
        for (uint32_t p = 0; p < st->ckeys[i].nparks; p++)
            djs_heap_dispose(&st->ckeys[i].parks[p].jobs);
        djs_free(st->ckeys[i].parks);
        djs_free(st->ckeys[i].holders);
    }
    djs_free(st->ckeys);
    djs_free(st->str_ckey);
    djs_free(st->room);
    djs_free(st->classes);
    djs_free(st->active_classes);
    djs_free(st->sets);
    djs_free(st->strs);
    djs_free(st->str_lens);
    djs_free(st->workers);
    djs_free(st->jobs);
    djs_free(st->free_jobs);
    djs_free(st->jpos);
    djs_free(st->tpos);
    djs_free(st->term);
    djs_free(st->idem);
    djs_free(st->free_idem);
    djs_heap_dispose(&st->timers);
    djs_idx_dispose(&st->job_idx);
    djs_idx_dispose(&st->worker_idx);
    djs_idx_dispose(&st->wname_idx);
    djs_idx_dispose(&st->str_idx);
    djs_idx_dispose(&st->set_idx);
    djs_idx_dispose(&st->idem_idx);
    EVP_MD_CTX_free(st->md_ctx);
    EVP_MD_free(st->sha256);
    djs__sched_free(st->sched);
    djs_free(st);
}

/* ---- interning ---------------------------------------------------------------- */

uint32_t djs__state_intern_str(djs_state_t *st, const char *p, size_t len)
{
    djs_str_t k = {p, len};
    uint64_t h = djs_hash_bytes(p, len);
    uint32_t s = djs_idx_find(&st->str_idx, h, &k);
    if (s != DJS_IDX_NONE)
        return s;
    if (st->nstrs == st->cap_strs) {
        st->cap_strs = st->cap_strs ? st->cap_strs * 2 : 64;
        st->strs = djs_realloc(st->strs, st->cap_strs * sizeof(char *));
        st->str_lens = djs_realloc(st->str_lens, st->cap_strs * sizeof(size_t));
    }
    s = st->nstrs++;
    st->strs[s] = djs_strndup(p, len);
    st->str_lens[s] = len;
    djs_idx_insert(&st->str_idx, h, s);
    return s;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

uint32_t djs__state_intern_set(djs_state_t *st, const capset_t *k)
{
    uint64_t h = set_hash(k->v, k->n);
    uint32_t s = djs_idx_find(&st->set_idx, h, k);
    if (s != DJS_IDX_NONE)
        return s;
    if (st->nsets == st->cap_sets) {
        st->cap_sets = st->cap_sets ? st->cap_sets * 2 : 16;
        st->sets = djs_realloc(st->sets, st->cap_sets * sizeof(capset_t));
        st->classes = djs_realloc(st->classes, st->cap_sets * sizeof(class_t *));
    }
    s = st->nsets++;
    st->sets[s].n = k->n;
    st->sets[s].v = djs_malloc((k->n ? k->n : 1) * sizeof(uint32_t));
    if (k->n)
        memcpy(st->sets[s].v, k->v, k->n * sizeof(uint32_t));
    st->classes[s] = NULL;
    djs_idx_insert(&st->set_idx, h, s);
    return s;
}

/* Intern a capability list as a sorted set of interned names (duplicates dropped). */
static uint32_t intern_caps(djs_state_t *st, const djs_strlist_t *l)
{
    uint32_t v[DJS_JOB_MAX_CAPS], n = 0;
    size_t off = 0;
    djs_str_t s;
    while (n < DJS_JOB_MAX_CAPS && djs_strlist_next(l, &off, &s))
        v[n++] = djs__state_intern_str(st, s.p, s.len);
    qsort(v, n, sizeof(uint32_t), cmp_u32);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i])
            v[m++] = v[i];
    capset_t k = {v, m};
    return djs__state_intern_set(st, &k);
}

int djs_state_class_fits(djs_state_t *st, uint32_t cls, uint32_t wcaps)
{
    const capset_t *need = &st->sets[cls], *have = &st->sets[wcaps];
    uint32_t i = 0, j = 0;
    while (i < need->n) {
        while (j < have->n && have->v[j] < need->v[i])
            j++;
        if (j == have->n || have->v[j] != need->v[i])
            return 0;
        i++;
    }
    return 1;
}

/* ---- workers and the balancer index ------------------------------------------------ */

static int worker_available(const djs_worker_t *w)
{
    return w->status == DJS_WORKER_ACTIVE && w->running < w->slots;
}

static uint64_t worker_key(const djs_worker_t *w)
{
    return 1000000u - w->score; /* min-heap: best score first; ties by lower slot */
}

/* Put worker slot ws in or out of class c's heap as its state says. */
static void class_worker_sync(djs_state_t *st, uint32_t c, uint32_t ws)
{
    class_t *cl = st->classes[c];
    djs_worker_t *w = &st->workers[ws];
    int want = worker_available(w) && djs_state_class_fits(st, c, w->caps);
    int in = cl->wpos[ws] != DJS_HEAP_NONE;
    if (want && !in)
        djs_heap_push(&cl->workers, worker_key(w), ws);
    else if (!want && in)
        djs_heap_remove(&cl->workers, ws);
    else if (want && in)
        djs_heap_update(&cl->workers, ws, worker_key(w));
}

static void grow_wpos(class_t *cl, uint32_t *cap, uint32_t need)
{
    if (need <= *cap)
        return;
    uint32_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    cl->wpos = djs_realloc(cl->wpos, n * sizeof(uint32_t));
    for (uint32_t i = *cap; i < n; i++)
        cl->wpos[i] = DJS_HEAP_NONE;
    *cap = n;
}

void djs__state_worker_refresh(djs_state_t *st, uint32_t ws)
{
    djs_worker_t *w = &st->workers[ws];
    w->score = djs_worker_score(&st->cfg.weights, w->cpu_pm, w->mem_pm, w->running, w->slots, w->resp_ms);
    for (uint32_t i = 0; i < st->nactive; i++) {
        uint32_t c = st->active_classes[i];
        grow_wpos(st->classes[c], &st->classes[c]->wpos_cap, st->nworkers);
        class_worker_sync(st, c, ws);
    }
}

/* Make set c a job class with its queues and worker heap. */
class_t *djs__state_class_get(djs_state_t *st, uint32_t c)
{
    if (st->classes[c] != NULL)
        return st->classes[c];
    class_t *cl = djs_calloc(1, sizeof(*cl));
    st->classes[c] = cl;
    for (int t = 0; t < DJS_NPRIO; t++)
        djs_heap_init(&cl->tiers[t], &st->jpos);
    djs_heap_init(&cl->workers, &cl->wpos);
    grow_wpos(cl, &cl->wpos_cap, st->nworkers);
    if (st->nactive == st->cap_active) {
        st->cap_active = st->cap_active ? st->cap_active * 2 : 16;
        st->active_classes = djs_realloc(st->active_classes, st->cap_active * sizeof(uint32_t));
    }
    st->active_classes[st->nactive++] = c;
    for (uint32_t ws = 0; ws < st->nworkers; ws++)
        class_worker_sync(st, c, ws);
    return cl;
}

static void metrics_workers(djs_state_t *st, const djs_worker_t *w, int sign)
{
    djs_metrics_t *m = &st->metrics;
    if (w->status == DJS_WORKER_ACTIVE) {
        m->workers_active += sign;
        m->slots_total += sign * (int64_t)w->slots;
        m->slots_busy += sign * (int64_t)w->running;
    } else if (w->status == DJS_WORKER_DRAINING) {
        m->workers_draining += sign;
    } else if (w->status == DJS_WORKER_LOST) {
        m->workers_lost += sign;
    }
}

/* ---- jobs: slots, queues, timers ---------------------------------------------------- */

static void grow_pos(uint32_t **pos, uint32_t old, uint32_t n)
{
    *pos = djs_realloc(*pos, n * sizeof(uint32_t));
    for (uint32_t i = old; i < n; i++)
        (*pos)[i] = DJS_HEAP_NONE;
}

static uint32_t job_alloc(djs_state_t *st)
{
    uint32_t s;
    if (st->nfree_jobs > 0) {
        s = st->free_jobs[--st->nfree_jobs];
    } else {
        if (st->njobs == st->cap_jobs) {
            uint32_t old = st->cap_jobs;
            st->cap_jobs = old ? old * 2 : 1024;
            st->jobs = djs_realloc(st->jobs, st->cap_jobs * sizeof(djs_job_t));
            grow_pos(&st->jpos, old, st->cap_jobs);
            grow_pos(&st->tpos, old, st->cap_jobs);
        }
        s = st->njobs++;
    }
    memset(&st->jobs[s], 0, sizeof(djs_job_t));
    st->jobs[s].worker = DJS_NONE;
    st->jobs[s].dependents = DJS_NONE;
    st->jobs[s].ckey = DJS_NONE;
    st->live_jobs++;
    return s;
}

static void set_state(djs_state_t *st, djs_job_t *j, int s)
{
    st->metrics.by_state[j->state]--;
    st->metrics.by_state[s]++;
    j->state = (uint8_t)s;
}

/* ---- concurrency keys ------------------------------------------------------------------------ */

uint32_t djs__state_ckey(djs_state_t *st, uint32_t str)
{
    if (str >= st->nstr_ckey) {
        uint32_t n = st->nstr_ckey ? st->nstr_ckey : 64;
        while (n <= str)
            n *= 2;
        st->str_ckey = djs_realloc(st->str_ckey, n * sizeof(uint32_t));
        for (uint32_t i = st->nstr_ckey; i < n; i++)
            st->str_ckey[i] = DJS_NONE;
        st->nstr_ckey = n;
    }
    if (st->str_ckey[str] != DJS_NONE)
        return st->str_ckey[str];
    if (st->nckeys == st->cap_ckeys) {
        st->cap_ckeys = st->cap_ckeys ? st->cap_ckeys * 2 : 16;
        st->ckeys = djs_realloc(st->ckeys, st->cap_ckeys * sizeof(ckey_t));
    }
    uint32_t k = st->nckeys++;
    memset(&st->ckeys[k], 0, sizeof(ckey_t));
    st->ckeys[k].str = str;
    st->str_ckey[str] = k;
    return k;
}

/* The parked group of job j (key, tier, limit); created if `create`, else NULL when none. */
static park_t *park_group(djs_state_t *st, const djs_job_t *j, int create)
{
    ckey_t *k = &st->ckeys[j->ckey];
    for (uint32_t i = 0; i < k->nparks; i++) {
        park_t *p = &k->parks[i];
        if (p->cls == j->cls && p->prio == j->prio && p->limit == j->climit)
            return p;
    }
    if (!create)
        return NULL;
    if (k->nparks == k->cap_parks) {
        k->cap_parks = k->cap_parks ? k->cap_parks * 2 : 2;
        k->parks = djs_realloc(k->parks, k->cap_parks * sizeof(park_t));
    }
    park_t *p = &k->parks[k->nparks++];
    p->cls = j->cls;
    p->limit = j->climit;
    p->prio = j->prio;
    djs_heap_init(&p->jobs, &st->jpos);
    return p;
}

static int ckey_full(const djs_state_t *st, const djs_job_t *j)
{
    return j->ckey != DJS_NONE && st->ckeys[j->ckey].held >= j->climit;
}

/* Set aside s, the head of its tier: its key is at its limit. */
static void park(djs_state_t *st, uint32_t s)
{
    djs_job_t *j = &st->jobs[s];
    djs_heap_remove(&st->classes[j->cls]->tiers[j->prio], s);
    djs_heap_push(&park_group(st, j, 1)->jobs, j->ready_key, s);
    j->parked = 1;
}

/* Put the first job of a parked group back into its tier. */
static void unpark_first(djs_state_t *st, park_t *p)
{
    uint32_t s;
    if (djs_heap_peek(&p->jobs, NULL, &s) != 0)
        return;
    djs_heap_remove(&p->jobs, s);
    djs_job_t *j = &st->jobs[s];
    j->parked = 0;
    djs_heap_push(&st->classes[j->cls]->tiers[j->prio], j->ready_key, s);
}

void djs__state_ckey_hold(djs_state_t *st, uint32_t s)
{
    ckey_t *k = &st->ckeys[st->jobs[s].ckey];
    if (k->held == k->cap_holders) {
        k->cap_holders = k->cap_holders ? k->cap_holders * 2 : 4;
        k->holders = djs_realloc(k->holders, k->cap_holders * sizeof(uint32_t));
    }
    k->holders[k->held++] = s;
}

/* Job s leaves SCHEDULED/RUNNING: it no longer holds its key. The groups
 * the key no longer fills get their first parked job back at the next
 * placement (unpark_room): once per key however many holders left
 * meanwhile, where doing it here, per release, would unpark a job per
 * group and release only for placement to park most of them again. */
static void ckey_release(djs_state_t *st, uint32_t s)
{
    uint32_t kx = st->jobs[s].ckey;
    ckey_t *k = &st->ckeys[kx];
    for (uint32_t i = 0; i < k->held; i++) {
        if (k->holders[i] == s) {
            k->holders[i] = k->holders[--k->held];
            break;
        }
    }
    if (k->in_room || k->nparks == 0)
        return;
    if (st->nroom == st->cap_room) {
        st->cap_room = st->cap_room ? st->cap_room * 2 : 16;
        st->room = djs_realloc(st->room, st->cap_room * sizeof(uint32_t));
    }
    st->room[st->nroom++] = kx;
    k->in_room = 1;
}

/* Before a placement: restore the invariant (state.h) for the keys released
 * since the last one. */
static void unpark_room(djs_state_t *st)
{
    for (uint32_t r = 0; r < st->nroom; r++) {
        ckey_t *k = &st->ckeys[st->room[r]];
        k->in_room = 0;
        for (uint32_t i = 0; i < k->nparks; i++)
            if (k->parks[i].limit > k->held)
                unpark_first(st, &k->parks[i]);
    }
    st->nroom = 0;
}

static void ready_push(djs_state_t *st, uint32_t s, uint64_t seq, uint64_t ts)
{
    djs_job_t *j = &st->jobs[s];
    j->ready_key = seq;
    j->queued_ns = ts;
    djs_heap_push(&djs__state_class_get(st, j->cls)->tiers[j->prio], seq, s);
    st->metrics.ready[j->prio]++;
}

static void ready_remove(djs_state_t *st, uint32_t s)
{
    djs_job_t *j = &st->jobs[s];
    if (st->jpos[s] == DJS_HEAP_NONE)
        return;
    st->metrics.ready[j->prio]--;
    if (j->parked) {
        djs_heap_remove(&park_group(st, j, 0)->jobs, s);
        j->parked = 0;
        return;
    }
    djs_heap_remove(&st->classes[j->cls]->tiers[j->prio], s);
    if (j->ckey != DJS_NONE && !ckey_full(st, j)) {
        /* the earliest of its group left the tier: the next one must be there */
        park_t *p = park_group(st, j, 0);
        if (p != NULL)
            unpark_first(st, p);
    }
}

static int timer_delays(int kind)
{
    return kind == DJS_TIMER_DUE || kind == DJS_TIMER_RETRY;
}

void djs__state_set_timer(djs_state_t *st, uint32_t s, int kind, uint64_t deadline)
{
    djs_job_t *j = &st->jobs[s];
    if (st->tpos[s] != DJS_HEAP_NONE) {
        djs_heap_remove(&st->timers, s);
        if (timer_delays(j->timer_kind))
            st->metrics.delayed--;
    }
    j->timer_kind = (uint8_t)kind;
    if (kind != DJS_TIMER_NONE) {
        j->deadline_ns = deadline;
        djs_heap_push(&st->timers, deadline, s);
        if (timer_delays(kind))
            st->metrics.delayed++;
    }
}

static void worker_add_job(djs_state_t *st, uint32_t ws, uint32_t s)
{
    djs_worker_t *w = &st->workers[ws];
    if (w->njobs == w->cap_jobs) {
        w->cap_jobs = w->cap_jobs ? w->cap_jobs * 2 : 4;
        w->jobs = djs_realloc(w->jobs, w->cap_jobs * sizeof(uint32_t));
    }
    w->jobs[w->njobs++] = s;
    metrics_workers(st, w, -1);
    w->running++;
    metrics_workers(st, w, +1);
    djs__state_worker_refresh(st, ws);
}

static void release_worker(djs_state_t *st, uint32_t s)
{
    djs_job_t *j = &st->jobs[s];
    if (j->worker == DJS_NONE)
        return;
    djs_worker_t *w = &st->workers[j->worker];
    for (uint32_t i = 0; i < w->njobs; i++) {
        if (w->jobs[i] == s) {
            w->jobs[i] = w->jobs[--w->njobs];
            break;
        }
    }
    metrics_workers(st, w, -1);
    if (w->running > 0)
        w->running--;
    metrics_workers(st, w, +1);
    uint32_t ws = j->worker;
    j->worker = DJS_NONE;
    if (j->ckey != DJS_NONE)
        ckey_release(st, s);
    djs__state_worker_refresh(st, ws);
}

static void hist_add(djs_hist_t *h, uint64_t ns)
{
    double s = ns / 1e9;
    int b = 0;
    while (b < DJS_HIST_BUCKETS && s > djs_hist_bounds[b])
        b++;
    h->count[b]++;
    h->n++;
    h->sum += s;
}

/* ---- dependents lists ------------------------------------------------------------------ */

void djs__state_add_dependent(djs_state_t *st, djs_job_t *dep, uint32_t s)
{
    if (dep->dependents == DJS_NONE) {
        if (st->nfree_deplists > 0) {
            dep->dependents = st->free_deplists[--st->nfree_deplists];
        } else {
            if (st->ndeplists == st->cap_deplists) {
                st->cap_deplists = st->cap_deplists ? st->cap_deplists * 2 : 64;
                st->deplists = djs_realloc(st->deplists, st->cap_deplists * sizeof(deplist_t));
            }
            dep->dependents = st->ndeplists++;
            st->deplists[dep->dependents] = (deplist_t){NULL, NULL, 0, 0};
        }
    }
    deplist_t *l = &st->deplists[dep->dependents];
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 2;
        l->v = djs_realloc(l->v, l->cap * sizeof(uint32_t));
        l->seq = djs_realloc(l->seq, l->cap * sizeof(uint64_t));
    }
    l->v[l->n] = s;
    l->seq[l->n] = st->jobs[s].submit_seq;
    l->n++;
}

static void free_dependents(djs_state_t *st, djs_job_t *j)
{
    if (j->dependents == DJS_NONE)
        return;
    deplist_t *l = &st->deplists[j->dependents];
    l->n = 0;
    if (st->nfree_deplists == st->cap_free_deplists) {
        st->cap_free_deplists = st->cap_free_deplists ? st->cap_free_deplists * 2 : 64;
        st->free_deplists = djs_realloc(st->free_deplists, st->cap_free_deplists * sizeof(uint32_t));
    }
    st->free_deplists[st->nfree_deplists++] = j->dependents;
    j->dependents = DJS_NONE;
}

uint32_t djs_state_dependents(const djs_state_t *st, const djs_job_t *j, const uint32_t **list)
{
    if (j->dependents == DJS_NONE) {
        *list = NULL;
        return 0;
    }
    /* drop dependents removed since they were listed (their slot is free or
     * holds another job); order is kept, so when this happens does not matter */
    deplist_t *l = &st->deplists[j->dependents];
    uint32_t m = 0;
    for (uint32_t i = 0; i < l->n; i++) {
        const djs_job_t *d = l->v[i] < st->njobs ? &st->jobs[l->v[i]] : NULL;
        if (d != NULL && d->state < DJS_JOB_NSTATES && d->submit_seq == l->seq[i]) {
            l->v[m] = l->v[i];
            l->seq[m] = l->seq[i];
            m++;
        }
    }
    l->n = m;
    *list = l->v;
    return m;
}

/* ---- removal and the terminal window ----------------------------------------------------- */

void djs__state_remove_job(djs_state_t *st, uint32_t s)
{
    djs_job_t *j = &st->jobs[s];
    ready_remove(st, s);
    djs__state_set_timer(st, s, DJS_TIMER_NONE, 0);
    release_worker(st, s);
    free_dependents(st, j);
    if (j->idem != DJS_NONE) {
        djs_idx_remove(&st->idem_idx, st->idem[j->idem].h, j->idem);
        st->idem[j->idem].slot = DJS_NONE;
        if (st->nfree_idem == st->cap_free_idem) {
            st->cap_free_idem = st->cap_free_idem ? st->cap_free_idem * 2 : 64;
            st->free_idem = djs_realloc(st->free_idem, st->cap_free_idem * sizeof(uint32_t));
        }
        st->free_idem[st->nfree_idem++] = j->idem;
    }
    djs_idx_remove(&st->job_idx, id_hash(&j->id), s);
    if (djs_job_state_terminal(j->state))
        st->nterminal--;
    memset(j, 0, sizeof(*j));
    j->state = DJS_JOB_NSTATES; /* marks a free slot */
    if (st->nfree_jobs == st->cap_free_jobs) {
        st->cap_free_jobs = st->cap_free_jobs ? st->cap_free_jobs * 2 : 1024;
        st->free_jobs = djs_realloc(st->free_jobs, st->cap_free_jobs * sizeof(uint32_t));
    }
    st->free_jobs[st->nfree_jobs++] = s;
    st->live_jobs--;
}

static void term_push(djs_state_t *st, uint32_t s)
{
    if (st->term_n == st->term_cap) {
        uint32_t cap = st->term_cap ? st->term_cap * 2 : 1024;
        term_ent_t *t = djs_malloc(cap * sizeof(term_ent_t));
        for (uint32_t i = 0; i < st->term_n; i++)
            t[i] = st->term[(st->term_head + i) % st->term_cap];
        djs_free(st->term);
        st->term = t;
        st->term_cap = cap;
        st->term_head = 0;
    }
    st->term[(st->term_head + st->term_n) % st->term_cap] = (term_ent_t){s, st->jobs[s].last_seq};
    st->term_n++;
    st->nterminal++;
}

/* Evict COMPLETED/CANCELLED jobs beyond the window. Uses event time only. */
static void evict(djs_state_t *st, uint64_t now_ts)
{
    while (st->term_n > 0) {
        term_ent_t e = st->term[st->term_head];
        djs_job_t *j = &st->jobs[e.slot];
        int stale = j->state >= DJS_JOB_NSTATES || j->last_seq != e.seq || !djs_job_state_terminal(j->state);
        if (!stale) {
            int over = st->nterminal > st->cfg.max_terminal;
            int old = j->finished_ns + st->cfg.max_terminal_age < now_ts;
            if (!over && !old)
                break;
            djs__state_remove_job(st, e.slot);
        }
        st->term_head = (st->term_head + 1) % st->term_cap;
        st->term_n--;
    }
}

static void finish(djs_state_t *st, uint32_t s, int state, uint64_t ts)
{
    djs_job_t *j = &st->jobs[s];
    ready_remove(st, s);
    djs__state_set_timer(st, s, DJS_TIMER_NONE, 0);
    release_worker(st, s);
    set_state(st, j, state);
    j->finished_ns = ts;
    if (djs_job_state_terminal(state))
        term_push(st, s);
}

/* ---- apply: jobs ------------------------------------------------------------------------------ */

void djs__idem_add(djs_state_t *st, uint32_t s, const uint8_t d[DJS__IDEM_DIGEST])
{
    uint32_t k;
    if (st->nfree_idem > 0) {
        k = st->free_idem[--st->nfree_idem];
    } else {
        if (st->nidem == st->cap_idem) {
            st->cap_idem = st->cap_idem ? st->cap_idem * 2 : 64;
            st->idem = djs_realloc(st->idem, st->cap_idem * sizeof(idem_t));
        }
        k = st->nidem++;
    }
    memcpy(st->idem[k].d, d, DJS__IDEM_DIGEST);
    st->idem[k].h = djs__idem_index_hash(st, d);
    st->idem[k].slot = s;
    djs_idx_insert(&st->idem_idx, st->idem[k].h, k);
    st->jobs[s].idem = k;
}

static void idem_add(djs_state_t *st, uint32_t s, const djs_job_spec_t *sp)
{
    uint8_t d[DJS__IDEM_DIGEST];
    djs__idem_digest(st, sp->owner.p, sp->owner.len, sp->idem_key.p, sp->idem_key.len, d);
    djs__idem_add(st, s, d);
}

static void add_deps(djs_state_t *st, uint32_t s, const djs_job_spec_t *sp)
{
    djs_job_t *j = &st->jobs[s];
    for (uint32_t i = 0; i < sp->ndeps; i++) {
        djs_id_t d;
        memcpy(d.b, sp->deps + 16 * i, 16);
        uint32_t ds = djs_idx_find(&st->job_idx, id_hash(&d), d.b);
        /* a dependency no longer in memory was evicted, so it COMPLETED
         * (the engine refuses dependencies that were cancelled or failed) */
        if (ds != DJS_IDX_NONE && st->jobs[ds].state != DJS_JOB_COMPLETED) {
            j->unmet++;
            djs__state_add_dependent(st, &st->jobs[ds], s);
        }
    }
}

static int apply_submitted(djs_state_t *st, const djs_event_t *ev)
{
    djs_job_spec_t sp;
    int rc = djs_body_read_job_spec(ev->body, ev->body_len, &sp);
    if (rc != 0)
        return rc;
    uint32_t old = djs_idx_find(&st->job_idx, id_hash(&ev->entity), ev->entity.b);
    if ((rc = djs_job_event_check(ev->type, old == DJS_IDX_NONE ? DJS_JOB_SM_NONE : djs_state_job_pos(&st->jobs[old]))) != 0)
        return rc;
    uint32_t s = job_alloc(st);
    djs_job_t *j = &st->jobs[s];
    j->id = ev->entity;
    j->submit_seq = j->last_seq = ev->seq;
    j->created_ns = ev->ts_ns;
    j->prio = sp.priority;
    j->timeout_s = sp.timeout_s;
    j->max_retries = (uint16_t)(sp.max_retries > 0xffff ? 0xffff : sp.max_retries);
    j->owner = djs__state_intern_str(st, sp.owner.p, sp.owner.len);
    j->cls = intern_caps(st, &sp.caps);
    j->idem = DJS_NONE;
    if (sp.ckey.len > 0) {
        j->ckey = djs__state_ckey(st, djs__state_intern_str(st, sp.ckey.p, sp.ckey.len));
        j->climit = sp.climit > 0 ? sp.climit : 1;
    }
    j->state = DJS_JOB_CREATED;
    st->metrics.by_state[DJS_JOB_CREATED]++;
    st->metrics.submitted++;
    djs_idx_insert(&st->job_idx, id_hash(&j->id), s);
    djs__state_class_get(st, j->cls);
    add_deps(st, s, &sp);
    if (sp.idem_key.len > 0)
        idem_add(st, s, &sp);
    j = &st->jobs[s];
    if (djs_job_event_next(ev->type, DJS_JOB_SM_NONE, djs_job_spec_alt(&sp, ev->ts_ns)) == DJS_JOB_QUEUED) {
        set_state(st, j, DJS_JOB_QUEUED);
        ready_push(st, s, ev->seq, ev->ts_ns);
    } else {
        j->deadline_ns = sp.scheduled_at;
        if (j->unmet == 0)
            djs__state_set_timer(st, s, DJS_TIMER_DUE, sp.scheduled_at);
    }
    return 0;
}

/* One job event being applied: what the table and the checks found. */
typedef struct job_ev {
    uint32_t s; /* the job's slot */
    const djs_event_t *ev;
    djs_job_change_t c; /* its body */
    uint32_t ws;        /* job.scheduled: the worker's slot */
    int next;           /* the position core/job.h's table leads to */
} job_ev_t;

/* The job state the event leads to. */
static int next_state(const job_ev_t *x)
{
    return djs_job_sm_state(x->next);
}

static void on_queued(djs_state_t *st, job_ev_t *x)
{
    djs__state_set_timer(st, x->s, DJS_TIMER_NONE, 0);
    set_state(st, &st->jobs[x->s], next_state(x));
    ready_push(st, x->s, x->ev->seq, x->ev->ts_ns);
}

static int check_scheduled(djs_state_t *st, job_ev_t *x)
{
    x->ws = djs_idx_find(&st->worker_idx, id_hash(&x->c.worker), x->c.worker.b);
    return x->ws == DJS_IDX_NONE ? DJS_ENOTFOUND : 0;
}

static void on_scheduled(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    if (j->ckey != DJS_NONE)
        djs__state_ckey_hold(st, x->s); /* first: leaving the tier, it already counts */
    ready_remove(st, x->s);
    hist_add(&st->metrics.wait, x->ev->ts_ns - j->queued_ns);
    set_state(st, j, next_state(x));
    j->attempt = x->c.attempt;
    j->out_recv = 0;
    j->worker = x->ws;
    worker_add_job(st, x->ws, x->s);
    djs__state_set_timer(st, x->s, DJS_TIMER_LEASE, x->c.lease);
}

static void on_started(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    set_state(st, j, next_state(x));
    j->started_ns = x->ev->ts_ns;
    j->percent = 0;
    if (j->timeout_s > 0)
        djs__state_set_timer(st, x->s, DJS_TIMER_TIMEOUT, x->ev->ts_ns + (uint64_t)j->timeout_s * 1000000000ULL);
    else
        djs__state_set_timer(st, x->s, DJS_TIMER_NONE, 0);
}

static void on_progress(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    j->percent = (uint8_t)x->c.percent;
    j->progress_seq = x->ev->seq;
}

static int check_output(djs_state_t *st, job_ev_t *x)
{
    const djs_job_t *j = &st->jobs[x->s];
    const djs_job_change_t *c = &x->c;
    if (c->out_offset != j->out_len || c->out_len > UINT32_MAX - j->out_len || c->out_recv < j->out_recv)
        return DJS_ECONFLICT; /* chunks follow each other */
    return 0;
}

static void on_output(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    j->out_len += x->c.out_len;
    j->out_recv = x->c.out_recv;
}

static void on_succeeded(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    hist_add(&st->metrics.run, x->ev->ts_ns - j->started_ns);
    j->percent = 100;
    st->metrics.completed++;
    const uint32_t *deps;
    uint32_t n = djs_state_dependents(st, j, &deps);
    /* unmet stays exact even for dependents that no longer wait (failed
     * upstream, cancelled): a manual retry of an upstream-failed job
     * needs every dependency completed, and asks unmet */
    for (uint32_t i = 0; i < n; i++) {
        djs_job_t *d = &st->jobs[deps[i]];
        if (d->unmet > 0 && --d->unmet == 0 && d->state == DJS_JOB_CREATED)
            djs__state_set_timer(st, deps[i], DJS_TIMER_DUE, d->deadline_ns);
    }
    free_dependents(st, j);
    finish(st, x->s, next_state(x), x->ev->ts_ns);
}

static void fail_attempt(djs_state_t *st, job_ev_t *x, int reason)
{
    djs_job_t *j = &st->jobs[x->s];
    int infra = reason == DJS_FAIL_WORKER_LOST || reason == DJS_FAIL_LEASE_EXPIRED;
    if (j->state == DJS_JOB_RUNNING)
        hist_add(&st->metrics.run, x->ev->ts_ns - j->started_ns);
    release_worker(st, x->s);
    if (infra)
        j->infra++;
    else
        j->failures++;
    if (x->next == DJS_JOB_SM_RETRY_WAIT) {
        set_state(st, j, next_state(x));
        djs__state_set_timer(st, x->s, DJS_TIMER_RETRY, x->c.retry_at);
    } else {
        j->fail_reason = (uint8_t)reason;
        st->metrics.failed++;
        finish(st, x->s, next_state(x), x->ev->ts_ns);
    }
}

static void on_failed(djs_state_t *st, job_ev_t *x)
{
    int reason = djs_fail_reason_parse(x->c.reason.p, x->c.reason.len);
    fail_attempt(st, x, reason < 0 ? DJS_FAIL_ERROR : reason);
}

static void on_timed_out(djs_state_t *st, job_ev_t *x)
{
    st->metrics.timed_out++;
    fail_attempt(st, x, DJS_FAIL_TIMEOUT);
}

static void on_lease_expired(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    st->metrics.lease_expired++;
    release_worker(st, x->s);
    j->infra++;
    set_state(st, j, next_state(x));
    djs__state_set_timer(st, x->s, DJS_TIMER_NONE, 0);
    ready_push(st, x->s, x->ev->seq, x->ev->ts_ns);
}

static void on_cancelled(djs_state_t *st, job_ev_t *x)
{
    st->metrics.cancelled++;
    finish(st, x->s, next_state(x), x->ev->ts_ns);
}

static void on_upstream_failed(djs_state_t *st, job_ev_t *x)
{
    st->metrics.upstream_failed++;
    st->metrics.failed++;
    st->jobs[x->s].fail_reason = DJS_FAIL_UPSTREAM;
    finish(st, x->s, next_state(x), x->ev->ts_ns);
}

static void on_retried(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    st->metrics.retried++;
    j->failures = 0;
    j->infra = 0;
    set_state(st, j, next_state(x));
    j->finished_ns = 0;
    ready_push(st, x->s, x->ev->seq, x->ev->ts_ns);
}

static void on_updated(djs_state_t *st, job_ev_t *x)
{
    djs_job_t *j = &st->jobs[x->s];
    const djs_job_change_t *c = &x->c;
    if (c->has_priority && c->priority != j->prio) {
        int ready = st->jpos[x->s] != DJS_HEAP_NONE;
        uint64_t key = j->ready_key, qns = j->queued_ns;
        if (ready)
            ready_remove(st, x->s);
        j->prio = c->priority;
        if (ready)
            ready_push(st, x->s, key, qns);
    }
    if (c->has_max_retries)
        j->max_retries = (uint16_t)(c->max_retries > 0xffff ? 0xffff : c->max_retries);
    if (c->has_timeout)
        j->timeout_s = c->timeout_s;
}

static void on_deleted(djs_state_t *st, job_ev_t *x)
{
    st->metrics.deleted++;
    st->metrics.by_state[st->jobs[x->s].state]--;
    djs__state_remove_job(st, x->s);
}

/* Per job event type: a check beyond the table's (NULL: none), made before
 * anything changes, and the change. */
static int no_check(djs_state_t *st, job_ev_t *x)
{
    (void)st, (void)x;
    return 0;
}

/* The op of each job event but job.submitted: (type, check beyond the
 * state machine's, apply). An X-macro rather than an array of function
 * pointers: it expands into the switches of apply_job, so the compiler
 * inlines each op (through pointers the ops cost 7% more instructions per
 * replayed event, measured with callgrind on bench engine). */
#define JOB_OPS(X)                                                                                                                 \
    X(DJS_EV_JOB_QUEUED, no_check, on_queued)                                                                                      \
    X(DJS_EV_JOB_SCHEDULED, check_scheduled, on_scheduled)                                                                         \
    X(DJS_EV_JOB_STARTED, no_check, on_started)                                                                                    \
    X(DJS_EV_JOB_PROGRESS, no_check, on_progress)                                                                                  \
    X(DJS_EV_JOB_SUCCEEDED, no_check, on_succeeded)                                                                                \
    X(DJS_EV_JOB_FAILED, no_check, on_failed)                                                                                      \
    X(DJS_EV_JOB_TIMED_OUT, no_check, on_timed_out)                                                                                \
    X(DJS_EV_JOB_CANCELLED, no_check, on_cancelled)                                                                                \
    X(DJS_EV_JOB_UPDATED, no_check, on_updated)                                                                                    \
    X(DJS_EV_JOB_DELETED, no_check, on_deleted)                                                                                    \
    X(DJS_EV_JOB_RETRIED, no_check, on_retried)                                                                                    \
    X(DJS_EV_JOB_UPSTREAM_FAILED, no_check, on_upstream_failed)                                                                    \
    X(DJS_EV_JOB_LEASE_EXPIRED, no_check, on_lease_expired)                                                                        \
    X(DJS_EV_JOB_OUTPUT, check_output, on_output)

/* Every job event but job.submitted: the state machine's table says
 * whether it applies and where it leads; its op does the rest. */
static int apply_job(djs_state_t *st, const djs_event_t *ev)
{
    job_ev_t x; /* not zeroed (a 200-byte memset per event): the body reader fills x.c, the rest is set here */
    x.ev = ev;
    x.ws = DJS_NONE;
    x.s = djs_idx_find(&st->job_idx, id_hash(&ev->entity), ev->entity.b);
    if (x.s == DJS_IDX_NONE)
        return DJS_ENOTFOUND;
    int rc = djs_body_read_job_change(ev->body, ev->body_len, &x.c);
    if (rc != 0)
        return rc;
    int pos = djs_state_job_pos(&st->jobs[x.s]); /* after the body: the replayer's prefetch of the record has time to land */
    if ((rc = djs_job_event_check(ev->type, pos)) != 0)
        return rc;
    switch (ev->type) {
#define JOB_OP_CHECK(type, check, apply)                                                                                           \
    case type:                                                                                                                     \
        rc = check(st, &x);                                                                                                        \
        break;
        JOB_OPS(JOB_OP_CHECK)
#undef JOB_OP_CHECK
    default:
        return DJS_ECONFLICT; /* not a job event: the state machine refused it above */
    }
    if (rc != 0)
        return rc;
    x.next = djs_job_event_next(ev->type, pos, djs_job_change_alt(ev->type, &x.c));
    st->jobs[x.s].last_seq = ev->seq; /* before the op: finish() records it in the terminal window */
    switch (ev->type) {
#define JOB_OP_APPLY(type, check, apply)                                                                                           \
    case type:                                                                                                                     \
        apply(st, &x);                                                                                                             \
        break;
        JOB_OPS(JOB_OP_APPLY)
#undef JOB_OP_APPLY
    }
    return 0;
}

/* ---- apply: workers ------------------------------------------------------------------------- */

static void worker_set_status(djs_state_t *st, uint32_t ws, int status)
{
    djs_worker_t *w = &st->workers[ws];
    metrics_workers(st, w, -1);
    w->status = (uint8_t)status;
    metrics_workers(st, w, +1);
    djs__state_worker_refresh(st, ws);
}

/* hostAddress, port and tags: each registration states them anew */
static void worker_set_design(djs_worker_t *w, const djs_worker_info_t *wi)
{
    djs_free(w->addr);
    w->addr = djs_strndup(wi->addr.p, wi->addr.len);
    w->port = wi->port;
    djs_free(w->tags);
    w->tags = NULL;
    w->tags_len = w->ntags = 0;
    if (wi->tags.n > 0) {
        w->tags = djs_malloc(wi->tags.mp_len);
        memcpy(w->tags, wi->tags.mp, wi->tags.mp_len);
        w->tags_len = (uint32_t)wi->tags.mp_len;
        w->ntags = wi->tags.n;
    }
}

static int apply_worker(djs_state_t *st, const djs_event_t *ev)
{
    djs_worker_info_t wi;
    int rc = djs_body_read_worker(ev->body, ev->body_len, &wi);
    if (rc != 0)
        return rc;
    uint32_t ws = djs_idx_find(&st->worker_idx, id_hash(&ev->entity), ev->entity.b);
    if (ev->type == DJS_EV_WORKER_REGISTERED) {
        if (ws == DJS_IDX_NONE) {
            if (st->nworkers == st->cap_workers) {
                st->cap_workers = st->cap_workers ? st->cap_workers * 2 : 16;
                st->workers = djs_realloc(st->workers, st->cap_workers * sizeof(djs_worker_t));
            }
            ws = st->nworkers++;
            djs_worker_t *w = &st->workers[ws];
            memset(w, 0, sizeof(*w));
            w->id = ev->entity;
            w->name = djs_strndup(wi.name.p, wi.name.len);
            w->host = djs_strndup(wi.host.p, wi.host.len);
            w->status = DJS_WORKER_GONE;
            w->registered_ns = ev->ts_ns;
            djs_idx_insert(&st->worker_idx, id_hash(&w->id), ws);
            djs_idx_insert(&st->wname_idx, djs_hash_bytes(wi.name.p, wi.name.len), ws);
        }
        djs_worker_t *w = &st->workers[ws];
        metrics_workers(st, w, -1);
        if (strlen(w->host) != wi.host.len || (wi.host.len > 0 && memcmp(w->host, wi.host.p, wi.host.len) != 0)) {
            djs_free(w->host); /* a re-registering agent may have moved */
            w->host = djs_strndup(wi.host.p, wi.host.len);
        }
        worker_set_design(w, &wi);
        w->caps = intern_caps(st, &wi.caps);
        w->slots = wi.slots;
        if (wi.has_load) {
            w->cpu_pm = wi.cpu_pm;
            w->mem_pm = wi.mem_pm;
            w->resp_ms = wi.resp_ms;
        }
        w->heartbeat_ns = ev->ts_ns;
        w->last_seq = ev->seq;
        w->status = DJS_WORKER_ACTIVE;
        metrics_workers(st, w, +1);
        djs__state_worker_refresh(st, ws);
        return 0;
    }
    if (ws == DJS_IDX_NONE)
        return DJS_ENOTFOUND;
    djs_worker_t *w = &st->workers[ws];
    w->last_seq = ev->seq;
    switch (ev->type) {
    case DJS_EV_WORKER_HEARTBEAT:
        w->cpu_pm = wi.cpu_pm;
        w->mem_pm = wi.mem_pm;
        w->resp_ms = wi.resp_ms;
        w->heartbeat_ns = ev->ts_ns;
        djs__state_worker_refresh(st, ws);
        break;
    case DJS_EV_WORKER_UPDATED:
        metrics_workers(st, w, -1);
        if (wi.has_slots)
            w->slots = wi.slots;
        if (wi.has_caps)
            w->caps = intern_caps(st, &wi.caps);
        metrics_workers(st, w, +1);
        djs__state_worker_refresh(st, ws);
        break;
    case DJS_EV_WORKER_DRAINING:
        worker_set_status(st, ws, DJS_WORKER_DRAINING);
        break;
    case DJS_EV_WORKER_LOST:
        worker_set_status(st, ws, DJS_WORKER_LOST);
        break;
    case DJS_EV_WORKER_DEREGISTERED:
        if (w->njobs > 0)
            return DJS_ECONFLICT;
        worker_set_status(st, ws, DJS_WORKER_GONE);
        break;
    }
    return 0;
}

int djs_state_apply(djs_state_t *st, const djs_event_t *ev)
{
    int rc = 0;
    if (ev->type == DJS_EV_JOB_SUBMITTED)
        rc = apply_submitted(st, ev);
    else if (ev->type < DJS_EV_WORKER_REGISTERED)
        rc = apply_job(st, ev);
    else if (ev->type < DJS_EV_SERVER_STARTED)
        rc = apply_worker(st, ev);
    else if (ev->type >= DJS_EV_SCHEDULE_CREATED)
        rc = djs__sched_apply(st, ev);
    if (rc != 0)
        return rc;
    st->seq = ev->seq;
    st->ts = ev->ts_ns;
    st->metrics.events++;
    evict(st, ev->ts_ns);
    return 0;
}

/* ---- lookups -------------------------------------------------------------------------------- */

uint64_t djs_state_seq(const djs_state_t *st)
{
    return st->seq;
}

uint64_t djs_state_ts(const djs_state_t *st)
{
    return st->ts;
}

const djs_job_t *djs_state_job(const djs_state_t *st, const djs_id_t *id)
{
    uint32_t s = djs_idx_find(&st->job_idx, id_hash(id), id->b);
    return s == DJS_IDX_NONE ? NULL : &st->jobs[s];
}

const djs_job_t *djs_state_job_at(const djs_state_t *st, uint32_t slot)
{
    return slot < st->njobs && st->jobs[slot].state < DJS_JOB_NSTATES ? &st->jobs[slot] : NULL;
}

uint32_t djs_state_job_slot(const djs_state_t *st, const djs_job_t *j)
{
    return (uint32_t)(j - st->jobs);
}

const djs_worker_t *djs_state_worker(const djs_state_t *st, const djs_id_t *id)
{
    uint32_t s = djs_idx_find(&st->worker_idx, id_hash(id), id->b);
    return s == DJS_IDX_NONE ? NULL : &st->workers[s];
}

const djs_worker_t *djs_state_worker_at(const djs_state_t *st, uint32_t slot)
{
    return slot < st->nworkers ? &st->workers[slot] : NULL;
}

const djs_worker_t *djs_state_worker_by_name(const djs_state_t *st, const char *name, size_t len)
{
    djs_str_t k = {name, len};
    uint32_t s = djs_idx_find(&st->wname_idx, djs_hash_bytes(name, len), &k);
    return s == DJS_IDX_NONE ? NULL : &st->workers[s];
}

uint32_t djs_state_njob_slots(const djs_state_t *st)
{
    return st->njobs;
}

uint32_t djs_state_nworker_slots(const djs_state_t *st)
{
    return st->nworkers;
}

uint64_t djs_state_njobs(const djs_state_t *st)
{
    return st->live_jobs;
}

const djs_metrics_t *djs_state_metrics(const djs_state_t *st)
{
    return &st->metrics;
}

const char *djs_state_str(const djs_state_t *st, uint32_t id, size_t *len)
{
    if (id >= st->nstrs) {
        *len = 0;
        return "";
    }
    *len = st->str_lens[id];
    return st->strs[id];
}

static void digest_len(EVP_MD_CTX *ctx, size_t n)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    EVP_DigestUpdate(ctx, b, sizeof(b));
}

void djs__idem_digest(const djs_state_t *st, const char *owner, size_t owner_len, const char *key, size_t key_len,
                      uint8_t d[DJS__IDEM_DIGEST])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = st->md_ctx;
    if (EVP_DigestInit_ex2(ctx, st->sha256, NULL) != 1)
        abort();
    digest_len(ctx, owner_len);
    EVP_DigestUpdate(ctx, owner, owner_len);
    digest_len(ctx, key_len);
    EVP_DigestUpdate(ctx, key, key_len);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    memcpy(d, md, DJS__IDEM_DIGEST);
}

uint64_t djs__idem_index_hash(const djs_state_t *st, const uint8_t d[DJS__IDEM_DIGEST])
{
    if (st->cfg.idem_hash != NULL)
        return st->cfg.idem_hash(d);
    uint64_t h;
    memcpy(&h, d, sizeof(h)); /* SHA-256 bits: uniform already */
    return h;
}

const djs_job_t *djs_state_job_by_idem(const djs_state_t *st, const char *owner, size_t owner_len, const char *key, size_t key_len)
{
    uint8_t d[DJS__IDEM_DIGEST];
    djs__idem_digest(st, owner, owner_len, key, key_len, d);
    uint32_t k = djs_idx_find(&st->idem_idx, djs__idem_index_hash(st, d), d);
    return k == DJS_IDX_NONE ? NULL : &st->jobs[st->idem[k].slot];
}

static void concurrency_of(const djs_state_t *st, uint32_t k, djs_concurrency_t *out)
{
    const ckey_t *c = &st->ckeys[k];
    out->key.p = st->strs[c->str];
    out->key.len = st->str_lens[c->str];
    out->held = c->held;
    out->holders = c->holders;
    out->limit = 0;
}

int djs_state_job_concurrency(const djs_state_t *st, const djs_job_t *j, djs_concurrency_t *out)
{
    if (j->ckey == DJS_NONE)
        return DJS_ENOTFOUND;
    concurrency_of(st, j->ckey, out);
    out->limit = j->climit;
    return 0;
}

int djs_state_concurrency_key(const djs_state_t *st, const char *key, size_t len, djs_concurrency_t *out)
{
    djs_str_t k = {key, len};
    uint32_t s = djs_idx_find(&st->str_idx, djs_hash_bytes(key, len), &k);
    if (s == DJS_IDX_NONE || s >= st->nstr_ckey || st->str_ckey[s] == DJS_NONE)
        return DJS_ENOTFOUND;
    concurrency_of(st, st->str_ckey[s], out);
    return 0;
}

uint32_t djs_state_cap_names(const djs_state_t *st, uint32_t set, djs_str_t *out, uint32_t max)
{
    if (set >= st->nsets)
        return 0;
    uint32_t n = st->sets[set].n < max ? st->sets[set].n : max;
    for (uint32_t i = 0; i < n; i++) {
        out[i].p = st->strs[st->sets[set].v[i]];
        out[i].len = st->str_lens[st->sets[set].v[i]];
    }
    return st->sets[set].n;
}

/* ---- scheduling queries -------------------------------------------------------------------------- */

/* The first job of tier t of class cl that may run now: heads whose key is
 * at its limit are parked on the way (each is parked once until a release
 * puts it back, so this costs O(log n) per job, amortized). */
static int tier_head(djs_state_t *st, class_t *cl, int t, uint32_t *s)
{
    while (djs_heap_peek(&cl->tiers[t], NULL, s) == 0) {
        if (!ckey_full(st, &st->jobs[*s]))
            return 0;
        park(st, *s);
    }
    return DJS_ENOTFOUND;
}

int djs_state_next_placement(djs_state_t *st, uint64_t now, uint64_t aging_ns, uint32_t *job_slot, uint32_t *worker_slot)
{
    int found = 0;
    uint64_t best_rank = 0, best_q = 0;
    uint32_t best_job = 0, best_cls = 0;
    unpark_room(st);
    for (uint32_t i = 0; i < st->nactive; i++) {
        uint32_t c = st->active_classes[i];
        class_t *cl = st->classes[c];
        if (djs_heap_size(&cl->workers) == 0)
            continue;
        for (int t = 0; t < DJS_NPRIO; t++) {
            uint32_t s;
            if (tier_head(st, cl, t, &s) != 0)
                continue;
            const djs_job_t *j = &st->jobs[s];
            uint64_t waited = now > j->queued_ns ? now - j->queued_ns : 0;
            uint64_t boost = aging_ns ? waited / aging_ns : 0;
            uint64_t rank = (uint64_t)t > boost ? (uint64_t)t - boost : 0;
            if (!found || rank < best_rank || (rank == best_rank && j->ready_key < best_q)) {
                found = 1;
                best_rank = rank;
                best_q = j->ready_key;
                best_job = s;
                best_cls = c;
            }
        }
    }
    if (!found)
        return DJS_ENOTFOUND;
    *job_slot = best_job;
    djs_heap_peek(&st->classes[best_cls]->workers, NULL, worker_slot);
    return 0;
}

int djs_state_next_timer(const djs_state_t *st, uint32_t *job_slot, uint64_t *deadline_ns)
{
    return djs_heap_peek(&st->timers, deadline_ns, job_slot);
}

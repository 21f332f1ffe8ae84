/* The state digest, and snapshots (serialize / restore) of a projection.
 *
 * Snapshot format, version 4 (3 added each job's output counters; 4 each
 * job's concurrency key and limit, and the idempotency digest: a job is
 * [slot, id, fields[], idem], where field 23 is 1 if the job has an
 * idempotency key and idem is then its 16-byte digest, else field 23 is 0
 * and idem an empty bin (version 3 kept a 64-bit hash in field 23 and no
 * idem), fields 26 and 27 the concurrency key (an interned string, or
 * DJS_NONE) and limit; 4 also made a worker [id, name, host, fields[],
 * addr, tags[]], its field 11 the port; and 4 added the schedules): a
 * MessagePack array
 *   ["djs-state", 5, seq, ts, metrics[], strings[], sets[], workers[], jobs[], deplists[], terminal[], nterminal,
 *    schedules (bin: their canonical form, projections/schedules.c), [digest, max_terminal, max_terminal_age], sha256]
 * where sha256 (bin 32) covers every byte before it: a snapshot is a cache
 * of the log, and a damaged one must be refused, not half-believed.
 * Version 5 added, in a fixed 53-byte encoding (array 3, bin 8 of 32, two
 * uint 64), digest: djs_state_digest of the state it was taken from, which
 * the restored state must reproduce (so a restore that reads back other
 * state than was written is refused, not served), and the retention it ran
 * with, so a verifier can replay the log the same way and compare.
 * Version 4 (the same without digest) is still read.
 * Jobs keep their slot numbers so dependents lists, worker assignments and
 * the terminal window can refer to slots. Derived indexes (queues, timers,
 * worker heaps, hash indexes) are not stored: restore rebuilds them.
 * VERSIONING RULE: any change to this layout bumps SNAP_VERSION; an old
 * snapshot is then refused (DJS_EVERSION) and the log is replayed instead,
 * which is always correct, only slower.
 */
#include <msgpack.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/mp.h"
#include "projections/snapshot.h"
#include "projections/state_internal.h"

#define SNAP_MAGIC "djs-state"
#define SNAP_VERSION 5
#define SNAP_FIELDS 15
#define SNAP_V4_FIELDS 14     /* version 4: no digest */
#define SNAP_META_LEN 53      /* version 5: [digest, max_terminal, max_terminal_age], fixed encoding */
#define SNAP_SUM_LEN (2 + 32) /* bin 8 header + SHA-256 */

/* ---- digest ------------------------------------------------------------------------- */

typedef struct hasher {
    EVP_MD_CTX *ctx;
} hasher_t;

static void h_bytes(hasher_t *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->ctx, p, n);
}

static void h_u64(hasher_t *h, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    h_bytes(h, b, 8);
}

static void h_str(hasher_t *h, const char *s, size_t n)
{
    h_u64(h, n);
    h_bytes(h, s, n);
}

static void h_set(hasher_t *h, const djs_state_t *st, uint32_t set)
{
    /* by name, sorted by interned id: ids are assigned in event order, so
     * equal histories intern equally; hash the names for readability of intent */
    const capset_t *cs = &st->sets[set];
    h_u64(h, cs->n);
    for (uint32_t i = 0; i < cs->n; i++)
        h_str(h, st->strs[cs->v[i]], st->str_lens[cs->v[i]]);
}

/* Sorting by id without a global (the digest of a time-travel state may be
 * taken on another thread while the loop thread digests the live one). */
typedef struct keyed {
    djs_id_t id;
    uint32_t slot;
} keyed_t;

static int cmp_keyed(const void *a, const void *b)
{
    return memcmp(((const keyed_t *)a)->id.b, ((const keyed_t *)b)->id.b, 16);
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static int cmp_digest(const void *a, const void *b)
{
    return memcmp(a, b, DJS__IDEM_DIGEST);
}

/* The ids of these job slots, as a sorted set. */
static void h_job_set(hasher_t *h, const djs_state_t *st, const uint32_t *slots, uint32_t n)
{
    h_u64(h, n);
    if (n == 0)
        return;
    djs_id_t *ids = djs_malloc(n * sizeof(djs_id_t));
    for (uint32_t i = 0; i < n; i++)
        ids[i] = st->jobs[slots[i]].id;
    qsort(ids, n, sizeof(djs_id_t), cmp_id);
    h_bytes(h, ids, n * sizeof(djs_id_t));
    djs_free(ids);
}

static void h_job(hasher_t *h, const djs_state_t *st, const djs_job_t *j)
{
    static const djs_id_t nil;
    h_bytes(h, j->id.b, 16);
    const uint64_t v[] = {j->submit_seq,  j->last_seq,    j->created_ns,   j->queued_ns, j->ready_key, j->started_ns,
                          j->finished_ns, j->deadline_ns, j->progress_seq, j->unmet,     j->timeout_s, j->attempt,
                          j->max_retries, j->failures,    j->infra,        j->state,     j->prio,      j->percent,
                          j->fail_reason, j->timer_kind,  j->out_len,      j->out_recv};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        h_u64(h, v[i]);
    h_bytes(h, j->worker != DJS_NONE ? st->workers[j->worker].id.b : nil.b, 16);
    h_str(h, st->strs[j->owner], st->str_lens[j->owner]);
    h_set(h, st, j->cls);
    const uint32_t *deps;
    uint32_t n = djs_state_dependents(st, j, &deps);
    h_job_set(h, st, deps, n);
    /* the digest, not the index hash: that one is derived (and a test seam) */
    h_u64(h, j->idem != DJS_NONE);
    if (j->idem != DJS_NONE)
        h_bytes(h, st->idem[j->idem].d, DJS__IDEM_DIGEST);
    if (j->ckey != DJS_NONE) {
        uint32_t k = st->ckeys[j->ckey].str;
        h_str(h, st->strs[k], st->str_lens[k]);
        h_u64(h, j->climit);
    } else {
        h_u64(h, UINT64_MAX);
    }
}

static void h_worker(hasher_t *h, const djs_state_t *st, const djs_worker_t *w)
{
    h_bytes(h, w->id.b, 16);
    h_str(h, w->name, strlen(w->name));
    h_str(h, w->host, strlen(w->host));
    h_str(h, w->addr, strlen(w->addr));
    h_u64(h, w->port);
    h_str(h, (const char *)w->tags, w->tags_len); /* the packed array: equal lists, equal bytes (both copy the event's) */
    h_set(h, st, w->caps);
    const uint64_t v[] = {w->slots, w->running, w->cpu_pm,        w->mem_pm,       w->resp_ms,
                          w->score, w->status,  w->registered_ns, w->heartbeat_ns, w->last_seq};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        h_u64(h, v[i]);
    h_job_set(h, st, w->jobs, w->njobs);
}

static void h_metrics(hasher_t *h, const djs_metrics_t *m)
{
    const uint64_t *p = (const uint64_t *)m;
    /* every counter up to the histograms (all uint64_t) */
    size_t n = offsetof(djs_metrics_t, wait) / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++)
        h_u64(h, p[i]);
    const djs_hist_t *hs[2] = {&m->wait, &m->run};
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b <= DJS_HIST_BUCKETS; b++)
            h_u64(h, hs[k]->count[b]);
        h_u64(h, hs[k]->n);
    }
}

void djs_state_digest(const djs_state_t *st, uint8_t out[32])
{
    hasher_t h;
    unsigned int olen = 0;
    h.ctx = EVP_MD_CTX_new();
    if (h.ctx == NULL || EVP_DigestInit_ex(h.ctx, EVP_sha256(), NULL) != 1)
        abort();
    h_u64(&h, st->seq);
    h_u64(&h, st->ts);
    h_metrics(&h, &st->metrics);

    keyed_t *js = djs_malloc((st->njobs ? st->njobs : 1) * sizeof(keyed_t));
    uint32_t n = 0;
    for (uint32_t s = 0; s < st->njobs; s++)
        if (st->jobs[s].state < DJS_JOB_NSTATES)
            js[n++] = (keyed_t){st->jobs[s].id, s};
    qsort(js, n, sizeof(keyed_t), cmp_keyed);
    h_u64(&h, n);
    for (uint32_t i = 0; i < n; i++)
        h_job(&h, st, &st->jobs[js[i].slot]);
    djs_free(js);

    keyed_t *ws = djs_malloc((st->nworkers ? st->nworkers : 1) * sizeof(keyed_t));
    for (uint32_t i = 0; i < st->nworkers; i++)
        ws[i] = (keyed_t){st->workers[i].id, i};
    qsort(ws, st->nworkers, sizeof(keyed_t), cmp_keyed);
    h_u64(&h, st->nworkers);
    for (uint32_t i = 0; i < st->nworkers; i++)
        h_worker(&h, st, &st->workers[ws[i].slot]);
    djs_free(ws);

    /* the terminal window's order decides future evictions */
    h_u64(&h, st->nterminal);
    for (uint32_t i = 0; i < st->term_n; i++) {
        term_ent_t e = st->term[(st->term_head + i) % st->term_cap];
        const djs_job_t *j = &st->jobs[e.slot];
        if (j->state < DJS_JOB_NSTATES && j->last_seq == e.seq && djs_job_state_terminal(j->state))
            h_bytes(&h, j->id.b, 16);
    }
    /* the entries in use, as a sorted set of digests */
    uint8_t *id = djs_malloc((st->nidem ? st->nidem : 1) * (size_t)DJS__IDEM_DIGEST);
    uint32_t ni = 0;
    for (uint32_t i = 0; i < st->nidem; i++)
        if (st->idem[i].slot != DJS_NONE)
            memcpy(id + (size_t)DJS__IDEM_DIGEST * ni++, st->idem[i].d, DJS__IDEM_DIGEST);
    qsort(id, ni, DJS__IDEM_DIGEST, cmp_digest);
    h_u64(&h, ni);
    h_bytes(&h, id, (size_t)DJS__IDEM_DIGEST * ni);
    djs_free(id);
    djs_buf_t sb;
    djs_buf_init(&sb);
    djs__sched_pack(st->sched, &sb);
    h_bytes(&h, sb.base, sb.len);
    djs_buf_dispose(&sb);
    EVP_DigestFinal_ex(h.ctx, out, &olen);
    EVP_MD_CTX_free(h.ctx);
}

/* ---- snapshot ------------------------------------------------------------------------------ */

static int buf_write(void *data, const char *p, size_t n)
{
    djs_buf_append((djs_buf_t *)data, p, n);
    return 0;
}

static void pack_u64s(msgpack_packer *pk, const uint64_t *v, size_t n)
{
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_uint64(pk, v[i]);
}

static void pack_job(msgpack_packer *pk, const djs_state_t *st, uint32_t s)
{
    const djs_job_t *j = &st->jobs[s];
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, s);
    msgpack_pack_bin_with_body(pk, j->id.b, 16);
    const uint64_t v[] = {j->submit_seq,  j->last_seq,    j->created_ns,
                          j->queued_ns,   j->ready_key,   j->started_ns,
                          j->finished_ns, j->deadline_ns, j->progress_seq,
                          j->worker,      j->owner,       j->cls,
                          j->unmet,       j->timeout_s,   j->attempt,
                          j->max_retries, j->failures,    j->infra,
                          j->state,       j->prio,        j->percent,
                          j->fail_reason, j->timer_kind,  j->idem != DJS_NONE,
                          j->out_len,     j->out_recv,    j->ckey != DJS_NONE ? st->ckeys[j->ckey].str : DJS_NONE,
                          j->climit};
    pack_u64s(pk, v, sizeof(v) / sizeof(v[0]));
    static const uint8_t none[1];
    if (j->idem != DJS_NONE)
        msgpack_pack_bin_with_body(pk, st->idem[j->idem].d, DJS__IDEM_DIGEST);
    else
        msgpack_pack_bin_with_body(pk, none, 0);
}
#define JOB_FIELDS 28

static void pack_worker(msgpack_packer *pk, const djs_worker_t *w)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_bin_with_body(pk, w->id.b, 16);
    msgpack_pack_str_with_body(pk, w->name, strlen(w->name));
    msgpack_pack_str_with_body(pk, w->host, strlen(w->host));
    const uint64_t v[] = {w->caps,  w->slots,  w->running,       w->cpu_pm,       w->mem_pm,   w->resp_ms,
                          w->score, w->status, w->registered_ns, w->heartbeat_ns, w->last_seq, w->port};
    pack_u64s(pk, v, sizeof(v) / sizeof(v[0]));
    msgpack_pack_str_with_body(pk, w->addr, strlen(w->addr));
    if (w->tags != NULL)
        pk->callback(pk->data, (const char *)w->tags, w->tags_len); /* already a packed array */
    else
        msgpack_pack_array(pk, 0);
}
#define WORKER_FIELDS 12

void djs_state_snapshot(const djs_state_t *st, djs_buf_t *out)
{
    msgpack_packer pk;
    size_t start = out->len;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, SNAP_FIELDS);
    msgpack_pack_str_with_body(&pk, SNAP_MAGIC, strlen(SNAP_MAGIC));
    msgpack_pack_uint32(&pk, SNAP_VERSION);
    msgpack_pack_uint64(&pk, st->seq);
    msgpack_pack_uint64(&pk, st->ts);
    /* metrics: every uint64 field, then the two histograms' sums as doubles */
    size_t nm = offsetof(djs_metrics_t, wait) / sizeof(uint64_t);
    msgpack_pack_array(&pk, (uint32_t)(nm + 2 * (DJS_HIST_BUCKETS + 3)));
    for (size_t i = 0; i < nm; i++)
        msgpack_pack_uint64(&pk, ((const uint64_t *)&st->metrics)[i]);
    const djs_hist_t *hs[2] = {&st->metrics.wait, &st->metrics.run};
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b <= DJS_HIST_BUCKETS; b++)
            msgpack_pack_uint64(&pk, hs[k]->count[b]);
        msgpack_pack_uint64(&pk, hs[k]->n);
        msgpack_pack_double(&pk, hs[k]->sum);
    }
    msgpack_pack_array(&pk, st->nstrs);
    for (uint32_t i = 0; i < st->nstrs; i++)
        msgpack_pack_str_with_body(&pk, st->strs[i], st->str_lens[i]);
    msgpack_pack_array(&pk, st->nsets);
    for (uint32_t i = 0; i < st->nsets; i++) {
        msgpack_pack_array(&pk, st->sets[i].n);
        for (uint32_t k = 0; k < st->sets[i].n; k++)
            msgpack_pack_uint32(&pk, st->sets[i].v[k]);
    }
    msgpack_pack_array(&pk, st->nworkers);
    for (uint32_t i = 0; i < st->nworkers; i++)
        pack_worker(&pk, &st->workers[i]);
    msgpack_pack_array(&pk, (uint32_t)st->live_jobs);
    for (uint32_t s = 0; s < st->njobs; s++)
        if (st->jobs[s].state < DJS_JOB_NSTATES)
            pack_job(&pk, st, s);
    uint32_t nd = 0;
    for (uint32_t s = 0; s < st->njobs; s++)
        nd += st->jobs[s].state < DJS_JOB_NSTATES && st->jobs[s].dependents != DJS_NONE;
    msgpack_pack_array(&pk, nd);
    for (uint32_t s = 0; s < st->njobs; s++) {
        const djs_job_t *j = &st->jobs[s];
        if (j->state >= DJS_JOB_NSTATES || j->dependents == DJS_NONE)
            continue;
        const uint32_t *deps;
        uint32_t ndeps = djs_state_dependents(st, j, &deps); /* live dependents only */
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint32(&pk, s);
        msgpack_pack_array(&pk, ndeps);
        for (uint32_t k = 0; k < ndeps; k++)
            msgpack_pack_uint32(&pk, deps[k]);
    }
    msgpack_pack_array(&pk, st->term_n);
    for (uint32_t i = 0; i < st->term_n; i++) {
        term_ent_t e = st->term[(st->term_head + i) % st->term_cap];
        msgpack_pack_array(&pk, 2);
        msgpack_pack_uint32(&pk, e.slot);
        msgpack_pack_uint64(&pk, e.seq);
    }
    msgpack_pack_uint64(&pk, st->nterminal);
    djs_buf_t sb;
    djs_buf_init(&sb);
    djs__sched_pack(st->sched, &sb);
    msgpack_pack_bin_with_body(&pk, sb.base, sb.len);
    djs_buf_dispose(&sb);
    uint8_t digest[32], sum[32];
    djs_state_digest(st, digest);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_bin(&pk, sizeof(digest));
    msgpack_pack_bin_body(&pk, digest, sizeof(digest));
    uint8_t u[2][9];
    for (int i = 0; i < 2; i++) { /* always 9 bytes: the field has one length */
        uint64_t v = i == 0 ? st->cfg.max_terminal : st->cfg.max_terminal_age;
        u[i][0] = 0xcf;
        for (int k = 0; k < 8; k++)
            u[i][1 + k] = (uint8_t)(v >> (56 - 8 * k));
        djs_buf_append(out, u[i], 9);
    }
    EVP_Digest(out->base + start, out->len - start, sum, NULL, EVP_sha256(), NULL);
    msgpack_pack_bin(&pk, sizeof(sum));
    msgpack_pack_bin_body(&pk, sum, sizeof(sum));
}

/* ---- restore ------------------------------------------------------------------------------- */

#define TRY(x)                                                                                                                     \
    do {                                                                                                                           \
        if ((rc = (x)) != 0)                                                                                                       \
            goto fail;                                                                                                             \
    } while (0)

static int rd_u64s(djs_mp_reader_t *r, uint64_t *v, uint32_t want)
{
    uint32_t n;
    int rc = djs_mp_read_array(r, &n);
    if (rc != 0)
        return rc;
    if (n != want)
        return DJS_ECORRUPT;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = djs_mp_read_uint(r, &v[i])) != 0)
            return rc;
    return 0;
}

/* A worker's tags: a packed array of str within the registration limits;
 * *tags keeps its bytes (an empty array: n 0). */
static int rd_tags(djs_mp_reader_t *r, djs_strlist_t *tags)
{
    const uint8_t *start = r->p;
    int rc = djs_mp_read_array(r, &tags->n);
    if (rc != 0)
        return rc;
    if (tags->n > DJS_WORKER_MAX_TAGS)
        return DJS_ECORRUPT;
    for (uint32_t i = 0; i < tags->n; i++) {
        djs_str_t s;
        if ((rc = djs_mp_read_str(r, &s.p, &s.len)) != 0)
            return rc;
        if (s.len > DJS_WORKER_MAX_TAG_LEN)
            return DJS_ECORRUPT;
    }
    tags->mp = start;
    tags->mp_len = (size_t)(r->p - start);
    return 0;
}

static int rd_worker(djs_mp_reader_t *r, djs_state_t *st)
{
    uint32_t n;
    const uint8_t *b;
    size_t blen;
    djs_str_t name, host, addr;
    djs_strlist_t tags;
    uint64_t v[WORKER_FIELDS];
    int rc;
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    if (n != 6)
        return DJS_ECORRUPT;
    if ((rc = djs_mp_read_bin(r, &b, &blen)) != 0 || (rc = djs_mp_read_str(r, &name.p, &name.len)) != 0 ||
        (rc = djs_mp_read_str(r, &host.p, &host.len)) != 0 || (rc = rd_u64s(r, v, WORKER_FIELDS)) != 0 ||
        (rc = djs_mp_read_str(r, &addr.p, &addr.len)) != 0 || (rc = rd_tags(r, &tags)) != 0)
        return rc;
    if (blen != 16 || v[0] >= st->nsets || v[11] > DJS_WORKER_MAX_PORT || addr.len > DJS_WORKER_MAX_ADDR)
        return DJS_ECORRUPT;
    if (st->nworkers == st->cap_workers) {
        st->cap_workers = st->cap_workers ? st->cap_workers * 2 : 16;
        st->workers = djs_realloc(st->workers, st->cap_workers * sizeof(djs_worker_t));
    }
    uint32_t ws = st->nworkers++;
    djs_worker_t *w = &st->workers[ws];
    memset(w, 0, sizeof(*w));
    memcpy(w->id.b, b, 16);
    w->name = djs_strndup(name.p, name.len);
    w->host = djs_strndup(host.p, host.len);
    w->caps = (uint32_t)v[0];
    w->slots = (uint32_t)v[1];
    w->running = (uint32_t)v[2];
    w->cpu_pm = (uint32_t)v[3];
    w->mem_pm = (uint32_t)v[4];
    w->resp_ms = (uint32_t)v[5];
    w->score = (uint32_t)v[6];
    w->status = (uint8_t)v[7];
    w->registered_ns = v[8];
    w->heartbeat_ns = v[9];
    w->last_seq = v[10];
    w->port = (uint32_t)v[11];
    w->addr = djs_strndup(addr.p, addr.len);
    if (tags.n > 0) {
        w->tags = djs_malloc(tags.mp_len);
        memcpy(w->tags, tags.mp, tags.mp_len);
        w->tags_len = (uint32_t)tags.mp_len;
        w->ntags = tags.n;
    }
    djs_idx_insert(&st->worker_idx, djs__id_hash(&w->id), ws);
    djs_idx_insert(&st->wname_idx, djs_hash_bytes(name.p, name.len), ws);
    return 0;
}

static void ensure_job_slots(djs_state_t *st, uint32_t n)
{
    if (n <= st->cap_jobs)
        goto mark;
    uint32_t old = st->cap_jobs, cap = old ? old : 1024;
    while (cap < n)
        cap *= 2;
    st->jobs = djs_realloc(st->jobs, cap * sizeof(djs_job_t));
    st->jpos = djs_realloc(st->jpos, cap * sizeof(uint32_t));
    st->tpos = djs_realloc(st->tpos, cap * sizeof(uint32_t));
    for (uint32_t i = old; i < cap; i++)
        st->jpos[i] = st->tpos[i] = DJS_HEAP_NONE;
    st->cap_jobs = cap;
mark:
    for (uint32_t i = st->njobs; i < n; i++) {
        memset(&st->jobs[i], 0, sizeof(djs_job_t));
        st->jobs[i].state = DJS_JOB_NSTATES;
    }
    if (n > st->njobs)
        st->njobs = n;
}

static int rd_job(djs_mp_reader_t *r, djs_state_t *st)
{
    uint32_t n;
    uint64_t slot, v[JOB_FIELDS];
    const uint8_t *b, *idem;
    size_t blen, ilen;
    int rc;
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    if (n != 4)
        return DJS_ECORRUPT;
    if ((rc = djs_mp_read_uint(r, &slot)) != 0 || (rc = djs_mp_read_bin(r, &b, &blen)) != 0 ||
        (rc = rd_u64s(r, v, JOB_FIELDS)) != 0 || (rc = djs_mp_read_bin(r, &idem, &ilen)) != 0)
        return rc;
    if (blen != 16 || slot >= (1u << 30) || v[10] >= st->nstrs || v[11] >= st->nsets || v[18] >= DJS_JOB_NSTATES ||
        v[19] >= DJS_NPRIO || (v[9] != DJS_NONE && v[9] >= st->nworkers) || v[23] > 1 || ilen != (v[23] ? DJS__IDEM_DIGEST : 0) ||
        (v[26] != DJS_NONE && (v[26] >= st->nstrs || v[27] == 0)))
        return DJS_ECORRUPT;
    if (v[23] != 0 && djs_idx_find(&st->idem_idx, djs__idem_index_hash(st, idem), idem) != DJS_IDX_NONE)
        return DJS_ECORRUPT; /* a key used twice */
    ensure_job_slots(st, (uint32_t)slot + 1);
    djs_job_t *j = &st->jobs[slot];
    if (j->state < DJS_JOB_NSTATES)
        return DJS_ECORRUPT; /* slot used twice */
    memcpy(j->id.b, b, 16);
    j->submit_seq = v[0];
    j->last_seq = v[1];
    j->created_ns = v[2];
    j->queued_ns = v[3];
    j->ready_key = v[4];
    j->started_ns = v[5];
    j->finished_ns = v[6];
    j->deadline_ns = v[7];
    j->progress_seq = v[8];
    j->worker = (uint32_t)v[9];
    j->owner = (uint32_t)v[10];
    j->cls = (uint32_t)v[11];
    j->unmet = (uint32_t)v[12];
    j->timeout_s = (uint32_t)v[13];
    j->attempt = (uint32_t)v[14];
    j->max_retries = (uint16_t)v[15];
    j->failures = (uint16_t)v[16];
    j->infra = (uint16_t)v[17];
    j->state = (uint8_t)v[18];
    j->prio = (uint8_t)v[19];
    j->percent = (uint8_t)v[20];
    j->fail_reason = (uint8_t)v[21];
    j->timer_kind = (uint8_t)v[22];
    j->out_len = (uint32_t)v[24];
    j->out_recv = (uint32_t)v[25];
    j->dependents = DJS_NONE;
    j->idem = DJS_NONE;
    j->ckey = v[26] != DJS_NONE ? djs__state_ckey(st, (uint32_t)v[26]) : DJS_NONE;
    j->climit = (uint32_t)v[27];
    j->parked = 0;
    if (v[23] != 0)
        djs__idem_add(st, (uint32_t)slot, idem);
    djs_idx_insert(&st->job_idx, djs__id_hash(&j->id), (uint32_t)slot);
    st->live_jobs++;
    return 0;
}

/* seq, ts and the metrics (after magic and version, read by check_frame). */
static int rd_header(djs_mp_reader_t *r, djs_state_t *st)
{
    uint32_t n;
    int rc;
    if ((rc = djs_mp_read_uint(r, &st->seq)) != 0 || (rc = djs_mp_read_uint(r, &st->ts)) != 0)
        return rc;
    size_t nm = offsetof(djs_metrics_t, wait) / sizeof(uint64_t);
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    if (n != nm + 2 * (DJS_HIST_BUCKETS + 3))
        return DJS_ECORRUPT;
    for (size_t i = 0; i < nm; i++)
        if ((rc = djs_mp_read_uint(r, &((uint64_t *)&st->metrics)[i])) != 0)
            return rc;
    djs_hist_t *hs[2] = {&st->metrics.wait, &st->metrics.run};
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b <= DJS_HIST_BUCKETS; b++)
            if ((rc = djs_mp_read_uint(r, &hs[k]->count[b])) != 0)
                return rc;
        if ((rc = djs_mp_read_uint(r, &hs[k]->n)) != 0 || (rc = djs_mp_read_double(r, &hs[k]->sum)) != 0)
            return rc;
    }
    return 0;
}

static int rd_tables(djs_mp_reader_t *r, djs_state_t *st)
{
    uint32_t n, m;
    int rc;
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        djs_str_t s;
        if ((rc = djs_mp_read_str(r, &s.p, &s.len)) != 0)
            return rc;
        if (djs__state_intern_str(st, s.p, s.len) != i)
            return DJS_ECORRUPT; /* duplicate string */
    }
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v[DJS_JOB_MAX_CAPS];
        if ((rc = djs_mp_read_array(r, &m)) != 0)
            return rc;
        if (m > DJS_JOB_MAX_CAPS)
            return DJS_ECORRUPT;
        for (uint32_t k = 0; k < m; k++) {
            uint64_t u;
            if ((rc = djs_mp_read_uint(r, &u)) != 0)
                return rc;
            if (u >= st->nstrs || (k > 0 && u <= v[k - 1]))
                return DJS_ECORRUPT;
            v[k] = (uint32_t)u;
        }
        capset_t cs = {v, m};
        if (djs__state_intern_set(st, &cs) != i)
            return DJS_ECORRUPT;
    }
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = rd_worker(r, st)) != 0)
            return rc;
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = rd_job(r, st)) != 0)
            return rc;
    return 0;
}

static int valid_slot(const djs_state_t *st, uint64_t s)
{
    return s < st->njobs && st->jobs[s].state < DJS_JOB_NSTATES;
}

static int rd_links(djs_mp_reader_t *r, djs_state_t *st)
{
    uint32_t n, m, two;
    uint64_t s, d, seq;
    int rc;
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = djs_mp_read_array(r, &two)) != 0 || (rc = djs_mp_read_uint(r, &s)) != 0 || (rc = djs_mp_read_array(r, &m)) != 0)
            return rc;
        if (two != 2 || !valid_slot(st, s))
            return DJS_ECORRUPT;
        for (uint32_t k = 0; k < m; k++) {
            if ((rc = djs_mp_read_uint(r, &d)) != 0)
                return rc;
            if (!valid_slot(st, d))
                return DJS_ECORRUPT;
            djs__state_add_dependent(st, &st->jobs[s], (uint32_t)d);
        }
    }
    if ((rc = djs_mp_read_array(r, &n)) != 0)
        return rc;
    st->term_cap = n ? n : 1;
    st->term = djs_malloc(st->term_cap * sizeof(term_ent_t));
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = djs_mp_read_array(r, &two)) != 0 || (rc = djs_mp_read_uint(r, &s)) != 0 || (rc = djs_mp_read_uint(r, &seq)) != 0)
            return rc;
        if (two != 2 || s >= st->njobs)
            return DJS_ECORRUPT;
        st->term[st->term_n++] = (term_ent_t){(uint32_t)s, seq};
    }
    return djs_mp_read_uint(r, &st->nterminal);
}

/* Derived indexes from the restored tables; metrics are restored as saved. */
static int rebuild(djs_state_t *st)
{
    uint64_t terminal = 0;
    for (uint32_t s = st->njobs; s-- > 0;) {
        djs_job_t *j = &st->jobs[s];
        if (j->state >= DJS_JOB_NSTATES) {
            if (st->nfree_jobs == st->cap_free_jobs) {
                st->cap_free_jobs = st->cap_free_jobs ? st->cap_free_jobs * 2 : 1024;
                st->free_jobs = djs_realloc(st->free_jobs, st->cap_free_jobs * sizeof(uint32_t));
            }
            st->free_jobs[st->nfree_jobs++] = s;
            continue;
        }
        terminal += djs_job_state_terminal(j->state);
        class_t *cl = djs__state_class_get(st, j->cls);
        if (j->state == DJS_JOB_QUEUED && j->timer_kind == DJS_TIMER_NONE)
            djs_heap_push(&cl->tiers[j->prio], j->ready_key, s);
        if (j->timer_kind != DJS_TIMER_NONE)
            djs_heap_push(&st->timers, j->deadline_ns, s);
        if (j->worker != DJS_NONE) {
            djs_worker_t *w = &st->workers[j->worker];
            if (w->njobs == w->cap_jobs) {
                w->cap_jobs = w->cap_jobs ? w->cap_jobs * 2 : 4;
                w->jobs = djs_realloc(w->jobs, w->cap_jobs * sizeof(uint32_t));
            }
            w->jobs[w->njobs++] = s;
            if (j->ckey != DJS_NONE)
                djs__state_ckey_hold(st, s); /* ready jobs are all in their tiers: placement parks them again */
        }
    }
    if (terminal != st->nterminal)
        return DJS_ECORRUPT;
    for (uint32_t ws = 0; ws < st->nworkers; ws++) {
        if (st->workers[ws].running != st->workers[ws].njobs)
            return DJS_ECORRUPT;
        djs__state_worker_refresh(st, ws);
    }
    return 0;
}

static int rd_schedules(djs_mp_reader_t *r, djs_state_t *st)
{
    const uint8_t *b;
    size_t n;
    if (djs_mp_read_bin(r, &b, &n) != 0)
        return DJS_ECORRUPT;
    return djs__sched_unpack(st->sched, b, n);
}

/* Magic, version and checksum; leaves r on the field after the version
 * and its end before the checksum. The version is judged first, so a
 * snapshot of another version is DJS_EVERSION, not "corrupt". */
static int check_frame(djs_mp_reader_t *r, const uint8_t *snap, size_t len, uint64_t *version)
{
    uint32_t n;
    const char *magic;
    size_t mlen;
    if (djs_mp_read_array(r, &n) != 0 || djs_mp_read_str(r, &magic, &mlen) != 0 || mlen != strlen(SNAP_MAGIC) ||
        memcmp(magic, SNAP_MAGIC, mlen) != 0 || djs_mp_read_uint(r, version) != 0)
        return DJS_ECORRUPT;
    if (*version != SNAP_VERSION && *version != 4)
        return DJS_EVERSION;
    if (n != (*version == 4 ? SNAP_V4_FIELDS : SNAP_FIELDS) || len < (size_t)(r->p - snap) + SNAP_SUM_LEN)
        return DJS_ECORRUPT;
    const uint8_t *sum = snap + len - SNAP_SUM_LEN;
    uint8_t want[32];
    if (sum[0] != 0xc4 || sum[1] != 32 || EVP_Digest(snap, len - SNAP_SUM_LEN, want, NULL, EVP_sha256(), NULL) != 1 ||
        memcmp(want, sum + 2, 32) != 0)
        return DJS_ECORRUPT;
    r->end = sum;
    return 0;
}

int djs_state_snapshot_seq(const uint8_t *head, size_t len, uint64_t *seq)
{
    djs_mp_reader_t r;
    uint32_t n;
    const char *magic;
    size_t mlen;
    uint64_t version;
    djs_mp_reader_init(&r, head, len);
    if (djs_mp_read_array(&r, &n) != 0 || djs_mp_read_str(&r, &magic, &mlen) != 0 || mlen != strlen(SNAP_MAGIC) ||
        memcmp(magic, SNAP_MAGIC, mlen) != 0 || djs_mp_read_uint(&r, &version) != 0)
        return DJS_ECORRUPT;
    if (version != SNAP_VERSION && version != 4)
        return DJS_EVERSION;
    if (n != (version == 4 ? SNAP_V4_FIELDS : SNAP_FIELDS))
        return DJS_ECORRUPT;
    return djs_mp_read_uint(&r, seq) != 0 ? DJS_ECORRUPT : 0;
}

int djs_state_restore(const uint8_t *snap, size_t len, const djs_state_config_t *c, djs_state_t **out)
{
    djs_mp_reader_t r;
    djs_state_t *st = NULL;
    int rc;
    *out = NULL;
    uint64_t version;
    const uint8_t *digest = NULL;
    size_t dlen = 0;
    djs_mp_reader_init(&r, snap, len);
    if ((rc = check_frame(&r, snap, len, &version)) != 0)
        return rc;
    st = djs_state_new(c);
    TRY(rd_header(&r, st));
    TRY(rd_tables(&r, st));
    TRY(rd_links(&r, st));
    TRY(rd_schedules(&r, st));
    if (version >= 5) {
        uint32_t three;
        uint64_t keep, age;
        if (djs_mp_read_array(&r, &three) != 0 || three != 3 || djs_mp_read_bin(&r, &digest, &dlen) != 0 || dlen != 32 ||
            djs_mp_read_uint(&r, &keep) != 0 || djs_mp_read_uint(&r, &age) != 0) {
            rc = DJS_ECORRUPT;
            goto fail;
        }
    }
    if (r.p != r.end) {
        rc = DJS_ECORRUPT;
        goto fail;
    }
    TRY(rebuild(st));
    if (digest != NULL) { /* the restored state must be the one that was written */
        uint8_t got[32];
        djs_state_digest(st, got);
        if (memcmp(got, digest, 32) != 0) {
            rc = DJS_ECORRUPT;
            goto fail;
        }
    }
    *out = st;
    return 0;
fail:
    djs_state_free(st);
    return rc == DJS_EVERSION ? rc : DJS_ECORRUPT;
}

int djs_state_snapshot_meta(const uint8_t *snap, size_t len, djs_snapshot_meta_t *m)
{
    djs_mp_reader_t r;
    uint64_t version;
    memset(m, 0, sizeof(*m));
    djs_mp_reader_init(&r, snap, len);
    int rc = check_frame(&r, snap, len, &version);
    if (rc != 0)
        return rc;
    if (djs_mp_read_uint(&r, &m->seq) != 0)
        return DJS_ECORRUPT;
    m->version = (uint32_t)version;
    if (version < 5)
        return 0;
    const uint8_t *f = snap + len - SNAP_SUM_LEN - SNAP_META_LEN;
    if (f < r.p || f[0] != 0x93 || f[1] != 0xc4 || f[2] != 32 || f[35] != 0xcf || f[44] != 0xcf)
        return DJS_ECORRUPT;
    memcpy(m->digest, f + 3, 32);
    for (int k = 0; k < 8; k++) {
        m->max_terminal = m->max_terminal << 8 | f[36 + k];
        m->max_terminal_age = m->max_terminal_age << 8 | f[45 + k];
    }
    m->has_digest = 1;
    return 0;
}

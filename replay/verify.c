#include "replay/verify.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/bodies.h"
#include "core/error.h"
#include "projections/replay.h"
#include "projections/snapshot.h"
#include "projections/state.h"

#define MAX_SNAPSHOTS 64

/* A problem found by one of the two walks. */
typedef struct problem {
    uint64_t seq;
    int err;
    int snapshot; /* a stored snapshot, not a record */
    char detail[256];
} problem_t;

__attribute__((format(printf, 4, 5))) static int bad(problem_t *p, uint64_t seq, int err, const char *fmt, ...)
{
    va_list ap;
    p->seq = seq;
    p->err = err;
    p->snapshot = 0;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
    va_end(ap);
    return err;
}

/* An order-independent sum over (entity, seq) pairs: the records' and the
 * index's must be equal. */
typedef struct isum {
    uint64_t n, sum, x;
} isum_t;

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void isum_add(isum_t *s, const djs_id_t *e, uint64_t seq)
{
    uint64_t a, b;
    memcpy(&a, e->b, 8);
    memcpy(&b, e->b + 8, 8);
    uint64_t h = mix(mix(a) ^ b ^ mix(seq + 0x9e3779b97f4a7c15ull));
    s->n++;
    s->sum += h;
    s->x ^= h;
}

typedef struct walk {
    djs_verify_report_t *rep;
    const djs_verify_options_t *o;
    djs_log_t *log;
    problem_t p;
    uint8_t prev_hash[DJS_HASH_LEN];
    uint64_t prev_ts;
    uint64_t expect_seq, total, next_report, next_checkpoint;
    int second;               /* the second half of a split chain walk: no progress, no checkpoints */
    _Atomic uint64_t *shared; /* records done by both halves, for progress */
    isum_t recs, idx;
    djs_buf_t tmp;
} walk_t;

static int check_output(walk_t *w, const djs_event_t *ev)
{
    djs_job_change_t c;
    if (djs_body_read_job_change(ev->body, ev->body_len, &c) != 0 || c.out_len == 0)
        return 0; /* a body that does not read is the replay's finding */
    if (!c.has_out_sha) {
        w->rep->output_unbound++;
        return 0;
    }
    uint64_t next = 0;
    djs_buf_reset(&w->tmp);
    int rc = djs_log_read_output(w->log, &ev->entity, c.out_offset, c.out_len, &w->tmp, &next);
    if (rc != 0)
        return rc;
    if (w->tmp.len != c.out_len)
        return bad(&w->p, ev->seq, DJS_ECORRUPT,
                   "record %" PRIu64 ": job output at offset %" PRIu64 " has %zu of its %u bytes in the output store", ev->seq,
                   c.out_offset, w->tmp.len, c.out_len);
    uint8_t h[DJS_HASH_LEN];
    djs_sha256_2(w->tmp.base, w->tmp.len, NULL, 0, h);
    if (memcmp(h, c.out_sha, DJS_HASH_LEN) != 0)
        return bad(&w->p, ev->seq, DJS_ECORRUPT,
                   "record %" PRIu64 ": job output bytes %" PRIu64 "..%" PRIu64 " were altered (SHA-256 differs from the event's)",
                   ev->seq, c.out_offset, c.out_offset + c.out_len - 1);
    w->rep->output_chunks++;
    w->rep->output_bytes += c.out_len;
    return 0;
}

static int on_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    walk_t *w = arg;
    djs_verify_report_t *rep = w->rep;
    djs_event_t ev;
    uint8_t h[DJS_HASH_LEN];
    int rc;

    if (seq != w->expect_seq)
        return bad(&w->p, w->expect_seq, DJS_ESEQGAP, "record %" PRIu64 " is missing (next key is %" PRIu64 ")", w->expect_seq,
                   seq);
    if ((rc = djs_event_decode(rec, len, &ev)) != 0)
        return bad(&w->p, seq, rc, "record %" PRIu64 " does not decode (%zu bytes): %s", seq, len, djs_strerror(rc));
    if (ev.seq != seq)
        return bad(&w->p, seq, DJS_ECORRUPT, "record stored at %" PRIu64 " claims seq %" PRIu64 "", seq, ev.seq);
    if (ev.ts_ns <= w->prev_ts)
        return bad(&w->p, seq, DJS_ECORRUPT, "record %" PRIu64 ": timestamp goes back (%" PRIu64 " after %" PRIu64 ")", seq,
                   ev.ts_ns, w->prev_ts);
    djs_event_chain(w->prev_hash, rec, len, h);
    if (memcmp(h, ev.hash, DJS_HASH_LEN) != 0)
        return bad(&w->p, seq, DJS_ECHAIN,
                   "record %" PRIu64 ": hash chain broken (this record was altered, or its predecessor was replaced)", seq);
    if (!djs_id_is_nil(&ev.entity))
        isum_add(&w->recs, &ev.entity, seq);
    switch (ev.type) {
    case DJS_EV_JOB_SUBMITTED:
        rep->jobs++;
        break;
    case DJS_EV_WORKER_REGISTERED:
        rep->workers++;
        break;
    case DJS_EV_SCHEDULE_FIRED:
        rep->schedule_fires++;
        break;
    case DJS_EV_JOB_OUTPUT:
        if (w->o->output && (rc = check_output(w, &ev)) != 0)
            return rc;
        break;
    default:
        break;
    }
    memcpy(w->prev_hash, h, DJS_HASH_LEN);
    w->prev_ts = ev.ts_ns;
    if (rep->records == 0)
        rep->first_ts = ev.ts_ns;
    rep->last_ts = ev.ts_ns;
    rep->bytes += len;
    w->expect_seq++;
    rep->records++;
    rep->last_seq = seq;
    if (w->shared != NULL && (rep->records & 1023) == 0)
        atomic_fetch_add_explicit(w->shared, 1024, memory_order_relaxed);
    if (w->second)
        return 0;
    if (w->o->checkpoint_every > 0 && rep->records >= w->next_checkpoint) {
        if ((rc = djs_log_put_verified(w->log, seq, h)) != 0)
            return rc;
        w->next_checkpoint += w->o->checkpoint_every;
    }
    uint64_t done = w->shared != NULL ? atomic_load_explicit(w->shared, memory_order_relaxed) : rep->records;
    if (w->o->progress != NULL && done >= w->next_report) {
        w->o->progress(w->o->arg, done, w->total);
        w->next_report = done + w->total / 100 + 1;
    }
    return 0;
}

/* ---- the entity index ------------------------------------------------------ */

static int on_index_sum(void *arg, const djs_id_t *entity, uint64_t seq)
{
    walk_t *w = arg;
    w->rep->index_entries++;
    if (seq < w->rep->first_seq && w->rep->trusted_seq == w->rep->base_seq)
        return bad(&w->p, seq, DJS_ECORRUPT, "entity index names record %" PRIu64 ", which is before the log's start", seq);
    if (seq >= w->rep->first_seq && seq <= w->rep->last_seq) {
        isum_add(&w->idx, entity, seq);
    } else if (seq > w->rep->last_seq) { /* appended since the walk, or naming nothing */
        djs_buf_reset(&w->tmp);
        int rc = djs_log_get(w->log, seq, &w->tmp);
        if (rc == DJS_ENOTFOUND)
            return bad(&w->p, seq, DJS_ECORRUPT, "entity index names record %" PRIu64 ", which does not exist", seq);
        return rc;
    }
    return 0;
}

/* The slow path, only when the sums differ: name the first bad entry. */
static int on_index_exact(void *arg, const djs_id_t *entity, uint64_t seq)
{
    walk_t *w = arg;
    djs_event_t ev;
    if (seq < w->rep->first_seq || seq > w->rep->last_seq)
        return 0;
    djs_buf_reset(&w->tmp);
    int rc = djs_log_get(w->log, seq, &w->tmp);
    if (rc == DJS_ENOTFOUND)
        return bad(&w->p, seq, DJS_ECORRUPT, "entity index names record %" PRIu64 ", which does not exist", seq);
    if (rc != 0)
        return rc;
    if (djs_event_decode(w->tmp.base, w->tmp.len, &ev) != 0 || djs_id_cmp(&ev.entity, entity) != 0)
        return bad(&w->p, seq, DJS_ECORRUPT, "entity index entry for record %" PRIu64 " names another entity", seq);
    return 0;
}

static int count_one(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)seq, (void)rec, (void)len;
    ++*(int *)arg;
    return 0;
}

static int on_record_indexed(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    walk_t *w = arg;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0 || djs_id_is_nil(&ev.entity))
        return 0;
    int n = 0, rc = djs_log_scan_entity(w->log, &ev.entity, seq, seq, count_one, &n);
    if (rc != 0)
        return rc;
    if (n != 1)
        return bad(&w->p, seq, DJS_ECORRUPT, "record %" PRIu64 " has no entry in the entity index", seq);
    return 0;
}

static int check_index(walk_t *w)
{
    int rc = djs_log_scan_index(w->log, on_index_sum, w);
    if (rc != 0 || (w->idx.n == w->recs.n && w->idx.sum == w->recs.sum && w->idx.x == w->recs.x))
        return rc;
    if ((rc = djs_log_scan_index(w->log, on_index_exact, w)) != 0)
        return rc;
    if ((rc = djs_log_scan(w->log, w->rep->first_seq, w->rep->last_seq, on_record_indexed, w)) != 0)
        return rc;
    return bad(&w->p, 0, DJS_ECORRUPT, "entity index has %" PRIu64 " entries for %" PRIu64 " records with an entity", w->idx.n,
               w->recs.n);
}

/* ---- the replay, on its own thread ------------------------------------------ */

typedef struct replayer {
    djs_log_t *log;
    uint64_t start; /* 0: from the log's start; else from the newest snapshot at or before it */
    uint64_t last;
    uint64_t base; /* archive base, 0 if none */
    problem_t p;
    uint32_t snapshots, snapshots_old;
    uint64_t replayed;
    uint8_t digest[32];
    int rc;
} replayer_t;

static int snapshot_at(djs_log_t *log, uint64_t max, uint64_t *seq, djs_buf_t *b)
{
    djs_buf_reset(b);
    return djs_log_get_snapshot(log, max, seq, b);
}

static int replay_to(replayer_t *r, djs_state_t *st, uint64_t to)
{
    uint64_t n = 0, bad_seq = 0;
    int err = 0;
    if (to <= djs_state_seq(st))
        return 0;
    int rc = djs_state_replay(st, r->log, djs_state_seq(st) + 1, to, &n, &bad_seq, &err);
    r->replayed += n;
    if (rc == DJS_ECORRUPT)
        return bad(&r->p, bad_seq, DJS_ECORRUPT, "record %" PRIu64 " does not apply to the state replayed before it: %s", bad_seq,
                   djs_strerror(err ? err : rc));
    return rc;
}

/* A fresh state under cfg from the log's start: empty, or the base snapshot. */
static int start_state(replayer_t *r, const djs_state_config_t *cfg, djs_buf_t *b, djs_state_t **out)
{
    uint64_t seq = 0;
    if (r->base == 0) {
        *out = djs_state_new(cfg);
        return 0;
    }
    int rc = snapshot_at(r->log, r->base, &seq, b);
    if (rc == 0 && seq == r->base && djs_state_restore(b->base, b->len, cfg, out) == 0)
        return 0;
    return bad(&r->p, r->base, DJS_ECORRUPT,
               "the snapshot at the archive base (seq %" PRIu64 ") is missing or does not restore: restore a backup", r->base);
}

static int same_retention(const djs_snapshot_meta_t *m, const djs_state_config_t *c)
{
    return m->max_terminal == c->max_terminal && m->max_terminal_age == c->max_terminal_age;
}

/* A problem of a stored snapshot (a cache), not of the records. */
#define bad_snapshot(r, seq, ...) (bad(&(r)->p, (seq), DJS_ECORRUPT, __VA_ARGS__), (r)->p.snapshot = 1, DJS_ECORRUPT)

/* Compare the snapshot in b (at seq) with st, replayed to seq. */
static int compare_snapshot(replayer_t *r, const djs_state_t *st, uint64_t seq, const djs_buf_t *b, const djs_state_config_t *c)
{
    djs_state_t *rs = NULL;
    uint8_t want[32], got[32];
    int rc = djs_state_restore(b->base, b->len, c, &rs);
    if (rc != 0)
        return bad_snapshot(r, seq, "the snapshot at seq %" PRIu64 " does not restore: %s (the server skips it)", seq,
                            djs_strerror(rc));
    djs_state_digest(rs, got);
    djs_state_free(rs);
    djs_state_digest(st, want);
    if (memcmp(want, got, 32) != 0)
        return bad_snapshot(r, seq, "the snapshot at seq %" PRIu64 " holds other state than a replay of the log to it", seq);
    return 0;
}

static void *replay_main(void *arg)
{
    replayer_t *r = arg;
    djs_buf_t b;
    uint64_t seqs[MAX_SNAPSHOTS], max = r->last, seq;
    djs_snapshot_meta_t metas[MAX_SNAPSHOTS];
    int n = 0, rc = 0;
    djs_state_t *st = NULL;
    djs_buf_init(&b);
    /* the snapshots, newest first */
    while (n < MAX_SNAPSHOTS && max > 0 && (rc = snapshot_at(r->log, max, &seq, &b)) == 0) {
        if (djs_state_snapshot_meta(b.base, b.len, &metas[n]) != 0)
            metas[n].version = 0; /* unreadable: compare_snapshot says so */
        seqs[n++] = seq;
        max = seq - 1;
    }
    if (rc != 0 && rc != DJS_ENOTFOUND)
        goto out;
    rc = 0;
    djs_state_config_t cfg;
    djs_state_config_init(&cfg);
    for (int i = 0; i < n; i++) {
        if (metas[i].has_digest) {
            cfg.max_terminal = metas[i].max_terminal;
            cfg.max_terminal_age = metas[i].max_terminal_age;
            break;
        }
    }
    /* the starting point */
    int first = n; /* snapshots at or before the start are trusted, not checked */
    if (r->start > 0) {
        for (int i = 0; i < n; i++) {
            if (seqs[i] <= r->start && seqs[i] >= r->base) {
                if ((rc = snapshot_at(r->log, seqs[i], &seq, &b)) == 0 && djs_state_restore(b.base, b.len, &cfg, &st) == 0) {
                    first = i;
                    break;
                }
                st = NULL;
            }
        }
    }
    if (st == NULL && (rc = start_state(r, &cfg, &b, &st)) != 0)
        goto out;
    for (int i = first - 1; i >= 0; i--) {
        if (seqs[i] <= djs_state_seq(st))
            continue;
        if ((rc = replay_to(r, st, seqs[i])) != 0)
            goto out;
        rc = snapshot_at(r->log, seqs[i], &seq, &b);
        if (rc == DJS_ENOTFOUND || (rc == 0 && seq != seqs[i])) {
            rc = 0; /* removed since it was listed (a running server keeps only its newest few): nothing to check */
            continue;
        }
        if (rc != 0)
            goto out;
        uint64_t sseq;
        if (metas[i].version == 0 && djs_state_snapshot_seq(b.base, b.len, &sseq) == DJS_EVERSION)
            continue; /* a format this djs does not read (versions 1-3, no checksum in 1): the server never restores
                       * it, so it cannot give wrong state; a flipped version byte looks the same and costs only a
                       * slower start */
        if (metas[i].version == 0 || !metas[i].has_digest || same_retention(&metas[i], &cfg)) {
            if ((rc = compare_snapshot(r, st, seqs[i], &b, &cfg)) != 0)
                goto out;
        } else { /* taken under another retention: a replay of its own */
            djs_state_config_t c2 = cfg;
            c2.max_terminal = metas[i].max_terminal;
            c2.max_terminal_age = metas[i].max_terminal_age;
            djs_state_t *s2 = NULL;
            djs_buf_t b2;
            djs_buf_init(&b2);
            rc = start_state(r, &c2, &b2, &s2);
            if (rc == 0 && (rc = replay_to(r, s2, seqs[i])) == 0)
                rc = compare_snapshot(r, s2, seqs[i], &b, &c2);
            djs_state_free(s2);
            djs_buf_dispose(&b2);
            if (rc != 0)
                goto out;
        }
        if (metas[i].has_digest)
            r->snapshots++;
        else
            r->snapshots_old++;
    }
    if ((rc = replay_to(r, st, r->last)) != 0)
        goto out;
    djs_state_digest(st, r->digest);
out:
    djs_state_free(st);
    djs_buf_dispose(&b);
    r->rc = rc;
    return NULL;
}

/* ---- the run ----------------------------------------------------------------- */

void djs_verify_options_init(djs_verify_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->output = 1;
    o->index = 1;
    o->replay = 1;
}

/* The hash record seq chains to: the stored hash of seq - 1, the base's,
 * or all zero before seq 1. Rehashing the checkpointed record against it
 * catches a change of the record's bytes, not only of its hash field. */
static int chain_prev(walk_t *w, uint64_t seq, uint8_t prev[DJS_HASH_LEN])
{
    if (seq == w->rep->base_seq + 1) {
        memcpy(prev, w->prev_hash, DJS_HASH_LEN); /* the base's, or zeros */
        return 0;
    }
    int rc = djs_log_hash_at(w->log, seq - 1, prev);
    return rc == DJS_ENOTFOUND ? bad(&w->p, seq - 1, DJS_ESEQGAP, "record %" PRIu64 " is missing", seq - 1) : rc;
}

/* Where the walk starts: after the base, the trusted `from` or the
 * verified checkpoint, whichever is newest. */
static int find_start(walk_t *w)
{
    djs_verify_report_t *rep = w->rep;
    djs_log_base_t base;
    int rc = djs_log_get_base(w->log, &base);
    if (rc == 0) {
        rep->base_seq = rep->trusted_seq = base.seq;
        memcpy(w->prev_hash, base.hash, DJS_HASH_LEN);
        w->prev_ts = base.ts_ns;
    } else if (rc != DJS_ENOTFOUND) {
        return rc;
    }
    uint64_t from = w->o->from, vseq = 0;
    uint8_t vh[DJS_HASH_LEN];
    int use_checkpoint = 0;
    if (w->o->from_checkpoint && djs_log_get_verified(w->log, &vseq, vh) == 0 && vseq > from && vseq > rep->base_seq &&
        vseq <= w->total) {
        from = vseq;
        use_checkpoint = 1;
    }
    if (from > rep->base_seq) {
        djs_event_t ev;
        djs_buf_reset(&w->tmp);
        if ((rc = djs_log_get(w->log, from, &w->tmp)) == DJS_ENOTFOUND)
            return bad(&w->p, from, DJS_ESEQGAP, "record %" PRIu64 " (the trusted starting point) is missing", from);
        if (rc != 0)
            return rc;
        if ((rc = djs_event_decode(w->tmp.base, w->tmp.len, &ev)) != 0)
            return bad(&w->p, from, rc, "record %" PRIu64 " (the trusted starting point) does not decode", from);
        uint8_t prev[DJS_HASH_LEN], again[DJS_HASH_LEN];
        if (use_checkpoint && (rc = chain_prev(w, from, prev)) != 0)
            return rc;
        if (use_checkpoint)
            djs_event_chain(prev, w->tmp.base, w->tmp.len, again);
        if (use_checkpoint && (memcmp(ev.hash, vh, DJS_HASH_LEN) != 0 || memcmp(again, vh, DJS_HASH_LEN) != 0)) {
            char a[2 * DJS_HASH_LEN + 1];
            djs_hex(vh, DJS_HASH_LEN, a);
            return bad(&w->p, from, DJS_ECHAIN, "record %" PRIu64 " differs from the verified checkpoint (hash %.16s...)", from, a);
        }
        rep->trusted_seq = from;
        memcpy(w->prev_hash, ev.hash, DJS_HASH_LEN);
        w->prev_ts = ev.ts_ns;
    } else if (from > 0 && from < rep->base_seq) {
        return bad(&w->p, from, DJS_EARCHIVED, "seq %" PRIu64 " is before the log's archive base (%" PRIu64 ")", from,
                   rep->base_seq);
    }
    rep->first_seq = w->expect_seq = (rep->trusted_seq > 0 ? rep->trusted_seq : 0) + 1;
    return 0;
}

static void *second_main(void *arg)
{
    walk_t *w = arg;
    w->p.err = djs_log_scan(w->log, w->expect_seq, w->total, on_record, w);
    if (w->p.err != 0 && w->p.seq == 0 && w->p.detail[0] == 0)
        snprintf(w->p.detail, sizeof(w->p.detail), "read failed: %s", djs_strerror(w->p.err));
    return NULL;
}

/* The chain walk from w->expect_seq to w->total. Without the replay (the
 * server's start-up check) a long walk is split in two halves hashed on
 * two threads: each record's hash depends only on its predecessor's stored
 * hash, and the first half checks the stored hash the second starts from,
 * so the halves together check exactly what one walk would. */
static int chain_walk(walk_t *w)
{
    uint64_t n = w->total - w->expect_seq + 1;
    if (w->o->replay || n < (w->o->split_min ? w->o->split_min : 400000) || n < 2)
        return djs_log_scan(w->log, w->expect_seq, w->total, on_record, w);
    uint64_t mid = w->expect_seq + n / 2;
    _Atomic uint64_t shared = 0;
    walk_t w2;
    djs_verify_report_t rep2;
    djs_buf_t rec;
    djs_event_t ev;
    memset(&w2, 0, sizeof(w2));
    memset(&rep2, 0, sizeof(rep2));
    djs_buf_init(&rec);
    int rc = djs_log_get(w->log, mid - 1, &rec);
    if (rc == 0 && djs_event_decode(rec.base, rec.len, &ev) != 0)
        rc = -1;
    if (rc != 0) { /* the one walk names it */
        djs_buf_dispose(&rec);
        return djs_log_scan(w->log, w->expect_seq, w->total, on_record, w);
    }
    w2.rep = &rep2;
    w2.o = w->o;
    w2.log = w->log;
    w2.expect_seq = mid;
    w2.total = w->total;
    w2.second = 1;
    w2.shared = w->shared = &shared;
    memcpy(w2.prev_hash, ev.hash, DJS_HASH_LEN);
    w2.prev_ts = ev.ts_ns;
    djs_buf_init(&w2.tmp);
    djs_buf_dispose(&rec);
    pthread_t th;
    if (pthread_create(&th, NULL, second_main, &w2) != 0) {
        djs_buf_dispose(&w2.tmp);
        w->shared = NULL;
        return djs_log_scan(w->log, w->expect_seq, w->total, on_record, w);
    }
    rc = djs_log_scan(w->log, w->expect_seq, mid - 1, on_record, w);
    pthread_join(th, NULL);
    w->shared = NULL;
    djs_buf_dispose(&w2.tmp);
    if (rc != 0)
        return rc; /* the first half's problem comes first */
    /* the halves as one walk */
    djs_verify_report_t *r = w->rep;
    r->records += rep2.records;
    r->bytes += rep2.bytes;
    r->jobs += rep2.jobs;
    r->workers += rep2.workers;
    r->schedule_fires += rep2.schedule_fires;
    r->output_chunks += rep2.output_chunks;
    r->output_bytes += rep2.output_bytes;
    r->output_unbound += rep2.output_unbound;
    w->recs.n += w2.recs.n;
    w->recs.sum += w2.recs.sum;
    w->recs.x ^= w2.recs.x;
    if (rep2.records > 0) {
        r->last_seq = rep2.last_seq;
        r->last_ts = rep2.last_ts;
        memcpy(w->prev_hash, w2.prev_hash, DJS_HASH_LEN);
        w->prev_ts = w2.prev_ts;
    }
    w->expect_seq = w2.expect_seq;
    if (w2.p.err != 0) {
        w->p = w2.p;
        return w2.p.err;
    }
    return 0;
}

int djs_verify_run(djs_log_t *log, const djs_verify_options_t *o, djs_verify_report_t *rep)
{
    walk_t w;
    replayer_t r;
    pthread_t th;
    int started = 0;
    memset(rep, 0, sizeof(*rep));
    memset(&w, 0, sizeof(w));
    memset(&r, 0, sizeof(r));
    w.rep = rep;
    w.o = o;
    w.log = log;
    w.total = djs_log_last_seq(log);
    w.next_checkpoint = o->checkpoint_every;
    djs_buf_init(&w.tmp);

    int rc = find_start(&w);
    if (rc == 0 && o->replay) {
        r.log = log;
        r.start = rep->trusted_seq > rep->base_seq ? rep->trusted_seq : 0;
        r.base = rep->base_seq;
        r.last = w.total;
        started = pthread_create(&th, NULL, replay_main, &r) == 0;
        if (!started)
            rc = DJS_EIO;
    }
    if (rc == 0 && w.expect_seq <= w.total)
        rc = chain_walk(&w);
    if (rc == 0 && w.expect_seq != w.total + 1)
        rc = bad(&w.p, w.expect_seq, DJS_ESEQGAP, "log ends at %" PRIu64 " but its last key is %" PRIu64 "", w.expect_seq - 1,
                 w.total);
    if (rc == 0 && o->index)
        rc = check_index(&w);
    if (rc == 0 && o->checkpoint_every > 0 && rep->records > 0)
        rc = djs_log_put_verified(log, rep->last_seq, w.prev_hash);
    if (started) {
        pthread_join(th, NULL);
        rep->snapshots = r.snapshots;
        rep->snapshots_old = r.snapshots_old;
        rep->replayed = r.replayed;
        memcpy(rep->digest, r.digest, 32);
        /* the first problem in log order wins (the chain's on a tie) */
        if (r.rc != 0 && (w.p.err == 0 || (r.p.err != 0 && r.p.seq != 0 && r.p.seq < w.p.seq))) {
            w.p = r.p;
            if (rc == 0 || w.p.err != 0)
                rc = r.rc;
        }
    }
    if (w.p.err != 0) {
        rep->bad_seq = w.p.seq;
        rep->error = w.p.err;
        rep->snapshot_problem = w.p.snapshot;
        memcpy(rep->detail, w.p.detail, sizeof(rep->detail));
        rc = w.p.err;
    } else if (rc != 0) {
        rep->error = rc;
        snprintf(rep->detail, sizeof(rep->detail), "read failed: %s", djs_strerror(rc));
    }
    memcpy(rep->head_hash, w.prev_hash, DJS_HASH_LEN);
    if (o->progress != NULL && rc == 0)
        o->progress(o->arg, rep->records, w.total);
    djs_buf_dispose(&w.tmp);
    return rc;
}

int djs_verify_log(djs_log_t *log, djs_verify_report_t *rep, djs_verify_progress_cb progress, void *arg)
{
    djs_verify_options_t o;
    djs_verify_options_init(&o);
    o.progress = progress;
    o.arg = arg;
    return djs_verify_run(log, &o, rep);
}

#include "eventlog/log.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define DEFAULT_MAX_BATCH 16384
#define SCAN_CHUNK 8192 /* records per read transaction in a scan */
#define FORMAT_KEY "format"
#define FORMAT_VALUE "djs-log-1"
#define DEFAULT_SNAPSHOT_PIECE ((size_t)1 << 20)
/* A snapshot written in pieces: "snapshots" holds a manifest, written in the
 * transaction of the last piece. Version 1: "DJSP", u32 version, u64 total
 * length, u32 pieces, u32 piece size, all big-endian. Another version is
 * read as a damaged snapshot (the caller falls back to an older one). Any
 * other value is a whole-blob snapshot from before pieces (still read). */
#define MANIFEST_MAGIC "DJSP"
#define MANIFEST_VERSION 1
#define MANIFEST_LEN 24
#define META_BASE "base"         /* u64 seq, u64 ts (big-endian), hash: the last archived record */
#define META_VERIFIED "verified" /* u64 seq (big-endian), hash: the newest verified checkpoint */
#define META_BASE_LEN (16 + DJS_HASH_LEN)
#define META_VERIFIED_LEN (8 + DJS_HASH_LEN)
#define PIECE_KEY_LEN 12 /* seq (u64 big-endian) || piece index (u32 big-endian) */

/* One staged record: where its bytes are in the batch and what to index. */
typedef struct item {
    uint64_t seq;
    uint32_t off;
    uint32_t len;
    djs_id_t entity;
    uint16_t kind; /* ITEM_EVENT or ITEM_OUTPUT (seq = byte offset) */
} item_t;

enum { ITEM_EVENT = 0, ITEM_OUTPUT = 2 };

/* A snapshot being written, one piece per write transaction. Queued under
 * mu by the appending thread, then read and advanced only by the writer. */
typedef struct snapjob {
    uint64_t seq;
    size_t len;
    uint32_t next; /* next piece to write */
    uint32_t keep;
    int fd;       /* the bytes: read from fd (owned, closed when done) ... */
    uint8_t *mem; /* ... or this owned copy */
    struct snapjob *after;
} snapjob_t;

/* A batch of encoded records handed from the appending thread to the writer. */
typedef struct batch {
    djs_buf_t data;
    item_t *items;
    size_t n, cap;
    struct batch *next;
} batch_t;

typedef struct waiter {
    uint64_t seq;
    djs_log_durable_cb cb;
    void *arg;
} waiter_t;

struct djs_log {
    char *dir;
    djs_log_options_t opts;
    MDB_env *env;
    MDB_dbi db_events, db_entity, db_snapshots, db_pieces, db_output, db_meta;
    int have_pieces; /* a read-only handle on a log from before pieces has no db_pieces */
    size_t piece;    /* snapshot piece size */

    /* appending-thread state */
    djs_clock_t clock;
    uint64_t last_seq;
    uint64_t last_ts;
    uint8_t last_hash[DJS_HASH_LEN];
    batch_t *staging;
    batch_t *pend_head, *pend_tail; /* replicated, awaiting their commit (opts.replicate) */
    size_t npend;
    int leader;         /* opts.replicate: appends are taken only while leader */
    uint64_t acked_seq; /* opts.replicate: committed (durable on a majority): its waiters are answered */
    djs_buf_t entry;    /* the replicated form of a batch being handed to opts.replicate */
    waiter_t *waiters;  /* sorted by seq, consumed from whead */
    size_t whead, wn, wcap;
    djs_log_tail_t *tails;
    djs_log_tail_t *tail_next; /* next tail to notify while dispatch walks the list */
    uint64_t notified_seq;
    int fatal_reported;

    /* shared with the writer, under mu */
    pthread_mutex_t mu;
    pthread_cond_t work_cv;    /* writer waits for batches */
    pthread_cond_t durable_cv; /* appender waits for durability */
    batch_t *queue_head, *queue_tail, *free_batches;
    uint64_t handed_seq;              /* the last event seq handed to the writer */
    snapjob_t *snap_head, *snap_tail; /* snapshots to write, oldest first */
    int stopping;
    _Atomic int failed; /* 0 or the fail-stop djs error; written under mu */
    char failed_msg[256];
    _Atomic uint64_t durable_seq;
    _Atomic size_t map_size;
    pthread_t writer;
    int writer_running;
    djs_log_stats_t stats; /* under mu */

    /* readers vs. map growth: readers hold it shared for a read txn */
    pthread_rwlock_t resize_lock;

    /* loop attachment */
    uv_loop_t *loop;
    uv_async_t async;
    uv_prepare_t prepare;
    int open_handles;
    int async_ref; /* the async handle keeps the loop alive while events await durability */
    int closing;
};

/* Read-only and tool handles have no writer thread: they read the tail
 * from the disk (another process may be appending) and refuse appends. */
static int no_writer(const djs_log_t *log)
{
    return log->opts.readonly || log->opts.tool;
}

/* ---- errors ------------------------------------------------------------------- */

int djs_err_from_mdb(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return DJS_ENOTFOUND;
    case MDB_KEYEXIST:
        return DJS_EEXISTS;
    case MDB_MAP_FULL:
        return DJS_EMAPFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return DJS_ECORRUPT;
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_DBS_FULL:
        return DJS_ELIMIT;
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_MAP_RESIZED:
        return DJS_EBUSY;
    default:
        if (rc > 0)
            return djs_err_from_errno(rc);
        return DJS_EIO;
    }
}

/* ---- helpers ------------------------------------------------------------ */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static batch_t *batch_new(void)
{
    batch_t *b = djs_calloc(1, sizeof(*b));
    djs_buf_init(&b->data);
    return b;
}

static void batch_free(batch_t *b)
{
    djs_buf_dispose(&b->data);
    djs_free(b->items);
    djs_free(b);
}

static item_t *batch_add(batch_t *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->items = djs_realloc(b->items, b->cap * sizeof(item_t));
    }
    return &b->items[b->n++];
}

static void set_failed(djs_log_t *log, int err, const char *what, int mdb_rc)
{
    /* called with mu held */
    if (log->failed)
        return;
    log->failed = err;
    snprintf(log->failed_msg, sizeof(log->failed_msg), "%s: %s (%s)", what, mdb_strerror(mdb_rc), djs_strerror(err));
}

/* ---- read transactions ---------------------------------------------------- */

static int begin_read(djs_log_t *log, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&log->resize_lock);
    int rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* another process grew the map: adopt its size (needs no txn of ours open) */
        pthread_rwlock_unlock(&log->resize_lock);
        pthread_rwlock_wrlock(&log->resize_lock);
        mdb_env_set_mapsize(log->env, 0);
        pthread_rwlock_unlock(&log->resize_lock);
        pthread_rwlock_rdlock(&log->resize_lock);
        rc = mdb_txn_begin(log->env, NULL, MDB_RDONLY, txn);
    }
    if (rc != 0) {
        pthread_rwlock_unlock(&log->resize_lock);
        return djs_err_from_mdb(rc);
    }
    return 0;
}

static void end_read(djs_log_t *log, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&log->resize_lock);
}

/* ---- writer thread -------------------------------------------------------- */

/* ---- snapshots in pieces (writer thread) ---------------------------------- */

static void piece_key(uint8_t *k, uint64_t seq, uint32_t idx)
{
    put_be64(k, seq);
    put_be32(k + 8, idx);
}

static int is_manifest(const MDB_val *v)
{
    return v->mv_size == MANIFEST_LEN && memcmp(v->mv_data, MANIFEST_MAGIC, 4) == 0;
}

/* Delete every piece stored under seq. */
static int drop_pieces(djs_log_t *log, MDB_txn *txn, uint64_t seq)
{
    MDB_cursor *c;
    uint8_t kb[PIECE_KEY_LEN];
    piece_key(kb, seq, 0);
    MDB_val k = {sizeof(kb), kb}, v;
    int rc = mdb_cursor_open(txn, log->db_pieces, &c);
    if (rc != 0)
        return rc;
    for (;;) {
        k.mv_size = sizeof(kb);
        k.mv_data = kb;
        if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
            break;
        if (k.mv_size != PIECE_KEY_LEN || get_be64(k.mv_data) != seq)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete the snapshot at seq (whole blob, or manifest and pieces). */
static int drop_snapshot(djs_log_t *log, MDB_txn *txn, uint64_t seq)
{
    MDB_val k = {sizeof(seq), &seq};
    int rc = mdb_del(txn, log->db_snapshots, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    return drop_pieces(log, txn, seq);
}

/* Keep only the newest `keep` snapshots, and the one at the archive base
 * (the log's starting point, META_BASE) whatever its age. */
static int prune_snapshots(djs_log_t *log, MDB_txn *txn, uint32_t keep)
{
    MDB_stat st;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t base = 0, old[256];
    size_t n = 0;
    int rc = mdb_stat(txn, log->db_snapshots, &st);
    if (rc != 0 || st.ms_entries <= keep)
        return rc;
    MDB_val bk = {strlen(META_BASE), META_BASE}, bv;
    if (mdb_get(txn, log->db_meta, &bk, &bv) == 0 && bv.mv_size == META_BASE_LEN)
        base = get_be64(bv.mv_data);
    if ((rc = mdb_cursor_open(txn, log->db_snapshots, &c)) != 0)
        return rc;
    size_t excess = st.ms_entries - keep;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < excess && n < 256; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t seq;
        memcpy(&seq, k.mv_data, sizeof(seq));
        if (seq == base) {
            excess--;
            continue;
        }
        old[n++] = seq;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = drop_snapshot(log, txn, old[i])) != 0)
            return rc;
    return 0;
}

static int read_piece(const snapjob_t *j, size_t off, uint8_t *dst, size_t n)
{
    if (j->mem != NULL) {
        memcpy(dst, j->mem + off, n);
        return 0;
    }
    while (n > 0) {
        ssize_t r = pread(j->fd, dst, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? errno : EIO;
        dst += r;
        off += (size_t)r;
        n -= (size_t)r;
    }
    return 0;
}

/* Write piece j->next of a snapshot; the first one removes whatever was
 * stored under its seq, the last one adds the manifest that makes it
 * visible and prunes. The events up to j->seq were handed over before the
 * job was queued, so they are in this transaction or an earlier one. */
static int put_piece(djs_log_t *log, MDB_txn *txn, const snapjob_t *j)
{
    size_t off = (size_t)j->next * log->piece, n = j->len - off < log->piece ? j->len - off : log->piece;
    uint32_t npieces = (uint32_t)((j->len + log->piece - 1) / log->piece);
    uint8_t kb[PIECE_KEY_LEN];
    int rc;
    if (j->next == 0 && (rc = drop_snapshot(log, txn, j->seq)) != 0)
        return rc;
    piece_key(kb, j->seq, j->next);
    MDB_val k = {sizeof(kb), kb}, v = {n, NULL};
    if ((rc = mdb_put(txn, log->db_pieces, &k, &v, MDB_RESERVE)) != 0 || (rc = read_piece(j, off, v.mv_data, n)) != 0)
        return rc;
    if (j->next + 1 < npieces)
        return 0;
    uint8_t m[MANIFEST_LEN];
    memcpy(m, MANIFEST_MAGIC, 4);
    put_be32(m + 4, MANIFEST_VERSION);
    put_be64(m + 8, j->len);
    put_be32(m + 16, npieces);
    put_be32(m + 20, (uint32_t)log->piece);
    MDB_val mk = {sizeof(j->seq), (void *)&j->seq}, mv = {sizeof(m), m};
    if ((rc = mdb_put(txn, log->db_snapshots, &mk, &mv, 0)) != 0)
        return rc;
    return prune_snapshots(log, txn, j->keep);
}

static void snapjob_free(snapjob_t *j)
{
    if (j->fd >= 0)
        close(j->fd);
    djs_free(j->mem);
    djs_free(j);
}

/* Drop every queued snapshot (fail-stop, close). With mu held, or alone. */
static void free_snapjobs(djs_log_t *log)
{
    while (log->snap_head != NULL) {
        snapjob_t *j = log->snap_head;
        log->snap_head = j->after;
        snapjob_free(j);
    }
    log->snap_tail = NULL;
}

static int write_batches(djs_log_t *log, batch_t *list, const snapjob_t *job, uint64_t *first, uint64_t *last)
{
    MDB_txn *txn = NULL;
    MDB_cursor *ce = NULL;
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, log->db_events, &ce)) != 0)
        goto fail;
    *first = *last = 0;
    for (batch_t *b = list; b != NULL; b = b->next) {
        for (size_t i = 0; i < b->n; i++) {
            item_t *it = &b->items[i];
            MDB_val k = {sizeof(it->seq), &it->seq}, v = {it->len, b->data.base + it->off};
            if (it->kind == ITEM_OUTPUT) {
                uint8_t ok[24];
                memcpy(ok, it->entity.b, 16);
                put_be64(ok + 16, it->seq);
                MDB_val kk = {sizeof(ok), ok};
                if ((rc = mdb_put(txn, log->db_output, &kk, &v, 0)) != 0)
                    goto fail;
                continue;
            }
            if ((rc = mdb_cursor_put(ce, &k, &v, MDB_APPEND)) != 0)
                goto fail;
            if (!djs_id_is_nil(&it->entity)) {
                uint8_t ek[24];
                memcpy(ek, it->entity.b, 16);
                put_be64(ek + 16, it->seq);
                MDB_val kk = {sizeof(ek), ek}, vv = {0, NULL};
                if ((rc = mdb_put(txn, log->db_entity, &kk, &vv, 0)) != 0)
                    goto fail;
            }
            if (*first == 0)
                *first = it->seq;
            *last = it->seq;
        }
    }
    mdb_cursor_close(ce);
    ce = NULL;
    if (job != NULL && (rc = put_piece(log, txn, job)) != 0)
        goto fail;
    if (log->opts.fault != NULL && (rc = log->opts.fault(log->opts.fault_arg, *first, *last)) != 0)
        goto fail;
    rc = mdb_txn_commit(txn); /* frees txn whatever the outcome */
    return rc;
fail:
    if (ce != NULL)
        mdb_cursor_close(ce);
    mdb_txn_abort(txn);
    return rc;
}

static int grow_map(djs_log_t *log)
{
    size_t size = atomic_load(&log->map_size) * 2;
    pthread_rwlock_wrlock(&log->resize_lock);
    int rc = mdb_env_set_mapsize(log->env, size);
    pthread_rwlock_unlock(&log->resize_lock);
    if (rc == 0) {
        MDB_envinfo info;
        mdb_env_info(log->env, &info);
        atomic_store(&log->map_size, info.me_mapsize);
    }
    return rc;
}

/* After a commit that wrote a piece of the oldest queued snapshot: the
 * next piece, or the job is done. Called with mu held. */
static void advance_snapjob(djs_log_t *log)
{
    snapjob_t *j = log->snap_head;
    if ((size_t)++j->next * log->piece < j->len)
        return;
    log->snap_head = j->after;
    if (log->snap_head == NULL)
        log->snap_tail = NULL;
    snapjob_free(j);
}

/* The oldest queued snapshot can have its next piece written: any but the
 * last, or the last once the events up to its seq are handed over (with a
 * replicated log they are handed only once committed, so a snapshot of a
 * leader's projection waits for them). Called with mu held. */
static snapjob_t *snap_ready(djs_log_t *log)
{
    snapjob_t *j = log->snap_head;
    if (j == NULL)
        return NULL;
    int last = ((size_t)j->next + 1) * log->piece >= j->len;
    return !last || j->seq <= log->handed_seq ? j : NULL;
}

static void *writer_main(void *arg)
{
    djs_log_t *log = arg;
    pthread_mutex_lock(&log->mu);
    for (;;) {
        while (log->queue_head == NULL && snap_ready(log) == NULL && !log->stopping)
            pthread_cond_wait(&log->work_cv, &log->mu);
        snapjob_t *job = snap_ready(log); /* one piece per transaction, between the events */
        if (log->queue_head == NULL && job == NULL)
            break; /* stopping and drained (a snapshot of events never committed is dropped) */
        batch_t *list = log->queue_head;
        log->queue_head = log->queue_tail = NULL;
        pthread_mutex_unlock(&log->mu);

        uint64_t first = 0, last = 0, grows = 0, t0 = djs_monotonic_ns(), bytes = 0;
        int rc;
        while ((rc = write_batches(log, list, job, &first, &last)) == MDB_MAP_FULL) {
            int grc = grow_map(log);
            if (grc != 0) {
                rc = grc;
                break;
            }
            grows++;
        }
        uint64_t dt = djs_monotonic_ns() - t0;
        for (batch_t *b = list; b != NULL; b = b->next)
            bytes += b->data.len;

        pthread_mutex_lock(&log->mu);
        log->stats.map_grows += grows;
        if (rc == 0) {
            log->stats.commits++;
            log->stats.events += first ? last - first + 1 : 0;
            log->stats.bytes += bytes;
            log->stats.commit_ns_sum += dt;
            if (dt > log->stats.commit_ns_max)
                log->stats.commit_ns_max = dt;
            if (job != NULL) {
                log->stats.snapshot_pieces++;
                advance_snapjob(log);
            }
        }
        if (rc != 0) {
            set_failed(log, rc == MDB_MAP_FULL ? DJS_EMAPFULL : DJS_ESTORAGE, "commit failed", rc);
        } else if (last != 0) {
            atomic_store(&log->durable_seq, last);
        }
        /* recycle batches */
        while (list != NULL) {
            batch_t *b = list;
            list = b->next;
            b->next = log->free_batches;
            b->n = 0;
            djs_buf_reset(&b->data);
            log->free_batches = b;
        }
        pthread_cond_broadcast(&log->durable_cv);
        if (log->loop != NULL)
            uv_async_send(&log->async);
        if (log->failed) {
            /* fail-stop: drop whatever else was handed over */
            while (log->queue_head != NULL) {
                batch_t *b = log->queue_head;
                log->queue_head = b->next;
                batch_free(b);
            }
            log->queue_tail = NULL;
            free_snapjobs(log);
            break;
        }
    }
    pthread_mutex_unlock(&log->mu);
    return NULL;
}

/* ---- open ------------------------------------------------------------------ */

void djs_log_options_init(djs_log_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->map_size = DEFAULT_MAP_SIZE;
    o->max_batch = DEFAULT_MAX_BATCH;
}

static int open_dbs(djs_log_t *log)
{
    MDB_txn *txn;
    unsigned int create = log->opts.readonly ? 0 : MDB_CREATE;
    int rc = mdb_txn_begin(log->env, NULL, log->opts.readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0)
        return rc;
    /* Only an empty environment may become a new log: one that already
     * holds data but no format tag belongs to something else and must not
     * be written into (MDB_INVALID: "not a djs log", DJS_ECORRUPT). */
    MDB_dbi main_dbi, meta_dbi;
    MDB_stat st;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) != 0 || (rc = mdb_stat(txn, main_dbi, &st)) != 0)
        goto fail;
    if (st.ms_entries != 0) {
        MDB_val fk = {strlen(FORMAT_KEY), FORMAT_KEY}, fv;
        if ((rc = mdb_dbi_open(txn, "meta", 0, &meta_dbi)) == 0)
            rc = mdb_get(txn, meta_dbi, &fk, &fv);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
            rc = MDB_INVALID;
        if (rc != 0)
            goto fail;
    }
    if ((rc = mdb_dbi_open(txn, "events", create | MDB_INTEGERKEY, &log->db_events)) != 0 ||
        (rc = mdb_dbi_open(txn, "entity", create, &log->db_entity)) != 0 ||
        (rc = mdb_dbi_open(txn, "snapshots", create | MDB_INTEGERKEY, &log->db_snapshots)) != 0 ||
        (rc = mdb_dbi_open(txn, "output", create, &log->db_output)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", create, &log->db_meta)) != 0)
        goto fail;
    /* added after djs-log-1 logs were written: a read-only handle on an
     * older log has none (and no snapshot that needs it) */
    rc = mdb_dbi_open(txn, "snappieces", create, &log->db_pieces);
    if (rc == MDB_NOTFOUND && log->opts.readonly)
        rc = 0;
    else if (rc == 0)
        log->have_pieces = 1;
    else
        goto fail;
    MDB_val k = {strlen(FORMAT_KEY), FORMAT_KEY}, v;
    rc = mdb_get(txn, log->db_meta, &k, &v);
    if (rc == MDB_NOTFOUND && !log->opts.readonly) {
        v.mv_size = strlen(FORMAT_VALUE);
        v.mv_data = FORMAT_VALUE;
        rc = mdb_put(txn, log->db_meta, &k, &v, 0);
    } else if (rc == 0 && (v.mv_size != strlen(FORMAT_VALUE) || memcmp(v.mv_data, FORMAT_VALUE, v.mv_size) != 0)) {
        rc = MDB_INCOMPATIBLE;
    }
    if (rc != 0)
        goto fail;
    return mdb_txn_commit(txn);
fail:
    mdb_txn_abort(txn);
    return rc;
}

/* Remove the pieces of snapshots that never got their manifest (a crash
 * or a stop while one was being written): a snapshot is only a cache. */
static int drop_incomplete(djs_log_t *log)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t kb[PIECE_KEY_LEN];
    uint64_t seq = 0;
    int rc = mdb_txn_begin(log->env, NULL, 0, &txn), removed = 0;
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, log->db_pieces, &c)) != 0)
        goto fail;
    for (;;) {
        piece_key(kb, seq, 0);
        MDB_val k = {sizeof(kb), kb}, v;
        if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
            break;
        if (k.mv_size != PIECE_KEY_LEN) { /* not ours: leave it */
            rc = MDB_NOTFOUND;
            break;
        }
        seq = get_be64(k.mv_data);
        MDB_val mk = {sizeof(seq), &seq}, mv;
        rc = mdb_get(txn, log->db_snapshots, &mk, &mv);
        if (rc == MDB_NOTFOUND || (rc == 0 && !is_manifest(&mv))) {
            if ((rc = drop_pieces(log, txn, seq)) != 0)
                break;
            removed++;
        } else if (rc != 0) {
            break;
        }
        if (seq == UINT64_MAX)
            break;
        seq++;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND && rc != 0)
        goto fail;
    if (removed == 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    return mdb_txn_commit(txn);
fail:
    mdb_txn_abort(txn);
    return rc;
}

/* Load seq, timestamp and hash of the last record: they seed the chain and
 * floor the clock, so time never goes backwards across a restart. */
static int load_tail(djs_log_t *log)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, log->db_events, &c)) != 0) {
        end_read(log, txn);
        return djs_err_from_mdb(rc);
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0) {
        djs_event_t ev;
        if (djs_event_decode(v.mv_data, v.mv_size, &ev) != 0 || k.mv_size != 8) {
            rc = DJS_ECORRUPT;
        } else {
            memcpy(&log->last_seq, k.mv_data, 8);
            log->last_ts = ev.ts_ns;
            memcpy(log->last_hash, ev.hash, DJS_HASH_LEN);
        }
    } else if (rc == MDB_NOTFOUND) {
        /* empty, or everything archived: the chain goes on from the base */
        MDB_val bk = {strlen(META_BASE), META_BASE}, bv;
        rc = mdb_get(txn, log->db_meta, &bk, &bv);
        if (rc == 0 && bv.mv_size == META_BASE_LEN) {
            log->last_seq = get_be64(bv.mv_data);
            log->last_ts = get_be64((const uint8_t *)bv.mv_data + 8);
            memcpy(log->last_hash, (const uint8_t *)bv.mv_data + 16, DJS_HASH_LEN);
        }
        rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : djs_err_from_mdb(rc);
    } else {
        rc = djs_err_from_mdb(rc);
    }
    mdb_cursor_close(c);
    end_read(log, txn);
    return rc;
}

static int make_dir(const char *dir, int readonly)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return DJS_EINVAL;
        if (!readonly && (st.st_mode & 077) != 0 && chmod(dir, 0700) != 0)
            return djs_err_from_errno(errno);
        return 0;
    }
    if (readonly)
        return DJS_ENOTFOUND;
    if (mkdir(dir, 0700) != 0)
        return djs_err_from_errno(errno);
    return 0;
}

int djs_log_open(djs_log_t **out, const char *dir, const djs_log_options_t *opts)
{
    djs_log_t *log = djs_calloc(1, sizeof(*log));
    int rc, mrc = 0;

    if (opts != NULL)
        log->opts = *opts;
    else
        djs_log_options_init(&log->opts);
    if (log->opts.map_size == 0)
        log->opts.map_size = DEFAULT_MAP_SIZE;
    if (log->opts.max_batch == 0)
        log->opts.max_batch = DEFAULT_MAX_BATCH;
    log->piece = log->opts.snapshot_piece ? log->opts.snapshot_piece : DEFAULT_SNAPSHOT_PIECE;
    log->dir = djs_strndup(dir, strlen(dir));
    pthread_mutex_init(&log->mu, NULL);
    pthread_cond_init(&log->work_cv, NULL);
    pthread_cond_init(&log->durable_cv, NULL);
    pthread_rwlock_init(&log->resize_lock, NULL);
    djs_clock_init(&log->clock, log->opts.clock, log->opts.clock_arg);

    if ((rc = make_dir(dir, log->opts.readonly)) != 0)
        goto fail;
    if ((mrc = mdb_env_create(&log->env)) != 0 || (mrc = mdb_env_set_maxdbs(log->env, 8)) != 0 ||
        (mrc = mdb_env_set_mapsize(log->env, log->opts.map_size)) != 0 || (mrc = mdb_env_set_maxreaders(log->env, 256)) != 0)
        goto fail_mdb;
    unsigned int flags = MDB_NOTLS | (log->opts.readonly ? MDB_RDONLY : 0);
    if ((mrc = mdb_env_open(log->env, dir, flags, 0600)) != 0)
        goto fail_mdb;
    int dead = 0;
    mdb_reader_check(log->env, &dead); /* clear slots of crashed readers */
    MDB_envinfo info;
    mdb_env_info(log->env, &info);
    atomic_store(&log->map_size, info.me_mapsize);
    if ((mrc = open_dbs(log)) != 0) {
        if (mrc == MDB_INCOMPATIBLE) {
            rc = DJS_EVERSION;
            goto fail;
        }
        goto fail_mdb;
    }
    if (!no_writer(log) && (mrc = drop_incomplete(log)) != 0)
        goto fail_mdb;
    if ((rc = load_tail(log)) != 0)
        goto fail;
    djs_clock_floor(&log->clock, log->last_ts);
    atomic_store(&log->durable_seq, log->last_seq);
    log->handed_seq = log->last_seq;
    log->notified_seq = log->last_seq;
    if (!no_writer(log)) {
        log->staging = batch_new();
        djs_buf_init(&log->entry);
        if (pthread_create(&log->writer, NULL, writer_main, log) != 0) {
            rc = DJS_EIO;
            goto fail;
        }
        log->writer_running = 1;
    }
    *out = log;
    return 0;

fail_mdb:
    rc = djs_err_from_mdb(mrc);
    if (mrc == ENOENT && log->opts.readonly)
        rc = DJS_ENOTFOUND;
fail:
    if (log->env != NULL)
        mdb_env_close(log->env);
    if (log->staging != NULL)
        batch_free(log->staging);
    pthread_rwlock_destroy(&log->resize_lock);
    pthread_cond_destroy(&log->durable_cv);
    pthread_cond_destroy(&log->work_cv);
    pthread_mutex_destroy(&log->mu);
    djs_free(log->dir);
    djs_free(log);
    return rc;
}

/* ---- append path ---------------------------------------------------------- */

int djs_log_append(djs_log_t *log, djs_event_t *ev)
{
    if (no_writer(log))
        return DJS_ERDONLY;
    if (log->closing)
        return DJS_ECLOSED;
    if (atomic_load_explicit(&log->failed, memory_order_relaxed))
        return DJS_ESTORAGE;
    if (log->opts.replicate != NULL && !log->leader)
        return DJS_ENOTLEADER;

    batch_t *b = log->staging;
    size_t off = b->data.len;
    uint64_t prev_ts = log->clock.last_ns;
    ev->seq = log->last_seq + 1;
    ev->ts_ns = djs_clock_next(&log->clock);
    int rc = djs_event_encode(ev, log->last_hash, &b->data);
    if (rc != 0) {
        log->clock.last_ns = prev_ts;
        return rc;
    }
    item_t *it = batch_add(b);
    it->seq = ev->seq;
    it->off = (uint32_t)off;
    it->len = (uint32_t)(b->data.len - off);
    it->entity = ev->entity;
    it->kind = ITEM_EVENT;
    log->last_seq = ev->seq;
    log->last_ts = ev->ts_ns;
    memcpy(log->last_hash, ev->hash, DJS_HASH_LEN);
    if (log->loop != NULL && !log->async_ref) {
        uv_ref((uv_handle_t *)&log->async);
        log->async_ref = 1;
    }
    if (b->n >= log->opts.max_batch || b->data.len >= ((size_t)64 << 20))
        djs_log_flush(log);
    return 0;
}

/* Queue a snapshot after the events staged so far, so that its last piece
 * is never committed before the events it covers. */
static int queue_snapshot(djs_log_t *log, uint64_t seq, size_t len, uint32_t keep, int fd, uint8_t *mem)
{
    int rc = 0;
    if (no_writer(log))
        rc = DJS_ERDONLY;
    else if (atomic_load_explicit(&log->failed, memory_order_relaxed))
        rc = DJS_ESTORAGE;
    else if (log->closing)
        rc = DJS_ECLOSED;
    else if (seq == 0 || seq > log->last_seq || len == 0 || len / log->piece >= UINT32_MAX || keep == 0)
        rc = DJS_EINVAL;
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        djs_free(mem);
        return rc;
    }
    snapjob_t *j = djs_calloc(1, sizeof(*j));
    j->seq = seq;
    j->len = len;
    j->keep = keep;
    j->fd = fd;
    j->mem = mem;
    djs_log_flush(log);
    pthread_mutex_lock(&log->mu);
    if (log->snap_tail != NULL)
        log->snap_tail->after = j;
    else
        log->snap_head = j;
    log->snap_tail = j;
    pthread_cond_signal(&log->work_cv);
    pthread_mutex_unlock(&log->mu);
    return 0;
}

int djs_log_put_snapshot(djs_log_t *log, uint64_t seq, const void *data, size_t len, uint32_t keep)
{
    uint8_t *copy = NULL;
    if (len > 0 && data != NULL) {
        copy = djs_malloc(len);
        memcpy(copy, data, len);
    }
    return queue_snapshot(log, seq, len, keep, -1, copy);
}

int djs_log_put_snapshot_fd(djs_log_t *log, uint64_t seq, int fd, size_t len, uint32_t keep)
{
    return queue_snapshot(log, seq, len, keep, fd, NULL);
}

int djs_log_snapshot_pending(djs_log_t *log)
{
    pthread_mutex_lock(&log->mu);
    int n = 0;
    for (snapjob_t *j = log->snap_head; j != NULL; j = j->after)
        n++;
    pthread_mutex_unlock(&log->mu);
    return n;
}

static void stage_output(djs_log_t *log, const djs_id_t *job, uint64_t offset, const void *data, size_t len);

int djs_log_put_output(djs_log_t *log, const djs_id_t *job, uint64_t offset, const void *data, size_t len)
{
    if (no_writer(log))
        return DJS_ERDONLY;
    if (atomic_load_explicit(&log->failed, memory_order_relaxed))
        return DJS_ESTORAGE;
    if (log->opts.replicate != NULL && !log->leader)
        return DJS_ENOTLEADER;
    if (len == 0 || len > DJS_LOG_MAX_OUTPUT_CHUNK || djs_id_is_nil(job))
        return DJS_EINVAL;
    stage_output(log, job, offset, data, len);
    return 0;
}

static void stage_output(djs_log_t *log, const djs_id_t *job, uint64_t offset, const void *data, size_t len)
{
    batch_t *b = log->staging;
    size_t off = b->data.len;
    djs_buf_append(&b->data, data, len);
    item_t *it = batch_add(b);
    memset(it, 0, sizeof(*it));
    it->seq = offset;
    it->off = (uint32_t)off;
    it->len = (uint32_t)len;
    it->entity = *job;
    it->kind = ITEM_OUTPUT;
}

int djs_log_read_output(djs_log_t *log, const djs_id_t *job, uint64_t offset, size_t max, djs_buf_t *out, uint64_t *next)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t kb[24];
    memcpy(kb, job->b, 16);
    put_be64(kb + 16, offset);
    MDB_val k = {sizeof(kb), kb}, v;
    *next = offset;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, log->db_output, &c)) != 0) {
        end_read(log, txn);
        return djs_err_from_mdb(rc);
    }
    /* the chunk holding offset starts at or before it: step back one when
     * the first key at or after offset is past it (or absent) */
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == 0 && (k.mv_size != 24 || memcmp(k.mv_data, job->b, 16) != 0 || get_be64((const uint8_t *)k.mv_data + 16) > offset)) {
        rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
        if (rc == 0 && (k.mv_size != 24 || memcmp(k.mv_data, job->b, 16) != 0))
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* the job's first chunk, or another job */
    }
    size_t taken = 0;
    for (; rc == 0 && taken < max; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 24 || memcmp(k.mv_data, job->b, 16) != 0)
            break;
        uint64_t start = get_be64((const uint8_t *)k.mv_data + 16), end = start + v.mv_size;
        if (end <= *next)
            continue;
        if (start > *next) { /* a hole (a chunk lost to a crash before its event): skip it */
            *next = start;
        }
        size_t from = (size_t)(*next - start), n = v.mv_size - from;
        if (n > max - taken)
            n = max - taken;
        djs_buf_append(out, (const uint8_t *)v.mv_data + from, n);
        taken += n;
        *next += n;
    }
    mdb_cursor_close(c);
    end_read(log, txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : djs_err_from_mdb(rc);
}

/* Append the pieces a manifest lists. A piece missing or of the wrong size,
 * or a manifest of another version, gives what was found (the snapshot
 * then fails its checksum and the caller takes an older one). */
static int read_pieces(djs_log_t *log, MDB_txn *txn, uint64_t seq, const uint8_t *m, djs_buf_t *out)
{
    uint64_t len = get_be64(m + 8);
    uint32_t n = get_be32(m + 16), piece = get_be32(m + 20);
    if (get_be32(m + 4) != MANIFEST_VERSION || !log->have_pieces || piece == 0 || len > (uint64_t)n * piece)
        return 0;
    size_t start = out->len;
    uint8_t lk[PIECE_KEY_LEN];
    piece_key(lk, seq, n - 1);
    MDB_val k = {sizeof(lk), lk}, v;
    int rc = mdb_get(txn, log->db_pieces, &k, &v);
    if (rc == 0 && v.mv_size == len - (uint64_t)(n - 1) * piece)
        djs_buf_reserve(out, (size_t)len); /* the last piece is there: len is no claim out of the blue */
    else
        return rc == MDB_NOTFOUND ? 0 : rc;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t kb[PIECE_KEY_LEN];
        piece_key(kb, seq, i);
        k.mv_size = sizeof(kb);
        k.mv_data = kb;
        rc = mdb_get(txn, log->db_pieces, &k, &v);
        if (rc == MDB_NOTFOUND)
            break;
        if (rc != 0)
            return rc;
        if (v.mv_size != (i + 1 < n ? piece : len - (uint64_t)i * piece))
            break;
        djs_buf_append(out, v.mv_data, v.mv_size);
    }
    if (out->len - start != len)
        out->len = start; /* incomplete: an empty snapshot, which never restores */
    return 0;
}

int djs_log_get_snapshot(djs_log_t *log, uint64_t max_seq, uint64_t *seq, djs_buf_t *out)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k = {sizeof(max_seq), &max_seq}, v;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, log->db_snapshots, &c)) != 0) {
        end_read(log, txn);
        return djs_err_from_mdb(rc);
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) /* every snapshot is older: take the last */
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    else if (rc == 0) {
        uint64_t found;
        memcpy(&found, k.mv_data, 8);
        if (found > max_seq)
            rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    }
    if (rc == 0) {
        memcpy(seq, k.mv_data, 8);
        if (is_manifest(&v))
            rc = read_pieces(log, txn, *seq, v.mv_data, out);
        else
            djs_buf_append(out, v.mv_data, v.mv_size);
    }
    mdb_cursor_close(c);
    end_read(log, txn);
    return djs_err_from_mdb(rc);
}

/* The last event seq of a batch, or 0 (output chunks only). */
static uint64_t batch_last_seq(const batch_t *b)
{
    for (size_t i = b->n; i > 0; i--)
        if (b->items[i - 1].kind == ITEM_EVENT)
            return b->items[i - 1].seq;
    return 0;
}

/* Hand b to the writer (with mu held). */
static void queue_locked(djs_log_t *log, batch_t *b)
{
    b->next = NULL;
    if (log->queue_tail != NULL)
        log->queue_tail->next = b;
    else
        log->queue_head = b;
    log->queue_tail = b;
    uint64_t last = batch_last_seq(b);
    if (last > log->handed_seq)
        log->handed_seq = last;
    pthread_cond_signal(&log->work_cv);
}

/* Take the staged batch and give the appender a fresh one (with mu held,
 * which guards free_batches). */
static batch_t *take_staging_locked(djs_log_t *log)
{
    batch_t *b = log->staging;
    if (log->free_batches != NULL) {
        log->staging = log->free_batches;
        log->free_batches = log->staging->next;
        log->staging->next = NULL;
    } else {
        log->staging = NULL;
    }
    return b;
}

/* The replicated form of a batch (djs_log_commit_entry reads it):
 *   "DJE1", u32 item count, then per item: u8 kind, u32 length,
 *   for an output chunk the job id (16) and its byte offset (u64), then
 *   the bytes (an event's whole record, which carries its seq and hash);
 *   up to 7 zero bytes may follow (Raft entries are whole 8-byte words;
 *   every item is longer than 7 bytes). */
#define ENTRY_MAGIC "DJE1"
static void encode_entry(const batch_t *b, djs_buf_t *out)
{
    uint8_t h[8];
    djs_buf_reset(out);
    memcpy(h, ENTRY_MAGIC, 4);
    put_be32(h + 4, (uint32_t)b->n);
    djs_buf_append(out, h, 8);
    for (size_t i = 0; i < b->n; i++) {
        const item_t *it = &b->items[i];
        uint8_t ih[5 + 24];
        size_t n = 5;
        ih[0] = (uint8_t)it->kind;
        put_be32(ih + 1, it->len);
        if (it->kind == ITEM_OUTPUT) {
            memcpy(ih + 5, it->entity.b, 16);
            put_be64(ih + 21, it->seq);
            n += 24;
        }
        djs_buf_append(out, ih, n);
        djs_buf_append(out, b->data.base + it->off, it->len);
    }
}

/* Replicated log, leader: the staged batch goes to opts.replicate and waits
 * in the pending list for its commit. A refusal (no longer leader) cannot
 * be undone, since the projection has applied the batch's events: the log
 * fails (DJS_ENOTLEADER) and its owner fail-stops. */
static void replicate_staging(djs_log_t *log)
{
    batch_t *b = log->staging;
    encode_entry(b, &log->entry);
    int rc = log->opts.replicate(log->opts.replicate_arg, log->entry.base, log->entry.len, batch_last_seq(b));
    pthread_mutex_lock(&log->mu);
    if (rc != 0) {
        if (!log->failed) {
            log->failed = rc;
            snprintf(log->failed_msg, sizeof(log->failed_msg), "replication refused a batch (%s)", djs_strerror(rc));
        }
        pthread_mutex_unlock(&log->mu);
        if (log->loop != NULL)
            uv_async_send(&log->async);
        djs_buf_reset(&b->data);
        b->n = 0;
        return;
    }
    take_staging_locked(log);
    pthread_mutex_unlock(&log->mu);
    b->next = NULL;
    if (log->pend_tail != NULL)
        log->pend_tail->next = b;
    else
        log->pend_head = b;
    log->pend_tail = b;
    log->npend++;
    if (log->staging == NULL)
        log->staging = batch_new();
}

void djs_log_flush(djs_log_t *log)
{
    if (log->staging == NULL || log->staging->n == 0)
        return;
    if (log->opts.replicate != NULL && log->leader) {
        replicate_staging(log);
        return;
    }
    pthread_mutex_lock(&log->mu);
    queue_locked(log, take_staging_locked(log));
    pthread_mutex_unlock(&log->mu);
    if (log->staging == NULL)
        log->staging = batch_new();
}

/* Run durable callbacks up to the durable seq, then tail notifications. */
static void dispatch(djs_log_t *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t durable = atomic_load(&log->durable_seq);
    int failed = log->failed;
    char msg[sizeof(log->failed_msg)];
    memcpy(msg, log->failed_msg, sizeof(msg));
    pthread_mutex_unlock(&log->mu);

    /* a replicated log answers a write once it is committed: durable in the
     * consensus logs of a majority (LMDB here follows; tails wait for it) */
    uint64_t answer = log->acked_seq > durable ? log->acked_seq : durable;
    while (log->whead < log->wn) {
        waiter_t w = log->waiters[log->whead];
        int status;
        if (w.seq <= answer)
            status = 0;
        else if (failed)
            status = failed;
        else
            break;
        log->whead++;
        w.cb(w.arg, w.seq, status);
    }
    if (log->whead == log->wn)
        log->whead = log->wn = 0;

    if (durable > log->notified_seq) {
        log->notified_seq = durable;
        /* A callback may stop (and free) its own subscription or any other:
         * djs_log_tail_stop moves tail_next past a tail it removes. */
        for (djs_log_tail_t *t = log->tails; t != NULL; t = log->tail_next) {
            log->tail_next = t->next;
            t->cb(t->arg, durable);
        }
        log->tail_next = NULL;
    }
    if (log->async_ref && (durable >= log->last_seq || failed)) {
        uv_unref((uv_handle_t *)&log->async);
        log->async_ref = 0;
    }
    if (failed && !log->fatal_reported) {
        log->fatal_reported = 1;
        if (log->opts.on_fatal != NULL)
            log->opts.on_fatal(log->opts.fatal_arg, failed, msg);
        else
            fprintf(stderr, "djs: event log %s: %s\n", log->dir, msg);
    }
}

int djs_log_sync(djs_log_t *log)
{
    if (no_writer(log))
        return DJS_ERDONLY;
    djs_log_flush(log);
    pthread_mutex_lock(&log->mu);
    while ((atomic_load(&log->durable_seq) < log->handed_seq || snap_ready(log) != NULL) && !log->failed)
        pthread_cond_wait(&log->durable_cv, &log->mu);
    int failed = log->failed;
    pthread_mutex_unlock(&log->mu);
    dispatch(log);
    return failed;
}

int djs_log_wait_durable(djs_log_t *log, uint64_t seq)
{
    if (no_writer(log))
        return DJS_ERDONLY;
    pthread_mutex_lock(&log->mu);
    if (seq > log->handed_seq)
        seq = log->handed_seq;
    while (atomic_load(&log->durable_seq) < seq && !log->failed)
        pthread_cond_wait(&log->durable_cv, &log->mu);
    int failed = log->failed;
    pthread_mutex_unlock(&log->mu);
    return failed;
}

/* ---- the replicated log ----------------------------------------------------- */

void djs_log_set_leader(djs_log_t *log, int leader)
{
    log->leader = leader != 0;
}

size_t djs_log_pending(const djs_log_t *log)
{
    return log->npend;
}

uint64_t djs_log_committed_seq(djs_log_t *log)
{
    pthread_mutex_lock(&log->mu);
    uint64_t s = log->handed_seq;
    pthread_mutex_unlock(&log->mu);
    return s;
}

typedef struct entry_item {
    uint8_t kind;
    uint32_t len;
    djs_id_t job;
    uint64_t offset;
    const uint8_t *p;
} entry_item_t;

/* Read the next item of an entry at *pos; 1 = one read, 0 = the end (at
 * most 7 zero bytes of padding left: a Raft entry is whole 8-byte words),
 * DJS_ECORRUPT = malformed. */
static int entry_next(const uint8_t *e, size_t len, size_t *pos, entry_item_t *it)
{
    if (len - *pos < 8) {
        for (size_t i = *pos; i < len; i++)
            if (e[i] != 0)
                return DJS_ECORRUPT;
        return 0;
    }
    const uint8_t *p = e + *pos;
    it->kind = p[0];
    it->len = get_be32(p + 1);
    size_t need = 5 + (it->kind == ITEM_OUTPUT ? 24 : 0);
    if ((it->kind != ITEM_EVENT && it->kind != ITEM_OUTPUT) || len - *pos < need || len - *pos - need < it->len || it->len == 0)
        return DJS_ECORRUPT;
    if (it->kind == ITEM_OUTPUT) {
        memcpy(it->job.b, p + 5, 16);
        it->offset = get_be64(p + 21);
        if (it->len > DJS_LOG_MAX_OUTPUT_CHUNK)
            return DJS_ECORRUPT;
    }
    it->p = p + need;
    *pos += need + it->len;
    return 1;
}

/* Our own oldest pending batch is this entry when they hold the same items,
 * byte for byte (another leader's batch at the same seqs differs at least
 * in its timestamps and hashes). */
static int is_pending_head(djs_log_t *log, const uint8_t *e, size_t len, uint32_t n)
{
    const batch_t *b = log->pend_head;
    if (b == NULL || b->n != n)
        return 0;
    size_t pos = 8;
    entry_item_t it;
    for (size_t i = 0; i < b->n; i++) {
        if (entry_next(e, len, &pos, &it) != 1 || it.kind != b->items[i].kind || it.len != b->items[i].len)
            return 0;
        if (memcmp(it.p, b->data.base + b->items[i].off, it.len) != 0)
            return 0;
    }
    return entry_next(e, len, &pos, &it) == 0;
}

int djs_log_commit_entry(djs_log_t *log, const void *entry, size_t len, djs_log_visit_cb on_new, void *arg)
{
    const uint8_t *e = entry;
    if (log->opts.replicate == NULL || no_writer(log))
        return DJS_EINVAL;
    if (atomic_load_explicit(&log->failed, memory_order_relaxed))
        return DJS_ESTORAGE;
    if (len < 8 || memcmp(e, ENTRY_MAGIC, 4) != 0)
        return DJS_ECORRUPT;
    uint32_t n = get_be32(e + 4);
    if (log->pend_head != NULL) {
        /* a leader's own batch, in the order it replicated them */
        if (!is_pending_head(log, e, len, n))
            return DJS_ENOTLEADER; /* another leader's entry where ours would be */
        batch_t *b = log->pend_head;
        log->pend_head = b->next;
        if (log->pend_head == NULL)
            log->pend_tail = NULL;
        log->npend--;
        uint64_t last = batch_last_seq(b);
        pthread_mutex_lock(&log->mu);
        queue_locked(log, b);
        pthread_mutex_unlock(&log->mu);
        if (last > log->acked_seq) {
            log->acked_seq = last;
            if (log->loop != NULL)
                uv_async_send(&log->async); /* answer its waiters on the next turn of the loop */
        }
        return 0;
    }
    /* first pass: the whole entry is well formed; stored already, or next */
    size_t pos = 8;
    entry_item_t it;
    uint32_t count = 0;
    int rc;
    uint64_t first = 0, last = 0;
    uint8_t last_hash[DJS_HASH_LEN];
    while ((rc = entry_next(e, len, &pos, &it)) == 1) {
        count++;
        if (it.kind != ITEM_EVENT)
            continue;
        djs_event_t ev;
        if ((rc = djs_event_decode(it.p, it.len, &ev)) != 0)
            return DJS_ECORRUPT;
        if (first == 0)
            first = ev.seq;
        else if (ev.seq != last + 1)
            return DJS_ESEQGAP;
        last = ev.seq;
        memcpy(last_hash, ev.hash, DJS_HASH_LEN);
    }
    if (rc != 0 || count != n)
        return DJS_ECORRUPT;
    if (last != 0 && last <= log->last_seq) {
        /* replayed by Raft after a restart: this node stored it already */
        if (first > log->last_seq || last > log->last_seq)
            return DJS_ESEQGAP;
        uint8_t have[DJS_HASH_LEN];
        if ((rc = djs_log_hash_at(log, last, have)) != 0)
            return rc == DJS_ENOTFOUND ? 0 : rc; /* archived since */
        return memcmp(have, last_hash, DJS_HASH_LEN) == 0 ? 0 : DJS_ECHAIN;
    }
    if (last != 0 && first != log->last_seq + 1)
        return DJS_ESEQGAP;
    if (log->staging->n != 0)
        return DJS_EBUSY; /* a follower appends nothing of its own */
    /* second pass: stage (checking the chain) and hand over */
    pos = 8;
    while (entry_next(e, len, &pos, &it) == 1) {
        if (it.kind == ITEM_OUTPUT) {
            stage_output(log, &it.job, it.offset, it.p, it.len);
            continue;
        }
        if ((rc = djs_log_append_record(log, it.p, it.len)) != 0)
            return rc;
        if (on_new != NULL && (rc = on_new(arg, log->last_seq, it.p, it.len)) != 0)
            return rc; /* the record's seq is now the last one */
    }
    djs_log_flush(log);
    return 0;
}

void djs_log_when_durable(djs_log_t *log, uint64_t seq, djs_log_durable_cb cb, void *arg)
{
    if (log->wn == log->wcap) {
        if (log->whead > 0) {
            memmove(log->waiters, log->waiters + log->whead, (log->wn - log->whead) * sizeof(waiter_t));
            log->wn -= log->whead;
            log->whead = 0;
        }
        if (log->wn == log->wcap) {
            log->wcap = log->wcap ? log->wcap * 2 : 256;
            log->waiters = djs_realloc(log->waiters, log->wcap * sizeof(waiter_t));
        }
    }
    /* seqs are normally requested in order: insert from the back */
    size_t i = log->wn;
    while (i > log->whead && log->waiters[i - 1].seq > seq) {
        log->waiters[i] = log->waiters[i - 1];
        i--;
    }
    log->waiters[i] = (waiter_t){seq, cb, arg};
    log->wn++;
    /* due now: durable already, or the log failed and it never will be */
    if (seq > atomic_load(&log->durable_seq) && seq > log->acked_seq && !atomic_load(&log->failed))
        return;
    if (log->loop == NULL)
        dispatch(log);
    else
        uv_async_send(&log->async);
}

void djs_log_tail_start(djs_log_t *log, djs_log_tail_t *t, djs_log_tail_cb cb, void *arg)
{
    t->cb = cb;
    t->arg = arg;
    t->prev = NULL;
    t->next = log->tails;
    if (log->tails != NULL)
        log->tails->prev = t;
    log->tails = t;
}

void djs_log_tail_stop(djs_log_t *log, djs_log_tail_t *t)
{
    if (log->tail_next == t)
        log->tail_next = t->next;
    if (t->prev != NULL)
        t->prev->next = t->next;
    else if (log->tails == t)
        log->tails = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

/* ---- loop attachment ------------------------------------------------------ */

static void on_async(uv_async_t *h)
{
    dispatch(h->data);
}

static void on_prepare(uv_prepare_t *h)
{
    djs_log_flush(h->data);
}

int djs_log_attach(djs_log_t *log, uv_loop_t *loop)
{
    int rc;
    if (no_writer(log))
        return DJS_ERDONLY;
    if (log->loop != NULL)
        return DJS_EINVAL;
    if ((rc = uv_async_init(loop, &log->async, on_async)) != 0)
        return djs_err_from_uv(rc);
    log->async.data = log;
    uv_unref((uv_handle_t *)&log->async); /* referenced only while appends await durability */
    uv_prepare_init(loop, &log->prepare);
    log->prepare.data = log;
    uv_prepare_start(&log->prepare, on_prepare);
    uv_unref((uv_handle_t *)&log->prepare); /* the prepare alone must not keep the loop alive */
    pthread_mutex_lock(&log->mu);
    log->loop = loop;
    pthread_mutex_unlock(&log->mu);
    log->open_handles = 2;
    return 0;
}

/* ---- close ----------------------------------------------------------------- */

static void free_log(djs_log_t *log)
{
    mdb_env_close(log->env);
    while (log->queue_head != NULL) { /* left over only after a fail-stop */
        batch_t *b = log->queue_head;
        log->queue_head = b->next;
        batch_free(b);
    }
    free_snapjobs(log);
    while (log->pend_head != NULL) { /* never committed: a leader stopped or lost the lead */
        batch_t *b = log->pend_head;
        log->pend_head = b->next;
        batch_free(b);
    }
    djs_buf_dispose(&log->entry);
    if (log->staging != NULL)
        batch_free(log->staging);
    while (log->free_batches != NULL) {
        batch_t *b = log->free_batches;
        log->free_batches = b->next;
        batch_free(b);
    }
    djs_free(log->waiters);
    pthread_rwlock_destroy(&log->resize_lock);
    pthread_cond_destroy(&log->durable_cv);
    pthread_cond_destroy(&log->work_cv);
    pthread_mutex_destroy(&log->mu);
    djs_free(log->dir);
    djs_free(log);
}

static void on_handle_closed(uv_handle_t *h)
{
    djs_log_t *log = h->data;
    if (--log->open_handles == 0)
        free_log(log);
}

void djs_log_close(djs_log_t *log)
{
    if (log == NULL)
        return;
    if (log->writer_running) {
        djs_log_sync(log);
        pthread_mutex_lock(&log->mu);
        log->stopping = 1;
        pthread_cond_signal(&log->work_cv);
        pthread_mutex_unlock(&log->mu);
        pthread_join(log->writer, NULL);
        log->writer_running = 0;
        /* anything still waiting can never become durable now */
        pthread_mutex_lock(&log->mu);
        if (!log->failed)
            log->failed = DJS_ECLOSED;
        pthread_mutex_unlock(&log->mu);
        log->fatal_reported = 1;
        dispatch(log);
    }
    log->closing = 1;
    if (log->loop != NULL) {
        uv_close((uv_handle_t *)&log->async, on_handle_closed);
        uv_close((uv_handle_t *)&log->prepare, on_handle_closed);
        return;
    }
    free_log(log);
}

/* ---- accessors --------------------------------------------------------------- */

static int read_last_seq(djs_log_t *log, uint64_t *seq)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    *seq = 0;
    if ((rc = mdb_cursor_open(txn, log->db_events, &c)) == 0) {
        if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0)
            memcpy(seq, k.mv_data, 8);
        mdb_cursor_close(c);
    }
    end_read(log, txn);
    return rc == MDB_NOTFOUND ? 0 : djs_err_from_mdb(rc);
}

uint64_t djs_log_last_seq(djs_log_t *log)
{
    if (no_writer(log)) {
        uint64_t s = 0;
        read_last_seq(log, &s);
        return s;
    }
    return log->last_seq;
}

uint64_t djs_log_durable_seq(djs_log_t *log)
{
    if (no_writer(log))
        return djs_log_last_seq(log);
    return atomic_load(&log->durable_seq);
}

uint64_t djs_log_last_ts(djs_log_t *log)
{
    return log->last_ts;
}

int djs_log_hash_at(djs_log_t *log, uint64_t seq, uint8_t out[DJS_HASH_LEN])
{
    if (!no_writer(log) && seq == log->last_seq && seq > 0) {
        memcpy(out, log->last_hash, DJS_HASH_LEN);
        return 0;
    }
    djs_buf_t b;
    djs_event_t ev;
    djs_buf_init(&b);
    int rc = djs_log_get(log, seq, &b);
    if (rc == 0 && (rc = djs_event_decode(b.base, b.len, &ev)) == 0)
        memcpy(out, ev.hash, DJS_HASH_LEN);
    djs_buf_dispose(&b);
    return rc;
}

int djs_log_status(djs_log_t *log)
{
    return atomic_load(&log->failed);
}

const char *djs_log_dir(djs_log_t *log)
{
    return log->dir;
}

size_t djs_log_map_size(djs_log_t *log)
{
    return atomic_load(&log->map_size);
}

uint64_t djs_log_now(djs_log_t *log)
{
    return djs_clock_peek(&log->clock);
}

void djs_log_get_stats(djs_log_t *log, djs_log_stats_t *st)
{
    pthread_mutex_lock(&log->mu);
    *st = log->stats;
    pthread_mutex_unlock(&log->mu);
}

struct MDB_env *djs_log_env(djs_log_t *log)
{
    return log->env;
}

/* ---- reads ------------------------------------------------------------------- */

int djs_log_get(djs_log_t *log, uint64_t seq, djs_buf_t *out)
{
    MDB_txn *txn;
    MDB_val k = {sizeof(seq), &seq}, v;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    rc = mdb_get(txn, log->db_events, &k, &v);
    if (rc == 0)
        djs_buf_append(out, v.mv_data, v.mv_size);
    end_read(log, txn);
    return djs_err_from_mdb(rc);
}

/* A chunked walk over one database, shared by the scans: it positions at
 * `key` (the first entry when key_len is 0; strictly after it when `after`)
 * and calls step for each entry, at most SCAN_CHUNK per read transaction so
 * a long walk never pins old pages. step returns 0 to go on or a stop value
 * that the walk returns; it sets `done` at the end of its range, and records
 * the current key (with after = 1) so the next transaction resumes there. */
typedef struct walk walk_t;
struct walk {
    MDB_dbi dbi;
    uint8_t key[24];
    size_t key_len;
    int after, done;
    int (*step)(walk_t *w, djs_log_t *log, MDB_txn *txn, const MDB_val *k, const MDB_val *v);
    uint64_t to;
    djs_id_t entity;
    djs_log_visit_cb visit;
    djs_log_index_cb index;
    void *arg;
};

static void walk_resume_at(walk_t *w, const MDB_val *k)
{
    w->key_len = k->mv_size <= sizeof(w->key) ? k->mv_size : sizeof(w->key);
    memcpy(w->key, k->mv_data, w->key_len);
    w->after = 1;
}

static int walk_run(djs_log_t *log, walk_t *w)
{
    for (;;) {
        MDB_txn *txn;
        MDB_cursor *c;
        MDB_val k = {w->key_len, w->key}, v;
        int rc = begin_read(log, &txn), stop = 0, n = 0;
        if (rc != 0)
            return rc;
        if ((rc = mdb_cursor_open(txn, w->dbi, &c)) != 0) {
            end_read(log, txn);
            return djs_err_from_mdb(rc);
        }
        rc = mdb_cursor_get(c, &k, &v, w->key_len ? MDB_SET_RANGE : MDB_FIRST);
        if (rc == 0 && w->after && k.mv_size == w->key_len && memcmp(k.mv_data, w->key, w->key_len) == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            if ((stop = w->step(w, log, txn, &k, &v)) != 0 || w->done || ++n == SCAN_CHUNK)
                break;
        mdb_cursor_close(c);
        end_read(log, txn);
        if (stop != 0)
            return stop;
        if (w->done || rc == MDB_NOTFOUND)
            return 0;
        if (rc != 0)
            return djs_err_from_mdb(rc);
    }
}

static int scan_step(walk_t *w, djs_log_t *log, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
    uint64_t seq;
    (void)log;
    (void)txn;
    memcpy(&seq, k->mv_data, 8);
    if (seq > w->to) {
        w->done = 1;
        return 0;
    }
    walk_resume_at(w, k);
    return w->visit(w->arg, seq, v->mv_data, v->mv_size);
}

int djs_log_scan(djs_log_t *log, uint64_t from, uint64_t to, djs_log_visit_cb cb, void *arg)
{
    walk_t w = {.dbi = log->db_events, .key_len = 8, .step = scan_step, .to = to, .visit = cb, .arg = arg};
    uint64_t start = from ? from : 1;
    memcpy(w.key, &start, 8);
    return walk_run(log, &w);
}

static int entity_step(walk_t *w, djs_log_t *log, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
    (void)v;
    if (k->mv_size != 24 || memcmp(k->mv_data, w->entity.b, 16) != 0) {
        w->done = 1;
        return 0;
    }
    uint64_t seq = get_be64((const uint8_t *)k->mv_data + 16);
    if (seq > w->to) {
        w->done = 1;
        return 0;
    }
    MDB_val sk = {sizeof(seq), &seq}, sv;
    int rc = mdb_get(txn, log->db_events, &sk, &sv);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? DJS_ECORRUPT /* the index names a missing record */ : djs_err_from_mdb(rc);
    walk_resume_at(w, k);
    return w->visit(w->arg, seq, sv.mv_data, sv.mv_size);
}

int djs_log_scan_entity(djs_log_t *log, const djs_id_t *entity, uint64_t from, uint64_t to, djs_log_visit_cb cb, void *arg)
{
    walk_t w = {.dbi = log->db_entity, .key_len = 24, .step = entity_step, .to = to, .entity = *entity, .visit = cb, .arg = arg};
    memcpy(w.key, entity->b, 16);
    put_be64(w.key + 16, from);
    return walk_run(log, &w);
}

static int index_step(walk_t *w, djs_log_t *log, MDB_txn *txn, const MDB_val *k, const MDB_val *v)
{
    djs_id_t id;
    (void)log;
    (void)txn;
    (void)v;
    if (k->mv_size != 24)
        return DJS_ECORRUPT;
    memcpy(id.b, k->mv_data, 16);
    walk_resume_at(w, k);
    return w->index(w->arg, &id, get_be64((const uint8_t *)k->mv_data + 16));
}

int djs_log_scan_index(djs_log_t *log, djs_log_index_cb cb, void *arg)
{
    walk_t w = {.dbi = log->db_entity, .step = index_step, .index = cb, .arg = arg};
    return walk_run(log, &w);
}

/* Timestamp of the record at seq, within txn. */
static int ts_at(djs_log_t *log, MDB_txn *txn, uint64_t seq, uint64_t *ts)
{
    MDB_val k = {sizeof(seq), &seq}, v;
    int rc = mdb_get(txn, log->db_events, &k, &v);
    if (rc != 0)
        return djs_err_from_mdb(rc);
    djs_event_t ev;
    if ((rc = djs_event_decode(v.mv_data, v.mv_size, &ev)) != 0)
        return rc;
    *ts = ev.ts_ns;
    return 0;
}

int djs_log_seq_at_time(djs_log_t *log, uint64_t ts_ns, uint64_t *seq)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t lo, hi, ts;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, log->db_events, &c)) != 0)
        goto out_mdb;
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0)
        goto out_cursor;
    memcpy(&lo, k.mv_data, 8);
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) != 0)
        goto out_cursor;
    memcpy(&hi, k.mv_data, 8);
    mdb_cursor_close(c);
    /* seqs are dense (lo..hi) and timestamps strictly increase with seq */
    if ((rc = ts_at(log, txn, hi, &ts)) != 0)
        goto out;
    if (ts < ts_ns) {
        rc = DJS_ENOTFOUND;
        goto out;
    }
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((rc = ts_at(log, txn, mid, &ts)) != 0)
            goto out;
        if (ts < ts_ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    *seq = lo;
    rc = 0;
    goto out;
out_cursor:
    mdb_cursor_close(c);
out_mdb:
    rc = djs_err_from_mdb(rc);
out:
    end_read(log, txn);
    return rc;
}

int djs_log_backup(djs_log_t *log, const char *dest)
{
    struct stat st;
    char path[4096];
    if (stat(dest, &st) != 0) {
        if (mkdir(dest, 0700) != 0)
            return djs_err_from_errno(errno);
    } else if (!S_ISDIR(st.st_mode)) {
        return DJS_EINVAL;
    }
    snprintf(path, sizeof(path), "%s/data.mdb", dest);
    if (stat(path, &st) == 0)
        return DJS_EEXISTS;
    pthread_rwlock_rdlock(&log->resize_lock);
    int rc = mdb_env_copy2(log->env, dest, MDB_CP_COMPACT);
    pthread_rwlock_unlock(&log->resize_lock);
    return djs_err_from_mdb(rc);
}

/* ---- maintenance: checkpoints, import, archive, truncation ------------------- */

#define CUT_CHUNK 20000 /* records deleted per write transaction */

/* A write transaction on the calling thread. Another process (a server
 * beside a tool) may have grown the map: adopt its size. */
static int begin_write(djs_log_t *log, MDB_txn **txn)
{
    pthread_rwlock_rdlock(&log->resize_lock);
    int rc = mdb_txn_begin(log->env, NULL, 0, txn);
    pthread_rwlock_unlock(&log->resize_lock);
    if (rc == MDB_MAP_RESIZED) {
        pthread_rwlock_wrlock(&log->resize_lock);
        mdb_env_set_mapsize(log->env, 0);
        pthread_rwlock_unlock(&log->resize_lock);
        rc = mdb_txn_begin(log->env, NULL, 0, txn);
    }
    return rc;
}

/* Commit, or abort and translate; MDB_MAP_FULL grows the map and says so
 * with 1 (redo the transaction). */
static int end_write(djs_log_t *log, MDB_txn *txn, int rc)
{
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc == MDB_MAP_FULL)
        return grow_map(log) == 0 ? 1 : DJS_EMAPFULL;
    return djs_err_from_mdb(rc);
}

static int writable(const djs_log_t *log)
{
    if (log->opts.readonly)
        return DJS_ERDONLY;
    if (atomic_load_explicit(&log->failed, memory_order_relaxed))
        return DJS_ESTORAGE;
    return 0;
}

static int get_meta(djs_log_t *log, const char *key, void *val, size_t len)
{
    MDB_txn *txn;
    int rc = begin_read(log, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = mdb_get(txn, log->db_meta, &k, &v);
    if (rc == 0 && v.mv_size != len)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        memcpy(val, v.mv_data, len);
    end_read(log, txn);
    return djs_err_from_mdb(rc);
}

static int put_meta(djs_log_t *log, const char *key, const void *val, size_t len)
{
    int rc = writable(log);
    while (rc == 0) {
        MDB_txn *txn;
        if ((rc = begin_write(log, &txn)) != 0)
            return djs_err_from_mdb(rc);
        MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};
        if ((rc = end_write(log, txn, mdb_put(txn, log->db_meta, &k, &v, 0))) != 1)
            return rc;
        rc = 0; /* map grown: again */
    }
    return rc;
}

int djs_log_get_base(djs_log_t *log, djs_log_base_t *b)
{
    uint8_t m[META_BASE_LEN];
    int rc = get_meta(log, META_BASE, m, sizeof(m));
    if (rc != 0)
        return rc;
    b->seq = get_be64(m);
    b->ts_ns = get_be64(m + 8);
    memcpy(b->hash, m + 16, DJS_HASH_LEN);
    return 0;
}

uint64_t djs_log_first_seq(djs_log_t *log)
{
    djs_log_base_t b;
    return djs_log_get_base(log, &b) == 0 ? b.seq + 1 : 1;
}

int djs_log_get_verified(djs_log_t *log, uint64_t *seq, uint8_t hash[DJS_HASH_LEN])
{
    uint8_t m[META_VERIFIED_LEN];
    int rc = get_meta(log, META_VERIFIED, m, sizeof(m));
    if (rc != 0)
        return rc;
    *seq = get_be64(m);
    memcpy(hash, m + 8, DJS_HASH_LEN);
    return 0;
}

int djs_log_put_verified(djs_log_t *log, uint64_t seq, const uint8_t hash[DJS_HASH_LEN])
{
    uint8_t m[META_VERIFIED_LEN];
    put_be64(m, seq);
    memcpy(m + 8, hash, DJS_HASH_LEN);
    return put_meta(log, META_VERIFIED, m, sizeof(m));
}

int djs_log_append_record(djs_log_t *log, const uint8_t *rec, size_t len)
{
    if (no_writer(log))
        return DJS_ERDONLY;
    if (log->closing)
        return DJS_ECLOSED;
    if (atomic_load_explicit(&log->failed, memory_order_relaxed))
        return DJS_ESTORAGE;
    djs_event_t ev;
    uint8_t want[DJS_HASH_LEN];
    int rc = djs_event_decode(rec, len, &ev);
    if (rc != 0)
        return rc;
    if (ev.seq != log->last_seq + 1 || (log->last_seq > 0 && ev.ts_ns <= log->last_ts))
        return DJS_ESEQGAP;
    djs_event_chain(log->last_hash, rec, len, want);
    if (memcmp(want, ev.hash, DJS_HASH_LEN) != 0)
        return DJS_ECHAIN;
    batch_t *b = log->staging;
    size_t off = b->data.len;
    djs_buf_append(&b->data, rec, len);
    item_t *it = batch_add(b);
    it->seq = ev.seq;
    it->off = (uint32_t)off;
    it->len = (uint32_t)len;
    it->entity = ev.entity;
    it->kind = ITEM_EVENT;
    log->last_seq = ev.seq;
    log->last_ts = ev.ts_ns;
    memcpy(log->last_hash, ev.hash, DJS_HASH_LEN);
    djs_clock_floor(&log->clock, ev.ts_ns);
    if (log->loop != NULL && !log->async_ref) {
        uv_ref((uv_handle_t *)&log->async);
        log->async_ref = 1;
    }
    if (b->n >= log->opts.max_batch || b->data.len >= ((size_t)64 << 20))
        djs_log_flush(log);
    return 0;
}

int djs_log_store_snapshot(djs_log_t *log, uint64_t seq, const void *data, size_t len)
{
    int rc = writable(log);
    if (rc != 0)
        return rc;
    if (seq == 0 || seq > djs_log_last_seq(log) || len == 0 || data == NULL || len / log->piece >= UINT32_MAX)
        return DJS_EINVAL;
    if (!no_writer(log) && djs_log_snapshot_pending(log) > 0)
        return DJS_EBUSY;
    snapjob_t j = {.seq = seq, .len = len, .keep = UINT32_MAX, .fd = -1, .mem = (uint8_t *)data};
    while ((size_t)j.next * log->piece < len) {
        MDB_txn *txn;
        if ((rc = begin_write(log, &txn)) != 0)
            return djs_err_from_mdb(rc);
        rc = end_write(log, txn, put_piece(log, txn, &j));
        if (rc == 1)
            continue; /* map grown: this piece again */
        if (rc != 0)
            return rc;
        j.next++;
    }
    return 0;
}

/* Delete the records from..to (inclusive) and their index entries in one
 * transaction; missing records are skipped. */
static int cut_range(djs_log_t *log, MDB_txn *txn, uint64_t from, uint64_t to)
{
    for (uint64_t seq = from; seq <= to; seq++) {
        MDB_val k = {sizeof(seq), &seq}, v;
        int rc = mdb_get(txn, log->db_events, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        djs_event_t ev;
        if (djs_event_decode(v.mv_data, v.mv_size, &ev) == 0 && !djs_id_is_nil(&ev.entity)) {
            uint8_t ek[24];
            memcpy(ek, ev.entity.b, 16);
            put_be64(ek + 16, seq);
            MDB_val kk = {sizeof(ek), ek};
            if ((rc = mdb_del(txn, log->db_entity, &kk, NULL)) != 0 && rc != MDB_NOTFOUND)
                return rc;
        }
        if ((rc = mdb_del(txn, log->db_events, &k, NULL)) != 0)
            return rc;
    }
    return 0;
}

/* Delete the snapshots with lo <= seq <= hi (keeping `spare`). */
static int drop_snapshots(djs_log_t *log, MDB_txn *txn, uint64_t lo, uint64_t hi, uint64_t spare)
{
    MDB_cursor *c;
    MDB_val k = {sizeof(lo), &lo}, v;
    uint64_t seqs[64];
    size_t n = 0;
    int rc = mdb_cursor_open(txn, log->db_snapshots, &c);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < 64; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t seq;
        memcpy(&seq, k.mv_data, sizeof(seq));
        if (seq > hi)
            break;
        if (seq != spare)
            seqs[n++] = seq;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = drop_snapshot(log, txn, seqs[i])) != 0)
            return rc;
    return 0;
}

int djs_log_drop_snapshots(djs_log_t *log, uint64_t lo, uint64_t hi)
{
    int rc = writable(log);
    djs_log_base_t base = {0};
    if (rc != 0)
        return rc;
    if ((rc = djs_log_get_base(log, &base)) != 0 && rc != DJS_ENOTFOUND)
        return rc;
    for (;;) { /* drop_snapshots takes at most 64 per transaction */
        MDB_txn *txn;
        MDB_stat st0, st1;
        if ((rc = begin_write(log, &txn)) != 0)
            return djs_err_from_mdb(rc);
        if ((rc = mdb_stat(txn, log->db_snapshots, &st0)) == 0 && (rc = drop_snapshots(log, txn, lo, hi, base.seq)) == 0)
            rc = mdb_stat(txn, log->db_snapshots, &st1);
        int more = rc == 0 && st1.ms_entries < st0.ms_entries && st0.ms_entries - st1.ms_entries == 64;
        if ((rc = end_write(log, txn, rc)) == 1)
            continue;
        if (rc != 0 || !more)
            return rc;
    }
}

int djs_log_truncate(djs_log_t *log, uint64_t last_keep)
{
    int rc = writable(log);
    if (rc != 0)
        return rc;
    if (!no_writer(log) && (log->staging->n > 0 || atomic_load(&log->durable_seq) != log->last_seq))
        return DJS_EBUSY;
    uint64_t last = djs_log_last_seq(log);
    if (last_keep < djs_log_first_seq(log) - 1)
        return DJS_EARCHIVED;
    for (uint64_t from = last_keep + 1; from <= last;) {
        uint64_t to = last - from >= CUT_CHUNK ? from + CUT_CHUNK - 1 : last;
        MDB_txn *txn;
        if ((rc = begin_write(log, &txn)) != 0)
            return djs_err_from_mdb(rc);
        rc = cut_range(log, txn, from, to);
        if (rc == 0 && to == last)
            rc = drop_snapshots(log, txn, last_keep + 1, UINT64_MAX, 0);
        if ((rc = end_write(log, txn, rc)) == 1)
            continue;
        if (rc != 0)
            return rc;
        from = to + 1;
    }
    uint64_t vseq;
    uint8_t vh[DJS_HASH_LEN];
    if (djs_log_get_verified(log, &vseq, vh) == 0 && vseq > last_keep) {
        MDB_txn *txn;
        do {
            if ((rc = begin_write(log, &txn)) != 0)
                return djs_err_from_mdb(rc);
            MDB_val k = {strlen(META_VERIFIED), META_VERIFIED};
            int drc = mdb_del(txn, log->db_meta, &k, NULL);
            rc = end_write(log, txn, drc == MDB_NOTFOUND ? 0 : drc);
        } while (rc == 1);
        if (rc != 0)
            return rc;
    }
    if (!no_writer(log)) {
        if ((rc = load_tail(log)) != 0)
            return rc;
        atomic_store(&log->durable_seq, log->last_seq);
        log->handed_seq = log->last_seq;
        log->notified_seq = log->last_seq;
    }
    return 0;
}

int djs_log_drop_output(djs_log_t *log, const djs_id_t *job, uint64_t from_off)
{
    int rc = writable(log);
    while (rc == 0) {
        MDB_txn *txn;
        MDB_cursor *c;
        if ((rc = begin_write(log, &txn)) != 0)
            return djs_err_from_mdb(rc);
        if ((rc = mdb_cursor_open(txn, log->db_output, &c)) == 0) {
            uint8_t kb[24];
            memcpy(kb, job->b, 16);
            put_be64(kb + 16, from_off);
            MDB_val k = {sizeof(kb), kb}, v;
            for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) {
                if (k.mv_size != 24 || memcmp(k.mv_data, job->b, 16) != 0)
                    break;
                if ((rc = mdb_cursor_del(c, 0)) != 0)
                    break;
                k.mv_size = sizeof(kb);
                k.mv_data = kb;
            }
            mdb_cursor_close(c);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if ((rc = end_write(log, txn, rc)) != 1)
            return rc;
        rc = 0;
    }
    return rc;
}

int djs_log_archive_cut(djs_log_t *log, uint64_t base_seq, void (*progress)(void *, uint64_t, uint64_t), void *arg)
{
    int rc = writable(log);
    if (rc != 0)
        return rc;
    djs_log_base_t old;
    uint64_t first = 1;
    if ((rc = djs_log_get_base(log, &old)) == 0)
        first = old.seq + 1;
    else if (rc != DJS_ENOTFOUND)
        return rc;
    if (base_seq < first || base_seq >= djs_log_last_seq(log))
        return base_seq < first ? DJS_EARCHIVED : DJS_EINVAL;
    /* the base record and its snapshot first: from then on the log starts
     * after base_seq even if the deletions below are cut short */
    djs_buf_t rec;
    djs_buf_init(&rec);
    djs_event_t ev;
    if ((rc = djs_log_get(log, base_seq, &rec)) != 0 || (rc = djs_event_decode(rec.base, rec.len, &ev)) != 0) {
        djs_buf_dispose(&rec);
        return rc;
    }
    uint8_t m[META_BASE_LEN];
    put_be64(m, base_seq);
    put_be64(m + 8, ev.ts_ns);
    memcpy(m + 16, ev.hash, DJS_HASH_LEN);
    djs_buf_dispose(&rec);
    uint64_t snap_seq = 0;
    djs_buf_t snap;
    djs_buf_init(&snap);
    rc = djs_log_get_snapshot(log, base_seq, &snap_seq, &snap);
    djs_buf_dispose(&snap);
    if (rc != 0 || snap_seq != base_seq)
        return rc != 0 && rc != DJS_ENOTFOUND ? rc : DJS_EINVAL; /* store the snapshot at base_seq first */
    if ((rc = put_meta(log, META_BASE, m, sizeof(m))) != 0)
        return rc;
    uint64_t total = base_seq - first + 1;
    for (uint64_t from = first; from <= base_seq;) {
        uint64_t to = base_seq - from >= CUT_CHUNK ? from + CUT_CHUNK - 1 : base_seq;
        MDB_txn *txn;
        if ((rc = begin_write(log, &txn)) != 0)
            return djs_err_from_mdb(rc);
        rc = cut_range(log, txn, from, to);
        if (rc == 0 && to == base_seq)
            rc = drop_snapshots(log, txn, 0, base_seq, base_seq);
        if ((rc = end_write(log, txn, rc)) == 1)
            continue;
        if (rc != 0)
            return rc;
        from = to + 1;
        if (progress != NULL)
            progress(arg, to - first + 1, total);
    }
    uint64_t vseq;
    uint8_t vh[DJS_HASH_LEN];
    if (djs_log_get_verified(log, &vseq, vh) != 0 || vseq < base_seq)
        djs_log_put_verified(log, base_seq, m + 16);
    return 0;
}

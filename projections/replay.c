#include "projections/replay.h"

#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "projections/state_internal.h"

/* Two threads: a reader walks the log (LMDB cursor), copies records into
 * chunks and decodes them; the caller's thread applies chunk after chunk,
 * prefetching ahead within a chunk. Decoding and LMDB are about 40% of a
 * replay, so they overlap with applying on a second core. */

#define CHUNK_EVENTS 4096
#define QUEUE_CHUNKS 4
#define AHEAD1 32 /* prefetch the index bucket this many events ahead */
#define AHEAD2 16 /* ... and the job record this many */

typedef struct chunk {
    djs_buf_t data;
    uint32_t *off;  /* record offsets in data */
    uint64_t *seqs; /* their keys */
    djs_event_t *ev;
    uint32_t n;
    struct chunk *next;
} chunk_t;

typedef struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk_t *full_head, *full_tail, *free;
    int nfull;
    int done;   /* reader finished (rc set) */
    int cancel; /* applier stopped early */
    int rc;     /* reader's result */
    uint64_t bad_seq;
    int bad_err;
    chunk_t *cur; /* reader's chunk being filled */
    djs_log_t *log;
    uint64_t from, to;
} pipe_t;

static chunk_t *chunk_new(void)
{
    chunk_t *c = djs_calloc(1, sizeof(*c));
    djs_buf_init(&c->data);
    c->off = djs_malloc(CHUNK_EVENTS * sizeof(uint32_t));
    c->seqs = djs_malloc(CHUNK_EVENTS * sizeof(uint64_t));
    c->ev = djs_malloc(CHUNK_EVENTS * sizeof(djs_event_t));
    return c;
}

static void chunk_free(chunk_t *c)
{
    djs_buf_dispose(&c->data);
    djs_free(c->off);
    djs_free(c->seqs);
    djs_free(c->ev);
    djs_free(c);
}

/* Decode the chunk's records (the buffer no longer moves) and queue it. */
static int publish(pipe_t *p)
{
    chunk_t *c = p->cur;
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t end = i + 1 < c->n ? c->off[i + 1] : (uint32_t)c->data.len;
        int rc = djs_event_decode(c->data.base + c->off[i], end - c->off[i], &c->ev[i]);
        if (rc != 0) {
            p->bad_err = rc;
            c->n = i; /* apply what came before it */
            rc = DJS_ECORRUPT;
            p->bad_seq = c->seqs[i];
            pthread_mutex_lock(&p->mu);
            p->rc = rc;
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
    pthread_mutex_lock(&p->mu);
    while (p->nfull >= QUEUE_CHUNKS && !p->cancel)
        pthread_cond_wait(&p->cv, &p->mu);
    int cancel = p->cancel;
    if (!cancel) {
        c->next = NULL;
        if (p->full_tail != NULL)
            p->full_tail->next = c;
        else
            p->full_head = c;
        p->full_tail = c;
        p->nfull++;
        pthread_cond_broadcast(&p->cv);
    }
    if (p->free != NULL) {
        p->cur = p->free;
        p->free = p->cur->next;
    } else {
        p->cur = NULL;
    }
    int rc = p->rc;
    pthread_mutex_unlock(&p->mu);
    if (cancel)
        chunk_free(c);
    if (p->cur == NULL)
        p->cur = chunk_new();
    p->cur->n = 0;
    djs_buf_reset(&p->cur->data);
    return cancel ? DJS_ECLOSED : rc;
}

static int on_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    pipe_t *p = arg;
    chunk_t *c = p->cur;
    if (c->data.len + len > UINT32_MAX)
        return DJS_ETOOBIG;
    c->seqs[c->n] = seq;
    c->off[c->n++] = (uint32_t)c->data.len;
    djs_buf_append(&c->data, rec, len);
    if (c->n == CHUNK_EVENTS)
        return publish(p);
    return 0;
}

static void *reader_main(void *arg)
{
    pipe_t *p = arg;
    int rc = djs_log_scan(p->log, p->from, p->to, on_record, p);
    if (rc == 0 && p->cur->n > 0)
        rc = publish(p);
    pthread_mutex_lock(&p->mu);
    if (p->rc == 0)
        p->rc = rc;
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void prefetch_bucket(djs_state_t *st, const djs_event_t *ev)
{
    djs_idx_prefetch(&st->job_idx, djs__id_hash(&ev->entity));
}

static void prefetch_job(djs_state_t *st, const djs_event_t *ev)
{
    uint32_t s = djs_idx_guess(&st->job_idx, djs__id_hash(&ev->entity));
    if (s != DJS_IDX_NONE && s < st->njobs)
        __builtin_prefetch(&st->jobs[s]);
}

static int apply_chunk(djs_state_t *st, chunk_t *c, uint64_t *applied, uint64_t *bad_seq, int *bad_err)
{
    for (uint32_t i = 0; i < c->n; i++) {
        if (i + AHEAD1 < c->n)
            prefetch_bucket(st, &c->ev[i + AHEAD1]);
        if (i + AHEAD2 < c->n)
            prefetch_job(st, &c->ev[i + AHEAD2]);
        int rc = djs_state_apply(st, &c->ev[i]);
        if (rc != 0) {
            *bad_seq = c->ev[i].seq;
            *bad_err = rc;
            return DJS_ECORRUPT;
        }
        (*applied)++;
    }
    return 0;
}

int djs_state_replay(djs_state_t *st, djs_log_t *log, uint64_t from, uint64_t to, uint64_t *applied, uint64_t *bad_seq,
                     int *bad_err)
{
    pipe_t p;
    pthread_t reader;
    uint64_t n = 0, bseq = 0;
    int berr = 0, rc = 0;
    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.log = log;
    p.from = from;
    p.to = to;
    p.cur = chunk_new();
    if (pthread_create(&reader, NULL, reader_main, &p) != 0) {
        chunk_free(p.cur);
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
        return DJS_EIO;
    }
    for (;;) {
        pthread_mutex_lock(&p.mu);
        while (p.full_head == NULL && !p.done)
            pthread_cond_wait(&p.cv, &p.mu);
        chunk_t *c = p.full_head;
        if (c == NULL) {
            pthread_mutex_unlock(&p.mu);
            break; /* reader done and drained */
        }
        p.full_head = c->next;
        if (p.full_head == NULL)
            p.full_tail = NULL;
        p.nfull--;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);

        rc = apply_chunk(st, c, &n, &bseq, &berr);
        pthread_mutex_lock(&p.mu);
        c->next = p.free;
        p.free = c;
        if (rc != 0) {
            p.cancel = 1;
            pthread_cond_broadcast(&p.cv);
        }
        pthread_mutex_unlock(&p.mu);
        if (rc != 0)
            break;
    }
    pthread_join(reader, NULL);
    if (rc == 0 && p.rc != 0 && p.rc != DJS_ECLOSED) {
        rc = p.rc;
        if (rc == DJS_ECORRUPT) {
            berr = p.bad_err;
            bseq = p.bad_seq;
        }
    }
    while (p.full_head != NULL) {
        chunk_t *c = p.full_head;
        p.full_head = c->next;
        chunk_free(c);
    }
    while (p.free != NULL) {
        chunk_t *c = p.free;
        p.free = c->next;
        chunk_free(c);
    }
    if (p.cur != NULL)
        chunk_free(p.cur);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    if (applied != NULL)
        *applied = n;
    if (rc == DJS_ECORRUPT) {
        if (bad_seq != NULL)
            *bad_seq = bseq;
        if (bad_err != NULL)
            *bad_err = berr;
    }
    return rc;
}

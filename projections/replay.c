#include "projections/replay.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "projections/state_internal.h"

#define WINDOW 32 /* events decoded ahead; power of two */
#define STAGE2 16 /* distance at which the job record is prefetched */

typedef struct slot_ent {
    djs_event_t ev;
    djs_buf_t rec;
} ring_ent_t;

typedef struct replayer {
    djs_state_t *st;
    ring_ent_t ring[WINDOW];
    uint64_t head, tail; /* apply at head, decode at tail */
    uint64_t applied, bad_seq;
    int err;
} replayer_t;

static void prefetch_job(djs_state_t *st, const djs_event_t *ev)
{
    uint32_t s = djs_idx_guess(&st->job_idx, djs__id_hash(&ev->entity));
    if (s != DJS_IDX_NONE && s < st->njobs)
        __builtin_prefetch(&st->jobs[s]);
}

static int apply_head(replayer_t *r)
{
    ring_ent_t *e = &r->ring[r->head % WINDOW];
    int rc = djs_state_apply(r->st, &e->ev);
    if (rc != 0) {
        r->err = rc;
        r->bad_seq = e->ev.seq;
        return DJS_ECORRUPT;
    }
    r->head++;
    r->applied++;
    return 0;
}

static int on_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    replayer_t *r = arg;
    if (r->tail - r->head == WINDOW && apply_head(r) != 0)
        return DJS_ECORRUPT;
    ring_ent_t *e = &r->ring[r->tail % WINDOW];
    djs_buf_reset(&e->rec);
    djs_buf_append(&e->rec, rec, len);
    int rc = djs_event_decode(e->rec.base, e->rec.len, &e->ev);
    if (rc != 0) {
        r->err = rc;
        r->bad_seq = seq;
        return DJS_ECORRUPT;
    }
    djs_idx_prefetch(&r->st->job_idx, djs__id_hash(&e->ev.entity));
    r->tail++;
    /* the event STAGE2 behind: its bucket is in cache now, fetch its job */
    if (r->tail - r->head > STAGE2)
        prefetch_job(r->st, &r->ring[(r->tail - 1 - STAGE2) % WINDOW].ev);
    return 0;
}

int djs_state_replay(djs_state_t *st, djs_log_t *log, uint64_t from, uint64_t to, uint64_t *applied, uint64_t *bad_seq,
                     int *bad_err)
{
    replayer_t *r = djs_calloc(1, sizeof(*r));
    r->st = st;
    for (int i = 0; i < WINDOW; i++)
        djs_buf_init(&r->ring[i].rec);
    int rc = djs_log_scan(log, from, to, on_record, r);
    while (rc == 0 && r->head < r->tail)
        rc = apply_head(r);
    if (applied != NULL)
        *applied = r->applied;
    if (rc == DJS_ECORRUPT && r->err != 0) {
        if (bad_seq != NULL)
            *bad_seq = r->bad_seq;
        if (bad_err != NULL)
            *bad_err = r->err;
    }
    for (int i = 0; i < WINDOW; i++)
        djs_buf_dispose(&r->ring[i].rec);
    djs_free(r);
    return rc;
}

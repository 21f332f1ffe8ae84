#include "projections/rebuild.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "projections/replay.h"
#include "projections/snapshot.h"

__attribute__((format(printf, 2, 3))) static void note(djs_rebuild_report_t *rep, const char *fmt, ...)
{
    size_t at = strlen(rep->notes);
    if (at + 1 >= sizeof(rep->notes))
        return; /* full: the first notes are the ones that explain */
    if (at > 0)
        rep->notes[at++] = '\n';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->notes + at, sizeof(rep->notes) - at, fmt, ap);
    va_end(ap);
}

static int replay_onto(djs_log_t *log, djs_state_t *st, uint64_t upto, djs_rebuild_report_t *rep)
{
    rep->applied = 0;
    rep->bad_seq = 0;
    rep->bad_err = 0;
    if (upto <= djs_state_seq(st))
        return 0;
    return djs_state_replay(st, log, djs_state_seq(st) + 1, upto, &rep->applied, &rep->bad_seq, &rep->bad_err);
}

/* The newest usable snapshot at or before upto (a damaged one is skipped
 * for the one before it), or NULL. */
static djs_state_t *best_snapshot(djs_log_t *log, const djs_state_config_t *c, uint64_t upto, djs_rebuild_report_t *rep)
{
    djs_buf_t snap;
    uint64_t snap_seq = 0;
    djs_state_t *st = NULL;
    djs_buf_init(&snap);
    while (st == NULL && upto > 0 && djs_log_get_snapshot(log, upto, &snap_seq, &snap) == 0) {
        int rc = djs_state_restore(snap.base, snap.len, c, &st);
        if (rc != 0) {
            note(rep, "snapshot at seq %" PRIu64 " is unusable (%s): trying an older one", snap_seq, djs_strerror(rc));
            st = NULL;
            rep->snapshots_skipped++;
        } else if (djs_state_seq(st) != snap_seq) {
            note(rep, "snapshot at seq %" PRIu64 " claims seq %" PRIu64 ": trying an older one", snap_seq, djs_state_seq(st));
            djs_state_free(st);
            st = NULL;
            rep->snapshots_skipped++;
        }
        upto = snap_seq - 1;
        djs_buf_reset(&snap);
    }
    djs_buf_dispose(&snap);
    return st;
}

int djs_state_rebuild(djs_log_t *log, const djs_state_config_t *c, uint64_t upto, djs_state_t **out, djs_rebuild_report_t *rep)
{
    djs_rebuild_report_t local;
    if (rep == NULL)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    /* an archived log starts after its base: nothing before it can be
     * built, and the base snapshot is the only way in */
    djs_log_base_t base;
    int archived = djs_log_get_base(log, &base) == 0;
    if (archived && upto < base.seq)
        return DJS_EARCHIVED;
    djs_state_t *st = best_snapshot(log, c, upto, rep);
    int rc = -1, had_snapshot = st != NULL;
    if (archived && (st == NULL || djs_state_seq(st) < base.seq)) {
        note(rep, "the log starts after its archive base at seq %" PRIu64 " and no usable snapshot covers it: restore a backup",
             base.seq);
        djs_state_free(st);
        rep->bad_seq = base.seq + 1;
        rep->bad_err = DJS_ECORRUPT;
        return DJS_ECORRUPT;
    }
    if (st != NULL) {
        rep->snapshot_seq = djs_state_seq(st);
        if ((rc = replay_onto(log, st, upto, rep)) != 0) {
            note(rep,
                 "the log does not apply on top of the snapshot at seq %" PRIu64 " (event %" PRIu64
                 ": %s): replaying the whole log",
                 rep->snapshot_seq, rep->bad_seq, djs_err_name(rep->bad_err));
            djs_state_free(st);
        }
    }
    if (rc != 0 && archived) {
        rep->bad_err = rep->bad_err ? rep->bad_err : DJS_ECORRUPT;
        return DJS_ECORRUPT; /* no replay from seq 1 past an archive */
    }
    if (rc != 0) {
        rep->snapshot_seq = 0;
        rep->full_replay = had_snapshot;
        st = djs_state_new(c);
        if ((rc = replay_onto(log, st, upto, rep)) != 0) {
            if (rep->bad_err != 0)
                note(rep, "event %" PRIu64 " does not apply to the state (%s): run djs replay verify", rep->bad_seq,
                     djs_err_name(rep->bad_err));
            djs_state_free(st);
            return rc;
        }
    }
    *out = st;
    return 0;
}

int djs_state_at(djs_log_t *log, const djs_state_config_t *c, uint64_t seq, djs_state_t **out)
{
    if (seq > djs_log_durable_seq(log))
        return DJS_ERANGE;
    return djs_state_rebuild(log, c, seq, out, NULL);
}

struct djs_state_cache {
    djs_log_t *log;
    djs_state_config_t cfg;
    struct {
        djs_state_t *st;
        uint64_t used; /* LRU clock */
    } slot[DJS_STATE_CACHE];
    uint64_t clock;
};

djs_state_cache_t *djs_state_cache_new(djs_log_t *log, const djs_state_config_t *c)
{
    djs_state_cache_t *tc = djs_calloc(1, sizeof(*tc));
    tc->log = log;
    if (c != NULL)
        tc->cfg = *c;
    else
        djs_state_config_init(&tc->cfg);
    return tc;
}

int djs_state_cache_at(djs_state_cache_t *tc, uint64_t seq, const djs_state_t **out)
{
    int victim = 0;
    for (int i = 0; i < DJS_STATE_CACHE; i++) {
        if (tc->slot[i].st != NULL && djs_state_seq(tc->slot[i].st) == seq) {
            tc->slot[i].used = ++tc->clock;
            *out = tc->slot[i].st;
            return 0;
        }
        if (tc->slot[i].used < tc->slot[victim].used)
            victim = i;
    }
    djs_state_t *st;
    int rc = djs_state_at(tc->log, &tc->cfg, seq, &st);
    if (rc != 0)
        return rc;
    djs_state_free(tc->slot[victim].st);
    tc->slot[victim].st = st;
    tc->slot[victim].used = ++tc->clock;
    *out = st;
    return 0;
}

void djs_state_cache_free(djs_state_cache_t *tc)
{
    if (tc == NULL)
        return;
    for (int i = 0; i < DJS_STATE_CACHE; i++)
        djs_state_free(tc->slot[i].st);
    djs_free(tc);
}

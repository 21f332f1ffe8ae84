/* djs_replay_rebuild: a fresh state (or the archive base's snapshot), the
 * log replayed onto it up to a point, the digest, and maybe a snapshot. */
#include "replay/rebuild.h"

#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "projections/replay.h"
#include "projections/snapshot.h"

void djs_replay_rebuild_opts_init(djs_replay_rebuild_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->to_seq = UINT64_MAX;
}

/* The empty state, or in an archived log the state at its base. */
static int start_state(djs_log_t *log, const djs_state_config_t *sc, uint64_t first, djs_state_t **st,
                       djs_replay_rebuild_report_t *rep)
{
    if (first <= 1) {
        *st = djs_state_new(sc);
        return 0;
    }
    djs_buf_t b;
    uint64_t seq = 0;
    djs_buf_init(&b);
    int rc = djs_log_get_snapshot(log, first - 1, &seq, &b);
    if (rc == 0 && seq != first - 1)
        rc = DJS_ENOTFOUND;
    if (rc == 0)
        rc = djs_state_restore(b.base, b.len, sc, st);
    djs_buf_dispose(&b);
    if (rc != 0) {
        rep->bad_seq = first - 1;
        rep->bad_err = rc;
        return DJS_ECORRUPT;
    }
    rep->start_seq = first - 1;
    return 0;
}

/* The retention the newest snapshot says its state ran with (the server's),
 * into sc; rep->retention_seq names it. Nothing changes when there is no
 * snapshot or it predates format 5. */
static void server_retention(djs_log_t *log, djs_state_config_t *sc, djs_replay_rebuild_report_t *rep)
{
    djs_buf_t b;
    uint64_t seq;
    djs_snapshot_meta_t m;
    djs_buf_init(&b);
    if (djs_log_get_snapshot(log, UINT64_MAX, &seq, &b) == 0 && djs_state_snapshot_meta(b.base, b.len, &m) == 0 && m.version >= 5 &&
        m.max_terminal != 0) {
        sc->max_terminal = m.max_terminal;
        sc->max_terminal_age = m.max_terminal_age;
        rep->retention_seq = m.seq;
    }
    djs_buf_dispose(&b);
}

int djs_replay_rebuild(djs_log_t *log, const djs_replay_rebuild_opts_t *o, djs_replay_rebuild_report_t *rep, djs_state_t **out)
{
    djs_replay_rebuild_opts_t dflt;
    if (rep == NULL || log == NULL)
        return DJS_EINVAL;
    memset(rep, 0, sizeof(*rep));
    if (o == NULL) {
        djs_replay_rebuild_opts_init(&dflt);
        o = &dflt;
    }
    uint64_t last = djs_log_last_seq(log), first = djs_log_first_seq(log);
    uint64_t to = o->to_seq == UINT64_MAX ? last : o->to_seq;
    if (to == 0 || to > last || (o->keep_all && o->write_snapshot))
        return DJS_EINVAL;
    if (to + 1 < first)
        return DJS_EARCHIVED;
    djs_state_config_t sc;
    djs_state_config_init(&sc);
    if (o->keep_all) {
        sc.max_terminal = UINT64_MAX;
        sc.max_terminal_age = UINT64_MAX / 2;
    }
    if (o->write_snapshot)
        server_retention(log, &sc, rep);
    rep->max_terminal = sc.max_terminal;
    rep->max_terminal_age = sc.max_terminal_age;
    djs_state_t *st = NULL;
    int rc = start_state(log, &sc, first, &st, rep);
    if (rc != 0)
        goto fail;
    uint64_t t0 = djs_monotonic_ns();
    if (to >= first && (rc = djs_state_replay(st, log, first, to, &rep->events, &rep->bad_seq, &rep->bad_err)) != 0)
        goto fail;
    rep->seconds = (djs_monotonic_ns() - t0) / 1e9;
    rep->seq = djs_state_seq(st);
    rep->ts_ns = djs_state_ts(st);
    rep->jobs = djs_state_njobs(st);
    const djs_metrics_t *m = djs_state_metrics(st);
    rep->submitted = m->submitted;
    rep->completed = m->completed;
    rep->failed = m->failed;
    djs_state_digest(st, rep->digest);
    if (o->write_snapshot) {
        djs_buf_t b;
        djs_buf_init(&b);
        djs_state_snapshot(st, &b);
        rc = djs_log_store_snapshot(log, rep->seq, b.base, b.len);
        rep->snapshot_bytes = rc == 0 ? b.len : 0;
        djs_buf_dispose(&b);
        if (rc != 0)
            goto fail;
    }
    if (out != NULL) {
        *out = st;
        st = NULL;
    }
fail:
    if (st != NULL)
        djs_state_free(st);
    return rc;
}

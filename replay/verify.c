#include "replay/verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

typedef struct walk {
    djs_verify_report_t *rep;
    uint8_t prev_hash[DJS_HASH_LEN];
    uint64_t prev_ts;
    uint64_t expect_seq;
    uint64_t total, next_report;
    uint64_t with_entity;
    djs_verify_progress_cb progress;
    void *arg;
    djs_log_t *log;
    djs_buf_t tmp;
} walk_t;

__attribute__((format(printf, 4, 5))) static int bad(walk_t *w, uint64_t seq, int err, const char *fmt, ...)
{
    va_list ap;
    w->rep->bad_seq = seq;
    w->rep->error = err;
    va_start(ap, fmt);
    vsnprintf(w->rep->detail, sizeof(w->rep->detail), fmt, ap);
    va_end(ap);
    return err;
}

static int on_record(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    walk_t *w = arg;
    djs_event_t ev;
    uint8_t h[DJS_HASH_LEN];
    int rc;

    if (seq != w->expect_seq)
        return bad(w, w->expect_seq, DJS_ESEQGAP, "record %" PRIu64 " is missing (next key is %" PRIu64 ")", w->expect_seq, seq);
    if ((rc = djs_event_decode(rec, len, &ev)) != 0)
        return bad(w, seq, rc, "record %" PRIu64 " does not decode (%zu bytes): %s", seq, len, djs_strerror(rc));
    if (ev.seq != seq)
        return bad(w, seq, DJS_ECORRUPT, "record stored at %" PRIu64 " claims seq %" PRIu64 "", seq, ev.seq);
    if (ev.ts_ns <= w->prev_ts)
        return bad(w, seq, DJS_ECORRUPT, "record %" PRIu64 ": timestamp does not increase (previous %" PRIu64 ")", seq, w->prev_ts);
    djs_event_chain(w->prev_hash, rec, len, h);
    if (memcmp(h, ev.hash, DJS_HASH_LEN) != 0)
        return bad(w, seq, DJS_ECHAIN,
                   "record %" PRIu64 ": hash chain broken (this record was altered, or its predecessor was replaced)", seq);
    if (!djs_id_is_nil(&ev.entity))
        w->with_entity++;
    memcpy(w->prev_hash, h, DJS_HASH_LEN);
    w->prev_ts = ev.ts_ns;
    w->expect_seq++;
    w->rep->records++;
    w->rep->last_seq = seq;
    if (w->progress != NULL && w->rep->records >= w->next_report) {
        w->progress(w->arg, w->rep->records, w->total);
        w->next_report += w->total / 100 + 1;
    }
    return 0;
}

static int on_index(void *arg, const djs_id_t *entity, uint64_t seq)
{
    walk_t *w = arg;
    djs_event_t ev;
    djs_buf_reset(&w->tmp);
    int rc = djs_log_get(w->log, seq, &w->tmp);
    w->rep->index_entries++;
    if (rc == DJS_ENOTFOUND || (rc == 0 && seq > w->rep->last_seq))
        return bad(w, seq, DJS_ECORRUPT, "entity index names record %" PRIu64 ", which does not exist", seq);
    if (rc != 0)
        return rc;
    if (djs_event_decode(w->tmp.base, w->tmp.len, &ev) != 0 || djs_id_cmp(&ev.entity, entity) != 0)
        return bad(w, seq, DJS_ECORRUPT, "entity index entry for record %" PRIu64 " names another entity", seq);
    return 0;
}

int djs_verify_log(djs_log_t *log, djs_verify_report_t *rep, djs_verify_progress_cb progress, void *arg)
{
    walk_t w;
    memset(rep, 0, sizeof(*rep));
    memset(&w, 0, sizeof(w));
    w.rep = rep;
    w.expect_seq = 1;
    w.progress = progress;
    w.arg = arg;
    w.log = log;
    w.total = djs_log_last_seq(log);
    djs_buf_init(&w.tmp);

    int rc = djs_log_scan(log, 1, w.total, on_record, &w);
    if (rc == 0 && w.expect_seq != w.total + 1)
        rc = bad(&w, w.expect_seq, DJS_ESEQGAP, "log ends at %" PRIu64 " but its last key is %" PRIu64 "", w.expect_seq - 1,
                 w.total);
    if (rc == 0)
        rc = djs_log_scan_index(log, on_index, &w);
    if (rc == 0 && rep->index_entries != w.with_entity) {
        rc = bad(&w, 0, DJS_ECORRUPT, "entity index has %" PRIu64 " entries for %" PRIu64 " records with an entity",
                 rep->index_entries, w.with_entity);
    }
    if (rc != 0 && rep->error == 0) {
        rep->error = rc;
        snprintf(rep->detail, sizeof(rep->detail), "read failed: %s", djs_strerror(rc));
    }
    memcpy(rep->head_hash, w.prev_hash, DJS_HASH_LEN);
    if (progress != NULL && rc == 0)
        progress(arg, rep->records, w.total);
    djs_buf_dispose(&w.tmp);
    return rc;
}

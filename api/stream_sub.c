/* The subscriber (see stream_internal.h): a cursor over the durable log
 * and filters. Whenever its queue has room it is fed from the window when
 * its cursor is inside it, else from the log in chunks of SCAN_CHUNK
 * (catch-up): live and catch-up are the same code. The check handle feeds
 * those that want more after each I/O round and closes those stalled for
 * stall_ms; the dead are freed from it too. System-metrics subscribers are
 * fed by their own timer instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/render.h"
#include "api/stream_internal.h"
#include "core/clock.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/job.h"

#define SCAN_CHUNK 512 /* events read per scan while feeding */

/* ---- filters ------------------------------------------------------------------------------- */

int djs__stream_wants_event(const djs__stream_sub_t *s, uint16_t type, const djs_id_t *entity)
{
    if (s->has_entity && djs_id_cmp(entity, &s->entity) != 0)
        return 0;
    if (s->kind == DJS_STREAM_EVENTS)
        return !s->has_types || (s->types[type / 8] & (1u << (type % 8)));
    if (s->kind == DJS_STREAM_JOB_UPDATES)
        return type < DJS_EV_JOB_OUTPUT;
    return type >= DJS_EV_WORKER_REGISTERED && type <= DJS_EV_WORKER_DEREGISTERED;
}

int djs__stream_wants_frame(const djs__stream_sub_t *s, int skip, const char *owner, int status)
{
    return !skip && (s->owner[0] == '\0' || (owner != NULL && strcmp(owner, s->owner) == 0)) &&
           (s->status < 0 || status == s->status);
}

static int unfiltered(const djs__stream_sub_t *s)
{
    return !s->has_types && !s->has_entity && s->owner[0] == '\0' && s->status < 0;
}

/* ---- feeding ------------------------------------------------------------------------------- */

typedef struct feed_ctx {
    djs__stream_sub_t *s;
    uint64_t last;
    int full;
} feed_ctx_t;

static int feed_cb(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    feed_ctx_t *c = arg;
    djs__stream_sub_t *s = c->s;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) != 0)
        return DJS_ECORRUPT;
    c->last = seq;
    if (!djs__stream_wants_event(s, ev.type, &ev.entity))
        goto next;
    if (s->format == DJS__STREAM_FMT_MSGPACK) {
        djs__stream_send_msg(s, seq, djs_event_type_name(ev.type), rec, len, 1);
        goto next;
    }
    const djs__stream_frame_t *f = djs__stream_frame_of(s->ss, s->kind, &ev);
    if (!djs__stream_wants_frame(s, f->skip, f->owner, f->status))
        goto next;
    djs__stream_send_msg(s, seq, s->kind == DJS_STREAM_EVENTS ? djs_event_type_name(ev.type) : "update", f->text.base, f->text.len,
                         0);
next:
    if (!djs__stream_room(s)) {
        c->full = 1;
        return 1;
    }
    return 0;
}

/* From the window when the cursor is inside it, else from the log. */
void djs__stream_feed(djs__stream_sub_t *s)
{
    if (s->dead)
        return;
    if (s->kind == DJS_STREAM_SYSTEM_METRICS) { /* timer-driven: only sends what is queued */
        djs__stream_flush(s);
        return;
    }
    djs_streams_t *ss = s->ss;
    uint64_t durable = djs_log_durable_seq(ss->log);
    int v = djs__stream_variant_of(s);
    djs__stream_window_t *w = v >= 0 && ss->win[v].next != 0 ? &ss->win[v] : NULL;
    for (int round = 0; round < 8 && s->next_seq <= durable && djs__stream_room(s); round++) {
        if (w != NULL && s->next_seq >= w->first && s->next_seq < w->next) {
            if (!unfiltered(s)) {
                djs__stream_window_copy(s, w);
                continue;
            }
            /* straight from the chunks, once what is queued before is out */
            if (s->pending.len == 0 && s->nheld == 0 && s->ws->sock != NULL && !h2o_socket_is_writing(s->ws->sock))
                djs__stream_window_write(s, w);
            break;
        }
        if (w != NULL && s->next_seq >= w->next)
            break; /* ahead of the window: the tail grows it, then feeds */
        uint64_t limit = w != NULL ? w->first - 1 : durable;
        feed_ctx_t c = {s, 0, 0};
        uint64_t to = s->next_seq + SCAN_CHUNK - 1 < limit ? s->next_seq + SCAN_CHUNK - 1 : limit;
        int rc = djs_log_scan(ss->log, s->next_seq, to, feed_cb, &c);
        if (rc < 0) {
            djs__stream_close(s, 1011, "cannot read the event log");
            return;
        }
        s->next_seq = c.last >= s->next_seq ? c.last + 1 : to + 1;
    }
    djs__stream_flush(s);
    if (s->dead || s->next_seq > durable || (w != NULL && s->next_seq >= w->next))
        return; /* nothing more now: the tail feeds it when there is */
    /* more to send: a write of ours in flight feeds it again when done
     * (djs__stream_on_ws_written, the SSE generator's proceed); otherwise
     * (no write, or wslay's control frame, whose completion does not call
     * us), and with a full queue to watch for a stall, after this I/O round */
    int ours = s->sse ? s->sending : s->nheld > 0 || s->inflight.len > 0;
    if (!ours || !djs__stream_room(s))
        djs__stream_want(s);
}

/* ---- waking -------------------------------------------------------------------------------- */

static void on_check(uv_check_t *h);

void djs__stream_want(djs__stream_sub_t *s)
{
    if (s->wanting)
        return;
    s->wanting = 1;
    if (!uv_is_active((uv_handle_t *)&s->ss->check))
        uv_check_start(&s->ss->check, on_check);
}

/* Feed who wants more, close who stalled, free the dead. */
static void on_check(uv_check_t *h)
{
    djs_streams_t *ss = h->data;
    uint64_t now = djs__stream_now_ns(ss);
    for (djs__stream_sub_t *s = ss->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!s->wanting)
            continue;
        /* stall: the queue stayed full and did not shrink for stall_ms */
        size_t q = djs__stream_queued(s);
        if (!djs__stream_room(s)) {
            if (q < s->last_queued || s->stalled_since_ns == 0)
                s->stalled_since_ns = now;
            s->last_queued = q;
            if (now - s->stalled_since_ns > (uint64_t)ss->cfg.stall_ms * 1000000ULL) {
                fprintf(stderr, "djs: stream subscriber too slow (no progress for %u ms): closing it\n", ss->cfg.stall_ms);
                ss->dropped++;
                djs__stream_drop(s);
            }
            continue;
        }
        s->stalled_since_ns = 0;
        s->wanting = 0;
        djs__stream_feed(s);
    }
    while (ss->dead != NULL) {
        djs__stream_sub_t *s = ss->dead;
        if (s->timer_on) /* its timer is still closing: next round */
            break;
        ss->dead = s->next;
        djs__stream_free_sub(s);
    }
    /* A check handle does not keep the loop from blocking: with only stalled
     * subscribers left it runs again on the next I/O or timer (at worst the
     * ping), which is when their queues can have moved. */
    int any = ss->dead != NULL;
    for (djs__stream_sub_t *s = ss->subs; s != NULL && !any; s = s->next)
        any = s->wanting;
    if (!any)
        uv_check_stop(&ss->check);
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

void djs__stream_unlink(djs__stream_sub_t *s)
{
    djs_streams_t *ss = s->ss;
    if (s->dead)
        return;
    s->dead = 1;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        ss->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    ss->nsubs--;
    int v = djs__stream_variant_of(s);
    if (v >= 0 && --ss->win[v].subs == 0)
        djs__stream_window_reset(&ss->win[v]); /* nobody left to read it */
    s->next = ss->dead;                        /* freed from the check handle, after the current call chain */
    ss->dead = s;
    if (!uv_is_active((uv_handle_t *)&ss->check))
        uv_check_start(&ss->check, on_check);
}

static void on_timer_closed(uv_handle_t *h)
{
    djs__stream_sub_t *s = h->data;
    s->timer_on = 0;
}

void djs__stream_free_sub(djs__stream_sub_t *s)
{
    djs__stream_release_held(s); /* the connection is closed: its write will not read them */
    djs_buf_dispose(&s->pending);
    djs_buf_dispose(&s->inflight);
    djs_free(s);
}

/* ---- system metrics ------------------------------------------------------------------------ */

char *djs__metrics_sample(djs_streams_t *ss, djs__metrics_prev_t *prev, size_t *len)
{
    const djs_metrics_t *m = djs_state_metrics(djs_engine_state(ss->engine));
    uint64_t now = djs__stream_now_ns(ss), seq = djs_log_durable_seq(ss->log);
    double dt = prev->ns ? (now - prev->ns) / 1e9 : 0;
    json_t *j = json_object();
    json_object_set_new(j, "seq", json_integer((json_int_t)seq));
    json_object_set_new(j, "type", json_string("metrics"));
    char at[40];
    djs_render_iso8601(at, sizeof(at), djs_log_last_ts(ss->log));
    json_object_set_new(j, "at", json_string(at));
    djs_render_iso8601(at, sizeof(at), djs_wall_ns());
    json_object_set_new(j, "sampledAt", json_string(at)); /* "at" is the last event's time */
    json_t *jobs = json_object();
    for (int st = 0; st < DJS_JOB_NSTATES; st++)
        json_object_set_new(jobs, djs_job_state_name(st), json_integer((json_int_t)m->by_state[st]));
    json_object_set_new(j, "jobs", jobs);
    json_object_set_new(j, "active", json_integer((json_int_t)(m->by_state[DJS_JOB_SCHEDULED] + m->by_state[DJS_JOB_RUNNING])));
    json_t *ready = json_object();
    for (int p = 0; p < DJS_NPRIO; p++)
        json_object_set_new(ready, djs_priority_name(p), json_integer((json_int_t)m->ready[p]));
    json_object_set_new(j, "queued", ready);
    json_object_set_new(j, "running", json_integer((json_int_t)m->by_state[DJS_JOB_RUNNING]));
    json_object_set_new(j, "submittedPerSec", json_real(dt > 0 ? (double)(m->submitted - prev->submitted) / dt : 0));
    json_object_set_new(j, "completedPerSec", json_real(dt > 0 ? (double)(m->completed - prev->completed) / dt : 0));
    json_object_set_new(j, "failedPerSec", json_real(dt > 0 ? (double)(m->failed - prev->failed) / dt : 0));
    json_object_set_new(j, "eventsPerSec", json_real(dt > 0 ? (double)(seq - prev->seq) / dt : 0));
    json_object_set_new(j, "workersActive", json_integer((json_int_t)m->workers_active));
    json_object_set_new(j, "slotsTotal", json_integer((json_int_t)m->slots_total));
    json_object_set_new(j, "slotsBusy", json_integer((json_int_t)m->slots_busy));
    json_object_set_new(j, "subscribers", json_integer(ss->nsubs));
    prev->ns = now;
    prev->completed = m->completed;
    prev->failed = m->failed;
    prev->seq = seq;
    prev->submitted = m->submitted;
    return djs__stream_dump(j, len);
}

static void send_metrics(djs__stream_sub_t *s)
{
    size_t len;
    char *text = djs__metrics_sample(s->ss, &s->metrics, &len);
    uint64_t seq = s->metrics.seq;
    if (djs__stream_room(s)) /* a slow reader skips snapshots rather than queueing them */
        djs__stream_send_msg(s, seq, "metrics", text, len, 0);
    free(text);
    djs__stream_flush(s);
}

static void on_metrics_timer(uv_timer_t *t)
{
    send_metrics(t->data);
}

void djs__stream_metrics_start(djs__stream_sub_t *s)
{
    uv_timer_init(s->ss->loop, &s->timer);
    s->timer.data = s;
    s->timer_on = 1;
    uv_timer_start(&s->timer, on_metrics_timer, 0, s->interval_ms);
}

void djs__stream_metrics_stop(djs__stream_sub_t *s)
{
    if (s->timer_on && !uv_is_closing((uv_handle_t *)&s->timer))
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

/* "Why isn't my job running?": the `pending` object of GET /jobs/{id},
 * rendered from projections/pending's facts, and the counts by reason of
 * GET /stats. The text is written by api/jtext (the hot path); the jansson
 * rendering of a job reads that same text back, so both agree by
 * construction. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/jtext.h"
#include "api/render.h"
#include "api/server_internal.h"
#include "core/job.h"

static const char *worker_status(int st)
{
    static const char *const names[] = {"ACTIVE", "DRAINING", "LOST", "GONE"};
    return st >= 0 && st < 4 ? names[st] : "UNKNOWN";
}

/* The capabilities of sp joined by ", " into out (cut to n). */
static void caps_list(const djs_job_spec_t *sp, char *out, size_t n)
{
    size_t off = 0, used = 0;
    djs_str_t c;
    out[0] = '\0';
    while (djs_strlist_next(&sp->caps, &off, &c) && used + 1 < n) {
        int w = snprintf(out + used, n - used, "%s%.*s", used ? ", " : "", (int)c.len, c.p);
        if (w < 0)
            break;
        used += (size_t)w < n - used ? (size_t)w : n - used - 1;
    }
}

/* The human sentence for the primary reason. */
static void detail(const djs_pending_t *p, const djs_job_spec_t *sp, char *out, size_t n)
{
    char t[32], caps[256];
    if (p->reason == DJS_PENDING_SCHEDULED || p->reason == DJS_PENDING_RETRY_BACKOFF)
        djs_render_iso8601(t, sizeof(t), p->until_ns);
    if (p->reason == DJS_PENDING_NO_CAPABLE_WORKER)
        caps_list(sp, caps, sizeof(caps));
    switch (p->reason) {
    case DJS_PENDING_DEPENDENCIES:
        snprintf(out, n, "waiting for %u of its dependencies to complete", p->unmet);
        break;
    case DJS_PENDING_SCHEDULED:
        snprintf(out, n, "scheduled to start at %s", t);
        break;
    case DJS_PENDING_RETRY_BACKOFF:
        snprintf(out, n, "its last attempt failed; retried after %s (backoff)", t);
        break;
    case DJS_PENDING_NO_CAPABLE_WORKER:
        snprintf(out, n, "no registered worker has its required capabilities%s%s", caps[0] ? ": " : "", caps);
        break;
    case DJS_PENDING_CONCURRENCY_LIMIT:
        snprintf(out, n, "concurrency key '%.*s' is at its limit: %u of %u running or scheduled",
                 (int)(p->key.len > 128 ? 128 : p->key.len), p->key.p, p->held, p->limit);
        break;
    case DJS_PENDING_WORKERS_UNAVAILABLE:
        snprintf(out, n, "its %u capable workers are draining (%u) or lost (%u)", p->capable, p->capable_draining, p->capable_lost);
        break;
    case DJS_PENDING_WORKERS_BUSY:
        snprintf(out, n,
                 "every slot of its capable active workers is busy (%u of %u, on %u workers); %s%" PRIu64
                 " ready jobs ahead of it in its tier",
                 p->slots_busy, p->slots, p->capable_active, p->ahead_capped ? "at least " : "", p->ahead);
        break;
    default:
        snprintf(out, n, "a capable worker has a free slot: the next placement pass places it");
        break;
    }
}

static void text_deps(djs_buf_t *b, const djs_pending_t *p)
{
    djs_jt_lit(b, ",\"dependencies\":{\"unmet\":");
    djs_jt_int(b, p->unmet);
    djs_jt_lit(b, ",\"waitingFor\":[");
    for (uint32_t i = 0; i < p->ndeps; i++) {
        const char *st = djs_job_state_name(p->deps[i].state);
        djs_jt_lit(b, i ? ",{\"id\":" : "{\"id\":");
        djs_jt_id(b, &p->deps[i].id);
        djs_jt_lit(b, ",\"status\":");
        djs_jt_str(b, st, strlen(st));
        djs_jt_lit(b, "}");
    }
    djs_jt_lit(b, "]}");
}

static void text_workers(djs_buf_t *b, const djs_state_t *st, const djs_pending_t *p)
{
    djs_jt_lit(b, ",\"workers\":{\"capable\":");
    djs_jt_int(b, p->capable);
    djs_jt_lit(b, ",\"active\":");
    djs_jt_int(b, p->capable_active);
    djs_jt_lit(b, ",\"draining\":");
    djs_jt_int(b, p->capable_draining);
    djs_jt_lit(b, ",\"lost\":");
    djs_jt_int(b, p->capable_lost);
    djs_jt_lit(b, ",\"slots\":");
    djs_jt_int(b, p->slots);
    djs_jt_lit(b, ",\"slotsBusy\":");
    djs_jt_int(b, p->slots_busy);
    djs_jt_lit(b, ",\"listed\":[");
    for (uint32_t i = 0; i < p->nworkers; i++) {
        const djs_worker_t *w = djs_state_worker_at(st, p->workers[i]);
        const char *ws = worker_status(w->status);
        djs_jt_lit(b, i ? ",{\"id\":" : "{\"id\":");
        djs_jt_id(b, &w->id);
        djs_jt_lit(b, ",\"name\":");
        djs_jt_str_lossy(b, w->name ? w->name : "", w->name ? strlen(w->name) : 0);
        djs_jt_lit(b, ",\"status\":");
        djs_jt_str(b, ws, strlen(ws));
        djs_jt_lit(b, ",\"running\":");
        djs_jt_int(b, w->running);
        djs_jt_lit(b, ",\"slots\":");
        djs_jt_int(b, w->slots);
        djs_jt_lit(b, "}");
    }
    djs_jt_lit(b, "]}");
}

static void text_position(djs_buf_t *b, const djs_pending_t *p)
{
    const char *tier = djs_priority_name(p->tier);
    djs_jt_lit(b, ",\"position\":");
    if (!p->ready) {
        djs_jt_lit(b, "null");
        return;
    }
    djs_jt_lit(b, "{\"tier\":");
    djs_jt_str(b, tier, strlen(tier));
    djs_jt_lit(b, ",\"ahead\":");
    djs_jt_int(b, (int64_t)p->ahead);
    djs_jt_lit(b, p->ahead_capped ? ",\"aheadAtLeast\":true" : ",\"aheadAtLeast\":false");
    djs_jt_lit(b, ",\"readyInTier\":");
    djs_jt_int(b, (int64_t)p->in_tier);
    djs_jt_lit(b, ",\"aheadInBetterTiers\":");
    djs_jt_int(b, (int64_t)p->ahead_higher);
    djs_jt_lit(b, "}");
}

/* "concurrency": its key, its limit and the jobs holding the key, or null */
static void text_concurrency(djs_buf_t *b, const djs_state_t *st, const djs_pending_t *p)
{
    if (!p->has_key) {
        djs_jt_lit(b, ",\"concurrency\":null");
        return;
    }
    djs_jt_lit(b, ",\"concurrency\":{\"key\":");
    djs_jt_str_lossy(b, p->key.p, p->key.len);
    djs_jt_lit(b, ",\"limit\":");
    djs_jt_int(b, p->limit);
    djs_jt_lit(b, ",\"held\":");
    djs_jt_int(b, p->held);
    djs_jt_lit(b, ",\"full\":");
    djs_jt_lit(b, p->held >= p->limit ? "true" : "false");
    djs_jt_lit(b, ",\"heldBy\":[");
    for (uint32_t i = 0; i < p->nholders; i++) {
        const djs_job_t *h = djs_state_job_at(st, p->holders[i]);
        if (i > 0)
            djs_jt_lit(b, ",");
        djs_jt_id(b, &h->id);
    }
    djs_jt_lit(b, "]}");
}

void djs__pending_text(djs_buf_t *b, const djs_state_t *st, const djs_pending_t *p, const djs_job_spec_t *sp)
{
    char d[512];
    const char *r = djs_pending_reason_name(p->reason);
    detail(p, sp, d, sizeof(d));
    djs_jt_lit(b, "{\"reason\":");
    djs_jt_str(b, r, strlen(r));
    djs_jt_lit(b, ",\"detail\":");
    djs_jt_str_lossy(b, d, strlen(d));
    djs_jt_lit(b, ",\"reasons\":[");
    int first = 1;
    for (int k = 0; k < DJS_PENDING_NREASONS; k++) {
        if (!(p->reasons & (1u << k)))
            continue;
        const char *name = djs_pending_reason_name(k);
        if (!first)
            djs_jt_lit(b, ",");
        djs_jt_str(b, name, strlen(name));
        first = 0;
    }
    djs_jt_lit(b, "],\"until\":");
    djs_jt_time(b, p->until_ns);
    text_deps(b, p);
    text_workers(b, st, p);
    text_position(b, p);
    text_concurrency(b, st, p);
    djs_jt_lit(b, "}");
}

json_t *djs__pending_json(const djs_state_t *st, const djs_pending_t *p, const djs_job_spec_t *sp)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs__pending_text(&b, st, p, sp);
    json_t *j = json_loadb((const char *)b.base, b.len, 0, NULL);
    djs_buf_dispose(&b);
    return j != NULL ? j : json_null();
}

json_t *djs__pending_counts_json(const djs_state_t *st)
{
    uint64_t n[DJS_PENDING_NREASONS];
    djs_pending_counts(st, n);
    json_t *o = json_object();
    for (int k = 0; k < DJS_PENDING_NREASONS; k++)
        json_object_set_new(o, djs_pending_reason_name(k), json_integer((json_int_t)n[k]));
    return o;
}

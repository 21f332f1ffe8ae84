/* Schedules in the engine (scheduler/engine.h, "schedules"): validating
 * definitions, a timer heap of next fires (derived: rebuilt from the
 * projection on open), a cache of zones by name, and the fires themselves
 * with their policies. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/heap.h"
#include "core/job.h"
#include "projections/schedules.h"
#include "scheduler/engine_internal.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define ACTOR "scheduler"
#define MAX_SCAN 1000000 /* nominal times looked at in one catch-up (a calendar spec) */

typedef struct zone {
    char *name;
    djs_tz_t *tz;
} zone_t;

struct djs__sched_rt {
    djs_heap_t heap; /* schedule slots by due instant (ns) */
    uint32_t *pos, npos;
    zone_t *zones;
    uint32_t nzones, cap_zones;
    int filled; /* the heap holds the projection's schedules (built on first use after open) */
};

/* ---- zones ------------------------------------------------------------------------ */

/* The zone named (len bytes), loaded once; NULL tz for UTC ("" or "UTC"). */
static int zone_get(djs__sched_rt_t *rt, const char *name, size_t len, const djs_tz_t **out)
{
    *out = NULL;
    if (len == 0 || (len == 3 && memcmp(name, "UTC", 3) == 0))
        return 0;
    for (uint32_t i = 0; i < rt->nzones; i++)
        if (strlen(rt->zones[i].name) == len && memcmp(rt->zones[i].name, name, len) == 0) {
            *out = rt->zones[i].tz;
            return 0;
        }
    djs_tz_t *tz;
    int rc = djs_tz_open(name, len, &tz);
    if (rc != 0)
        return rc;
    if (rt->nzones == rt->cap_zones) {
        rt->cap_zones = rt->cap_zones ? 2 * rt->cap_zones : 8;
        rt->zones = djs_realloc(rt->zones, rt->cap_zones * sizeof(zone_t));
    }
    rt->zones[rt->nzones++] = (zone_t){djs_strndup(name, len), tz};
    *out = tz;
    return 0;
}

/* ---- the timer heap ------------------------------------------------------------------ */

static int due_of(djs__sched_rt_t *rt, const djs_schedule_t *s, uint64_t *due)
{
    const djs_tz_t *tz;
    uint64_t nominal;
    if (s->paused || zone_get(rt, s->tz, strlen(s->tz), &tz) != 0 || djs_schedule_next(s, tz, &nominal) != 0)
        return DJS_ENOTFOUND;
    *due = nominal * SEC + (uint64_t)s->next_jitter_ms * MS;
    return 0;
}

static void resched(djs_engine_t *e, uint32_t slot)
{
    djs__sched_rt_t *rt = djs__engine_sched(e);
    if (slot >= rt->npos) {
        uint32_t n = slot + 1 > 2 * rt->npos ? slot + 1 : 2 * rt->npos;
        rt->pos = djs_realloc(rt->pos, n * sizeof(uint32_t));
        for (uint32_t i = rt->npos; i < n; i++)
            rt->pos[i] = DJS_HEAP_NONE;
        rt->npos = n;
    }
    if (rt->pos[slot] != DJS_HEAP_NONE)
        djs_heap_remove(&rt->heap, slot);
    const djs_schedule_t *s = djs_state_schedule_at(djs__engine_st(e), slot);
    uint64_t due;
    if (s != NULL && due_of(rt, s, &due) == 0)
        djs_heap_push(&rt->heap, due, slot);
}

djs__sched_rt_t *djs__sched_rt_open(djs_engine_t *e)
{
    (void)e;
    djs__sched_rt_t *rt = djs_calloc(1, sizeof(*rt));
    djs_heap_init(&rt->heap, &rt->pos);
    return rt;
}

/* After the engine has its runtime (djs__engine_sched works). */
static void rt_fill(djs_engine_t *e)
{
    const djs_state_t *st = djs__engine_st(e);
    djs__sched_rt_t *rt = djs__engine_sched(e);
    if (rt->filled)
        return;
    rt->filled = 1;
    for (uint32_t i = 0; i < djs_state_nschedule_slots(st); i++) {
        const djs_schedule_t *s = djs_state_schedule_at(st, i);
        const djs_tz_t *tz;
        if (s == NULL)
            continue;
        int rc = zone_get(rt, s->tz, strlen(s->tz), &tz);
        if (rc != 0) {
            char idt[DJS_ID_TEXT_LEN + 1];
            djs_id_format(&s->id, idt);
            djs__engine_note(e,
                             "schedule %s: time zone '%s' does not load (%s): it does not fire (install the zone and restart, or "
                             "update the schedule)",
                             idt, s->tz, djs_strerror(rc));
        }
        resched(e, i);
    }
}

void djs__sched_rt_close(djs__sched_rt_t *rt)
{
    if (rt == NULL)
        return;
    for (uint32_t i = 0; i < rt->nzones; i++) {
        djs_free(rt->zones[i].name);
        djs_tz_close(rt->zones[i].tz);
    }
    djs_free(rt->zones);
    djs_heap_dispose(&rt->heap);
    djs_free(rt->pos);
    djs_free(rt);
}

int djs__sched_next_due(djs_engine_t *e, uint64_t *due_ns)
{
    djs__sched_rt_t *rt = djs__engine_sched(e);
    uint32_t slot;
    rt_fill(e);
    return djs_heap_peek(&rt->heap, due_ns, &slot);
}

int djs_engine_schedule_next(djs_engine_t *e, const djs_id_t *id, uint64_t *due_ns)
{
    const djs_schedule_t *s = djs_state_schedule(djs__engine_st(e), id);
    return s == NULL ? DJS_ENOTFOUND : due_of(djs__engine_sched(e), s, due_ns);
}

/* ---- commands ------------------------------------------------------------------------ */

static uint32_t draw_jitter(djs_engine_t *e, uint32_t jitter_s)
{
    return jitter_s == 0 ? 0 : (uint32_t)(djs__engine_rand(e) % ((uint64_t)jitter_s * 1000 + 1));
}

static int check_policies(djs_engine_t *e, const djs_schedule_def_t *d)
{
    if (d->overlap > DJS_OVERLAP_CANCEL || d->catchup > DJS_CATCHUP_ALL)
        return djs__engine_refuse(e, DJS_EINVAL, "unknown overlap or catch-up policy");
    if (d->catchup_max > DJS_SCHEDULE_MAX_CATCHUP)
        return djs__engine_refuse(e, DJS_EINVAL, "catchupMax is 1 to %d", DJS_SCHEDULE_MAX_CATCHUP);
    if (d->jitter_s > DJS_SCHEDULE_MAX_JITTER_S)
        return djs__engine_refuse(e, DJS_EINVAL, "jitter is at most %d s", DJS_SCHEDULE_MAX_JITTER_S);
    if (d->end_ns > 0 && d->end_ns <= d->start_ns)
        return djs__engine_refuse(e, DJS_EINVAL, "the end date is not after the start date");
    return 0;
}

static int check_def(djs_engine_t *e, const djs_schedule_def_t *d)
{
    char err[200];
    djs_cron_t c;
    const djs_tz_t *tz;
    if (d->name.len == 0 || d->name.len > DJS_JOB_MAX_NAME)
        return djs__engine_refuse(e, DJS_EINVAL, "name is 1 to %d bytes", DJS_JOB_MAX_NAME);
    if (d->spec.len > DJS_SCHEDULE_MAX_SPEC || djs_cron_parse(d->spec.p, d->spec.len, &c, err, sizeof(err)) != 0)
        return djs__engine_refuse(e, DJS_EINVAL, "spec: %s", d->spec.len > DJS_SCHEDULE_MAX_SPEC ? "too long" : err);
    int rc = d->tz.len > DJS_SCHEDULE_MAX_TZ ? DJS_EINVAL : zone_get(djs__engine_sched(e), d->tz.p, d->tz.len, &tz);
    if (rc != 0)
        return djs__engine_refuse(e, DJS_EINVAL, "tz: '%.*s' is not a time zone of this server (%s)", (int)(d->tz.len % 200),
                                  d->tz.p, djs_strerror(rc));
    if ((rc = check_policies(e, d)) != 0)
        return rc;
    if (d->tmpl_len == 0 || d->tmpl_len > DJS_JOB_MAX_PAYLOAD + 64 * 1024)
        return djs__engine_refuse(e, d->tmpl_len ? DJS_ETOOBIG : DJS_EINVAL, "job: the template is missing or too large");
    djs__tmpl_t t;
    if (djs__tmpl_decode(d->tmpl, d->tmpl_len, &t, err, sizeof(err)) != 0)
        return djs__engine_refuse(e, DJS_EINVAL, "job: %s", err);
    djs__tmpl_dispose(&t);
    return 0;
}

static int emit_def(djs_engine_t *e, int type, const djs_id_t *id, const char *owner, const char *actor,
                    const djs_schedule_def_t *in, uint64_t *seq)
{
    djs_schedule_def_t d = *in;
    d.owner = (djs_str_t){owner, strlen(owner)};
    if (d.catchup_max == 0)
        d.catchup_max = DJS_SCHEDULE_DEFAULT_CATCHUP;
    d.next_jitter_ms = draw_jitter(e, d.jitter_s);
    djs_buf_reset(djs__engine_body(e));
    djs_body_schedule_def(djs__engine_body(e), &d);
    int rc = djs__engine_emit(e, type, id, actor, seq);
    if (rc == 0)
        resched(e, djs_state_schedule_slot(djs__engine_st(e), djs_state_schedule(djs__engine_st(e), id)));
    return rc;
}

int djs_engine_schedule_create(djs_engine_t *e, const char *owner, const djs_schedule_def_t *d, djs_id_t *id, uint64_t *seq)
{
    int rc = check_def(e, d);
    if (rc != 0)
        return rc;
    djs__engine_new_id(e, id);
    return emit_def(e, DJS_EV_SCHEDULE_CREATED, id, owner, owner, d, seq);
}

static const djs_schedule_t *find(djs_engine_t *e, const djs_id_t *id, int *rc)
{
    const djs_schedule_t *s = djs_state_schedule(djs__engine_st(e), id);
    *rc = s == NULL ? djs__engine_refuse(e, DJS_ENOTFOUND, "no such schedule") : 0;
    return s;
}

int djs_engine_schedule_update(djs_engine_t *e, const char *actor, const djs_id_t *id, const djs_schedule_def_t *d, uint64_t *seq)
{
    int rc;
    const djs_schedule_t *s = find(e, id, &rc);
    if (s == NULL)
        return rc;
    if ((rc = check_def(e, d)) != 0)
        return rc;
    char owner[DJS_EVENT_MAX_ACTOR + 1];
    snprintf(owner, sizeof(owner), "%s", s->owner); /* the owner stays */
    return emit_def(e, DJS_EV_SCHEDULE_UPDATED, id, owner, actor, d, seq);
}

static int simple(djs_engine_t *e, int type, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    int rc;
    const djs_schedule_t *s = find(e, id, &rc);
    if (s == NULL)
        return rc;
    if (type == DJS_EV_SCHEDULE_PAUSED && s->paused)
        return djs__engine_refuse(e, DJS_ECONFLICT, "the schedule is paused already");
    if (type == DJS_EV_SCHEDULE_RESUMED && !s->paused)
        return djs__engine_refuse(e, DJS_ECONFLICT, "the schedule is not paused");
    uint32_t slot = djs_state_schedule_slot(djs__engine_st(e), s);
    djs_schedule_fire_t f = {0};
    f.next_jitter_ms = draw_jitter(e, s->jitter_s);
    djs_buf_reset(djs__engine_body(e));
    if (type == DJS_EV_SCHEDULE_RESUMED)
        djs_body_schedule_fire(djs__engine_body(e), &f);
    else
        djs_buf_append(djs__engine_body(e), "\x80", 1); /* {} */
    rc = djs__engine_emit(e, type, id, actor, seq);
    if (rc == 0)
        resched(e, slot);
    return rc;
}

int djs_engine_schedule_pause(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    return simple(e, DJS_EV_SCHEDULE_PAUSED, actor, id, seq);
}

int djs_engine_schedule_resume(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    return simple(e, DJS_EV_SCHEDULE_RESUMED, actor, id, seq);
}

int djs_engine_schedule_delete(djs_engine_t *e, const char *actor, const djs_id_t *id, uint64_t *seq)
{
    return simple(e, DJS_EV_SCHEDULE_DELETED, actor, id, seq);
}

/* ---- fires ---------------------------------------------------------------------------- */

/* What is due: the nominal times from the next one up to now, counted (k),
 * the latest (last), and the latest `keep` of them in ring (oldest first
 * after the call: ring[(k - m + i) % keep], m = min(k, keep)). */
typedef struct due {
    uint64_t k, last;
    uint64_t *ring;
    uint32_t keep;
} due_t;

static int scan_due(const djs_schedule_t *s, const djs_tz_t *tz, uint64_t first, uint64_t now_s, due_t *d)
{
    d->k = 0;
    if (djs_cron_is_interval(&s->cron)) {
        /* the period, through the interface only (anchored at first, the next is first + period) */
        int64_t second;
        if (djs_cron_next(&s->cron, tz, (int64_t)first, (int64_t)first, &second) != 0 || second <= (int64_t)first)
            return DJS_ENOTFOUND;
        uint64_t lim = s->end_ns > 0 && s->end_ns / SEC < now_s ? s->end_ns / SEC : now_s;
        uint64_t iv = (uint64_t)second - first, k = (lim - first) / iv + 1;
        d->k = k;
        d->last = first + (k - 1) * iv;
        for (uint64_t i = k > d->keep ? k - d->keep : 0; i < k; i++)
            d->ring[i % d->keep] = first + i * iv;
        return 0;
    }
    int64_t t = (int64_t)first;
    for (uint32_t n = 0; t <= (int64_t)now_s && n < MAX_SCAN; n++) {
        if (s->end_ns > 0 && (uint64_t)t * SEC > s->end_ns)
            break;
        d->ring[d->k % d->keep] = (uint64_t)t;
        d->last = (uint64_t)t;
        d->k++;
        if (djs_cron_next(&s->cron, tz, 0, t, &t) != 0)
            break;
    }
    return 0;
}

static int emit_fire(djs_engine_t *e, const djs_id_t *id, djs_schedule_fire_t *f, uint64_t *seq)
{
    const djs_schedule_t *s = djs_state_schedule(djs__engine_st(e), id);
    f->jitter_ms = s->next_jitter_ms;
    f->next_jitter_ms = draw_jitter(e, s->jitter_s);
    djs_buf_reset(djs__engine_body(e));
    djs_body_schedule_fire(djs__engine_body(e), f);
    return djs__engine_emit(e, DJS_EV_SCHEDULE_FIRED, id, ACTOR, seq);
}

/* Submit the template's jobs (one batch with the fired event that records
 * them); a refusal is recorded as a skipped fire with the reason. */
static int fire_one(djs_engine_t *e, const djs_id_t *id, uint64_t nominal, uint32_t missed, uint32_t cancelled, uint64_t *seq)
{
    const djs_schedule_t *s = djs_state_schedule(djs__engine_st(e), id);
    uint8_t *tmpl = djs_malloc(s->tmpl_len ? s->tmpl_len : 1);
    memcpy(tmpl, s->tmpl, s->tmpl_len);
    char owner[DJS_EVENT_MAX_ACTOR + 1], err[256];
    snprintf(owner, sizeof(owner), "%s", s->owner);
    djs_schedule_fire_t f = {.nominal_s = nominal, .missed = missed, .cancelled = cancelled};
    djs__tmpl_t t;
    djs_id_t *ids = NULL;
    int rc = djs__tmpl_decode(tmpl, s->tmpl_len, &t, err, sizeof(err)), existed;
    if (rc == 0) {
        ids = djs_malloc(t.n * sizeof(djs_id_t));
        for (uint32_t i = 0; i < t.n; i++)
            t.reqs[i].spec.schedule = *id;
        uint64_t sseq;
        rc = djs_engine_submit(e, owner, t.reqs, t.n, ids, &sseq, &existed);
        if (rc == DJS_ESTORAGE || rc == DJS_EMAPFULL)
            goto out;
        if (rc != 0)
            snprintf(err, sizeof(err), "%s", djs_engine_errmsg(e));
        else
            f.jobs = (const uint8_t *)ids, f.njobs = t.n;
        djs__tmpl_dispose(&t);
    }
    if (rc != 0) {
        f.skipped = (djs_str_t){"error", 5};
        f.error = (djs_str_t){err, strlen(err)};
    }
    rc = emit_fire(e, id, &f, seq);
out:
    if (ids != NULL && rc != 0)
        djs__tmpl_dispose(&t);
    djs_free(ids);
    djs_free(tmpl);
    return rc;
}

static int skip_fire(djs_engine_t *e, const djs_id_t *id, uint64_t nominal, uint32_t missed, const char *why, uint64_t *seq)
{
    djs_schedule_fire_t f = {.nominal_s = nominal, .missed = missed, .skipped = {why, strlen(why)}};
    return emit_fire(e, id, &f, seq);
}

/* The previous fire's jobs that have not finished; cancelled ones counted
 * when cancel is set. 1 if any was running. */
static int previous_running(djs_engine_t *e, const djs_id_t *id, int cancel, uint32_t *cancelled, int *rc)
{
    const djs_schedule_t *s = djs_state_schedule(djs__engine_st(e), id);
    uint32_t n = s->nlast_jobs;
    djs_id_t *jobs = djs_malloc((n ? n : 1) * sizeof(djs_id_t));
    if (n > 0)
        memcpy(jobs, s->last_jobs, (size_t)n * 16);
    int running = 0;
    *rc = 0;
    for (uint32_t i = 0; i < n && *rc == 0; i++) {
        const djs_job_t *j = djs_state_job(djs__engine_st(e), &jobs[i]);
        if (j == NULL || djs_job_state_final(j->state))
            continue;
        running = 1;
        uint64_t seq;
        if (cancel && (*rc = djs_engine_cancel(e, ACTOR, &jobs[i], &seq)) == 0)
            (*cancelled)++;
        else if (*rc == DJS_ECONFLICT)
            *rc = 0; /* finished meanwhile (an upstream cancel) */
    }
    djs_free(jobs);
    return running;
}

static int fire_due(djs_engine_t *e, uint32_t slot, uint64_t now, uint64_t *seq)
{
    const djs_schedule_t *s = djs_state_schedule_at(djs__engine_st(e), slot);
    djs_id_t id = s->id;
    const djs_tz_t *tz;
    uint64_t first, now_s = now / SEC;
    int rc = zone_get(djs__engine_sched(e), s->tz, strlen(s->tz), &tz);
    if (rc != 0 || djs_schedule_next(s, tz, &first) != 0 || first > now_s)
        return 0;
    uint32_t keep = s->catchup == DJS_CATCHUP_ALL ? s->catchup_max : 1;
    due_t d = {.ring = djs_malloc((keep ? keep : 1) * sizeof(uint64_t)), .keep = keep ? keep : 1};
    if (scan_due(s, tz, first, now_s, &d) != 0 || d.k == 0) {
        djs_free(d.ring);
        return 0;
    }
    int late = d.last + DJS_SCHEDULE_GRACE_S < now_s;
    uint32_t m = s->catchup == DJS_CATCHUP_ALL ? (uint32_t)(d.k < d.keep ? d.k : d.keep) : 1;
    uint32_t missed = (uint32_t)(d.k - m > UINT32_MAX ? UINT32_MAX : d.k - m);
    uint32_t cancelled = 0;
    if (late && s->catchup == DJS_CATCHUP_NONE) {
        rc = skip_fire(e, &id, d.last, (uint32_t)(d.k - 1), "missed", seq);
    } else if (previous_running(e, &id, s->overlap == DJS_OVERLAP_CANCEL, &cancelled, &rc) && rc == 0 &&
               s->overlap == DJS_OVERLAP_SKIP) {
        rc = skip_fire(e, &id, d.last, (uint32_t)(d.k - 1), "overlap", seq);
    } else {
        for (uint32_t i = 0; i < m && rc == 0; i++) {
            uint64_t t = m == 1 ? d.last : d.ring[(d.k - m + i) % d.keep];
            rc = fire_one(e, &id, t, i == 0 ? missed : 0, i == 0 ? cancelled : 0, seq);
        }
    }
    djs_free(d.ring);
    return rc;
}

int djs__sched_run(djs_engine_t *e, uint64_t now, uint64_t *seq)
{
    djs__sched_rt_t *rt = djs__engine_sched(e);
    uint64_t due;
    uint32_t slot;
    int rc = 0;
    rt_fill(e);
    while (rc == 0 && djs_heap_peek(&rt->heap, &due, &slot) == 0 && due <= now) {
        uint64_t before = djs_state_seq(djs__engine_st(e));
        rc = fire_due(e, slot, now, seq);
        if (djs_state_seq(djs__engine_st(e)) == before) {
            djs_heap_remove(&rt->heap, slot); /* nothing decided (cannot happen): drop it rather than spin */
            break;
        }
        resched(e, slot);
    }
    return rc;
}

/* The projection's schedules (projections/schedules.h). */
#include "projections/schedules.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/idx.h"
#include "core/mp.h"
#include "projections/state_internal.h"

#define SEC 1000000000ULL

struct djs__sched_set {
    djs_schedule_t *v;
    uint32_t n, cap;
    uint32_t *free_slots, nfree, cap_free;
    uint64_t live;
    djs_idx_t idx;
};

static uint64_t sched_hash_cb(void *ctx, uint32_t slot)
{
    return djs__id_hash(&((struct djs__sched_set *)ctx)->v[slot].id);
}

static int sched_eq_cb(void *ctx, uint32_t slot, const void *key)
{
    return memcmp(((struct djs__sched_set *)ctx)->v[slot].id.b, key, 16) == 0;
}

struct djs__sched_set *djs__sched_new(void)
{
    struct djs__sched_set *ss = djs_calloc(1, sizeof(*ss));
    djs_idx_init(&ss->idx, sched_hash_cb, sched_eq_cb, ss);
    return ss;
}

static void sched_clear(djs_schedule_t *s)
{
    djs_free(s->name);
    djs_free(s->spec);
    djs_free(s->tz);
    djs_free(s->owner);
    djs_free(s->tmpl);
    djs_free(s->last_jobs);
    memset(s, 0, sizeof(*s));
}

void djs__sched_free(struct djs__sched_set *ss)
{
    if (ss == NULL)
        return;
    for (uint32_t i = 0; i < ss->n; i++)
        sched_clear(&ss->v[i]);
    djs_free(ss->v);
    djs_free(ss->free_slots);
    djs_idx_dispose(&ss->idx);
    djs_free(ss);
}

static uint32_t find_slot(const struct djs__sched_set *ss, const djs_id_t *id)
{
    return djs_idx_find(&ss->idx, djs__id_hash(id), id->b);
}

static uint32_t sched_alloc(struct djs__sched_set *ss)
{
    if (ss->nfree > 0)
        return ss->free_slots[--ss->nfree];
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? 2 * ss->cap : 16;
        ss->v = djs_realloc(ss->v, ss->cap * sizeof(*ss->v));
    }
    memset(&ss->v[ss->n], 0, sizeof(ss->v[0]));
    return ss->n++;
}

static void sched_release(struct djs__sched_set *ss, uint32_t slot)
{
    djs_idx_remove(&ss->idx, djs__id_hash(&ss->v[slot].id), slot);
    sched_clear(&ss->v[slot]);
    ss->live--;
    if (ss->nfree == ss->cap_free) {
        ss->cap_free = ss->cap_free ? 2 * ss->cap_free : 16;
        ss->free_slots = djs_realloc(ss->free_slots, ss->cap_free * sizeof(uint32_t));
    }
    ss->free_slots[ss->nfree++] = slot;
}

static char *dup_str(djs_str_t s)
{
    return djs_strndup(s.p != NULL ? s.p : "", s.len);
}

/* Install definition d into s (parsed first: on error s is unchanged). */
static int set_def(djs_schedule_t *s, const djs_schedule_def_t *d)
{
    djs_cron_t c;
    if (djs_cron_parse(d->spec.p, d->spec.len, &c, NULL, 0) != 0 || d->tmpl_len > DJS_EVENT_MAX_BODY)
        return DJS_ECORRUPT;
    djs_free(s->name);
    djs_free(s->spec);
    djs_free(s->tz);
    djs_free(s->owner);
    djs_free(s->tmpl);
    s->cron = c;
    s->name = dup_str(d->name);
    s->spec = dup_str(d->spec);
    s->tz = dup_str(d->tz);
    s->owner = dup_str(d->owner);
    s->overlap = d->overlap;
    s->catchup = d->catchup;
    s->catchup_max = d->catchup_max;
    s->start_ns = d->start_ns;
    s->end_ns = d->end_ns;
    s->jitter_s = d->jitter_s;
    s->next_jitter_ms = d->next_jitter_ms;
    s->tmpl = djs_malloc(d->tmpl_len ? d->tmpl_len : 1);
    if (d->tmpl_len > 0)
        memcpy(s->tmpl, d->tmpl, d->tmpl_len);
    s->tmpl_len = (uint32_t)d->tmpl_len;
    return 0;
}

static int apply_def(struct djs__sched_set *ss, const djs_event_t *ev)
{
    djs_schedule_def_t d;
    int rc = djs_body_read_schedule_def(ev->body, ev->body_len, &d);
    if (rc != 0)
        return rc;
    uint32_t slot = find_slot(ss, &ev->entity);
    if (ev->type == DJS_EV_SCHEDULE_CREATED) {
        if (slot != DJS_IDX_NONE)
            return DJS_EEXISTS;
        djs_schedule_t tmp = {0};
        if ((rc = set_def(&tmp, &d)) != 0)
            return rc;
        slot = sched_alloc(ss);
        tmp.id = ev->entity;
        tmp.created_ns = ev->ts_ns;
        tmp.live = 1;
        ss->v[slot] = tmp;
        djs_idx_insert(&ss->idx, djs__id_hash(&ev->entity), slot);
        ss->live++;
    } else {
        if (slot == DJS_IDX_NONE)
            return DJS_ENOTFOUND;
        if ((rc = set_def(&ss->v[slot], &d)) != 0)
            return rc;
    }
    ss->v[slot].def_ns = ev->ts_ns;
    ss->v[slot].last_seq = ev->seq;
    return 0;
}

static int apply_fired(djs_schedule_t *s, const djs_event_t *ev)
{
    djs_schedule_fire_t f;
    int rc = djs_body_read_schedule_fire(ev->body, ev->body_len, &f);
    if (rc != 0)
        return rc;
    if (f.nominal_s <= s->last_nominal_s)
        return DJS_ECONFLICT; /* fires go forward */
    s->last_nominal_s = f.nominal_s;
    s->next_jitter_ms = f.next_jitter_ms;
    if (f.skipped.len > 0 || f.njobs == 0) {
        s->skips++;
        return 0;
    }
    s->fires++;
    s->last_jobs = djs_realloc(s->last_jobs, f.njobs * sizeof(djs_id_t));
    memcpy(s->last_jobs, f.jobs, (size_t)f.njobs * 16);
    s->nlast_jobs = f.njobs;
    return 0;
}

int djs__sched_apply(djs_state_t *st, const djs_event_t *ev)
{
    struct djs__sched_set *ss = st->sched;
    if (ev->type == DJS_EV_SCHEDULE_CREATED || ev->type == DJS_EV_SCHEDULE_UPDATED)
        return apply_def(ss, ev);
    uint32_t slot = find_slot(ss, &ev->entity);
    if (slot == DJS_IDX_NONE)
        return DJS_ENOTFOUND;
    djs_schedule_t *s = &ss->v[slot];
    int rc = 0;
    switch (ev->type) {
    case DJS_EV_SCHEDULE_PAUSED:
        if (s->paused)
            return DJS_ECONFLICT;
        s->paused = 1;
        break;
    case DJS_EV_SCHEDULE_RESUMED: {
        djs_schedule_fire_t f;
        if (!s->paused)
            return DJS_ECONFLICT;
        if ((rc = djs_body_read_schedule_fire(ev->body, ev->body_len, &f)) != 0)
            return rc;
        s->paused = 0;
        s->resumed_ns = ev->ts_ns;
        s->next_jitter_ms = f.next_jitter_ms;
        break;
    }
    case DJS_EV_SCHEDULE_DELETED:
        sched_release(ss, slot);
        return 0;
    case DJS_EV_SCHEDULE_FIRED:
        if ((rc = apply_fired(s, ev)) != 0)
            return rc;
        break;
    default:
        return DJS_EBADTYPE;
    }
    s->last_seq = ev->seq;
    return 0;
}

/* ---- lookups --------------------------------------------------------------------- */

const djs_schedule_t *djs_state_schedule(const djs_state_t *st, const djs_id_t *id)
{
    uint32_t slot = find_slot(st->sched, id);
    return slot == DJS_IDX_NONE ? NULL : &st->sched->v[slot];
}

const djs_schedule_t *djs_state_schedule_at(const djs_state_t *st, uint32_t slot)
{
    return slot < st->sched->n && st->sched->v[slot].live ? &st->sched->v[slot] : NULL;
}

uint32_t djs_state_nschedule_slots(const djs_state_t *st)
{
    return st->sched->n;
}

uint32_t djs_state_schedule_slot(const djs_state_t *st, const djs_schedule_t *s)
{
    return (uint32_t)(s - st->sched->v);
}

uint64_t djs_state_nschedules(const djs_state_t *st)
{
    return st->sched->live;
}

int djs_schedule_next(const djs_schedule_t *s, const djs_tz_t *tz, uint64_t *nominal_s)
{
    int64_t anchor = (int64_t)((s->start_ns ? s->start_ns : s->def_ns) / SEC);
    int64_t after = (int64_t)(s->def_ns / SEC);
    if (s->start_ns > 0 && (int64_t)((s->start_ns + SEC - 1) / SEC) - 1 > after)
        after = (int64_t)((s->start_ns + SEC - 1) / SEC) - 1;
    if ((int64_t)(s->resumed_ns / SEC) > after)
        after = (int64_t)(s->resumed_ns / SEC);
    if ((int64_t)s->last_nominal_s > after)
        after = (int64_t)s->last_nominal_s;
    int64_t next;
    int rc = djs_cron_next(&s->cron, tz, anchor, after, &next);
    if (rc != 0)
        return rc;
    if (next <= 0 || (s->end_ns > 0 && (uint64_t)next * SEC > s->end_ns))
        return DJS_ENOTFOUND;
    *nominal_s = (uint64_t)next;
    return 0;
}

static const char *const overlap_names[] = {"skip", "allow", "cancel-previous"};
static const char *const catchup_names[] = {"none", "last", "all"};

static int name_parse(const char *const *names, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    return DJS_EINVAL;
}

const char *djs_overlap_name(int o)
{
    return o >= 0 && o < 3 ? overlap_names[o] : "?";
}

int djs_overlap_parse(const char *s, size_t len)
{
    return name_parse(overlap_names, 3, s, len);
}

const char *djs_catchup_name(int c)
{
    return c >= 0 && c < 3 ? catchup_names[c] : "?";
}

int djs_catchup_parse(const char *s, size_t len)
{
    return name_parse(catchup_names, 3, s, len);
}

/* ---- canonical form: digest and snapshot ------------------------------------------ */

static int buf_write(void *data, const char *p, size_t n)
{
    djs_buf_append((djs_buf_t *)data, p, n);
    return 0;
}

static int cmp_sched(const void *a, const void *b)
{
    return djs_id_cmp(&(*(const djs_schedule_t *const *)a)->id, &(*(const djs_schedule_t *const *)b)->id);
}

#define SCHED_U64S 16

static void pack_one(msgpack_packer *pk, const djs_schedule_t *s)
{
    msgpack_pack_array(pk, 8);
    msgpack_pack_bin_with_body(pk, s->id.b, 16);
    const char *strs[4] = {s->name, s->spec, s->tz, s->owner};
    for (int i = 0; i < 4; i++)
        msgpack_pack_str_with_body(pk, strs[i], strlen(strs[i]));
    const uint64_t v[SCHED_U64S] = {s->overlap, s->catchup,    s->paused,         s->catchup_max, s->jitter_s, s->start_ns,
                                    s->end_ns,  s->created_ns, s->def_ns,         s->resumed_ns,  s->last_seq, s->last_nominal_s,
                                    s->fires,   s->skips,      s->next_jitter_ms, s->nlast_jobs};
    msgpack_pack_array(pk, SCHED_U64S);
    for (int i = 0; i < SCHED_U64S; i++)
        msgpack_pack_uint64(pk, v[i]);
    msgpack_pack_bin_with_body(pk, s->tmpl, s->tmpl_len);
    msgpack_pack_bin_with_body(pk, s->last_jobs, (size_t)s->nlast_jobs * 16);
}

void djs__sched_pack(const struct djs__sched_set *ss, djs_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    const djs_schedule_t **v = djs_malloc((ss->live ? ss->live : 1) * sizeof(*v));
    uint32_t n = 0;
    for (uint32_t i = 0; i < ss->n; i++)
        if (ss->v[i].live)
            v[n++] = &ss->v[i];
    qsort(v, n, sizeof(*v), cmp_sched);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        pack_one(&pk, v[i]);
    djs_free(v);
}

static int rd_cstr(djs_mp_reader_t *r, char **out)
{
    const char *p;
    size_t len;
    int rc = djs_mp_read_str(r, &p, &len);
    if (rc == 0)
        *out = djs_strndup(p, len);
    return rc;
}

static int unpack_nums(djs_mp_reader_t *r, djs_schedule_t *s)
{
    uint32_t n;
    uint64_t v[SCHED_U64S];
    if (djs_mp_read_array(r, &n) != 0 || n != SCHED_U64S)
        return DJS_ECORRUPT;
    for (int i = 0; i < SCHED_U64S; i++)
        if (djs_mp_read_uint(r, &v[i]) != 0)
            return DJS_ECORRUPT;
    s->overlap = (uint8_t)v[0];
    s->catchup = (uint8_t)v[1];
    s->paused = (uint8_t)v[2];
    s->catchup_max = (uint32_t)v[3];
    s->jitter_s = (uint32_t)v[4];
    s->start_ns = v[5];
    s->end_ns = v[6];
    s->created_ns = v[7];
    s->def_ns = v[8];
    s->resumed_ns = v[9];
    s->last_seq = v[10];
    s->last_nominal_s = v[11];
    s->fires = v[12];
    s->skips = v[13];
    s->next_jitter_ms = (uint32_t)v[14];
    s->nlast_jobs = (uint32_t)v[15];
    return s->nlast_jobs <= DJS_WORKFLOW_MAX_JOBS ? 0 : DJS_ECORRUPT;
}

static int unpack_one(djs_mp_reader_t *r, djs_schedule_t *s)
{
    uint32_t n;
    const uint8_t *b;
    size_t len;
    if (djs_mp_read_array(r, &n) != 0 || n != 8 || djs_mp_read_bin(r, &b, &len) != 0 || len != 16)
        return DJS_ECORRUPT;
    memcpy(s->id.b, b, 16);
    char **strs[4] = {&s->name, &s->spec, &s->tz, &s->owner};
    for (int i = 0; i < 4; i++)
        if (rd_cstr(r, strs[i]) != 0)
            return DJS_ECORRUPT;
    if (unpack_nums(r, s) != 0 || djs_cron_parse(s->spec, strlen(s->spec), &s->cron, NULL, 0) != 0)
        return DJS_ECORRUPT;
    if (djs_mp_read_bin(r, &b, &len) != 0)
        return DJS_ECORRUPT;
    s->tmpl = djs_malloc(len ? len : 1);
    memcpy(s->tmpl, b, len);
    s->tmpl_len = (uint32_t)len;
    if (djs_mp_read_bin(r, &b, &len) != 0 || len != (size_t)s->nlast_jobs * 16)
        return DJS_ECORRUPT;
    s->last_jobs = djs_malloc(len ? len : 1);
    memcpy(s->last_jobs, b, len);
    s->live = 1;
    return 0;
}

int djs__sched_unpack(struct djs__sched_set *ss, const uint8_t *p, size_t len)
{
    djs_mp_reader_t r;
    uint32_t n;
    djs_mp_reader_init(&r, p, len);
    if (djs_mp_read_array(&r, &n) != 0)
        return DJS_ECORRUPT;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = sched_alloc(ss);
        int rc = unpack_one(&r, &ss->v[slot]);
        if (rc != 0) {
            sched_clear(&ss->v[slot]);
            ss->n--;
            return rc;
        }
        if (find_slot(ss, &ss->v[slot].id) != DJS_IDX_NONE) {
            sched_clear(&ss->v[slot]);
            ss->n--;
            return DJS_ECORRUPT;
        }
        djs_idx_insert(&ss->idx, djs__id_hash(&ss->v[slot].id), slot);
        ss->live++;
    }
    return r.p == r.end ? 0 : DJS_ECORRUPT;
}

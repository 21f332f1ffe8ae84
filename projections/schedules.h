/* The projection's schedules: recurring job definitions and what their
 * last fire decided (schedule.* events, docs/events.md).
 *
 * Applying is pure like the rest of the projection: the spec is parsed
 * (core/cron.h, computation only); the zone is kept by name, never loaded
 * here. Each schedule keeps its definition (name, spec, zone, policies, the
 * template job request as MessagePack), whether it is paused, and its last
 * fire: the nominal time, the jitter drawn for the next fire, the jobs it
 * submitted. The next fire time is derived from these (djs_schedule_next).
 *
 * Ownership: owned by the state; pointers valid until the next apply.
 */
#ifndef DJS_PROJECTIONS_SCHEDULES_H
#define DJS_PROJECTIONS_SCHEDULES_H

#include <stdint.h>

#include "core/bodies.h"
#include "core/cron.h"
#include "core/tz.h"
#include "projections/state.h"

typedef struct djs_schedule {
    djs_id_t id;
    char *name, *spec, *tz, *owner; /* NUL-terminated copies; tz "" = UTC */
    djs_cron_t cron;
    uint8_t overlap, catchup, paused;
    uint32_t catchup_max, jitter_s;
    uint64_t start_ns, end_ns;
    uint8_t *tmpl; /* the template request (MessagePack map) */
    uint32_t tmpl_len;
    uint64_t created_ns, def_ns, resumed_ns; /* creation, last definition (created/updated), last resume */
    uint64_t last_seq;                       /* last event that changed it */
    uint64_t last_nominal_s;                 /* nominal time of the last fire (fired or skipped); 0 = none */
    uint32_t next_jitter_ms;                 /* the delay drawn for the next fire */
    uint64_t fires, skips;                   /* fires that submitted jobs, fires skipped */
    djs_id_t *last_jobs;                     /* the jobs of the last fire that submitted some */
    uint32_t nlast_jobs;
    uint8_t live; /* slot in use */
} djs_schedule_t;

const djs_schedule_t *djs_state_schedule(const djs_state_t *st, const djs_id_t *id); /* NULL if none */
const djs_schedule_t *djs_state_schedule_at(const djs_state_t *st, uint32_t slot);   /* NULL if free */
uint32_t djs_state_nschedule_slots(const djs_state_t *st);
uint32_t djs_state_schedule_slot(const djs_state_t *st, const djs_schedule_t *s);
uint64_t djs_state_nschedules(const djs_state_t *st);

/* The schedule's next nominal fire time (unix seconds) in zone tz (NULL =
 * UTC; the caller loads the zone named s->tz): the first spec time after
 * the last fire, the last definition or resume, and at or after the start.
 * DJS_ENOTFOUND when there is none (past the end date, or the spec has no
 * time within 5 years). The fire instant is that plus s->next_jitter_ms. */
int djs_schedule_next(const djs_schedule_t *s, const djs_tz_t *tz, uint64_t *nominal_s);

/* Names of the policies ("skip", "allow", "cancel-previous"; "none",
 * "last", "all"), and their parsers (value or DJS_EINVAL). */
const char *djs_overlap_name(int o);
int djs_overlap_parse(const char *s, size_t len);
const char *djs_catchup_name(int c);
int djs_catchup_parse(const char *s, size_t len);

#endif

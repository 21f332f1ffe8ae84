/* Private to scheduler/: what engine.c lends the engine's other rooms
 * (scheduler/schedules.c): emitting events, refusing with a detail, the
 * clock, the PRNG and the id generator, and the schedules runtime's slot. */
#ifndef DJS_SCHEDULER_ENGINE_INTERNAL_H
#define DJS_SCHEDULER_ENGINE_INTERNAL_H

#include <stdarg.h>

#include "scheduler/engine.h"

/* The body buffer emit sends: reset it, encode the body, then emit. */
djs_buf_t *djs__engine_body(djs_engine_t *e);
/* Append the event (body in djs__engine_body) and apply it; the log's
 * append errors. */
int djs__engine_emit(djs_engine_t *e, int type, const djs_id_t *entity, const char *actor, uint64_t *seq);
/* Set the refusal detail (djs_engine_errmsg) and return err. */
__attribute__((format(printf, 3, 4))) int djs__engine_refuse(djs_engine_t *e, int err, const char *fmt, ...);
uint64_t djs__engine_now(djs_engine_t *e);
/* A line for the operator (the config's note callback). */
__attribute__((format(printf, 2, 3))) void djs__engine_note(djs_engine_t *e, const char *fmt, ...);
uint64_t djs__engine_rand(djs_engine_t *e);
void djs__engine_new_id(djs_engine_t *e, djs_id_t *id);
const djs_state_t *djs__engine_st(djs_engine_t *e);

/* scheduler/schedules.c: the runtime of schedules (timer heap of next
 * fires, zone cache), owned by the engine. */
typedef struct djs__sched_rt djs__sched_rt_t;
/* Build it from the projection (after a rebuild). */
djs__sched_rt_t *djs__sched_rt_open(djs_engine_t *e);
void djs__sched_rt_close(djs__sched_rt_t *rt);
djs__sched_rt_t *djs__engine_sched(djs_engine_t *e);
/* Fire the schedules due at now, per their policies; the log's append errors. */
int djs__sched_run(djs_engine_t *e, uint64_t now, uint64_t *seq);
/* The instant (ns) the next schedule is due: 0, or DJS_ENOTFOUND. */
int djs__sched_next_due(djs_engine_t *e, uint64_t *due_ns);

/* scheduler/template.c: a template (the POST /jobs request as MessagePack)
 * read into requests; strings point into the template's bytes, which must
 * outlive t. DJS_EINVAL with a one-line reason in err. */
typedef struct djs__tmpl {
    djs_job_request_t *reqs;
    uint32_t n;
} djs__tmpl_t;
int djs__tmpl_decode(const uint8_t *p, size_t len, djs__tmpl_t *t, char *err, size_t errlen);
void djs__tmpl_dispose(djs__tmpl_t *t);

#endif

#include "core/job.h"

#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/event.h"

const char *djs_job_state_name(int state)
{
    switch (state) {
#define DJS__JS_NAME(name, num, text)                                                                                              \
    case num:                                                                                                                      \
        return text;
        DJS_JOB_STATE_MAP(DJS__JS_NAME)
#undef DJS__JS_NAME
    }
    return NULL;
}

static int parse_name(const char *s, size_t len, const char *(*name)(int), int n)
{
    for (int i = 0; i < n; i++) {
        const char *t = name(i);
        if (t != NULL && strlen(t) == len && strncasecmp(t, s, len) == 0)
            return i;
    }
    return DJS_EINVAL;
}

int djs_job_state_parse(const char *s, size_t len)
{
    return parse_name(s, len, djs_job_state_name, DJS_JOB_NSTATES);
}

const char *djs_priority_name(int prio)
{
    static const char *names[] = {"HIGH", "NORMAL", "LOW"};
    return prio >= 0 && prio < DJS_NPRIO ? names[prio] : NULL;
}

int djs_priority_parse(const char *s, size_t len)
{
    return parse_name(s, len, djs_priority_name, DJS_NPRIO);
}

const char *djs_fail_reason_name(int reason)
{
    switch (reason) {
#define DJS__FR_NAME(name, num, text)                                                                                              \
    case num:                                                                                                                      \
        return text;
        DJS_FAIL_REASON_MAP(DJS__FR_NAME)
#undef DJS__FR_NAME
    }
    return NULL;
}

int djs_fail_reason_parse(const char *s, size_t len)
{
    return parse_name(s, len, djs_fail_reason_name, 5);
}

/* ---- the state machine ---------------------------------------------------- */

#define P(pos) (1u << (pos))
#define S(state) P(DJS_JOB_##state)
#define WAIT P(DJS_JOB_SM_RETRY_WAIT)
#define NONE P(DJS_JOB_SM_NONE)
#define LIVE (S(CREATED) | S(QUEUED) | WAIT | S(SCHEDULED) | S(RUNNING)) /* not final */
#define TO(pos)                                                                                                                    \
    {                                                                                                                              \
        (pos), (pos)                                                                                                               \
    }
#define TO2(pos, alt)                                                                                                              \
    {                                                                                                                              \
        (pos), (alt)                                                                                                               \
    }
#define SAME TO(DJS_JOB_SM_SAME)

const djs_job_rule_t djs__job_rules[DJS_EV_JOB_OUTPUT + 1] = {
    [DJS_EV_JOB_SUBMITTED] = {NONE, TO2(DJS_JOB_QUEUED, DJS_JOB_CREATED)},
    [DJS_EV_JOB_QUEUED] = {S(CREATED) | WAIT, TO(DJS_JOB_QUEUED)},
    /* the engine schedules only ready jobs; the projection has always
     * accepted a job waiting for its retry time too */
    [DJS_EV_JOB_SCHEDULED] = {S(QUEUED) | WAIT, TO(DJS_JOB_SCHEDULED)},
    [DJS_EV_JOB_STARTED] = {S(SCHEDULED), TO(DJS_JOB_RUNNING)},
    [DJS_EV_JOB_PROGRESS] = {S(RUNNING), SAME},
    [DJS_EV_JOB_OUTPUT] = {S(RUNNING), SAME},
    [DJS_EV_JOB_SUCCEEDED] = {S(RUNNING), TO(DJS_JOB_COMPLETED)},
    [DJS_EV_JOB_FAILED] = {S(SCHEDULED) | S(RUNNING), TO2(DJS_JOB_FAILED, DJS_JOB_SM_RETRY_WAIT)},
    [DJS_EV_JOB_TIMED_OUT] = {S(RUNNING), TO2(DJS_JOB_FAILED, DJS_JOB_SM_RETRY_WAIT)},
    [DJS_EV_JOB_LEASE_EXPIRED] = {S(SCHEDULED), TO(DJS_JOB_QUEUED)},
    [DJS_EV_JOB_CANCELLED] = {LIVE, TO(DJS_JOB_CANCELLED)},
    [DJS_EV_JOB_UPSTREAM_FAILED] = {LIVE, TO(DJS_JOB_FAILED)},
    [DJS_EV_JOB_RETRIED] = {S(FAILED), TO(DJS_JOB_QUEUED)},
    [DJS_EV_JOB_UPDATED] = {LIVE | S(FAILED), SAME},
    [DJS_EV_JOB_DELETED] = {S(CREATED) | S(QUEUED) | WAIT | S(COMPLETED) | S(FAILED) | S(CANCELLED), TO(DJS_JOB_SM_NONE)},
};

#undef P
#undef S
#undef WAIT
#undef NONE
#undef LIVE
#undef TO
#undef TO2
#undef SAME

int djs_job_spec_alt(const djs_job_spec_t *sp, uint64_t ts_ns)
{
    /* even met dependencies wait for a job.queued, so that the job's own
     * history says when it became ready */
    return sp->ndeps > 0 || sp->scheduled_at > ts_ns;
}

/* Can some event take a job at position p to state `to`? */
static int pos_reaches(int p, int to)
{
    for (int type = DJS_EV_JOB_SUBMITTED; type <= DJS_EV_JOB_OUTPUT; type++)
        for (int alt = 0; alt < 2; alt++)
            if (djs_job_event_allowed(type, p) && djs_job_sm_state(djs_job_event_next(type, p, alt)) == to)
                return 1;
    return 0;
}

int djs_job_transition_ok(int from, int to)
{
    if (from < 0 || from >= DJS_JOB_NSTATES || to < 0 || to >= DJS_JOB_NSTATES || from == to)
        return 0;
    return pos_reaches(from, to) || (from == DJS_JOB_QUEUED && pos_reaches(DJS_JOB_SM_RETRY_WAIT, to));
}

uint64_t djs_retry_backoff_ns(uint32_t n, uint64_t base_ns, uint64_t cap_ns, uint64_t rnd)
{
    if (n == 0)
        n = 1;
    uint64_t d = base_ns;
    /* d == 0 never grows: stop at once rather than spin n times */
    for (uint32_t i = 1; i < n && d != 0 && d < cap_ns; i++)
        d = d > cap_ns / 2 ? cap_ns : d * 2;
    if (d > cap_ns)
        d = cap_ns;
    /* jitter in [0.5, 1.0]: "equal jitter", never zero, never above the cap */
    uint64_t half = d / 2;
    return half + (half ? rnd % (half + 1) : 0);
}

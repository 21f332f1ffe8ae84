#include "core/job.h"

#include <string.h>
#include <strings.h>

#include "core/error.h"

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

int djs_job_transition_ok(int from, int to)
{
    /* rows: from; bits: allowed to */
#define B(s) (1u << DJS_JOB_##s)
    static const unsigned allowed[DJS_JOB_NSTATES] = {
        [DJS_JOB_CREATED] = B(QUEUED) | B(FAILED) | B(CANCELLED),
        [DJS_JOB_QUEUED] = B(SCHEDULED) | B(FAILED) | B(CANCELLED),
        [DJS_JOB_SCHEDULED] = B(RUNNING) | B(QUEUED) | B(FAILED) | B(CANCELLED),
        [DJS_JOB_RUNNING] = B(COMPLETED) | B(QUEUED) | B(FAILED) | B(CANCELLED),
        [DJS_JOB_COMPLETED] = 0,
        [DJS_JOB_FAILED] = B(QUEUED),
        [DJS_JOB_CANCELLED] = 0,
    };
#undef B
    if (from < 0 || from >= DJS_JOB_NSTATES || to < 0 || to >= DJS_JOB_NSTATES)
        return 0;
    return (allowed[from] >> to) & 1u;
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

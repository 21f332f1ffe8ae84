#include "tools/agent/retry.h"

int djs_agent_answer_class(long status)
{
    if (status >= 200 && status < 300)
        return DJS_AGENT_ANS_OK;
    if (status == 0 || status >= 500 || status == 429 || status == 408 || status == 307 || status == 308)
        return DJS_AGENT_ANS_RETRY;
    return DJS_AGENT_ANS_FINAL;
}

uint32_t djs_agent_backoff_next(uint32_t *state, uint32_t rnd)
{
    uint32_t d = *state ? *state * 2 : DJS_AGENT_BACKOFF_MIN_MS;
    if (d > DJS_AGENT_BACKOFF_MAX_MS)
        d = DJS_AGENT_BACKOFF_MAX_MS;
    *state = d;
    return d / 2 + rnd % (d / 2 + 1);
}

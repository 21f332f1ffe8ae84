/* The worker agent's retry policy: which answers are tried again, and the
 * delay before the next try. Pure: no clock, no I/O; the caller draws the
 * random number. */
#ifndef DJS_TOOLS_AGENT_RETRY_H
#define DJS_TOOLS_AGENT_RETRY_H

#include <stdint.h>

#define DJS_AGENT_BACKOFF_MIN_MS 500
#define DJS_AGENT_BACKOFF_MAX_MS 30000

/* What an HTTP status means for a call: done, try again later, or a final
 * refusal. status 0 is "no answer" (refused, reset, timed out). */
enum { DJS_AGENT_ANS_OK, DJS_AGENT_ANS_RETRY, DJS_AGENT_ANS_FINAL };

/* DJS_AGENT_ANS_OK for 2xx; DJS_AGENT_ANS_RETRY for 0, 408, 429, 5xx, and
 * 307 and 308 (a cluster follower's redirect to the leader that the agent
 * did not follow: the leader is moving, or too far); DJS_AGENT_ANS_FINAL
 * for the rest. */
int djs_agent_answer_class(long status);

/* The next delay of a backoff whose state (0 at first, and again after a
 * success) is *state: the bound doubles from DJS_AGENT_BACKOFF_MIN_MS up to
 * DJS_AGENT_BACKOFF_MAX_MS, and the delay is d/2 + rnd % (d/2 + 1), so in
 * [d/2, d]. rnd is any random number (the agent passes rand()). */
uint32_t djs_agent_backoff_next(uint32_t *state, uint32_t rnd);

#endif

/* Load-balancer scoring (DESIGN.md "Workers"): pure arithmetic on figures
 * that were recorded in events, so a score never depends on the clock.
 *
 *   score = w_cpu·(1 − cpu) + w_mem·(1 − mem) + w_slots·(free slots / slots) + w_resp·response score
 *
 * with cpu, mem in [0, 1] (stored as permille), response score =
 * 1 / (1 + avg response ms / 1000), and the design weights 0.30, 0.25, 0.25,
 * 0.20 by default. Scores are compared as integers (millionths) so that
 * ordering is exact and ties are broken by id, deterministically.
 */
#ifndef DJS_CORE_BALANCER_H
#define DJS_CORE_BALANCER_H

#include <stdint.h>

typedef struct djs_weights {
    double cpu, mem, slots, resp;
} djs_weights_t;

void djs_weights_default(djs_weights_t *w);
/* 0 if every weight is in [0, 1] and they add up to 1 (± 1e-6); DJS_EINVAL otherwise. */
int djs_weights_check(const djs_weights_t *w);

/* Score in millionths (0 .. 1,000,000). cpu_pm and mem_pm are permille
 * (clamped to 1000); a worker with no slots scores its free fraction 0. */
uint32_t djs_worker_score(const djs_weights_t *w, uint32_t cpu_pm, uint32_t mem_pm, uint32_t running, uint32_t slots,
                          uint32_t resp_ms);

#endif

#include "core/balancer.h"

#include <math.h>

#include "core/error.h"

void djs_weights_default(djs_weights_t *w)
{
    w->cpu = 0.30;
    w->mem = 0.25;
    w->slots = 0.25;
    w->resp = 0.20;
}

int djs_weights_check(const djs_weights_t *w)
{
    const double v[4] = {w->cpu, w->mem, w->slots, w->resp};
    double sum = 0;
    for (int i = 0; i < 4; i++) {
        if (!(v[i] >= 0 && v[i] <= 1))
            return DJS_EINVAL;
        sum += v[i];
    }
    return fabs(sum - 1.0) <= 1e-6 ? 0 : DJS_EINVAL;
}

uint32_t djs_worker_score(const djs_weights_t *w, uint32_t cpu_pm, uint32_t mem_pm, uint32_t running, uint32_t slots,
                          uint32_t resp_ms)
{
    double cpu = (cpu_pm > 1000 ? 1000 : cpu_pm) / 1000.0;
    double mem = (mem_pm > 1000 ? 1000 : mem_pm) / 1000.0;
    double free_frac = slots == 0 || running >= slots ? 0.0 : (double)(slots - running) / slots;
    double resp = 1.0 / (1.0 + resp_ms / 1000.0);
    double s = w->cpu * (1 - cpu) + w->mem * (1 - mem) + w->slots * free_frac + w->resp * resp;
    if (s < 0)
        s = 0;
    if (s > 1)
        s = 1;
    return (uint32_t)lround(s * 1e6);
}

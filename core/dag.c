#include "core/dag.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* After Kahn's algorithm stalls, every unordered node either is on a cycle
 * or depends (transitively) on one. Walking dependencies among unordered
 * nodes from any of them must revisit a node within n steps: that node is
 * on a cycle. */
static uint32_t find_cycle_node(uint32_t n, const uint32_t *off, const uint32_t *deps, const uint32_t *indeg)
{
    uint32_t v = 0;
    while (v < n && indeg[v] == 0)
        v++;
    for (uint32_t step = 0; step < n; step++) {
        for (uint32_t e = off[v]; e < off[v + 1]; e++) {
            if (indeg[deps[e]] != 0) {
                v = deps[e];
                break;
            }
        }
    }
    return v;
}

int djs_dag_toposort(uint32_t n, const uint32_t *off, const uint32_t *deps, uint32_t *order, uint32_t *on_cycle)
{
    if (n == 0)
        return 0;
    uint32_t m = off[n];
    for (uint32_t e = 0; e < m; e++)
        if (deps[e] >= n)
            return DJS_EINVAL;
    /* indeg[i] = unmet dependencies of i; rev = dependents, in CSR form */
    uint32_t *indeg = djs_calloc(n, sizeof(uint32_t));
    uint32_t *roff = djs_calloc(n + 1, sizeof(uint32_t));
    uint32_t *rev = djs_malloc((m ? m : 1) * sizeof(uint32_t));
    uint32_t *fill = djs_malloc(n * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++) {
        indeg[i] = off[i + 1] - off[i];
        for (uint32_t e = off[i]; e < off[i + 1]; e++)
            roff[deps[e] + 1]++;
    }
    for (uint32_t i = 0; i < n; i++)
        roff[i + 1] += roff[i];
    memcpy(fill, roff, n * sizeof(uint32_t));
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t e = off[i]; e < off[i + 1]; e++)
            rev[fill[deps[e]]++] = i;

    uint32_t head = 0, tail = 0;
    for (uint32_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            order[tail++] = i;
    while (head < tail) {
        uint32_t v = order[head++];
        for (uint32_t e = roff[v]; e < roff[v + 1]; e++)
            if (--indeg[rev[e]] == 0)
                order[tail++] = rev[e];
    }
    int rc = 0;
    if (tail != n) {
        rc = DJS_ECYCLE;
        if (on_cycle != NULL)
            *on_cycle = find_cycle_node(n, off, deps, indeg);
    }
    djs_free(indeg);
    djs_free(roff);
    djs_free(rev);
    djs_free(fill);
    return rc;
}

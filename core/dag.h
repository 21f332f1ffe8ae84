/* Dependency graphs: Kahn's algorithm, O(V + E).
 *
 * A graph of n nodes in compressed form: the dependencies of node i are
 * deps[off[i]] .. deps[off[i+1]-1] (node indices < n); off has n+1 entries.
 * A node must run after each of its dependencies.
 */
#ifndef DJS_CORE_DAG_H
#define DJS_CORE_DAG_H

#include <stdint.h>

/* Order the nodes so that every node comes after its dependencies.
 * order receives n node indices. Returns 0, DJS_ECYCLE (then *on_cycle, if
 * not NULL, is a node that lies on a cycle), or DJS_EINVAL (an index out of
 * range). Self-dependencies are cycles. Allocates O(n + E) temporarily. */
int djs_dag_toposort(uint32_t n, const uint32_t *off, const uint32_t *deps, uint32_t *order, uint32_t *on_cycle);

#endif

#include <stdlib.h>
#include <string.h>

#include "core/dag.h"
#include "core/error.h"
#include "core/id.h"
#include "testutil.h"

/* ---- graphs in CSR form ------------------------------------------------------------ */

typedef struct graph {
    uint32_t n, m, cap;
    uint32_t *from, *to; /* edge list: from depends on to */
    uint32_t *off, *deps;
} graph_t;

static void g_init(graph_t *g, uint32_t n)
{
    memset(g, 0, sizeof(*g));
    g->n = n;
}

static void g_dep(graph_t *g, uint32_t node, uint32_t dep)
{
    if (g->m == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->from = realloc(g->from, g->cap * sizeof(uint32_t));
        g->to = realloc(g->to, g->cap * sizeof(uint32_t));
    }
    g->from[g->m] = node;
    g->to[g->m] = dep;
    g->m++;
}

/* Build off/deps; each node's dependencies keep their insertion order. */
static void g_build(graph_t *g)
{
    free(g->off);
    free(g->deps);
    g->off = calloc(g->n + 1, sizeof(uint32_t));
    g->deps = malloc((g->m ? g->m : 1) * sizeof(uint32_t));
    for (uint32_t e = 0; e < g->m; e++)
        g->off[g->from[e] + 1]++;
    for (uint32_t i = 0; i < g->n; i++)
        g->off[i + 1] += g->off[i];
    uint32_t *fill = malloc((g->n + 1) * sizeof(uint32_t));
    memcpy(fill, g->off, (g->n + 1) * sizeof(uint32_t));
    for (uint32_t e = 0; e < g->m; e++)
        g->deps[fill[g->from[e]]++] = g->to[e];
    free(fill);
}

static void g_free(graph_t *g)
{
    free(g->from);
    free(g->to);
    free(g->off);
    free(g->deps);
}

/* order is a permutation of 0..n-1 and every node comes after its deps. */
static void check_order(const graph_t *g, const uint32_t *order)
{
    uint32_t *rank = malloc((g->n ? g->n : 1) * sizeof(uint32_t));
    for (uint32_t i = 0; i < g->n; i++)
        rank[i] = UINT32_MAX;
    for (uint32_t i = 0; i < g->n; i++) {
        REQ(order[i] < g->n);
        REQ(rank[order[i]] == UINT32_MAX); /* no duplicates */
        rank[order[i]] = i;
    }
    for (uint32_t v = 0; v < g->n; v++)
        for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++)
            REQ(rank[g->deps[e]] < rank[v]);
    free(rank);
}

/* Is v on a cycle, i.e. reachable from itself by following dependencies?
 * Iterative DFS, independent of the code under test. */
static int on_a_cycle(const graph_t *g, uint32_t v)
{
    uint8_t *seen = calloc(g->n, 1);
    uint32_t *stack = malloc((g->m + 1) * sizeof(uint32_t));
    uint32_t sp = 0;
    int found = 0;
    for (uint32_t e = g->off[v]; e < g->off[v + 1]; e++)
        stack[sp++] = g->deps[e];
    while (sp > 0 && !found) {
        uint32_t u = stack[--sp];
        if (u == v) {
            found = 1;
            break;
        }
        if (seen[u])
            continue;
        seen[u] = 1;
        for (uint32_t e = g->off[u]; e < g->off[u + 1]; e++)
            if (!seen[g->deps[e]])
                stack[sp++] = g->deps[e];
    }
    free(seen);
    free(stack);
    return found;
}

/* Does the graph have a cycle? Iterative three-colour DFS. */
static int has_cycle(const graph_t *g)
{
    uint8_t *colour = calloc(g->n, 1); /* 0 white, 1 grey, 2 black */
    uint32_t *stack = malloc((g->n ? g->n : 1) * sizeof(uint32_t));
    uint32_t *next = malloc((g->n ? g->n : 1) * sizeof(uint32_t)); /* next edge to try */
    int cyc = 0;
    for (uint32_t s = 0; s < g->n && !cyc; s++) {
        if (colour[s] != 0)
            continue;
        uint32_t sp = 0;
        stack[sp++] = s;
        colour[s] = 1;
        next[s] = g->off[s];
        while (sp > 0 && !cyc) {
            uint32_t u = stack[sp - 1];
            if (next[u] == g->off[u + 1]) {
                colour[u] = 2;
                sp--;
                continue;
            }
            uint32_t w = g->deps[next[u]++];
            if (colour[w] == 1)
                cyc = 1;
            else if (colour[w] == 0) {
                colour[w] = 1;
                next[w] = g->off[w];
                stack[sp++] = w;
            }
        }
    }
    free(colour);
    free(stack);
    free(next);
    return cyc;
}

static int sort(const graph_t *g, uint32_t *order, uint32_t *on_cycle)
{
    return djs_dag_toposort(g->n, g->off, g->deps, order, on_cycle);
}

/* Expect a cycle; *on_cycle must really be on one. */
static uint32_t expect_cycle(const graph_t *g)
{
    uint32_t *order = malloc((g->n ? g->n : 1) * sizeof(uint32_t));
    uint32_t c = UINT32_MAX;
    ck_assert_int_eq(sort(g, order, &c), DJS_ECYCLE);
    ck_assert_uint_lt(c, g->n);
    ck_assert_msg(on_a_cycle(g, c), "node %u is not on a cycle", c);
    /* on_cycle may be NULL */
    ck_assert_int_eq(sort(g, order, NULL), DJS_ECYCLE);
    free(order);
    return c;
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(empty_graph)
{
    uint32_t c = 12345;
    ck_assert_int_eq(djs_dag_toposort(0, NULL, NULL, NULL, &c), 0);
    ck_assert_uint_eq(c, 12345);
    uint32_t off[1] = {0};
    uint32_t order[1] = {999};
    ck_assert_int_eq(djs_dag_toposort(0, off, NULL, order, &c), 0);
    ck_assert_uint_eq(order[0], 999);
}
END_TEST

START_TEST(single_node)
{
    uint32_t off[2] = {0, 0};
    uint32_t order[1] = {999};
    uint32_t c = 7;
    ck_assert_int_eq(djs_dag_toposort(1, off, NULL, order, &c), 0);
    ck_assert_uint_eq(order[0], 0);
    ck_assert_uint_eq(c, 7); /* untouched without a cycle */

    /* a node that depends on itself */
    uint32_t off2[2] = {0, 1}, deps2[1] = {0};
    ck_assert_int_eq(djs_dag_toposort(1, off2, deps2, order, &c), DJS_ECYCLE);
    ck_assert_uint_eq(c, 0);
}
END_TEST

/* Chains of 100k nodes, in both index directions: deep, and a recursive
 * implementation would overflow the stack. */
START_TEST(long_chain)
{
    enum { N = 100000 };
    uint32_t *order = malloc(N * sizeof(uint32_t));
    for (int dir = 0; dir < 2; dir++) {
        graph_t g;
        g_init(&g, N);
        for (uint32_t i = 1; i < N; i++) {
            if (dir == 0)
                g_dep(&g, i, i - 1); /* i after i-1 */
            else
                g_dep(&g, N - 1 - i, N - i); /* reversed */
        }
        g_build(&g);
        ck_assert_int_eq(sort(&g, order, NULL), 0);
        check_order(&g, order);
        /* the chain forces exactly one order */
        for (uint32_t i = 0; i < N; i++)
            REQ(order[i] == (dir == 0 ? i : N - 1 - i));
        /* close the chain into a 100k cycle */
        if (dir == 0)
            g_dep(&g, 0, N - 1);
        else
            g_dep(&g, N - 1, 0);
        g_build(&g);
        expect_cycle(&g);
        g_free(&g);
    }
    free(order);
}
END_TEST

START_TEST(diamond)
{
    /* 0 <- {1, 2} <- 3 */
    graph_t g;
    g_init(&g, 4);
    g_dep(&g, 3, 1);
    g_dep(&g, 3, 2);
    g_dep(&g, 1, 0);
    g_dep(&g, 2, 0);
    g_build(&g);
    uint32_t order[4];
    ck_assert_int_eq(sort(&g, order, NULL), 0);
    check_order(&g, order);
    ck_assert_uint_eq(order[0], 0);
    ck_assert_uint_eq(order[3], 3);
    /* the same diamond with labels reversed, and a duplicated edge */
    g_free(&g);
    g_init(&g, 4);
    g_dep(&g, 0, 1);
    g_dep(&g, 0, 2);
    g_dep(&g, 0, 2);
    g_dep(&g, 1, 3);
    g_dep(&g, 2, 3);
    g_build(&g);
    ck_assert_int_eq(sort(&g, order, NULL), 0);
    check_order(&g, order);
    ck_assert_uint_eq(order[0], 3);
    ck_assert_uint_eq(order[3], 0);
    g_free(&g);
}
END_TEST

START_TEST(wide_fan_out_fan_in)
{
    enum { W = 50000 };
    /* node W+1 is the root, 0..W-1 depend on it, node W depends on all */
    graph_t g;
    g_init(&g, W + 2);
    for (uint32_t i = 0; i < W; i++) {
        g_dep(&g, i, W + 1);
        g_dep(&g, W, i);
    }
    g_build(&g);
    uint32_t *order = malloc((W + 2) * sizeof(uint32_t));
    ck_assert_int_eq(sort(&g, order, NULL), 0);
    check_order(&g, order);
    ck_assert_uint_eq(order[0], W + 1);
    ck_assert_uint_eq(order[W + 1], W);
    /* a cycle through the fan: the root depends on the sink */
    g_dep(&g, W + 1, W);
    g_build(&g);
    expect_cycle(&g);
    free(order);
    g_free(&g);
}
END_TEST

START_TEST(self_loop)
{
    /* 0 <- 1 <- 2, and 1 depends on itself too */
    graph_t g;
    g_init(&g, 3);
    g_dep(&g, 1, 0);
    g_dep(&g, 1, 1);
    g_dep(&g, 2, 1);
    g_build(&g);
    ck_assert_uint_eq(expect_cycle(&g), 1);
    g_free(&g);
}
END_TEST

START_TEST(two_cycle)
{
    /* 5 nodes: 3 <-> 1, with 0 independent, 2 depending on 3, 4 on 0 */
    graph_t g;
    g_init(&g, 5);
    g_dep(&g, 1, 3);
    g_dep(&g, 3, 1);
    g_dep(&g, 2, 3);
    g_dep(&g, 4, 0);
    g_build(&g);
    uint32_t c = expect_cycle(&g);
    ck_assert(c == 1 || c == 3);
    g_free(&g);
}
END_TEST

/* A long cycle over scattered labels, with acyclic nodes around it. */
START_TEST(long_cycle)
{
    enum { N = 3000, L = 1000 };
    uint64_t rs[2];
    djs_rand_seed(rs, 11);
    uint32_t *perm = malloc(N * sizeof(uint32_t));
    for (uint32_t i = 0; i < N; i++)
        perm[i] = i;
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(djs_rand_next(rs) % (i + 1));
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    graph_t g;
    g_init(&g, N);
    /* cycle: perm[0] <- perm[1] <- ... <- perm[L-1] <- perm[0] */
    for (uint32_t i = 0; i < L; i++)
        g_dep(&g, perm[(i + 1) % L], perm[i]);
    /* the other nodes form a DAG among themselves (by perm position) */
    for (uint32_t i = L + 1; i < N; i++)
        for (int k = 0; k < 3; k++)
            g_dep(&g, perm[i], perm[L + djs_rand_next(rs) % (i - L)]);
    /* and some of them depend on the cycle too (unordered, not on it) */
    for (uint32_t i = L; i < N; i += 7)
        g_dep(&g, perm[i], perm[djs_rand_next(rs) % L]);
    g_build(&g);
    uint32_t c = expect_cycle(&g);
    int in_cycle = 0;
    for (uint32_t i = 0; i < L; i++)
        in_cycle |= perm[i] == c;
    ck_assert(in_cycle);
    free(perm);
    g_free(&g);
}
END_TEST

/* A cycle hanging off a tail: tail nodes depend, through a chain, on a
 * cycle. They are unordered too, but not on the cycle. The tail takes the
 * lowest indices, where a search for an unordered node starts, and is
 * longer than the cycle. */
START_TEST(cycle_behind_tail)
{
    for (uint32_t tail = 1; tail <= 40; tail += 13) {
        for (uint32_t cyc = 1; cyc <= 5; cyc++) {
            uint32_t n = tail + cyc + 3;
            graph_t g;
            g_init(&g, n);
            /* tail: 0 <- dep -> 1 -> ... -> tail-1 -> first cycle node */
            for (uint32_t i = 0; i + 1 < tail; i++)
                g_dep(&g, i, i + 1);
            g_dep(&g, tail - 1, tail);
            /* cycle: tail .. tail+cyc-1 */
            for (uint32_t i = 0; i < cyc; i++)
                g_dep(&g, tail + i, tail + (i + 1) % cyc);
            /* three ordered nodes at the end; tail nodes depend on them
             * first, so a walk must skip ordered dependencies */
            for (uint32_t i = 0; i < tail; i++) {
                g_dep(&g, i, n - 1);
                g_dep(&g, i, n - 2);
            }
            g_dep(&g, n - 2, n - 3);
            g_build(&g);
            /* put the ordered deps first in each tail node's list */
            for (uint32_t i = 0; i < tail; i++) {
                uint32_t a = g.off[i], b = g.off[i + 1];
                for (uint32_t e = a; e + 1 < b; e++)
                    for (uint32_t f = e + 1; f < b; f++)
                        if (g.deps[f] >= n - 3 && g.deps[e] < n - 3) {
                            uint32_t t = g.deps[e];
                            g.deps[e] = g.deps[f];
                            g.deps[f] = t;
                        }
            }
            uint32_t c = expect_cycle(&g);
            ck_assert_msg(c >= tail && c < tail + cyc, "tail %u cycle %u: on_cycle %u is not on the cycle", tail, cyc, c);
            g_free(&g);
        }
    }
}
END_TEST

/* Two separate cycles and a node depending on both. */
START_TEST(several_cycles)
{
    graph_t g;
    g_init(&g, 8);
    g_dep(&g, 0, 1); /* 0 depends on both cycles */
    g_dep(&g, 0, 5);
    g_dep(&g, 1, 2); /* 1 -> 2 -> 3 -> 1 */
    g_dep(&g, 2, 3);
    g_dep(&g, 3, 1);
    g_dep(&g, 5, 6); /* 5 -> 6 -> 5 */
    g_dep(&g, 6, 5);
    g_dep(&g, 7, 4);
    g_build(&g);
    uint32_t c = expect_cycle(&g);
    ck_assert(c == 1 || c == 2 || c == 3 || c == 5 || c == 6);
    g_free(&g);
}
END_TEST

START_TEST(out_of_range)
{
    uint32_t off[4] = {0, 1, 2, 3};
    uint32_t order[3];
    uint32_t c = 55;
    uint32_t deps[3] = {1, 2, 3}; /* 3 == n */
    ck_assert_int_eq(djs_dag_toposort(3, off, deps, order, &c), DJS_EINVAL);
    ck_assert_uint_eq(c, 55);
    deps[2] = UINT32_MAX;
    ck_assert_int_eq(djs_dag_toposort(3, off, deps, order, &c), DJS_EINVAL);
    deps[0] = 1000;
    deps[2] = 0;
    ck_assert_int_eq(djs_dag_toposort(3, off, deps, order, &c), DJS_EINVAL);
    /* even when the rest is a cycle, an out-of-range index is EINVAL */
    uint32_t off2[3] = {0, 1, 3}, deps2[3] = {1, 0, 2};
    ck_assert_int_eq(djs_dag_toposort(2, off2, deps2, order, &c), DJS_EINVAL);
    /* in range: fine */
    deps[0] = 1;
    deps[1] = 2;
    deps[2] = 2; /* self-loop */
    ck_assert_int_eq(djs_dag_toposort(3, off, deps, order, &c), DJS_ECYCLE);
    ck_assert_uint_eq(c, 2);
    off[3] = 2; /* node 2 has no deps now */
    ck_assert_int_eq(djs_dag_toposort(3, off, deps, order, &c), 0);
    ck_assert_uint_eq(order[0], 2);
    ck_assert_uint_eq(order[1], 1);
    ck_assert_uint_eq(order[2], 0);
}
END_TEST

/* Random DAGs: edges only from later to earlier positions of a random
 * permutation (multi-edges allowed). */
START_TEST(random_dags)
{
    uint64_t rs[2];
    djs_rand_seed(rs, 99);
    for (int round = 0; round < 300; round++) {
        uint32_t n = 1 + (uint32_t)(djs_rand_next(rs) % (round < 250 ? 60 : 5000));
        uint32_t *perm = malloc(n * sizeof(uint32_t));
        for (uint32_t i = 0; i < n; i++)
            perm[i] = i;
        for (uint32_t i = n - 1; i > 0; i--) {
            uint32_t j = (uint32_t)(djs_rand_next(rs) % (i + 1));
            uint32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        graph_t g;
        g_init(&g, n);
        uint32_t density = (uint32_t)(djs_rand_next(rs) % 5);
        for (uint32_t i = 1; i < n; i++) {
            uint32_t k = (uint32_t)(djs_rand_next(rs) % (density + 1));
            for (uint32_t e = 0; e < k; e++)
                g_dep(&g, perm[i], perm[djs_rand_next(rs) % i]);
        }
        g_build(&g);
        uint32_t *order = malloc(n * sizeof(uint32_t));
        memset(order, 0xff, n * sizeof(uint32_t));
        ck_assert_int_eq(sort(&g, order, NULL), 0);
        check_order(&g, order);
        free(order);
        free(perm);
        g_free(&g);
    }
}
END_TEST

/* Random graphs that may have cycles: the answer agrees with an
 * independent DFS, and on_cycle is on a cycle. */
START_TEST(random_graphs)
{
    uint64_t rs[2];
    djs_rand_seed(rs, 1234);
    int cyclic = 0, acyclic = 0;
    for (int round = 0; round < 2000; round++) {
        uint32_t n = 1 + (uint32_t)(djs_rand_next(rs) % 40);
        graph_t g;
        g_init(&g, n);
        uint32_t m = (uint32_t)(djs_rand_next(rs) % (n + n / 2 + 1));
        for (uint32_t e = 0; e < m; e++) {
            uint32_t a = (uint32_t)(djs_rand_next(rs) % n), b = (uint32_t)(djs_rand_next(rs) % n);
            /* mostly forward edges so that both outcomes are common */
            if (a < b && djs_rand_next(rs) % 8 != 0) {
                uint32_t t = a;
                a = b;
                b = t;
            }
            g_dep(&g, a, b);
        }
        g_build(&g);
        uint32_t order[40];
        uint32_t c = UINT32_MAX;
        int rc = sort(&g, order, &c);
        if (has_cycle(&g)) {
            ck_assert_int_eq(rc, DJS_ECYCLE);
            ck_assert_uint_lt(c, n);
            ck_assert_msg(on_a_cycle(&g, c), "round %d: node %u is not on a cycle", round, c);
            cyclic++;
        } else {
            ck_assert_int_eq(rc, 0);
            check_order(&g, order);
            acyclic++;
        }
        g_free(&g);
    }
    ck_assert_int_gt(cyclic, 300);
    ck_assert_int_gt(acyclic, 300);
}
END_TEST

static Suite *dag_suite(void)
{
    Suite *s = suite_create("dag");
    TCase *tc = tcase_create("toposort");
    tcase_add_test(tc, empty_graph);
    tcase_add_test(tc, single_node);
    tcase_add_test(tc, long_chain);
    tcase_add_test(tc, diamond);
    tcase_add_test(tc, wide_fan_out_fan_in);
    tcase_add_test(tc, self_loop);
    tcase_add_test(tc, two_cycle);
    tcase_add_test(tc, long_cycle);
    tcase_add_test(tc, cycle_behind_tail);
    tcase_add_test(tc, several_cycles);
    tcase_add_test(tc, out_of_range);
    tcase_add_test(tc, random_dags);
    tcase_add_test(tc, random_graphs);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(dag_suite)

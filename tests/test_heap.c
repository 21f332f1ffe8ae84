#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/heap.h"
#include "core/id.h"
#include "testutil.h"

/* ---- a brute-force model ------------------------------------------------------ */

typedef struct model {
    uint32_t nslots;
    uint8_t *in;   /* in[slot]: 1 if in the heap */
    uint64_t *key; /* key[slot] */
    uint32_t n;
} model_t;

static void model_init(model_t *m, uint32_t nslots)
{
    m->nslots = nslots;
    m->in = calloc(nslots, 1);
    m->key = calloc(nslots, sizeof(uint64_t));
    m->n = 0;
}

static void model_free(model_t *m)
{
    free(m->in);
    free(m->key);
}

/* The minimum by (key, slot); returns 0 when empty. */
static int model_min(const model_t *m, uint64_t *key, uint32_t *slot)
{
    int found = 0;
    for (uint32_t s = 0; s < m->nslots; s++) {
        if (!m->in[s])
            continue;
        if (!found || m->key[s] < *key || (m->key[s] == *key && s < *slot)) {
            *key = m->key[s];
            *slot = s;
            found = 1;
        }
    }
    return found;
}

/* A random slot of the model that is (want_in = 1) or is not in it. */
static uint32_t model_pick(const model_t *m, uint64_t rs[2], int want_in)
{
    uint32_t s = (uint32_t)(djs_rand_next(rs) % m->nslots);
    while (m->in[s] != want_in)
        s = (s + 1) % m->nslots;
    return s;
}

/* The heap property, the size, and the position array (both ways). */
static void check_heap(const djs_heap_t *h, const uint32_t *pos, uint32_t npos, const model_t *m)
{
    REQ_EQ(djs_heap_size(h), m->n);
    for (uint32_t i = 0; i < djs_heap_size(h); i++) {
        const djs_heap_ent_t *e = djs_heap_at(h, i);
        REQ(e->slot < m->nslots);
        REQ(m->in[e->slot]);
        REQ_EQ(e->key, m->key[e->slot]);
        REQ_EQ(pos[e->slot], i);
        if (i > 0) {
            const djs_heap_ent_t *p = djs_heap_at(h, (i - 1) / 2);
            REQ(p->key < e->key || (p->key == e->key && p->slot < e->slot));
        }
    }
    for (uint32_t s = 0; s < npos; s++)
        if (!m->in[s])
            REQ_EQ(pos[s], DJS_HEAP_NONE);
}

static void check_peek(const djs_heap_t *h, const model_t *m)
{
    uint64_t wk = 0, gk = 0;
    uint32_t ws = 0, gs = 0;
    if (model_min(m, &wk, &ws)) {
        REQ_EQ(djs_heap_peek(h, &gk, &gs), 0);
        REQ_EQ(gk, wk);
        REQ_EQ(gs, ws);
    } else {
        REQ_EQ(djs_heap_peek(h, &gk, &gs), DJS_ENOTFOUND);
    }
}

/* ---- tests -------------------------------------------------------------------------- */

START_TEST(empty_heap)
{
    uint32_t *pos = malloc(4 * sizeof(uint32_t));
    for (int i = 0; i < 4; i++)
        pos[i] = DJS_HEAP_NONE;
    djs_heap_t h;
    djs_heap_init(&h, &pos);
    uint64_t k = 77;
    uint32_t s = 88;
    ck_assert_uint_eq(djs_heap_size(&h), 0);
    ck_assert_int_eq(djs_heap_peek(&h, &k, &s), DJS_ENOTFOUND);
    ck_assert_uint_eq(k, 77);
    ck_assert_uint_eq(s, 88);
    ck_assert_int_eq(djs_heap_peek(&h, NULL, NULL), DJS_ENOTFOUND);

    djs_heap_push(&h, 5, 2);
    ck_assert_uint_eq(pos[2], 0);
    ck_assert_int_eq(djs_heap_peek(&h, NULL, NULL), 0);
    ck_assert_int_eq(djs_heap_peek(&h, &k, NULL), 0);
    ck_assert_uint_eq(k, 5);
    ck_assert_int_eq(djs_heap_peek(&h, NULL, &s), 0);
    ck_assert_uint_eq(s, 2);
    djs_heap_remove(&h, 2);
    ck_assert_uint_eq(pos[2], DJS_HEAP_NONE);
    ck_assert_uint_eq(djs_heap_size(&h), 0);
    ck_assert_int_eq(djs_heap_peek(&h, &k, &s), DJS_ENOTFOUND);
    djs_heap_dispose(&h);
    djs_heap_dispose(&h); /* twice is harmless */
    free(pos);
}
END_TEST

START_TEST(ties_by_slot)
{
    enum { N = 100 };
    uint32_t pos[N];
    uint32_t *pp = pos;
    for (int i = 0; i < N; i++)
        pos[i] = DJS_HEAP_NONE;
    djs_heap_t h;
    djs_heap_init(&h, &pp);
    /* all equal keys, pushed in a scrambled order */
    for (uint32_t i = 0; i < N; i++)
        djs_heap_push(&h, 42, (i * 37) % N);
    for (uint32_t want = 0; want < N; want++) {
        uint64_t k;
        uint32_t s;
        ck_assert_int_eq(djs_heap_peek(&h, &k, &s), 0);
        ck_assert_uint_eq(k, 42);
        ck_assert_uint_eq(s, want);
        djs_heap_remove(&h, s);
    }
    /* a smaller key beats a smaller slot */
    djs_heap_push(&h, 10, 0);
    djs_heap_push(&h, 9, 99);
    djs_heap_push(&h, 9, 50);
    uint32_t s;
    ck_assert_int_eq(djs_heap_peek(&h, NULL, &s), 0);
    ck_assert_uint_eq(s, 50);
    djs_heap_update(&h, 50, 11);
    ck_assert_int_eq(djs_heap_peek(&h, NULL, &s), 0);
    ck_assert_uint_eq(s, 99);
    djs_heap_update(&h, 99, 10); /* ties with slot 0, which wins */
    ck_assert_int_eq(djs_heap_peek(&h, NULL, &s), 0);
    ck_assert_uint_eq(s, 0);
    djs_heap_dispose(&h);
}
END_TEST

START_TEST(heapsort_matches_sort)
{
    enum { N = 5000 };
    uint32_t *pos = malloc(N * sizeof(uint32_t));
    uint64_t *keys = malloc(N * sizeof(uint64_t));
    uint64_t rs[2];
    djs_rand_seed(rs, 5);
    for (uint32_t i = 0; i < N; i++) {
        pos[i] = DJS_HEAP_NONE;
        keys[i] = djs_rand_next(rs) % 300;
    }
    djs_heap_t h;
    djs_heap_init(&h, &pos);
    for (uint32_t i = 0; i < N; i++)
        djs_heap_push(&h, keys[i], i);
    uint64_t pk = 0;
    uint32_t ps = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint64_t k;
        uint32_t s;
        ck_assert_int_eq(djs_heap_peek(&h, &k, &s), 0);
        ck_assert_uint_eq(k, keys[s]);
        if (i > 0)
            ck_assert(k > pk || (k == pk && s > ps));
        pk = k;
        ps = s;
        djs_heap_remove(&h, s);
        ck_assert_uint_eq(pos[s], DJS_HEAP_NONE);
    }
    ck_assert_uint_eq(djs_heap_size(&h), 0);
    djs_heap_dispose(&h);
    free(pos);
    free(keys);
}
END_TEST

/* 100k random operations against the model. Keys come from a small range,
 * so ties are everywhere; the position array starts small and is grown by
 * realloc (moving it) as slots come into use, as the header allows. */
START_TEST(random_ops_vs_model)
{
    enum { NSLOTS = 600, OPS = 100000 };
    uint64_t rs[2];
    djs_rand_seed(rs, 20240601);
    model_t m;
    model_init(&m, NSLOTS);
    uint32_t cap = 8;
    uint32_t *pos = malloc(cap * sizeof(uint32_t));
    for (uint32_t i = 0; i < cap; i++)
        pos[i] = DJS_HEAP_NONE;
    djs_heap_t h;
    djs_heap_init(&h, &pos);
    uint32_t used_slots = 1; /* slots 0 .. used_slots-1 may be pushed */
    int pushes = 0, removes = 0, updates = 0, pops = 0;
    for (int op = 0; op < OPS; op++) {
        /* occasionally widen the slot range; grow pos to cover it */
        if (used_slots < NSLOTS && djs_rand_next(rs) % 50 == 0) {
            used_slots++;
            if (used_slots > cap) {
                uint32_t ncap = cap * 2 > NSLOTS ? NSLOTS : cap * 2;
                pos = realloc(pos, ncap * sizeof(uint32_t));
                for (uint32_t i = cap; i < ncap; i++)
                    pos[i] = DJS_HEAP_NONE;
                cap = ncap;
            }
        }
        /* bias towards a half-full slot range */
        int r = (int)(djs_rand_next(rs) % 100);
        uint32_t target = used_slots / 2 + 1;
        if (m.n == 0 || (m.n < used_slots && (m.n < target ? r < 60 : r < 30))) {
            uint32_t s = (uint32_t)(djs_rand_next(rs) % used_slots);
            while (m.in[s])
                s = (s + 1) % used_slots;
            uint64_t k = djs_rand_next(rs) % 40;
            djs_heap_push(&h, k, s);
            m.in[s] = 1;
            m.key[s] = k;
            m.n++;
            REQ_EQ(djs_heap_at(&h, pos[s])->slot, s);
            pushes++;
        } else if (r < 60) {
            uint32_t s = model_pick(&m, rs, 1);
            djs_heap_remove(&h, s);
            m.in[s] = 0;
            m.n--;
            REQ_EQ(pos[s], DJS_HEAP_NONE);
            removes++;
        } else if (r < 75) {
            /* pop the minimum */
            uint64_t k;
            uint32_t s;
            REQ_EQ(djs_heap_peek(&h, &k, &s), 0);
            djs_heap_remove(&h, s);
            m.in[s] = 0;
            m.n--;
            REQ_EQ(pos[s], DJS_HEAP_NONE);
            pops++;
        } else {
            uint32_t s = model_pick(&m, rs, 1);
            uint64_t k;
            int how = (int)(djs_rand_next(rs) % 4);
            if (how == 0)
                k = m.key[s]; /* same key */
            else if (how == 1 && m.key[s] > 0)
                k = m.key[s] - 1 - djs_rand_next(rs) % m.key[s]; /* decrease */
            else
                k = djs_rand_next(rs) % 40;
            djs_heap_update(&h, s, k);
            m.key[s] = k;
            REQ_EQ(djs_heap_at(&h, pos[s])->slot, s);
            REQ_EQ(djs_heap_at(&h, pos[s])->key, k);
            updates++;
        }
        check_peek(&h, &m);
        if (op % 97 == 0)
            check_heap(&h, pos, cap, &m);
    }
    check_heap(&h, pos, cap, &m);
    ck_assert_int_gt(pushes, 10000);
    ck_assert_int_gt(removes, 5000);
    ck_assert_int_gt(updates, 5000);
    ck_assert_int_gt(pops, 5000);
    REQ_EQ(used_slots, NSLOTS);
    /* drain in (key, slot) order */
    while (m.n > 0) {
        check_peek(&h, &m);
        uint64_t k;
        uint32_t s;
        REQ_EQ(djs_heap_peek(&h, &k, &s), 0);
        djs_heap_remove(&h, s);
        m.in[s] = 0;
        m.n--;
    }
    check_heap(&h, pos, cap, &m);
    djs_heap_dispose(&h);
    free(pos);
    model_free(&m);
}
END_TEST

/* Large keys (full 64-bit range, including the extremes). */
START_TEST(extreme_keys)
{
    enum { N = 64 };
    uint32_t pos[N];
    uint32_t *pp = pos;
    for (int i = 0; i < N; i++)
        pos[i] = DJS_HEAP_NONE;
    djs_heap_t h;
    djs_heap_init(&h, &pp);
    djs_heap_push(&h, UINT64_MAX, 1);
    djs_heap_push(&h, 0, 2);
    djs_heap_push(&h, UINT64_MAX - 1, 3);
    djs_heap_push(&h, 1ULL << 63, 4);
    uint64_t k;
    uint32_t s;
    ck_assert_int_eq(djs_heap_peek(&h, &k, &s), 0);
    ck_assert_uint_eq(k, 0);
    ck_assert_uint_eq(s, 2);
    djs_heap_update(&h, 2, UINT64_MAX); /* ties with slot 1: slot 1 first */
    const uint64_t wk[] = {1ULL << 63, UINT64_MAX - 1, UINT64_MAX, UINT64_MAX};
    const uint32_t ws[] = {4, 3, 1, 2};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(djs_heap_peek(&h, &k, &s), 0);
        ck_assert_uint_eq(k, wk[i]);
        ck_assert_uint_eq(s, ws[i]);
        djs_heap_remove(&h, s);
    }
    ck_assert_int_eq(djs_heap_peek(&h, &k, &s), DJS_ENOTFOUND);
    djs_heap_dispose(&h);
}
END_TEST

/* Two heaps over one position array: even slots in A, odd slots in B; a
 * slot also moves between the heaps (removed from one, pushed to the other). */
START_TEST(two_heaps_share_pos)
{
    enum { NSLOTS = 400, OPS = 60000 };
    uint64_t rs[2];
    djs_rand_seed(rs, 77);
    uint32_t *pos = malloc(NSLOTS * sizeof(uint32_t));
    for (uint32_t i = 0; i < NSLOTS; i++)
        pos[i] = DJS_HEAP_NONE;
    djs_heap_t h[2];
    model_t m[2];
    djs_heap_init(&h[0], &pos);
    djs_heap_init(&h[1], &pos);
    model_init(&m[0], NSLOTS);
    model_init(&m[1], NSLOTS);
    uint8_t *where = malloc(NSLOTS); /* 0, 1 = that heap, 2 = none */
    memset(where, 2, NSLOTS);
    int moves = 0;
    for (int op = 0; op < OPS; op++) {
        uint32_t s = (uint32_t)(djs_rand_next(rs) % NSLOTS);
        int r = (int)(djs_rand_next(rs) % 10);
        uint64_t k = djs_rand_next(rs) % 25;
        if (where[s] == 2) {
            /* mostly by parity; sometimes the other heap */
            int which = r < 8 ? (int)(s & 1) : (int)!(s & 1);
            djs_heap_push(&h[which], k, s);
            m[which].in[s] = 1;
            m[which].key[s] = k;
            m[which].n++;
            where[s] = (uint8_t)which;
        } else {
            int which = where[s];
            if (r < 4) {
                djs_heap_update(&h[which], s, k);
                m[which].key[s] = k;
            } else if (r < 6) {
                /* move to the other heap */
                djs_heap_remove(&h[which], s);
                REQ_EQ(pos[s], DJS_HEAP_NONE);
                m[which].in[s] = 0;
                m[which].n--;
                djs_heap_push(&h[!which], k, s);
                m[!which].in[s] = 1;
                m[!which].key[s] = k;
                m[!which].n++;
                where[s] = (uint8_t)!which;
                moves++;
            } else {
                djs_heap_remove(&h[which], s);
                m[which].in[s] = 0;
                m[which].n--;
                where[s] = 2;
            }
        }
        check_peek(&h[0], &m[0]);
        check_peek(&h[1], &m[1]);
        if (op % 101 == 0) {
            for (int w = 0; w < 2; w++) {
                REQ_EQ(djs_heap_size(&h[w]), m[w].n);
                for (uint32_t i = 0; i < djs_heap_size(&h[w]); i++) {
                    const djs_heap_ent_t *e = djs_heap_at(&h[w], i);
                    REQ_EQ(where[e->slot], w);
                    REQ_EQ(pos[e->slot], i);
                }
            }
            for (uint32_t i = 0; i < NSLOTS; i++)
                if (where[i] == 2)
                    REQ_EQ(pos[i], DJS_HEAP_NONE);
                else
                    REQ_EQ(djs_heap_at(&h[where[i]], pos[i])->slot, i);
        }
    }
    ck_assert_int_gt(moves, 1000);
    ck_assert_uint_gt(m[0].n, 10);
    ck_assert_uint_gt(m[1].n, 10);
    djs_heap_dispose(&h[0]);
    djs_heap_dispose(&h[1]);
    model_free(&m[0]);
    model_free(&m[1]);
    free(where);
    free(pos);
}
END_TEST

/* Disjoint slot sets with the parity rule only, then drained one by one:
 * each heap gives back exactly its own slots in order. */
START_TEST(two_heaps_disjoint_drain)
{
    enum { N = 1000 };
    uint32_t *pos = malloc(N * sizeof(uint32_t));
    for (uint32_t i = 0; i < N; i++)
        pos[i] = DJS_HEAP_NONE;
    djs_heap_t a, b;
    djs_heap_init(&a, &pos);
    djs_heap_init(&b, &pos);
    for (uint32_t i = 0; i < N; i++) {
        uint64_t k = (i * 7919u) % 101;
        if (i % 2 == 0)
            djs_heap_push(&a, k, i);
        else
            djs_heap_push(&b, k, i);
    }
    ck_assert_uint_eq(djs_heap_size(&a), N / 2);
    ck_assert_uint_eq(djs_heap_size(&b), N / 2);
    /* interleave drains */
    uint64_t last[2] = {0, 0};
    uint32_t lasts[2] = {0, 0};
    int first[2] = {1, 1};
    for (uint32_t i = 0; i < N; i++) {
        int w = (int)(i % 2);
        djs_heap_t *h = w ? &b : &a;
        uint64_t k;
        uint32_t s;
        ck_assert_int_eq(djs_heap_peek(h, &k, &s), 0);
        ck_assert_uint_eq(s % 2, (uint32_t)w);
        ck_assert_uint_eq(k, (s * 7919u) % 101);
        if (!first[w])
            ck_assert(k > last[w] || (k == last[w] && s > lasts[w]));
        first[w] = 0;
        last[w] = k;
        lasts[w] = s;
        djs_heap_remove(h, s);
        ck_assert_uint_eq(pos[s], DJS_HEAP_NONE);
    }
    ck_assert_uint_eq(djs_heap_size(&a), 0);
    ck_assert_uint_eq(djs_heap_size(&b), 0);
    for (uint32_t i = 0; i < N; i++)
        ck_assert_uint_eq(pos[i], DJS_HEAP_NONE);
    djs_heap_dispose(&a);
    djs_heap_dispose(&b);
    free(pos);
}
END_TEST

static Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");
    TCase *tc = tcase_create("heap");
    tcase_add_test(tc, empty_heap);
    tcase_add_test(tc, ties_by_slot);
    tcase_add_test(tc, heapsort_matches_sort);
    tcase_add_test(tc, random_ops_vs_model);
    tcase_add_test(tc, extreme_keys);
    tcase_add_test(tc, two_heaps_share_pos);
    tcase_add_test(tc, two_heaps_disjoint_drain);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(heap_suite)

#include <stdlib.h>
#include <string.h>

#include "core/id.h"
#include "core/idx.h"
#include "testutil.h"

/* ---- the caller's table ------------------------------------------------------------ */

/* Items live in slots; each has a 64-bit key. The hash is chosen per test. */
typedef uint64_t (*keyhash_fn)(uint64_t key);

typedef struct table {
    uint64_t *key; /* key[slot] */
    uint32_t nslots;
    keyhash_fn kh;
    uint64_t eq_calls;
} table_t;

static uint64_t cb_hash(void *ctx, uint32_t slot)
{
    table_t *t = ctx;
    REQ(slot < t->nslots);
    return t->kh(t->key[slot]);
}

static int cb_eq(void *ctx, uint32_t slot, const void *key)
{
    table_t *t = ctx;
    REQ(slot < t->nslots);
    t->eq_calls++;
    return t->key[slot] == *(const uint64_t *)key;
}

/* Bad hashes: a handful of home buckets, so clusters are long. */
static uint64_t kh_mod7(uint64_t k)
{
    return k % 7;
}
/* Homes at the very end of the table (and bucket 0), whatever its size:
 * -1, -2, ... -12 and 0, so clusters wrap around. */
static uint64_t kh_wrap(uint64_t k)
{
    return 0 - (k % 13);
}
/* A constant: one cluster holding everything. */
static uint64_t kh_const(uint64_t k)
{
    (void)k;
    return 0xfffffff5u; /* low bits: near the end of any table */
}
static uint64_t kh_good(uint64_t k)
{
    return djs_hash_bytes(&k, sizeof(k));
}

static uint32_t find(const djs_idx_t *x, const table_t *t, uint64_t k)
{
    return djs_idx_find(x, t->kh(k), &k);
}

/* Structural invariants: the table size is a power of two, at most half
 * full, holds exactly the expected slots once each, and every item is
 * reachable: no empty bucket between its home and where it sits. */
static void check_table(djs_idx_t *x, const table_t *t, const uint8_t *present)
{
    djs_idx_settle(x); /* a growth in progress keeps items in the old table */
    REQ(x->old == NULL);
    uint32_t nb = x->mask + 1;
    REQ((nb & x->mask) == 0);
    REQ(nb >= 16);
    REQ(x->n * 2 <= nb);
    uint8_t *seen = calloc(t->nslots, 1);
    uint32_t count = 0;
    for (uint32_t i = 0; i < nb; i++) {
        if (x->t[i].slot == 0) /* empty */
            continue;
        uint32_t s = x->t[i].slot - 1;
        REQ(s < t->nslots);
        REQ(present[s]);
        REQ(!seen[s]);
        seen[s] = 1;
        count++;
        uint32_t home = (uint32_t)t->kh(t->key[s]) & x->mask;
        for (uint32_t j = home; j != i; j = (j + 1) & x->mask)
            REQ(x->t[j].slot != 0);
        REQ_EQ(x->t[i].tag, (uint32_t)t->kh(t->key[s]));
    }
    REQ_EQ(count, x->n);
    for (uint32_t s = 0; s < t->nslots; s++)
        REQ(seen[s] == present[s]);
    free(seen);
}

/* 200k random operations against a model (key -> slot), with a given hash.
 * Keys come from a small universe so removals, re-inserts and misses are
 * frequent; the table grows and then lives at a stable size. */
static void random_ops(keyhash_fn kh, uint32_t universe, uint64_t seed, int ops)
{
    uint64_t rs[2];
    djs_rand_seed(rs, seed);
    table_t t = {.nslots = universe, .kh = kh};
    t.key = malloc(universe * sizeof(uint64_t));
    /* slot s holds key keys_of[s]; keys are scattered 64-bit values whose
     * bad hash still collides */
    for (uint32_t s = 0; s < universe; s++)
        t.key[s] = (uint64_t)s * 0x9e3779b97f4a7c15ULL;
    uint8_t *present = calloc(universe, 1);
    uint32_t n = 0, maxn = 0;
    djs_idx_t x;
    djs_idx_init(&x, cb_hash, cb_eq, &t);
    int inserts = 0, removes = 0, hits = 0, misses = 0, noop_removes = 0;
    for (int op = 0; op < ops; op++) {
        uint32_t s = (uint32_t)(djs_rand_next(rs) % universe);
        uint64_t k = t.key[s];
        int r = (int)(djs_rand_next(rs) % 100);
        /* drift the fill level up and down between 0 and the universe */
        int phase = (op / 20000) % 2;
        int want_insert = phase == 0 ? r < 65 : r < 35;
        if (!present[s] && want_insert) {
            djs_idx_insert(&x, kh(k), s);
            present[s] = 1;
            n++;
            inserts++;
        } else if (present[s] && !want_insert) {
            djs_idx_remove(&x, kh(k), s);
            present[s] = 0;
            n--;
            removes++;
        } else if (!present[s]) {
            /* removing an absent slot changes nothing */
            djs_idx_remove(&x, kh(k), s);
            noop_removes++;
        }
        maxn = n > maxn ? n : maxn;
        REQ_EQ(x.n, n);
        /* a hit and a probable miss each step */
        REQ_EQ(find(&x, &t, k), present[s] ? s : DJS_IDX_NONE);
        uint32_t s2 = (uint32_t)(djs_rand_next(rs) % universe);
        REQ_EQ(find(&x, &t, t.key[s2]), present[s2] ? s2 : DJS_IDX_NONE);
        hits += present[s2];
        misses += !present[s2];
        uint64_t absent = t.key[s2] + 1; /* never a stored key */
        REQ_EQ(find(&x, &t, absent), DJS_IDX_NONE);
        if (op % 5000 == 0) {
            check_table(&x, &t, present);
            for (uint32_t q = 0; q < universe; q++)
                REQ_EQ(find(&x, &t, t.key[q]), present[q] ? q : DJS_IDX_NONE);
        }
    }
    check_table(&x, &t, present);
    ck_assert_int_gt(inserts, ops / 10);
    ck_assert_int_gt(removes, ops / 10);
    ck_assert_int_gt(noop_removes, 100);
    ck_assert_int_gt(hits, 100);
    ck_assert_int_gt(misses, 100);
    ck_assert_uint_gt(maxn, universe / 2);
    /* remove everything */
    for (uint32_t s = 0; s < universe; s++)
        if (present[s]) {
            djs_idx_remove(&x, kh(t.key[s]), s);
            present[s] = 0;
        }
    ck_assert_uint_eq(x.n, 0);
    for (uint32_t i = 0; i <= x.mask; i++)
        REQ_EQ(x.t[i].slot, 0);
    djs_idx_dispose(&x);
    ck_assert_ptr_null(x.t);
    free(t.key);
    free(present);
}

/* ---- tests ------------------------------------------------------------------------- */

/* While a growth moves buckets a few at a time, items sit in either table:
 * finds, removes (tombstones in the old one) and inserts all stay right,
 * with a hash that makes long clusters (kh_mod7) and with a good one. */
static void growth_steps(keyhash_fn kh)
{
    enum { N = 20000 };
    table_t t = {.nslots = N, .kh = kh};
    t.key = malloc(N * sizeof(uint64_t));
    uint8_t *present = calloc(N, 1);
    for (uint32_t s = 0; s < N; s++)
        t.key[s] = 7919ULL * s + 3;
    djs_idx_t x;
    djs_idx_init(&x, cb_hash, cb_eq, &t);
    uint32_t s = 0, growths = 0, checked = 0;
    while (s < N) {
        djs_idx_insert(&x, kh(t.key[s]), s);
        present[s++] = 1;
        if (x.old == NULL)
            continue;
        growths += x.moved <= DJS_IDX_STEP; /* the first call of this growth */
        /* mid-growth: remove a few items moved and not moved yet, look
         * everything up, and insert on */
        for (uint32_t q = s - 1; q > 0 && x.old != NULL && q + 40 > s; q -= 7)
            if (present[q]) {
                djs_idx_remove(&x, kh(t.key[q]), q);
                present[q] = 0;
            }
        djs_idx_remove(&x, kh(t.key[N - 1]), N - 1); /* absent: changes nothing */
        for (uint32_t q = 0; q < s; q += 1 + s / 256)
            REQ_EQ(find(&x, &t, t.key[q]), present[q] ? q : DJS_IDX_NONE);
        REQ_EQ(find(&x, &t, t.key[N - 1]), DJS_IDX_NONE);
        checked++;
    }
    uint32_t n = 0;
    for (uint32_t q = 0; q < N; q++) {
        n += present[q];
        REQ_EQ(find(&x, &t, t.key[q]), present[q] ? q : DJS_IDX_NONE);
    }
    REQ_EQ(x.n, n);
    ck_assert_uint_ge(growths, 8);
    ck_assert_uint_gt(checked, 100);
    check_table(&x, &t, present);
    djs_idx_dispose(&x);
    free(t.key);
    free(present);
}

START_TEST(growth_in_steps)
{
    growth_steps(kh_good);
    growth_steps(kh_mod7);
}
END_TEST

START_TEST(random_mod7)
{
    random_ops(kh_mod7, 300, 1, 200000);
}
END_TEST

START_TEST(random_wrap)
{
    random_ops(kh_wrap, 300, 2, 200000);
}
END_TEST

START_TEST(random_one_cluster)
{
    random_ops(kh_const, 120, 3, 200000);
}
END_TEST

START_TEST(random_good_hash)
{
    random_ops(kh_good, 20000, 4, 200000);
}
END_TEST

/* Exact layouts after backward-shift deletion across the end of the table
 * (16 buckets, homes chosen directly). */
static uint64_t kh_identity(uint64_t k)
{
    return k >> 8; /* home in the high byte, identity in the low one */
}

START_TEST(backward_shift_across_wrap)
{
    table_t t = {.nslots = 8, .kh = kh_identity};
    uint64_t keys[8] = {
        15u << 8 | 0, /* slot 0: home 15 -> bucket 15 */
        15u << 8 | 1, /* slot 1: home 15 -> bucket 0 */
        15u << 8 | 2, /* slot 2: home 15 -> bucket 1 */
        0u << 8 | 3,  /* slot 3: home 0  -> bucket 2 */
        14u << 8 | 4, /* slot 4: home 14 -> bucket 14 */
        2u << 8 | 5,  /* slot 5: home 2  -> bucket 3 */
        3u << 8 | 6,  /* slot 6: home 3  -> bucket 4 */
        1u << 8 | 7,  /* slot 7: home 1 -> bucket 5 */
    };
    t.key = keys;
    djs_idx_t x;
    djs_idx_init(&x, cb_hash, cb_eq, &t);
    for (uint32_t s = 0; s < 8; s++)
        djs_idx_insert(&x, keys[s] >> 8, s);
    ck_assert_uint_eq(x.mask, 15); /* 8 items in 16 buckets: no growth */
    const uint32_t N = DJS_IDX_NONE;
    const uint32_t l0[16] = {1, 2, 3, 5, 6, 7, N, N, N, N, N, N, N, N, 4, 0};
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(x.t[i].slot - 1u, l0[i]); /* stored as slot + 1: empty (0) reads as N */

    /* remove slot 0 (bucket 15): 1 and 2 (home 15) shift back across the
     * end, 3 (home 0) to bucket 1, 5 (home 2) to bucket 2, 6 (home 3) to
     * bucket 3, 7 (home 1) to bucket 4 */
    djs_idx_remove(&x, keys[0] >> 8, 0);
    const uint32_t l1[16] = {2, 3, 5, 6, 7, N, N, N, N, N, N, N, N, N, 4, 1};
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(x.t[i].slot - 1u, l1[i]); /* stored as slot + 1: empty (0) reads as N */
    for (uint32_t s = 1; s < 8; s++)
        ck_assert_uint_eq(djs_idx_find(&x, keys[s] >> 8, &keys[s]), s);
    ck_assert_uint_eq(djs_idx_find(&x, keys[0] >> 8, &keys[0]), DJS_IDX_NONE);

    /* remove slot 4 (bucket 14, home 14): 1 (home 15, bucket 15) must stay;
     * so must everything after it */
    djs_idx_remove(&x, keys[4] >> 8, 4);
    const uint32_t l2[16] = {2, 3, 5, 6, 7, N, N, N, N, N, N, N, N, N, N, 1};
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(x.t[i].slot - 1u, l2[i]); /* stored as slot + 1: empty (0) reads as N */

    /* remove slot 3 (bucket 1, home 0): 5 and 6 sit at their homes and
     * stay; 7 (home 1, at bucket 4) moves back into the hole at 1 */
    djs_idx_remove(&x, keys[3] >> 8, 3);
    const uint32_t l3[16] = {2, 7, 5, 6, N, N, N, N, N, N, N, N, N, N, N, 1};
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(x.t[i].slot - 1u, l3[i]); /* stored as slot + 1: empty (0) reads as N */
    for (uint32_t s = 0; s < 8; s++) {
        int gone = s == 0 || s == 3 || s == 4;
        ck_assert_uint_eq(djs_idx_find(&x, keys[s] >> 8, &keys[s]), gone ? DJS_IDX_NONE : s);
    }
    ck_assert_uint_eq(x.n, 5);

    /* removing an absent slot whose home cluster is full changes nothing */
    djs_idx_remove(&x, 15, 4);
    djs_idx_remove(&x, 0, 3);
    ck_assert_uint_eq(x.n, 5);
    for (int i = 0; i < 16; i++)
        ck_assert_uint_eq(x.t[i].slot - 1u, l3[i]); /* stored as slot + 1: empty (0) reads as N */
    djs_idx_dispose(&x);
}
END_TEST

/* Growth keeps the table at most half full and every item findable, across
 * many doublings; the table is rehashed with the caller's hash. */
START_TEST(growth)
{
    enum { N = 100000 };
    table_t t = {.nslots = N, .kh = kh_good};
    t.key = malloc(N * sizeof(uint64_t));
    for (uint32_t s = 0; s < N; s++)
        t.key[s] = 1000003ULL * s + 17;
    djs_idx_t x;
    djs_idx_init(&x, cb_hash, cb_eq, &t);
    ck_assert_uint_eq(x.mask, 15);
    uint32_t grew = 0, last_mask = x.mask;
    for (uint32_t s = 0; s < N; s++) {
        djs_idx_insert(&x, kh_good(t.key[s]), s);
        if (x.mask != last_mask) {
            REQ_EQ(x.mask, last_mask * 2 + 1); /* doubles */
            last_mask = x.mask;
            grew++;
            /* everything inserted so far survives the rehash */
            for (uint32_t q = 0; q <= s; q += 1 + s / 64)
                REQ_EQ(find(&x, &t, t.key[q]), q);
        }
        REQ((x.n) * 2 <= x.mask + 1);
    }
    ck_assert_uint_eq(x.n, N);
    ck_assert_uint_eq(x.mask + 1, 262144); /* smallest power of two >= 2N */
    ck_assert_uint_eq(grew, 14);           /* 16 -> 262144 */
    for (uint32_t s = 0; s < N; s++)
        REQ_EQ(find(&x, &t, t.key[s]), s);
    /* a modest probe length on average with a good hash */
    t.eq_calls = 0;
    for (uint32_t s = 0; s < N; s++)
        find(&x, &t, t.key[s]);
    ck_assert_uint_lt(t.eq_calls, 2 * (uint64_t)N);
    djs_idx_dispose(&x);
    free(t.key);
}
END_TEST

/* Items with the same hash but different keys: find compares keys. */
START_TEST(equal_hashes_distinct_keys)
{
    table_t t = {.nslots = 100, .kh = kh_const};
    t.key = malloc(100 * sizeof(uint64_t));
    for (uint32_t s = 0; s < 100; s++)
        t.key[s] = 5000 + s;
    djs_idx_t x;
    djs_idx_init(&x, cb_hash, cb_eq, &t);
    for (uint32_t s = 0; s < 100; s++)
        djs_idx_insert(&x, kh_const(0), s);
    for (uint32_t s = 0; s < 100; s++)
        ck_assert_uint_eq(find(&x, &t, t.key[s]), s);
    uint64_t k = 4999;
    ck_assert_uint_eq(find(&x, &t, k), DJS_IDX_NONE);
    /* remove from the middle of the one cluster, then from its head */
    djs_idx_remove(&x, kh_const(0), 50);
    djs_idx_remove(&x, kh_const(0), 0);
    for (uint32_t s = 0; s < 100; s++)
        ck_assert_uint_eq(find(&x, &t, t.key[s]), (s == 50 || s == 0) ? DJS_IDX_NONE : s);
    djs_idx_dispose(&x);
    free(t.key);
}
END_TEST

START_TEST(hash_bytes)
{
    /* deterministic, length-sensitive, and spreads small changes */
    const char a[] = "capability:gpu";
    ck_assert_uint_eq(djs_hash_bytes(a, sizeof(a) - 1), djs_hash_bytes("capability:gpu", 14));
    ck_assert_uint_ne(djs_hash_bytes(a, 14), djs_hash_bytes(a, 13));
    ck_assert_uint_ne(djs_hash_bytes("", 0), djs_hash_bytes("\0", 1));
    ck_assert_uint_ne(djs_hash_bytes("ab", 2), djs_hash_bytes("ba", 2));
    /* low bits (the ones used for buckets) differ for sequential keys */
    uint8_t hit[1024] = {0};
    int distinct = 0;
    for (uint32_t i = 0; i < 1024; i++) {
        uint64_t h = djs_hash_bytes(&i, sizeof(i));
        distinct += !hit[h & 1023];
        hit[h & 1023] = 1;
    }
    ck_assert_int_gt(distinct, 550); /* ~647 expected for random */
}
END_TEST

static Suite *idx_suite(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_mod7);
    tcase_add_test(tc, random_wrap);
    tcase_add_test(tc, random_one_cluster);
    tcase_add_test(tc, random_good_hash);
    tcase_add_test(tc, backward_shift_across_wrap);
    tcase_add_test(tc, growth);
    tcase_add_test(tc, growth_in_steps);
    tcase_add_test(tc, equal_hashes_distinct_keys);
    tcase_add_test(tc, hash_bytes);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(idx_suite)

#include <math.h>

#include "core/balancer.h"
#include "core/error.h"
#include "core/id.h"
#include "testutil.h"

static djs_weights_t W(double cpu, double mem, double slots, double resp)
{
    djs_weights_t w = {cpu, mem, slots, resp};
    return w;
}

START_TEST(default_weights)
{
    djs_weights_t w = W(-1, -1, -1, -1);
    djs_weights_default(&w);
    ck_assert_double_eq_tol(w.cpu, 0.30, 1e-12);
    ck_assert_double_eq_tol(w.mem, 0.25, 1e-12);
    ck_assert_double_eq_tol(w.slots, 0.25, 1e-12);
    ck_assert_double_eq_tol(w.resp, 0.20, 1e-12);
    ck_assert_double_eq_tol(w.cpu + w.mem + w.slots + w.resp, 1.0, 1e-9);
    ck_assert_int_eq(djs_weights_check(&w), 0);
}
END_TEST

START_TEST(weights_accepted)
{
    djs_weights_t ok[] = {
        W(1, 0, 0, 0),
        W(0, 1, 0, 0),
        W(0, 0, 1, 0),
        W(0, 0, 0, 1),
        W(0.25, 0.25, 0.25, 0.25),
        W(0.1, 0.2, 0.3, 0.4),
        W(0.5, 0.5, 0, 0),
        W(0.3, 0.25, 0.25, 0.2 + 5e-7),
        W(0.3, 0.25, 0.25, 0.2 - 5e-7),
        W(1.0 / 3, 1.0 / 3, 1.0 / 3, 0),
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(djs_weights_check(&ok[i]) == 0, "weights #%zu refused", i);
}
END_TEST

START_TEST(weights_rejected)
{
    djs_weights_t bad[] = {
        /* negative (the sum still 1) */
        W(-0.1, 0.35, 0.55, 0.2),
        W(0.3, 0.25, 0.5, -0.05),
        W(-0.0001, 0.3, 0.25, 0.4501),
        /* above 1 (with a negative to keep the sum at 1, and alone) */
        W(1.5, -0.5, 0, 0),
        W(0, 0, 1.0001, 0),
        W(2, 0, 0, 0),
        /* sum != 1 */
        W(0.3, 0.25, 0.25, 0.1),
        W(0.3, 0.25, 0.25, 0.3),
        W(0, 0, 0, 0),
        W(1, 1, 1, 1),
        W(0.3, 0.25, 0.25, 0.2 + 2e-6),
        W(0.3, 0.25, 0.25, 0.2 - 2e-6),
        /* NaN and infinities, in each position */
        W(NAN, 0.25, 0.25, 0.5),
        W(0.3, NAN, 0.25, 0.45),
        W(0.3, 0.25, NAN, 0.45),
        W(0.3, 0.25, 0.45, NAN),
        W(INFINITY, 0, 0, 0),
        W(0.5, 0.5, -INFINITY, 0),
        W(NAN, NAN, NAN, NAN),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(djs_weights_check(&bad[i]) == DJS_EINVAL, "weights #%zu accepted", i);
}
END_TEST

static uint32_t dflt(uint32_t cpu, uint32_t mem, uint32_t running, uint32_t slots, uint32_t resp)
{
    djs_weights_t w;
    djs_weights_default(&w);
    return djs_worker_score(&w, cpu, mem, running, slots, resp);
}

START_TEST(score_hand_computed)
{
    /* 0.30*0.5 + 0.25*0.75 + 0.25*0.5 + 0.20*0.5 = 0.5625 */
    ck_assert_uint_eq(dflt(500, 250, 2, 4, 1000), 562500);
    /* 0.30*0.8 + 0.25*0.4 + 0.25*7/8 + 0.20*(1/1.25) = 0.71875 */
    ck_assert_uint_eq(dflt(200, 600, 1, 8, 250), 718750);
    /* idle and instant: everything free */
    ck_assert_uint_eq(dflt(0, 0, 0, 4, 0), 1000000);
    /* full load, no free slot, response 3 s: 0.20 * 1/4 */
    ck_assert_uint_eq(dflt(1000, 1000, 4, 4, 3000), 50000);
    /* 0.30*0.9 + 0.25*0.1 + 0.25*(1/3) + 0.20*(1/1.1) = 0.27 + 0.025 + 0.083333 + 0.181818 = 0.560152 */
    ck_assert_uint_eq(dflt(100, 900, 2, 3, 100), 560152);
    /* custom weights */
    djs_weights_t w = W(1, 0, 0, 0);
    ck_assert_uint_eq(djs_worker_score(&w, 123, 999, 7, 8, 5000), 877000);
    w = W(0, 1, 0, 0);
    ck_assert_uint_eq(djs_worker_score(&w, 123, 999, 7, 8, 5000), 1000);
    w = W(0, 0, 1, 0);
    ck_assert_uint_eq(djs_worker_score(&w, 123, 999, 7, 8, 5000), 125000);
    w = W(0, 0, 0, 1);
    ck_assert_uint_eq(djs_worker_score(&w, 123, 999, 7, 8, 3000), 250000);
    ck_assert_uint_eq(djs_worker_score(&w, 0, 0, 0, 0, 1000), 500000);
    /* a very slow worker: response score near zero, not negative */
    ck_assert_uint_eq(djs_worker_score(&w, 0, 0, 0, 0, UINT32_MAX), 0);
    ck_assert_uint_eq(dflt(1000, 1000, 4, 4, UINT32_MAX), 0);
}
END_TEST

START_TEST(score_clamps_load)
{
    /* cpu and mem above 1000 permille count as 1000 */
    const uint32_t over[] = {1001, 1500, 65535, 1000000, UINT32_MAX};
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        ck_assert_uint_eq(dflt(over[i], 0, 0, 4, 0), dflt(1000, 0, 0, 4, 0));
        ck_assert_uint_eq(dflt(0, over[i], 0, 4, 0), dflt(0, 1000, 0, 4, 0));
        ck_assert_uint_eq(dflt(over[i], over[i], 0, 4, 0), 450000); /* 0.25 + 0.20 */
        ck_assert_uint_eq(dflt(over[i], over[i], 4, 4, 0), 200000);
    }
    ck_assert_uint_eq(dflt(1000, 0, 0, 4, 0), 700000);
    ck_assert_uint_eq(dflt(0, 1000, 0, 4, 0), 750000);
}
END_TEST

START_TEST(score_slots_edge_cases)
{
    /* no slots: the free fraction is 0, not a division by zero */
    ck_assert_uint_eq(dflt(0, 0, 0, 0, 0), 750000);
    ck_assert_uint_eq(dflt(0, 0, 3, 0, 0), 750000);
    /* more running than slots (slots lowered under it): 0, not negative */
    ck_assert_uint_eq(dflt(0, 0, 5, 4, 0), 750000);
    ck_assert_uint_eq(dflt(0, 0, UINT32_MAX, 4, 0), 750000);
    ck_assert_uint_eq(dflt(0, 0, 4, 4, 0), 750000);
    ck_assert_uint_eq(dflt(0, 0, 3, 4, 0), 812500);
    /* huge slot counts */
    ck_assert_uint_eq(dflt(0, 0, 0, UINT32_MAX, 0), 1000000);
    ck_assert_uint_eq(dflt(0, 0, UINT32_MAX - 1, UINT32_MAX, 0), 750000);
    ck_assert_uint_eq(dflt(0, 0, UINT32_MAX / 2 + 1, UINT32_MAX, 0), 875000);
}
END_TEST

/* More free slots, less load or a faster response never lower the score;
 * with a positive weight they raise it when the step is big enough. */
START_TEST(score_monotonic)
{
    uint64_t rs[2];
    djs_rand_seed(rs, 2718);
    djs_weights_t dw;
    djs_weights_default(&dw);
    for (int round = 0; round < 3000; round++) {
        djs_weights_t w = dw;
        if (round % 2 == 1) {
            /* random valid weights */
            double a = (double)(djs_rand_next(rs) % 1000), b = (double)(djs_rand_next(rs) % 1000);
            double c = (double)(djs_rand_next(rs) % 1000), d = (double)(djs_rand_next(rs) % 1000) + 1;
            double s = a + b + c + d;
            w = W(a / s, b / s, c / s, d / s);
            w.resp = 1.0 - w.cpu - w.mem - w.slots;
            if (w.resp < 0)
                w.resp = 0;
            REQ(djs_weights_check(&w) == 0);
        }
        uint32_t cpu = (uint32_t)(djs_rand_next(rs) % 1200), mem = (uint32_t)(djs_rand_next(rs) % 1200);
        uint32_t resp = (uint32_t)(djs_rand_next(rs) % 20000);
        uint32_t slots = 1 + (uint32_t)(djs_rand_next(rs) % 64);
        uint32_t prev = 0;
        for (uint32_t running = slots + 2;; running--) {
            uint32_t sc = djs_worker_score(&w, cpu, mem, running, slots, resp);
            REQ(sc <= 1000000);
            if (running < slots + 2) {
                REQ(sc >= prev);
                /* with the default weights each freed slot is worth
                 * 0.25/slots >= 0.0039: strictly more */
                if (round % 2 == 0 && running < slots)
                    REQ(sc > prev);
            }
            prev = sc;
            if (running == 0)
                break;
        }
        /* less cpu, less memory, faster response: never lower */
        uint32_t running = (uint32_t)(djs_rand_next(rs) % (slots + 1));
        uint32_t base = djs_worker_score(&w, cpu, mem, running, slots, resp);
        REQ(djs_worker_score(&w, cpu / 2, mem, running, slots, resp) >= base);
        REQ(djs_worker_score(&w, cpu, mem / 2, running, slots, resp) >= base);
        REQ(djs_worker_score(&w, cpu, mem, running, slots, resp / 2) >= base);
        if (round % 2 == 0 && cpu >= 20 && cpu <= 1000)
            REQ(djs_worker_score(&w, cpu - 20, mem, running, slots, resp) > base);
        if (round % 2 == 0 && resp >= 100)
            REQ(djs_worker_score(&w, cpu, mem, running, slots, 0) > base);
    }
}
END_TEST

/* The integer score orders workers as the formula does. */
START_TEST(score_matches_formula)
{
    uint64_t rs[2];
    djs_rand_seed(rs, 161);
    djs_weights_t w;
    djs_weights_default(&w);
    for (int i = 0; i < 100000; i++) {
        uint32_t cpu = (uint32_t)(djs_rand_next(rs) % 1001), mem = (uint32_t)(djs_rand_next(rs) % 1001);
        uint32_t slots = (uint32_t)(djs_rand_next(rs) % 33), running = (uint32_t)(djs_rand_next(rs) % 40);
        uint32_t resp = (uint32_t)(djs_rand_next(rs) % 100000);
        double fr = slots == 0 || running >= slots ? 0 : (double)(slots - running) / slots;
        double want = 0.30 * (1 - cpu / 1000.0) + 0.25 * (1 - mem / 1000.0) + 0.25 * fr + 0.20 / (1 + resp / 1000.0);
        double got = djs_worker_score(&w, cpu, mem, running, slots, resp) / 1e6;
        REQ(fabs(got - want) <= 0.5e-6 + 1e-9);
    }
}
END_TEST

static Suite *balancer_suite(void)
{
    Suite *s = suite_create("balancer");
    TCase *tc = tcase_create("balancer");
    tcase_add_test(tc, default_weights);
    tcase_add_test(tc, weights_accepted);
    tcase_add_test(tc, weights_rejected);
    tcase_add_test(tc, score_hand_computed);
    tcase_add_test(tc, score_clamps_load);
    tcase_add_test(tc, score_slots_edge_cases);
    tcase_add_test(tc, score_monotonic);
    tcase_add_test(tc, score_matches_formula);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(balancer_suite)

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "core/id.h"
#include "core/job.h"
#include "testutil.h"

/* ---- the state machine ------------------------------------------------------ */

/* The table drawn in job.h's comment, written out independently of job.c. */
static const struct {
    int from, to;
} legal[] = {
    {DJS_JOB_CREATED, DJS_JOB_QUEUED},      {DJS_JOB_CREATED, DJS_JOB_FAILED},    {DJS_JOB_CREATED, DJS_JOB_CANCELLED},
    {DJS_JOB_QUEUED, DJS_JOB_SCHEDULED},    {DJS_JOB_QUEUED, DJS_JOB_FAILED},     {DJS_JOB_QUEUED, DJS_JOB_CANCELLED},
    {DJS_JOB_SCHEDULED, DJS_JOB_RUNNING},   {DJS_JOB_SCHEDULED, DJS_JOB_QUEUED},  {DJS_JOB_SCHEDULED, DJS_JOB_FAILED},
    {DJS_JOB_SCHEDULED, DJS_JOB_CANCELLED}, {DJS_JOB_RUNNING, DJS_JOB_COMPLETED}, {DJS_JOB_RUNNING, DJS_JOB_QUEUED},
    {DJS_JOB_RUNNING, DJS_JOB_FAILED},      {DJS_JOB_RUNNING, DJS_JOB_CANCELLED}, {DJS_JOB_FAILED, DJS_JOB_QUEUED},
};

static int is_legal(int from, int to)
{
    for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
        if (legal[i].from == from && legal[i].to == to)
            return 1;
    return 0;
}

START_TEST(transition_table_every_pair)
{
    ck_assert_int_eq(DJS_JOB_NSTATES, 7);
    int nlegal = 0;
    for (int from = 0; from < DJS_JOB_NSTATES; from++) {
        for (int to = 0; to < DJS_JOB_NSTATES; to++) {
            int want = is_legal(from, to);
            int got = djs_job_transition_ok(from, to);
            ck_assert_msg(got == want, "%s -> %s: got %d, want %d", djs_job_state_name(from), djs_job_state_name(to), got, want);
            nlegal += got;
        }
    }
    ck_assert_int_eq(nlegal, (int)(sizeof(legal) / sizeof(legal[0])));
}
END_TEST

START_TEST(transition_shape)
{
    for (int s = 0; s < DJS_JOB_NSTATES; s++) {
        /* no self-transitions */
        ck_assert_int_eq(djs_job_transition_ok(s, s), 0);
        /* nothing leaves a terminal state; nothing enters CREATED */
        if (djs_job_state_terminal(s))
            for (int to = 0; to < DJS_JOB_NSTATES; to++)
                ck_assert_int_eq(djs_job_transition_ok(s, to), 0);
        ck_assert_int_eq(djs_job_transition_ok(s, DJS_JOB_CREATED), 0);
        /* FAILED and CANCELLED are reachable from every non-final state */
        if (!djs_job_state_final(s)) {
            ck_assert_int_eq(djs_job_transition_ok(s, DJS_JOB_FAILED), 1);
            ck_assert_int_eq(djs_job_transition_ok(s, DJS_JOB_CANCELLED), 1);
        }
    }
    ck_assert(djs_job_state_terminal(DJS_JOB_COMPLETED) && djs_job_state_terminal(DJS_JOB_CANCELLED));
    ck_assert(!djs_job_state_terminal(DJS_JOB_FAILED) && djs_job_state_final(DJS_JOB_FAILED));
    ck_assert(!djs_job_state_final(DJS_JOB_RUNNING) && !djs_job_state_final(DJS_JOB_CREATED));
}
END_TEST

START_TEST(transition_out_of_range)
{
    const int bad[] = {-1, DJS_JOB_NSTATES, DJS_JOB_NSTATES + 1, 31, 32, 100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int s = 0; s < DJS_JOB_NSTATES; s++) {
            ck_assert_int_eq(djs_job_transition_ok(bad[i], s), 0);
            ck_assert_int_eq(djs_job_transition_ok(s, bad[i]), 0);
        }
        for (size_t j = 0; j < sizeof(bad) / sizeof(bad[0]); j++)
            ck_assert_int_eq(djs_job_transition_ok(bad[i], bad[j]), 0);
    }
}
END_TEST

/* The event table, written out independently of job.c: for each job event,
 * where it applies and where it leads (without and with the body's choice). */
#define C DJS_JOB_CREATED
#define Q DJS_JOB_QUEUED
#define W DJS_JOB_SM_RETRY_WAIT
#define SC DJS_JOB_SCHEDULED
#define R DJS_JOB_RUNNING
#define OK DJS_JOB_COMPLETED
#define F DJS_JOB_FAILED
#define X DJS_JOB_CANCELLED
#define N DJS_JOB_SM_NONE
#define SAME (-1)
static const struct {
    int type;
    int from[8]; /* ends with -2 */
    int to, to_alt;
} rules[] = {
    {DJS_EV_JOB_SUBMITTED, {N, -2}, Q, C},
    {DJS_EV_JOB_QUEUED, {C, W, -2}, Q, Q},
    {DJS_EV_JOB_SCHEDULED, {Q, W, -2}, SC, SC},
    {DJS_EV_JOB_STARTED, {SC, -2}, R, R},
    {DJS_EV_JOB_PROGRESS, {R, -2}, SAME, SAME},
    {DJS_EV_JOB_OUTPUT, {R, -2}, SAME, SAME},
    {DJS_EV_JOB_SUCCEEDED, {R, -2}, OK, OK},
    {DJS_EV_JOB_FAILED, {SC, R, -2}, F, W},
    {DJS_EV_JOB_TIMED_OUT, {R, -2}, F, W},
    {DJS_EV_JOB_LEASE_EXPIRED, {SC, -2}, Q, Q},
    {DJS_EV_JOB_CANCELLED, {C, Q, W, SC, R, -2}, X, X},
    {DJS_EV_JOB_UPSTREAM_FAILED, {C, Q, W, SC, R, -2}, F, F},
    {DJS_EV_JOB_RETRIED, {F, -2}, Q, Q},
    {DJS_EV_JOB_UPDATED, {C, Q, W, SC, R, F, -2}, SAME, SAME},
    {DJS_EV_JOB_DELETED, {C, Q, W, OK, F, X, -2}, N, N},
};
#undef C
#undef Q
#undef W
#undef SC
#undef R
#undef OK
#undef F
#undef X
#undef N

static int listed(const int *from, int pos)
{
    for (int i = 0; from[i] != -2; i++)
        if (from[i] == pos)
            return 1;
    return 0;
}

START_TEST(event_table_every_pair)
{
    ck_assert_int_eq(sizeof(rules) / sizeof(rules[0]), DJS_EV_JOB_OUTPUT);
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        int type = rules[i].type;
        ck_assert_ptr_nonnull(djs_job_rule(type));
        for (int pos = 0; pos < DJS_JOB_SM_NPOS; pos++) {
            int want = listed(rules[i].from, pos);
            ck_assert_msg(djs_job_event_allowed(type, pos) == want, "%s at position %d", djs_event_type_name(type), pos);
            int rc = djs_job_event_check(type, pos);
            if (want)
                ck_assert_int_eq(rc, 0);
            else
                ck_assert_int_eq(rc, pos == DJS_JOB_SM_NONE         ? DJS_ENOTFOUND
                                     : type == DJS_EV_JOB_SUBMITTED ? DJS_EEXISTS
                                                                    : DJS_ECONFLICT);
            for (int alt = 0; alt < 2; alt++) {
                int to = alt ? rules[i].to_alt : rules[i].to;
                int next = djs_job_event_next(type, pos, alt);
                ck_assert_int_eq(next, !want || to == SAME ? pos : to);
            }
        }
    }
}
END_TEST
#undef SAME

START_TEST(event_table_edges)
{
    int other[] = {0, 16, 31, DJS_EV_WORKER_REGISTERED, DJS_EV_SERVER_STARTED, -1, 1000};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        ck_assert_ptr_null(djs_job_rule(other[i]));
        for (int pos = 0; pos < DJS_JOB_SM_NPOS; pos++) {
            ck_assert_int_eq(djs_job_event_allowed(other[i], pos), 0);
            ck_assert_int_eq(djs_job_event_check(other[i], pos), pos == DJS_JOB_SM_NONE ? DJS_ENOTFOUND : DJS_ECONFLICT);
        }
    }
    int badpos[] = {-1, DJS_JOB_SM_NPOS, 16, 100};
    for (size_t i = 0; i < sizeof(badpos) / sizeof(badpos[0]); i++)
        for (int type = DJS_EV_JOB_SUBMITTED; type <= DJS_EV_JOB_OUTPUT; type++)
            ck_assert_int_eq(djs_job_event_allowed(type, badpos[i]), 0);
    /* positions and states */
    ck_assert_int_eq(djs_job_sm_pos(DJS_JOB_QUEUED, 1), DJS_JOB_SM_RETRY_WAIT);
    ck_assert_int_eq(djs_job_sm_pos(DJS_JOB_QUEUED, 0), DJS_JOB_QUEUED);
    ck_assert_int_eq(djs_job_sm_pos(DJS_JOB_RUNNING, 1), DJS_JOB_RUNNING);
    ck_assert_int_eq(djs_job_sm_state(DJS_JOB_SM_RETRY_WAIT), DJS_JOB_QUEUED);
    ck_assert_int_eq(djs_job_sm_state(DJS_JOB_FAILED), DJS_JOB_FAILED);
    /* the body's choices */
    djs_job_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    ck_assert_int_eq(djs_job_spec_alt(&sp, 100), 0);
    sp.scheduled_at = 100;
    ck_assert_int_eq(djs_job_spec_alt(&sp, 100), 0); /* due now */
    sp.scheduled_at = 101;
    ck_assert_int_eq(djs_job_spec_alt(&sp, 100), 1);
    sp.scheduled_at = 0;
    sp.ndeps = 1;
    ck_assert_int_eq(djs_job_spec_alt(&sp, 100), 1);
    djs_job_change_t c;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(djs_job_change_alt(DJS_EV_JOB_FAILED, &c), 0);
    c.retry_at = 5;
    ck_assert_int_eq(djs_job_change_alt(DJS_EV_JOB_FAILED, &c), 1);
    ck_assert_int_eq(djs_job_change_alt(DJS_EV_JOB_TIMED_OUT, &c), 1);
    ck_assert_int_eq(djs_job_change_alt(DJS_EV_JOB_CANCELLED, &c), 0);
}
END_TEST

/* ---- names ------------------------------------------------------------------ */

static void lower(const char *in, char *out)
{
    size_t i = 0;
    for (; in[i] != '\0'; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    out[i] = '\0';
}

static void upper_alternate(const char *in, char *out)
{
    size_t i = 0;
    for (; in[i] != '\0'; i++) {
        char c = in[i];
        if (i % 2 == 0 && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (i % 2 == 1 && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[i] = c;
    }
    out[i] = '\0';
}

typedef const char *(*name_fn)(int);
typedef int (*parse_fn)(const char *, size_t);

static void check_names(name_fn name, parse_fn parse, const char *const *want, int n)
{
    for (int i = 0; i < n; i++) {
        const char *t = name(i);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t, want[i]);
        char buf[64];
        ck_assert_int_eq(parse(t, strlen(t)), i);
        lower(t, buf);
        ck_assert_int_eq(parse(buf, strlen(buf)), i);
        upper_alternate(t, buf);
        ck_assert_int_eq(parse(buf, strlen(buf)), i);
        /* prefixes and extensions are not names */
        ck_assert_int_eq(parse(t, strlen(t) - 1), DJS_EINVAL);
        snprintf(buf, sizeof(buf), "%sX", t);
        ck_assert_int_eq(parse(buf, strlen(buf)), DJS_EINVAL);
        snprintf(buf, sizeof(buf), " %s", t);
        ck_assert_int_eq(parse(buf, strlen(buf)), DJS_EINVAL);
        /* the length bounds the match: a longer buffer with len = the name's */
        snprintf(buf, sizeof(buf), "%s-trailing", t);
        ck_assert_int_eq(parse(buf, strlen(t)), i);
    }
    ck_assert_ptr_null(name(-1));
    ck_assert_ptr_null(name(n));
    ck_assert_ptr_null(name(INT_MAX));
    ck_assert_ptr_null(name(INT_MIN));
    ck_assert_int_eq(parse("", 0), DJS_EINVAL);
    ck_assert_int_eq(parse("nonsense", 8), DJS_EINVAL);
}

START_TEST(state_names)
{
    static const char *const want[] = {"CREATED", "QUEUED", "SCHEDULED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"};
    check_names(djs_job_state_name, djs_job_state_parse, want, DJS_JOB_NSTATES);
    ck_assert_int_eq(djs_job_state_parse("queued", 6), DJS_JOB_QUEUED);
    ck_assert_int_eq(djs_job_state_parse("Cancelled", 9), DJS_JOB_CANCELLED);
    ck_assert_int_eq(djs_job_state_parse("CANCELED", 8), DJS_EINVAL);
    ck_assert_int_eq(djs_job_state_parse("COMPLETE", 8), DJS_EINVAL);
}
END_TEST

START_TEST(priority_names)
{
    static const char *const want[] = {"HIGH", "NORMAL", "LOW"};
    check_names(djs_priority_name, djs_priority_parse, want, DJS_NPRIO);
    ck_assert_int_eq(djs_priority_parse("high", 4), DJS_PRIO_HIGH);
    ck_assert_int_eq(djs_priority_parse("Normal", 6), DJS_PRIO_NORMAL);
    ck_assert_int_eq(djs_priority_parse("low", 3), DJS_PRIO_LOW);
    ck_assert_int_eq(djs_priority_parse("MEDIUM", 6), DJS_EINVAL);
    ck_assert_int_eq(djs_priority_parse("1", 1), DJS_EINVAL);
}
END_TEST

START_TEST(fail_reason_names)
{
    static const char *const want[] = {"error", "timeout", "worker_lost", "lease_expired", "upstream_failed"};
    check_names(djs_fail_reason_name, djs_fail_reason_parse, want, 5);
    ck_assert_int_eq(djs_fail_reason_parse("ERROR", 5), DJS_FAIL_ERROR);
    ck_assert_int_eq(djs_fail_reason_parse("Worker_Lost", 11), DJS_FAIL_WORKER_LOST);
    ck_assert_int_eq(djs_fail_reason_parse("UPSTREAM_FAILED", 15), DJS_FAIL_UPSTREAM);
    ck_assert_int_eq(djs_fail_reason_parse("upstream", 8), DJS_EINVAL);
    ck_assert_int_eq(djs_fail_reason_parse("worker-lost", 11), DJS_EINVAL);
}
END_TEST

/* ---- retry backoff ------------------------------------------------------------ */

/* d = min(cap, base * 2^(n-1)), computed without the code under test. */
static uint64_t model_d(uint32_t n, uint64_t base, uint64_t cap)
{
    if (n == 0)
        n = 1;
    if (base == 0)
        return 0;
    if (n - 1 >= 64)
        return cap;
    unsigned __int128 d = (unsigned __int128)base << (n - 1);
    return d > cap ? cap : (uint64_t)d;
}

static void check_range(uint32_t n, uint64_t base, uint64_t cap, uint64_t rnd)
{
    uint64_t d = model_d(n, base, cap);
    uint64_t b = djs_retry_backoff_ns(n, base, cap, rnd);
    if (!(b >= d / 2 && b <= d && b <= cap))
        ck_abort_msg("n=%u base=%llu cap=%llu rnd=%llu: %llu not in [%llu, %llu]", n, (unsigned long long)base,
                     (unsigned long long)cap, (unsigned long long)rnd, (unsigned long long)b, (unsigned long long)(d / 2),
                     (unsigned long long)d);
}

START_TEST(backoff_range_random)
{
    uint64_t rs[2];
    djs_rand_seed(rs, 4242);
    static const uint64_t bases[] = {1, 2, 3, 7, 1000, 1000000, 250000000, 1000000000ULL, 1ULL << 40, UINT64_MAX / 3, UINT64_MAX};
    static const uint64_t caps[] = {0, 1, 5, 999, 1000000000ULL, 60000000000ULL, 3600000000000ULL, 1ULL << 62, UINT64_MAX};
    static const uint32_t ns[] = {0,         1, 2, 3, 4, 5, 10, 20, 31, 32, 33, 62, 63, 64, 65, 100, 1000, 100000, UINT32_MAX - 1,
                                  UINT32_MAX};
    for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++)
        for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++)
            for (size_t ni = 0; ni < sizeof(ns) / sizeof(ns[0]); ni++) {
                check_range(ns[ni], bases[bi], caps[ci], 0);
                check_range(ns[ni], bases[bi], caps[ci], UINT64_MAX);
                for (int k = 0; k < 8; k++)
                    check_range(ns[ni], bases[bi], caps[ci], djs_rand_next(rs));
            }
    /* fully random arguments */
    for (int i = 0; i < 200000; i++) {
        uint64_t base = djs_rand_next(rs) >> (djs_rand_next(rs) % 64);
        uint64_t cap = djs_rand_next(rs) >> (djs_rand_next(rs) % 64);
        uint32_t n = (uint32_t)(djs_rand_next(rs) % 80);
        check_range(n, base, cap, djs_rand_next(rs));
    }
}
END_TEST

START_TEST(backoff_extremes_of_jitter)
{
    /* rnd = 0 gives exactly d/2; the largest draw gives d (d even) */
    const uint64_t base = 1000000000ULL, cap = 300000000000ULL;
    for (uint32_t n = 1; n < 40; n++) {
        uint64_t d = model_d(n, base, cap);
        ck_assert_uint_eq(djs_retry_backoff_ns(n, base, cap, 0), d / 2);
        ck_assert_uint_eq(djs_retry_backoff_ns(n, base, cap, d / 2), d);
        ck_assert_uint_eq(djs_retry_backoff_ns(n, base, cap, d / 2 + 1), d / 2); /* wraps modulo half + 1 */
    }
    ck_assert_uint_eq(djs_retry_backoff_ns(1, 1000, 1000000, 0), 500);
    ck_assert_uint_eq(djs_retry_backoff_ns(1, 1000, 1000000, 500), 1000);
    ck_assert_uint_eq(djs_retry_backoff_ns(3, 1000, 1000000, 0), 2000);
    ck_assert_uint_eq(djs_retry_backoff_ns(3, 1000, 1000000, 2000), 4000);
    /* base above the cap: the cap rules from the first attempt */
    ck_assert_uint_eq(djs_retry_backoff_ns(1, 5000, 1000, 0), 500);
    ck_assert_uint_eq(djs_retry_backoff_ns(1, 5000, 1000, 500), 1000);
}
END_TEST

START_TEST(backoff_grows_until_cap)
{
    const uint64_t base = 1000000000ULL, cap = 3600ULL * 1000000000ULL; /* 1 s .. 1 h */
    uint64_t prev_lo = 0, prev_hi = 0;
    int capped_at = 0;
    for (uint32_t n = 1; n <= 64; n++) {
        uint64_t lo = djs_retry_backoff_ns(n, base, cap, 0);
        uint64_t d = model_d(n, base, cap);
        uint64_t hi = djs_retry_backoff_ns(n, base, cap, d / 2);
        ck_assert_uint_eq(hi, d);
        if (n > 1) {
            ck_assert_uint_ge(lo, prev_lo);
            ck_assert_uint_ge(hi, prev_hi);
            if (prev_hi < cap) {
                ck_assert_uint_gt(hi, prev_hi); /* strictly growing below the cap */
                ck_assert_uint_eq(hi, prev_hi * 2 > cap ? cap : prev_hi * 2);
            } else {
                ck_assert_uint_eq(hi, cap); /* flat at the cap */
                if (capped_at == 0)
                    capped_at = (int)n - 1;
            }
        }
        prev_lo = lo;
        prev_hi = hi;
    }
    /* 2^11 s = 2048 s < 3600 s < 2^12 s: attempt 13 is the first at the cap */
    ck_assert_int_eq(capped_at, 13);
    ck_assert_uint_le(djs_retry_backoff_ns(12, base, cap, UINT64_MAX), 2048ULL * base);
}
END_TEST

START_TEST(backoff_n0_is_n1)
{
    uint64_t rs[2];
    djs_rand_seed(rs, 9);
    for (int i = 0; i < 10000; i++) {
        uint64_t rnd = djs_rand_next(rs);
        uint64_t base = 1 + djs_rand_next(rs) % 10000000000ULL;
        uint64_t cap = base + djs_rand_next(rs) % 100000000000ULL;
        REQ_EQ(djs_retry_backoff_ns(0, base, cap, rnd), djs_retry_backoff_ns(1, base, cap, rnd));
    }
    /* and n = 1 is not doubled: at most base */
    ck_assert_uint_le(djs_retry_backoff_ns(0, 1000, 1000000, UINT64_MAX), 1000);
    ck_assert_uint_eq(djs_retry_backoff_ns(0, 1000, 1000000, 500), 1000);
}
END_TEST

START_TEST(backoff_huge_n)
{
    const uint64_t base = 1000000000ULL, cap = 3600ULL * 1000000000ULL;
    static const uint32_t ns[] = {64, 65, 127, 128, 1000, 1u << 20, UINT32_MAX / 2, UINT32_MAX};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        ck_assert_uint_eq(djs_retry_backoff_ns(ns[i], base, cap, 0), cap / 2);
        ck_assert_uint_eq(djs_retry_backoff_ns(ns[i], base, cap, cap / 2), cap);
        /* the largest figures: no wrap-around to something small */
        ck_assert_uint_eq(djs_retry_backoff_ns(ns[i], UINT64_MAX, UINT64_MAX, 0), UINT64_MAX / 2);
        ck_assert_uint_eq(djs_retry_backoff_ns(ns[i], 3, UINT64_MAX, 0), UINT64_MAX / 2);
        check_range(ns[i], 1, UINT64_MAX, 12345);
        check_range(ns[i], 1, UINT64_MAX, UINT64_MAX);
        /* a zero base stays zero (and returns promptly) */
        ck_assert_uint_eq(djs_retry_backoff_ns(ns[i], 0, cap, 777), 0);
        /* a zero cap gives zero */
        ck_assert_uint_eq(djs_retry_backoff_ns(ns[i], base, 0, 777), 0);
    }
}
END_TEST

START_TEST(backoff_jitter_varies)
{
    const uint64_t base = 1000000000ULL, cap = 60ULL * 1000000000ULL;
    uint64_t rs[2];
    djs_rand_seed(rs, 31337);
    for (uint32_t n = 1; n <= 8; n++) {
        uint64_t d = model_d(n, base, cap);
        enum { K = 1000 };
        static uint64_t seen[K];
        uint64_t lo = UINT64_MAX, hi = 0;
        int below_mid = 0, above_mid = 0;
        for (int i = 0; i < K; i++) {
            uint64_t b = djs_retry_backoff_ns(n, base, cap, djs_rand_next(rs));
            seen[i] = b;
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
            below_mid += b < d / 2 + d / 4;
            above_mid += b >= d / 2 + d / 4;
        }
        int distinct = 0;
        for (int i = 0; i < K; i++) {
            int dup = 0;
            for (int j = 0; j < i && !dup; j++)
                dup = seen[j] == seen[i];
            distinct += !dup;
        }
        ck_assert_int_gt(distinct, K * 9 / 10);
        /* spread over the whole [d/2, d] range, both halves */
        ck_assert_int_gt(below_mid, K / 4);
        ck_assert_int_gt(above_mid, K / 4);
        ck_assert_uint_lt(lo, d / 2 + d / 20);
        ck_assert_uint_gt(hi, d - d / 20);
    }
    /* the same rnd gives the same answer (pure) */
    ck_assert_uint_eq(djs_retry_backoff_ns(5, base, cap, 424242), djs_retry_backoff_ns(5, base, cap, 424242));
}
END_TEST

static Suite *job_suite(void)
{
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("states");
    tcase_add_test(tc, transition_table_every_pair);
    tcase_add_test(tc, transition_shape);
    tcase_add_test(tc, transition_out_of_range);
    tcase_add_test(tc, event_table_every_pair);
    tcase_add_test(tc, event_table_edges);
    tcase_add_test(tc, state_names);
    tcase_add_test(tc, priority_names);
    tcase_add_test(tc, fail_reason_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("backoff");
    tcase_add_test(tc, backoff_range_random);
    tcase_add_test(tc, backoff_extremes_of_jitter);
    tcase_add_test(tc, backoff_grows_until_cap);
    tcase_add_test(tc, backoff_n0_is_n1);
    tcase_add_test(tc, backoff_huge_n);
    tcase_add_test(tc, backoff_jitter_varies);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(job_suite)

/* Durability of the event log under SIGKILL. A child process appends
 * continuously and reports every seq the log declares durable; the parent
 * kills it at a random moment, reopens the log and checks that nothing
 * reported durable was lost and that the log is whole: dense seqs from 1,
 * every record decodes, timestamps strictly increase, the hash chain
 * verifies, the entity index matches the records, and appending goes on.
 * The same directory is reused across iterations, so the log also survives
 * many crash-and-reopen cycles.
 *
 * The seed is printed; rerun one with DJS_TEST_SEED=<n>. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/id.h"
#include "eventlog/log.h"
#include "logtest.h"
#include "testutil.h"

/* What the child sends per durable advance: the seq, then the number of map
 * grows so far (so the parent knows that growth really happened). A seq of
 * GROWING means "the writer is about to grow the map and redo a batch". */
#define GROWING UINT64_MAX
typedef struct report {
    uint64_t seq;
    uint64_t grows;
} report_t;

static uint64_t test_seed(void)
{
    const char *s = getenv("DJS_TEST_SEED");
    if (s != NULL && *s != '\0')
        return strtoull(s, NULL, 10);
    return djs_wall_ns() ^ ((uint64_t)getpid() << 32);
}

static uint64_t now_ms(void)
{
    return djs_monotonic_ns() / 1000000;
}

/* ---- child ------------------------------------------------------------------- */

typedef struct child {
    djs_log_t *log;
    uv_loop_t loop;
    uv_idle_t idle;
    uv_timer_t pause;
    djs_log_tail_t tail;
    int fd;
    uint64_t rng[2];
    uint64_t max_inflight;
    size_t max_pad;
    unsigned max_burst;
    uint64_t per_ms, start_ms, appended; /* rate limit: keeps the log (and the checks) small */
    _Atomic uint64_t fault_rng;
    _Atomic uint64_t commits; /* commit attempts seen by the fault hook */
    uint64_t grow_at;         /* force (and announce) a grow at this attempt */
    int idle_on;
} child_t;

static child_t C;

static uint64_t crnd(uint64_t n)
{
    return djs_rand_next(C.rng) % n;
}

static void child_burst(uv_idle_t *h);

static void child_resume(uv_timer_t *t)
{
    (void)t;
    if (!C.idle_on) {
        uv_idle_start(&C.idle, child_burst);
        C.idle_on = 1;
    }
}

static void child_burst(uv_idle_t *h)
{
    (void)h;
    uint64_t durable = djs_log_durable_seq(C.log);
    if (djs_log_last_seq(C.log) - durable >= C.max_inflight) {
        uv_idle_stop(&C.idle); /* the tail restarts us */
        C.idle_on = 0;
        return;
    }
    if (C.appended > (now_ms() - C.start_ms + 1) * C.per_ms) {
        uv_idle_stop(&C.idle); /* ahead of the rate: sleep a millisecond */
        C.idle_on = 0;
        uv_timer_start(&C.pause, child_resume, 1, 0);
        return;
    }
    /* bursts of varying size: mostly small, sometimes large */
    unsigned cap = crnd(4) == 0 ? C.max_burst : 1 + C.max_burst / 16;
    unsigned n = 1 + (unsigned)crnd(cap);
    for (unsigned i = 0; i < n; i++) {
        unsigned k = (unsigned)crnd(9); /* 8 entities, and nil */
        djs_id_t e = lt_entity(k);
        uint64_t seq = djs_log_last_seq(C.log) + 1;
        int rc = lt_append(C.log, k ? &e : NULL, seq, (size_t)crnd(C.max_pad + 1), NULL);
        if (rc != 0)
            _exit(30);
    }
    C.appended += n;
}

static void child_tail(void *arg, uint64_t durable)
{
    (void)arg;
    djs_log_stats_t st;
    djs_log_get_stats(C.log, &st);
    report_t r = {durable, st.map_grows};
    /* straight to the pipe: what the parent has read was reported */
    if (write(C.fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(31);
    if (!C.idle_on && !uv_is_active((uv_handle_t *)&C.pause)) {
        uv_idle_start(&C.idle, child_burst);
        C.idle_on = 1;
    }
}

static void child_fatal(void *arg, int err, const char *msg)
{
    (void)arg;
    (void)err;
    (void)msg;
    _exit(32);
}

/* Forces extra map growth: at commit attempt grow_at, and now and then
 * while the map is below 256 MiB, the commit "fails" with MDB_MAP_FULL,
 * which makes the writer double the map and redo the batch. Each forced
 * grow is announced to the parent first. Runs on the writer thread. */
static int child_fault(void *arg, uint64_t first, uint64_t last)
{
    (void)arg;
    (void)first;
    (void)last;
    uint64_t n = atomic_fetch_add(&C.commits, 1) + 1;
    uint64_t x = atomic_fetch_add(&C.fault_rng, 0x9e3779b97f4a7c15ULL) * 0xbf58476d1ce4e5b9ULL;
    if (n == C.grow_at || ((x >> 60) < 2 && djs_log_map_size(C.log) < ((size_t)256 << 20))) {
        report_t r = {GROWING, 0}; /* from the writer thread; pipe writes this small are atomic */
        if (write(C.fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(33);
        return MDB_MAP_FULL;
    }
    return 0;
}

static void child_main(const char *dir, int fd, uint64_t seed, size_t map_size, int force_grows)
{
    memset(&C, 0, sizeof(C));
    C.fd = fd;
    djs_rand_seed(C.rng, seed);
    C.fault_rng = seed;
    C.grow_at = 1 + crnd(40);
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.on_fatal = child_fatal;
    if (map_size != 0) {
        o.map_size = map_size;
        C.max_pad = 3000;
        C.max_burst = 200;
        C.max_inflight = 1000;
        C.per_ms = 20;
    } else {
        C.max_pad = 200;
        C.max_burst = 1 + (unsigned)crnd(1000);
        C.max_inflight = 500 + crnd(3000);
        C.per_ms = 10 + crnd(40);
    }
    if (force_grows) {
        o.fault = child_fault;
        o.fault_arg = &C;
    }
    if (djs_log_open(&C.log, dir, &o) != 0)
        _exit(20);
    if (uv_loop_init(&C.loop) != 0 || djs_log_attach(C.log, &C.loop) != 0)
        _exit(21);
    djs_log_tail_start(C.log, &C.tail, child_tail, NULL);
    uv_idle_init(&C.loop, &C.idle);
    uv_timer_init(&C.loop, &C.pause);
    C.start_ms = now_ms();
    uv_idle_start(&C.idle, child_burst);
    C.idle_on = 1;
    uv_run(&C.loop, UV_RUN_DEFAULT); /* until killed */
    _exit(22);
}

/* ---- parent ------------------------------------------------------------------ */

typedef struct outcome {
    uint64_t reported;      /* highest seq the child reported durable */
    uint64_t grows;         /* map grows the child reported */
    uint64_t growing;       /* forced grows announced */
    int killed_growing;     /* killed right after one was announced */
    uint64_t before, after; /* records before this run, after reopening */
} outcome_t;

static void read_reports(int fd, uint8_t *pend, size_t *npend, outcome_t *out)
{
    for (;;) {
        ssize_t n = read(fd, pend + *npend, 4096 - *npend);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        *npend += (size_t)n;
        size_t used = 0;
        while (*npend - used >= sizeof(report_t)) {
            report_t r;
            memcpy(&r, pend + used, sizeof(r));
            used += sizeof(r);
            if (r.seq == GROWING) {
                out->growing++;
                continue;
            }
            ck_assert_msg(r.seq > out->reported, "durable seq went backwards: %" PRIu64 " after %" PRIu64, r.seq, out->reported);
            out->reported = r.seq;
            out->grows = r.grows;
        }
        memmove(pend, pend + used, *npend - used);
        *npend -= used;
    }
}

/* Open the log the child left, check everything, append a little more. */
static uint64_t check_log(const char *dir, size_t map_size, uint64_t reported, uint64_t before, int iter)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    if (map_size != 0)
        o.map_size = map_size;
    djs_log_t *log = NULL;
    int rc = djs_log_open(&log, dir, &o);
    ck_assert_msg(rc == 0, "iteration %d: reopen after kill: %s", iter, djs_err_name(rc));

    lt_verify_t v = {.check_body = 1};
    int e = lt_verify_log(log, &v);
    ck_assert_msg(e == LT_OK, "iteration %d: %s at seq %" PRIu64, iter, lt_what(e), v.err_seq);
    uint64_t n = v.next - 1;
    ck_assert_msg(n >= reported, "iteration %d: lost durable events: child reported %" PRIu64 ", log has %" PRIu64, iter, reported,
                  n);
    ck_assert_msg(n >= before, "iteration %d: log shrank from %" PRIu64 " to %" PRIu64, iter, before, n);
    ck_assert_uint_eq(djs_log_last_seq(log), n);
    ck_assert_uint_eq(djs_log_durable_seq(log), n);
    uint64_t bad = 0;
    ck_assert_msg(lt_check_index(log, v.with_entity, &bad) == LT_OK, "iteration %d: entity index wrong near seq %" PRIu64, iter,
                  bad);

    /* appending goes on, chained to the last record that survived */
    uint8_t prev_hash[DJS_HASH_LEN];
    memcpy(prev_hash, v.hash, DJS_HASH_LEN);
    djs_event_t ev;
    djs_id_t ent = lt_entity(3);
    ck_assert_int_eq(lt_append(log, &ent, n + 1, 10, &ev), 0);
    ck_assert_uint_eq(ev.seq, n + 1);
    ck_assert_uint_gt(ev.ts_ns, v.last_ts);
    ck_assert_int_eq(djs_log_sync(log), 0);
    djs_buf_t b;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_log_get(log, n + 1, &b), 0);
    uint8_t h[DJS_HASH_LEN];
    djs_event_chain(prev_hash, b.base, b.len, h);
    ck_assert_mem_eq(h, ev.hash, DJS_HASH_LEN);
    djs_buf_dispose(&b);
    djs_log_close(log);
    return n + 1;
}

/* One crash cycle: fork the appender, let it run for delay_us and kill it;
 * or, with kill_on_grow, kill it delay_us after it announces its first
 * forced map growth (the writer is then growing the map and redoing the
 * batch into the new space). */
static outcome_t crash_once(const char *dir, uint64_t seed, unsigned delay_us, size_t map_size, int force_grows, int kill_on_grow,
                            uint64_t before, int iter)
{
    outcome_t out = {0};
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(dir, fds[1], seed, map_size, force_grows);
    }
    close(fds[1]);
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    uint8_t pend[4096];
    size_t npend = 0;
    uint64_t deadline = now_ms() + (kill_on_grow ? 0 : delay_us / 1000);
    for (uint64_t t = now_ms(); t < deadline; t = now_ms()) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        poll(&p, 1, (int)(deadline - t));
        read_reports(fds[0], pend, &npend, &out);
    }
    if (kill_on_grow) {
        deadline = now_ms() + 30000;
        for (uint64_t t = now_ms(); t < deadline && out.growing == 0; t = now_ms()) {
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            poll(&p, 1, (int)(deadline - t));
            read_reports(fds[0], pend, &npend, &out);
        }
        out.killed_growing = out.growing > 0;
        usleep(delay_us);
    }
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    /* what is already in the pipe was reported before the kill */
    ck_assert_int_eq(fcntl(fds[0], F_SETFL, 0), 0);
    read_reports(fds[0], pend, &npend, &out);
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "iteration %d: child ended on its own: status 0x%x (exit %d)",
                  iter, status, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ck_assert_uint_eq(npend, 0); /* reports are written whole */
    out.before = before;
    out.after = check_log(dir, map_size, out.reported, before, iter);
    return out;
}

START_TEST(sigkill_never_loses_durable_events)
{
    enum { ITERS = 28 };
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/log", tu_tmpdir());
    uint64_t seed = test_seed(), rng[2];
    fprintf(stderr, "test_log_crash: DJS_TEST_SEED=%" PRIu64 "\n", seed);
    djs_rand_seed(rng, seed);
    uint64_t total = 0, reported_runs = 0, t0 = now_ms();
    for (int i = 0; i < ITERS; i++) {
        unsigned delay_us = 1000 * (5 + (unsigned)(djs_rand_next(rng) % 196)); /* 5-200 ms */
        outcome_t o = crash_once(dir, djs_rand_next(rng), delay_us, 0, 0, 0, total, i);
        if (o.reported > total)
            reported_runs++;
        total = o.after;
    }
    fprintf(stderr, "test_log_crash: %d kills, %" PRIu64 " records, %" PRIu64 " runs reported durable events, %" PRIu64 " ms\n",
            ITERS, total, reported_runs, now_ms() - t0);
    /* the children did get to append (otherwise nothing was tested) */
    ck_assert_uint_ge(reported_runs, ITERS / 2);
}
END_TEST

START_TEST(sigkill_while_the_map_grows)
{
    enum { ITERS = 20 };
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/log", tu_tmpdir());
    uint64_t seed = test_seed(), rng[2];
    fprintf(stderr, "test_log_crash (growth): DJS_TEST_SEED=%" PRIu64 "\n", seed);
    djs_rand_seed(rng, seed);
    uint64_t total = 0, grows = 0, growing = 0, t0 = now_ms();
    int killed_growing = 0;
    for (int i = 0; i < ITERS; i++) {
        /* odd runs: 5-200 ms; even runs: 0-3 ms after a forced grow began */
        unsigned delay_us = i % 2 ? 1000 * (5 + (unsigned)(djs_rand_next(rng) % 196)) : (unsigned)(djs_rand_next(rng) % 3000);
        /* each child opens with a 64 KiB map: LMDB maps just the used size, so the
         * first commit already grows it, and every few commits grow it again */
        outcome_t o = crash_once(dir, djs_rand_next(rng), delay_us, 64 << 10, 1, i % 2 == 0, total, i);
        grows += o.grows;
        growing += o.growing;
        killed_growing += o.killed_growing;
        total = o.after;
    }
    fprintf(stderr,
            "test_log_crash (growth): %d kills (%d right after a grow began), %" PRIu64 " records, %" PRIu64
            " map grows reported, %" PRIu64 " forced, %" PRIu64 " ms\n",
            ITERS, killed_growing, total, grows, growing, now_ms() - t0);
    ck_assert_uint_gt(grows, 0);
    ck_assert_int_eq(killed_growing, ITERS / 2);
}
END_TEST

static Suite *log_crash_suite(void)
{
    Suite *s = suite_create("log_crash");
    TCase *tc = tcase_create("sigkill");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, sigkill_never_loses_durable_events);
    tcase_add_test(tc, sigkill_while_the_map_grows);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(log_crash_suite)

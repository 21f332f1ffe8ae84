/* raftspike: one node of a libraft (cowsql/raft 0.22.1) cluster, for the HA
 * spike of issue 15. Not part of djs: built by this directory's Makefile only.
 *
 * One process = one Raft server on its own libuv loop, raft_uv storage in its
 * own data dir, raft_uv_tcp transport on loopback. The FSM counts applied
 * entries and bytes and checks that every command carries the next sequence
 * number. Whoever becomes leader waits for a barrier, then runs the workload
 * given by --mode and prints a RESULT line (JSON). All nodes print EVENT lines
 * (leader, barrier, first-commit, lost) with CLOCK_REALTIME stamps, and a
 * FINAL line (JSON) on SIGTERM. run.py drives three of them.
 *
 * Entry layout: [u64 seq][u64 submit time ns][padding up to --size].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <raft.h>
#include <raft/uv.h>
#include <uv.h>

#define HDR 16

enum mode { M_IDLE, M_PIPE, M_TRICKLE };

struct req {
    struct raft_apply a; /* must stay first: the callback gets &a */
    uint64_t t0;
    struct req *next_free;
};

static struct {
    /* config */
    unsigned id;
    const char *addr;
    const char *dir;
    const char *cluster;
    unsigned election_ms, heartbeat_ms;
    bool pre_vote;
    unsigned snap_threshold, snap_trailing;
    enum mode mode;
    size_t size;
    unsigned inflight;
    double seconds;
    unsigned trickle_ms;
    unsigned max_inflight_entries; /* 0: library default (32) */

    /* libuv + raft */
    uv_loop_t loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    uv_check_t check;
    uv_signal_t sigterm, sigint;
    uv_timer_t timer;
    struct raft_barrier barrier;

    /* FSM state */
    uint64_t applied, applied_bytes, last_seq, seq_errors, snapshots, restores;

    /* leader state */
    bool leader;
    bool barrier_done;
    bool first_commit_seen;
    bool running; /* still submitting */
    bool reported;
    uint64_t next_seq;
    unsigned outstanding;
    struct req *reqs, *free_list;
    uint64_t t_start, t_end_submit, t_last_done;
    uint64_t done, done_bytes, failed, apply_errs;
    uint32_t *lat_us;
    size_t n_lat, cap_lat;
    struct rusage ru0;
} g;

static uint64_t nowns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void emit(const char *what, const char *extra)
{
    printf("EVENT %s id=%u term=%llu t_ns=%" PRIu64 " applied=%" PRIu64 " commit=%llu%s%s\n", what, g.id,
           raft_current_term(&g.raft), nowns(), g.applied, raft_commit_index(&g.raft), extra ? " " : "", extra ? extra : "");
    fflush(stdout);
}

/* ---- FSM ---------------------------------------------------------------- */

static int fsmApply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    (void)fsm;
    /* RAFTSPIKE_FAIL_AT=N: this node's apply fails for every entry from the
     * N-th on (to see what the library does with an FSM error). */
    static long long fail_at = -1;
    if (fail_at < 0) {
        const char *e = getenv("RAFTSPIKE_FAIL_AT");
        fail_at = e ? atoll(e) : 0;
    }
    if (fail_at > 0 && g.applied + 1 >= (uint64_t)fail_at) {
        static uint64_t n_fail;
        if (n_fail++ < 3)
            fprintf(stderr, "node %u: apply fails on purpose (entry %" PRIu64 ")\n", g.id, g.applied + 1);
        return RAFT_IOERR;
    }
    uint64_t seq = 0;
    if (buf->len >= 8)
        memcpy(&seq, buf->base, 8);
    if (buf->len < HDR || seq != g.last_seq + 1) {
        g.seq_errors++;
        if (g.seq_errors <= 5)
            fprintf(stderr, "node %u: seq error: got %" PRIu64 " want %" PRIu64 " len %zu\n", g.id, seq, g.last_seq + 1, buf->len);
    }
    g.last_seq = seq;
    g.applied++;
    g.applied_bytes += buf->len;
    *result = NULL;
    return 0;
}

static int fsmSnapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    (void)fsm;
    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL)
        return RAFT_NOMEM;
    (*bufs)[0].len = 24;
    (*bufs)[0].base = raft_malloc(24);
    if ((*bufs)[0].base == NULL)
        return RAFT_NOMEM;
    uint64_t v[3] = {g.last_seq, g.applied, g.applied_bytes};
    memcpy((*bufs)[0].base, v, 24);
    *n_bufs = 1;
    g.snapshots++;
    return 0;
}

static int fsmRestore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    (void)fsm;
    if (buf->len != 24)
        return RAFT_MALFORMED;
    uint64_t v[3];
    memcpy(v, buf->base, 24);
    g.last_seq = v[0];
    g.applied = v[1];
    g.applied_bytes = v[2];
    g.restores++;
    raft_free(buf->base);
    return 0;
}

/* ---- workload ----------------------------------------------------------- */

static void applyCb(struct raft_apply *a, int status, void *result);

static int submit(struct req *r)
{
    struct raft_buffer buf;
    buf.len = g.size;
    buf.base = raft_malloc(g.size);
    if (buf.base == NULL)
        return RAFT_NOMEM;
    memset((char *)buf.base + HDR, 0xab, g.size - HDR);
    r->t0 = nowns();
    uint64_t seq = g.next_seq;
    memcpy(buf.base, &seq, 8);
    memcpy((char *)buf.base + 8, &r->t0, 8);
    r->a.data = r;
    int rv = raft_apply(&g.raft, &r->a, &buf, 1, applyCb);
    if (rv != 0) {
        raft_free(buf.base);
        g.apply_errs++;
        if (g.apply_errs <= 5)
            fprintf(stderr, "node %u: raft_apply: %s (%s)\n", g.id, raft_strerror(rv), raft_errmsg(&g.raft));
        return rv;
    }
    g.next_seq++;
    g.outstanding++;
    return 0;
}

static void fill(void)
{
    while (g.running && g.free_list != NULL && g.outstanding < g.inflight) {
        struct req *r = g.free_list;
        g.free_list = r->next_free;
        if (submit(r) != 0) {
            r->next_free = g.free_list;
            g.free_list = r;
            g.running = false;
            break;
        }
    }
}

static int cmpu32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double tv(struct timeval t)
{
    return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static void report(void)
{
    if (g.reported || g.mode != M_PIPE || g.t_start == 0 || g.done == 0)
        return;
    g.reported = true;
    struct rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);
    double secs = (double)(g.t_last_done - g.t_start) / 1e9;
    qsort(g.lat_us, g.n_lat, sizeof *g.lat_us, cmpu32);
#define PCT(p) (g.n_lat ? g.lat_us[(size_t)((double)(g.n_lat - 1) * (p))] : 0)
    double sum = 0;
    for (size_t i = 0; i < g.n_lat; i++)
        sum += g.lat_us[i];
    printf("RESULT {\"id\":%u,\"size\":%zu,\"inflight\":%u,\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64
           ",\"secs\":%.3f,\"entries_per_s\":%.1f,"
           "\"mb_per_s\":%.2f,\"lat_ms\":{\"mean\":%.3f,\"p50\":%.3f,"
           "\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"failed\":%" PRIu64 ",\"leader_cpu_s\":%.2f,\"snapshots\":%" PRIu64 "}\n",
           g.id, g.size, g.inflight, g.done, g.done_bytes, secs, (double)g.done / secs, (double)g.done_bytes / secs / 1e6,
           g.n_lat ? sum / (double)g.n_lat / 1000.0 : 0.0, PCT(0.50) / 1000.0, PCT(0.90) / 1000.0, PCT(0.99) / 1000.0,
           g.n_lat ? g.lat_us[g.n_lat - 1] / 1000.0 : 0.0, g.failed,
           tv(ru1.ru_utime) + tv(ru1.ru_stime) - tv(g.ru0.ru_utime) - tv(g.ru0.ru_stime), g.snapshots);
    fflush(stdout);
}

static void applyCb(struct raft_apply *a, int status, void *result)
{
    (void)result;
    struct req *r = a->data;
    uint64_t t = nowns();
    g.outstanding--;
    if (status == 0) {
        if (!g.first_commit_seen) {
            g.first_commit_seen = true;
            emit("first-commit", NULL);
        }
        g.done++;
        g.done_bytes += g.size;
        g.t_last_done = t;
        if (g.n_lat == g.cap_lat) {
            g.cap_lat = g.cap_lat ? g.cap_lat * 2 : 1 << 16;
            g.lat_us = realloc(g.lat_us, g.cap_lat * sizeof *g.lat_us);
        }
        g.lat_us[g.n_lat++] = (uint32_t)((t - r->t0) / 1000);
    } else {
        g.failed++;
        g.running = false;
    }
    r->next_free = g.free_list;
    g.free_list = r;
    if (g.running && g.mode == M_PIPE && t >= g.t_end_submit)
        g.running = false;
    if (g.mode == M_PIPE)
        fill();
    if (!g.running && g.outstanding == 0)
        report();
}

static void trickleCb(uv_timer_t *t)
{
    (void)t;
    if (g.leader && g.barrier_done && g.outstanding == 0) {
        g.running = true;
        fill();
    }
}

static void barrierCb(struct raft_barrier *b, int status)
{
    (void)b;
    if (status != 0) {
        emit("barrier-failed", raft_strerror(status));
        return;
    }
    g.barrier_done = true;
    emit("barrier", NULL);
    /* every earlier entry is applied: continue the sequence from here */
    g.next_seq = g.last_seq + 1;
    if (g.mode == M_PIPE && !g.reported && g.t_start == 0) {
        getrusage(RUSAGE_SELF, &g.ru0);
        g.t_start = nowns();
        g.t_end_submit = g.t_start + (uint64_t)(g.seconds * 1e9);
        g.running = true;
        fill();
    } else if (g.mode == M_TRICKLE) {
        g.inflight = 1;
        uv_timer_start(&g.timer, trickleCb, 0, g.trickle_ms);
    }
}

/* Runs after every loop iteration: notices role changes at once. */
static void checkCb(uv_check_t *c)
{
    (void)c;
    bool is_leader = raft_state(&g.raft) == RAFT_LEADER;
    if (is_leader && !g.leader) {
        g.leader = true;
        g.barrier_done = false;
        g.first_commit_seen = false;
        emit("leader", NULL);
        int rv = raft_barrier(&g.raft, &g.barrier, barrierCb);
        if (rv != 0)
            emit("barrier-error", raft_strerror(rv));
    } else if (!is_leader && g.leader) {
        g.leader = false;
        g.running = false;
        uv_timer_stop(&g.timer);
        emit("lost", raft_state_name(raft_state(&g.raft)));
    }
}

static void final(void)
{
    printf("FINAL {\"id\":%u,\"applied\":%" PRIu64 ",\"applied_bytes\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"seq_errors\":%" PRIu64
           ",\"snapshots\":%" PRIu64 ",\"restores\":%" PRIu64 ",\"last_index\":%llu,\"commit\":%llu,\"term\":%llu}\n",
           g.id, g.applied, g.applied_bytes, g.last_seq, g.seq_errors, g.snapshots, g.restores, raft_last_index(&g.raft),
           raft_commit_index(&g.raft), raft_current_term(&g.raft));
    fflush(stdout);
}

static void closeCb(struct raft *r)
{
    (void)r;
    raft_uv_close(&g.io);
    raft_uv_tcp_close(&g.transport);
    uv_close((uv_handle_t *)&g.check, NULL);
    uv_close((uv_handle_t *)&g.sigterm, NULL);
    uv_close((uv_handle_t *)&g.sigint, NULL);
    uv_close((uv_handle_t *)&g.timer, NULL);
}

static void sigCb(uv_signal_t *s, int sig)
{
    (void)s;
    (void)sig;
    report();
    final();
    g.running = false;
    uv_timer_stop(&g.timer);
    uv_check_stop(&g.check);
    uv_signal_stop(&g.sigterm);
    uv_signal_stop(&g.sigint);
    raft_close(&g.raft, closeCb);
}

/* ---- main --------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: raftspike --id N --addr HOST:PORT --dir DIR\n"
                    "         --cluster 1=127.0.0.1:9001,2=...,3=...\n"
                    "         [--mode idle|pipe|trickle] [--size BYTES] "
                    "[--inflight N] [--seconds S]\n"
                    "         [--election-ms 1000] [--heartbeat-ms 100] "
                    "[--no-pre-vote]\n"
                    "         [--snapshot-threshold 1024] [--snapshot-trailing 128] "
                    "[--trickle-ms 10]\n"
                    "         [--max-inflight-entries 32]\n");
    exit(2);
}

#define CHECK(expr)                                                                                                                \
    do {                                                                                                                           \
        int rv_ = (expr);                                                                                                          \
        if (rv_ != 0) {                                                                                                            \
            fprintf(stderr, "node %u: %s: %d %s\n", g.id, #expr, rv_, raft_strerror(rv_));                                         \
            exit(1);                                                                                                               \
        }                                                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    g.election_ms = 1000;
    g.heartbeat_ms = 100;
    g.pre_vote = true;
    g.snap_threshold = 1024;
    g.snap_trailing = 128;
    g.mode = M_IDLE;
    g.size = 256;
    g.inflight = 1000;
    g.seconds = 10;
    g.trickle_ms = 10;
    static struct option opts[] = {{"id", 1, 0, 'i'},
                                   {"addr", 1, 0, 'a'},
                                   {"dir", 1, 0, 'd'},
                                   {"cluster", 1, 0, 'c'},
                                   {"mode", 1, 0, 'm'},
                                   {"size", 1, 0, 's'},
                                   {"inflight", 1, 0, 'n'},
                                   {"seconds", 1, 0, 't'},
                                   {"election-ms", 1, 0, 'e'},
                                   {"heartbeat-ms", 1, 0, 'h'},
                                   {"no-pre-vote", 0, 0, 'P'},
                                   {"snapshot-threshold", 1, 0, 'T'},
                                   {"snapshot-trailing", 1, 0, 'R'},
                                   {"trickle-ms", 1, 0, 'k'},
                                   {"max-inflight-entries", 1, 0, 'M'},
                                   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            g.id = (unsigned)atoi(optarg);
            break;
        case 'a':
            g.addr = optarg;
            break;
        case 'd':
            g.dir = optarg;
            break;
        case 'c':
            g.cluster = optarg;
            break;
        case 'm':
            if (!strcmp(optarg, "idle"))
                g.mode = M_IDLE;
            else if (!strcmp(optarg, "pipe"))
                g.mode = M_PIPE;
            else if (!strcmp(optarg, "trickle"))
                g.mode = M_TRICKLE;
            else
                usage();
            break;
        case 's':
            g.size = (size_t)atol(optarg);
            break;
        case 'n':
            g.inflight = (unsigned)atoi(optarg);
            break;
        case 't':
            g.seconds = atof(optarg);
            break;
        case 'e':
            g.election_ms = (unsigned)atoi(optarg);
            break;
        case 'h':
            g.heartbeat_ms = (unsigned)atoi(optarg);
            break;
        case 'P':
            g.pre_vote = false;
            break;
        case 'T':
            g.snap_threshold = (unsigned)atoi(optarg);
            break;
        case 'R':
            g.snap_trailing = (unsigned)atoi(optarg);
            break;
        case 'k':
            g.trickle_ms = (unsigned)atoi(optarg);
            break;
        case 'M':
            g.max_inflight_entries = (unsigned)atoi(optarg);
            break;
        default:
            usage();
        }
    }
    if (!g.id || !g.addr || !g.dir || !g.cluster || g.size < HDR || g.inflight == 0)
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* raft_uv writes to peers' sockets with plain write(): a peer that died
     * means EPIPE, and SIGPIPE would kill this process (seen in the spike:
     * both survivors died of SIGPIPE when the leader was killed). */
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(g.dir, 0755) != 0 && errno != EEXIST) {
        perror(g.dir);
        return 1;
    }

    g.reqs = calloc(g.inflight, sizeof *g.reqs);
    for (unsigned i = 0; i < g.inflight; i++) {
        g.reqs[i].next_free = g.free_list;
        g.free_list = &g.reqs[i];
    }

    CHECK(uv_loop_init(&g.loop));
    g.transport.version = 1;
    g.transport.data = NULL;
    CHECK(raft_uv_tcp_init(&g.transport, &g.loop));
    CHECK(raft_uv_init(&g.io, &g.loop, g.dir, &g.transport));
    g.fsm.version = 1;
    g.fsm.apply = fsmApply;
    g.fsm.snapshot = fsmSnapshot;
    g.fsm.restore = fsmRestore;
    CHECK(raft_init(&g.raft, &g.io, &g.fsm, g.id, g.addr));
    raft_set_election_timeout(&g.raft, g.election_ms);
    raft_set_heartbeat_timeout(&g.raft, g.heartbeat_ms);
    raft_set_pre_vote(&g.raft, g.pre_vote);
    raft_set_snapshot_threshold(&g.raft, g.snap_threshold);
    raft_set_snapshot_trailing(&g.raft, g.snap_trailing);
    if (g.max_inflight_entries)
        raft_set_max_inflight_entries(&g.raft, g.max_inflight_entries);

    /* bootstrap: only succeeds on a pristine data dir */
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    char *cl = strdup(g.cluster);
    for (char *tok = strtok(cl, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            usage();
        *eq = 0;
        CHECK(raft_configuration_add(&conf, (raft_id)atoll(tok), eq + 1, RAFT_VOTER));
    }
    free(cl);
    int rv = raft_bootstrap(&g.raft, &conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
        fprintf(stderr, "node %u: bootstrap: %s\n", g.id, raft_strerror(rv));
        return 1;
    }
    raft_configuration_close(&conf);
    printf("EVENT start id=%u t_ns=%" PRIu64 " bootstrapped=%d pid=%d\n", g.id, nowns(), rv == 0, (int)getpid());

    CHECK(raft_start(&g.raft));
    uv_check_init(&g.loop, &g.check);
    uv_check_start(&g.check, checkCb);
    uv_timer_init(&g.loop, &g.timer);
    uv_signal_init(&g.loop, &g.sigterm);
    uv_signal_start(&g.sigterm, sigCb, SIGTERM);
    uv_signal_init(&g.loop, &g.sigint);
    uv_signal_start(&g.sigint, sigCb, SIGINT);

    uv_run(&g.loop, UV_RUN_DEFAULT);
    uv_loop_close(&g.loop);
    free(g.reqs);
    free(g.lat_us);
    return 0;
}

/* djs serve: open the log, rebuild the engine's state, serve the HTTP API
 * until SIGINT/SIGTERM or POST /admin/shutdown (then record server.stopped,
 * flush, exit 0). A storage failure exits non-zero (fail-stop). Settings
 * come from flags or a --config file (flags win). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cluster/cluster.h"
#include "core/alloc.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "replay/verify.h"
#include "api/auth.h"
#include "api/server.h"
#include <sys/stat.h>
#include <time.h>
#include "scheduler/engine.h"
#include <stdlib.h>
#include "tools/djs/cli.h"
#include "tools/cli/config.h"

static int serve_with(int argc, char **argv, const djs_cli_config_t *cfg, const char *usage);

#define DEV_AGENTS 2
#define DEV_STOP_MS 15000 /* agents drain this long at most before they are killed */

typedef struct serve serve_t;

/* A local worker agent started by --dev (a child `djs worker`). */
typedef struct dev_agent {
    uv_process_t proc;
    serve_t *s;
    int running;
} dev_agent_t;

struct serve {
    uv_loop_t loop;
    uv_signal_t sigint, sigterm;
    djs_log_t *log;
    djs_engine_t *engine;
    djs_server_t *server;
    int stopping;
    int exit_code;
    dev_agent_t agents[DEV_AGENTS];
    int nagents;
    uv_timer_t agents_timer;
    int agents_timer_on;
    uv_timer_t fatal_timer;
    djs_cluster_t *cluster; /* --peers: a node of a replicated cluster */
    uint32_t grace_ms;      /* a new leader's grace for workers and leases */
};

/* The command line as given, for the restart after a lost lead. */
static char **saved_argv;

/* The library's lines for the operator (snapshots skipped or failed). */
static void on_note(void *arg, const char *line)
{
    (void)arg;
    fprintf(stderr, "djs: %s\n", line);
}

static int agents_running(const serve_t *s)
{
    int n = 0;
    for (int i = 0; i < s->nagents; i++)
        n += s->agents[i].running;
    return n;
}

static void finish_stop(serve_t *s);

static void on_agents_timer_closed(uv_handle_t *h)
{
    ((serve_t *)h->data)->agents_timer_on = 0;
}

static void on_agent_exit(uv_process_t *p, int64_t status, int sig)
{
    dev_agent_t *a = p->data;
    serve_t *s = a->s;
    a->running = 0;
    if (!s->stopping)
        fprintf(stderr, "djs serve: local agent %d exited (status %lld, signal %d)\n", (int)(a - s->agents) + 1, (long long)status,
                sig);
    uv_close((uv_handle_t *)p, NULL);
    if (s->stopping && agents_running(s) == 0)
        finish_stop(s);
}

static void on_agents_timeout(uv_timer_t *t)
{
    serve_t *s = t->data;
    for (int i = 0; i < s->nagents; i++)
        if (s->agents[i].running) {
            fprintf(stderr, "djs serve: local agent %d did not drain in time: killing it\n", i + 1);
            uv_process_kill(&s->agents[i].proc, SIGKILL);
        }
}

/* --dev: two local agents (`djs worker` children) with worker tokens. 0,
 * djs_auth_sign's error, or libuv's translated (djs_err_from_uv). */
static int start_agents(serve_t *s, djs_auth_t *auth, const char *url, const char *data)
{
    char exe[4096];
    size_t exelen = sizeof(exe);
    int rc = uv_exepath(exe, &exelen);
    if (rc != 0)
        return djs_err_from_uv(rc);
    for (int i = 0; i < DEV_AGENTS; i++) {
        char name[32], workdir[4200], slots[8];
        snprintf(name, sizeof(name), "local-%d", i + 1);
        snprintf(workdir, sizeof(workdir), "%s/work-%d", data, i + 1);
        snprintf(slots, sizeof(slots), "%d", 4);
        mkdir(workdir, 0700);
        djs_buf_t tok;
        djs_buf_init(&tok);
        if (auth != NULL && (rc = djs_auth_sign(auth, name, DJS_ROLE_WORKER, (uint64_t)time(NULL), 365 * 24 * 3600, &tok)) != 0) {
            djs_buf_dispose(&tok);
            return rc;
        }
        djs_buf_append(&tok, "", 1);
        char *args[] = {exe,       "worker", "--server",  (char *)url, "--token", auth ? (char *)tok.base : "none", "--name", name,
                        "--slots", slots,    "--workdir", workdir,     NULL};
        uv_stdio_container_t stdio[3] = {{UV_IGNORE, {0}}, {UV_INHERIT_FD, {.fd = 1}}, {UV_INHERIT_FD, {.fd = 2}}};
        uv_process_options_t o;
        memset(&o, 0, sizeof(o));
        o.file = exe;
        o.args = args;
        o.exit_cb = on_agent_exit;
        o.stdio = stdio;
        o.stdio_count = 3;
        dev_agent_t *a = &s->agents[i];
        a->s = s;
        a->proc.data = a;
        rc = uv_spawn(&s->loop, &a->proc, &o);
        djs_buf_dispose(&tok);
        if (rc != 0) {
            fprintf(stderr, "djs serve: cannot start local agent %s: %s\n", name, uv_strerror(rc));
            return djs_err_from_uv(rc);
        }
        a->running = 1;
        s->nagents++;
    }
    return 0;
}

/* Stop accepting, record server.stopped; the loop ends once every answer
 * is sent and every event durable. Local agents (--dev) drain first, while
 * the server still answers them. */
static void begin_stop(serve_t *s, const char *why)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    fprintf(stderr, "djs: %s, stopping\n", why);
    uv_signal_stop(&s->sigint);
    uv_signal_stop(&s->sigterm);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    if (agents_running(s) > 0) {
        for (int i = 0; i < s->nagents; i++)
            if (s->agents[i].running)
                uv_process_kill(&s->agents[i].proc, SIGTERM);
        uv_timer_init(&s->loop, &s->agents_timer);
        s->agents_timer.data = s;
        s->agents_timer_on = 1;
        uv_timer_start(&s->agents_timer, on_agents_timeout, DEV_STOP_MS, 0);
        return;
    }
    finish_stop(s);
}

static void finish_stop(serve_t *s)
{
    if (s->agents_timer_on && !uv_is_closing((uv_handle_t *)&s->agents_timer))
        uv_close((uv_handle_t *)&s->agents_timer, on_agents_timer_closed);
    djs_server_stop(s->server);
    if (s->cluster != NULL) {
        /* no server.stopped: a leader's last batch would never commit */
        djs_cluster_close(s->cluster);
        s->cluster = NULL;
        return;
    }
    djs_engine_server_stopped(s->engine, (int64_t)getpid(), NULL);
}

/* ---- a cluster node ------------------------------------------------------------------- */

/* Fail-stop and replay: this node lost the lead with events in its
 * projection that may never be committed. What was committed is in LMDB
 * (wait for the writer), so the process starts over on the same command
 * line: it rebuilds from the committed log and rejoins as a follower. */
static void restart_self(serve_t *s, const char *why)
{
    fprintf(stderr, "djs: cluster: %s; restarting to rebuild from the committed log\n", why);
    fflush(stdout);
    fflush(stderr);
    djs_log_wait_durable(s->log, djs_log_committed_seq(s->log));
    closefrom(3); /* the listener, LMDB's and Raft's files: the new image opens its own */
    execv("/proc/self/exe", saved_argv);
    fprintf(stderr, "djs: cluster: cannot restart (%s): exiting with status 3\n", strerror(errno));
    _exit(3);
}

static void on_cluster_fail(void *arg, int err, const char *why)
{
    serve_t *s = arg;
    if (err == DJS_ENOTLEADER)
        restart_self(s, why);
    fprintf(stderr, "djs: FATAL: cluster: %s (%s); this node stops and must be repaired (docs/operations.md, \"Cluster\")\n", why,
            djs_err_name(err));
    fflush(stdout);
    fflush(stderr);
    _exit(4);
}

static int on_cluster_event(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    serve_t *s = arg;
    (void)seq;
    return djs_engine_apply(s->engine, rec, len);
}

static void on_cluster_lead(void *arg, uint64_t term)
{
    serve_t *s = arg;
    djs_cluster_status_t cs;
    djs_cluster_get_status(s->cluster, &cs);
    uint64_t seq = 0;
    int rc = djs_engine_lead(s->engine, term, cs.node_id, djs_cluster_leader_url(s->cluster), s->grace_ms, &seq);
    if (rc != 0) {
        fprintf(stderr, "djs: cluster: cannot record cluster.leader: %s\n", djs_engine_errmsg(s->engine));
        restart_self(s, "the lead could not be taken");
    }
    printf("djs serve: cluster: this node (%" PRIu64 ") leads, term %" PRIu64 ", from seq %" PRIu64 "\n", cs.node_id, term, seq);
    fflush(stdout);
}

static void on_signal(uv_signal_t *h, int signum)
{
    begin_stop(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_shutdown_request(void *arg)
{
    begin_stop(arg, "shutdown requested over the API");
}

static void on_fatal_drained(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* The log failed (a commit could not be made durable): fail-stop. The writes
 * that waited for the failed commit have been answered 503 already; for
 * FATAL_DRAIN_MS more the loop keeps running so that those answers leave
 * and the requests already on their way are read and answered 503 too
 * (appends on a failed log fail at once) instead of meeting a reset. Then
 * the loop stops and serve exits 3 without touching the log again. */
#define FATAL_DRAIN_MS 300
static void restart_self(serve_t *s, const char *why);

static void on_fatal(void *arg, int err, const char *msg)
{
    serve_t *s = arg;
    if (err == DJS_ENOTLEADER) {
        restart_self(s, msg);
        return;
    }
    fprintf(stderr, "djs: FATAL: event log failed (%s): %s; stopping writes and exiting, restart replays the log\n",
            djs_err_name(err), msg);
    s->exit_code = 3;
    uv_timer_init(&s->loop, &s->fatal_timer);
    uv_timer_start(&s->fatal_timer, on_fatal_drained, FATAL_DRAIN_MS, 0);
}

#ifdef DJS_TEST_SEAMS
/* Test builds only (cmake -DDJS_TEST_SEAMS=ON, the default for a Debug build
 * with tests): while the file named by DJS_TEST_ENOSPC_FILE exists, every
 * commit fails as on a full disk (ENOSPC), for test_dr_diskfull.sh where no
 * size-limited file system can be mounted. Writer thread. */
static int enospc_fault(void *arg, uint64_t first_seq, uint64_t last_seq)
{
    (void)first_seq, (void)last_seq;
    return access(arg, F_OK) == 0 ? ENOSPC : 0;
}
#endif

/* A start that fails after the log was opened: record the stop, flush,
 * close everything, exit 1 (nothing left for LeakSanitizer or the disk). */
static int abort_start(serve_t *s, djs_auth_t *auth)
{
    djs_engine_server_stopped(s->engine, (int64_t)getpid(), NULL);
    djs_log_sync(s->log);
    djs_engine_close(s->engine);
    djs_log_close(s->log);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
    djs_auth_close(auth);
    return 1;
}

static const char *const serve_keys[] = {"data",
                                         "listen",
                                         "tls-cert",
                                         "tls-key",
                                         "http2",
                                         "rate-limit",
                                         "insecure-no-auth",
                                         "max-body",
                                         "heartbeat-interval",
                                         "lease",
                                         "snapshot-every",
                                         "output-cap",
                                         "keep-finished",
                                         "keep-finished-s",
                                         "stream-ping-ms",
                                         "stream-stall-ms",
                                         "stream-batch-ms",
                                         "stream-window-bytes",
                                         "dev",
                                         "ui-dir",
                                         "node-id",
                                         "peers",
                                         "advertise",
                                         "election-ms",
                                         "join",
                                         NULL};

/* --name VALUE on the command line, else `name = VALUE` in the config file. */
static const char *setting(int argc, char **argv, const djs_cli_config_t *cfg, const char *name)
{
    char opt[64];
    snprintf(opt, sizeof(opt), "--%s", name);
    const char *v = djs_cli_opt(argc, argv, opt);
    return v != NULL ? v : djs_cli_config_get(cfg, name);
}

/* A flag: given on the command line (1), or true/false in the file (1, 0;
 * 0 when absent). DJS_EINVAL after a message on a bad value. */
static int flag_setting(int argc, char **argv, const djs_cli_config_t *cfg, const char *name)
{
    char opt[64];
    snprintf(opt, sizeof(opt), "--%s", name);
    if (djs_cli_flag(argc, argv, opt))
        return 1;
    const char *v = djs_cli_config_get(cfg, name);
    int b = v != NULL ? djs_cli_config_bool(v) : 0;
    if (b < 0)
        fprintf(stderr, "djs serve: setting %s wants true or false, not '%s'\n", name, v);
    return b;
}

/* A number setting within [min, max] (k/M/G suffixes); -1 and a message otherwise. */
static int num_setting(int argc, char **argv, const djs_cli_config_t *cfg, const char *name, uint64_t min, uint64_t max,
                       uint64_t *out)
{
    const char *v = setting(argc, argv, cfg, name);
    if (v == NULL)
        return 0;
    if (djs_cli_u64(v, out) != 0 || *out < min || *out > max) {
        fprintf(stderr, "djs serve: %s wants a number from %" PRIu64 " to %" PRIu64 ", not '%s'\n", name, min, max, v);
        return DJS_EINVAL;
    }
    return 1;
}

/* Exit status of a start refused because the log is damaged: distinct
 * from a fail-stop's 3 (which a restart recovers from), so a supervisor
 * does not restart into the same refusal (deploy/systemd:
 * RestartPreventExitStatus). */
#define DJS_SERVE_EXIT_DAMAGED 4

/* Before serving anything: the hash chain from the newest verified
 * checkpoint to the end, recording checkpoints as it goes, so a restart
 * rehashes only what was appended since. A broken chain refuses the start
 * and names the first bad record; state is never built from it. */
static int check_chain(djs_log_t *log, const char *data)
{
    djs_verify_options_t o;
    djs_verify_report_t rep;
    djs_verify_options_init(&o);
    o.from_checkpoint = 1;
    o.checkpoint_every = 1000000;
    o.output = o.index = o.replay = 0;
    uint64_t t0 = uv_hrtime();
    int rc = djs_verify_run(log, &o, &rep);
    double ms = (uv_hrtime() - t0) / 1e6;
    if (rc == 0) {
        if (rep.records > 0)
            printf("djs serve: hash chain checked: %" PRIu64 " records (seqs %" PRIu64 "..%" PRIu64 ") in %.1f ms%s\n", rep.records,
                   rep.first_seq, rep.last_seq, ms, rep.trusted_seq > rep.base_seq ? ", from the last verified checkpoint" : "");
        return 0;
    }
    fprintf(stderr,
            "djs serve: REFUSING TO START: the event log in %s is damaged at seq %" PRIu64 ": %s [%s]\n"
            "djs serve: nothing was served and nothing was changed. %" PRIu64 " records before it check out.\n"
            "djs serve: inspect it with:  djs replay verify %s\n"
            "djs serve: recover with:     djs restore BACKUP NEWDIR [--to-seq %" PRIu64
            "]  (docs/operations.md, \"Disaster recovery\")\n",
            data, rep.bad_seq, rep.detail, djs_err_name(rep.error), rep.records, data, rep.bad_seq > 0 ? rep.bad_seq - 1 : 0);
    return rc;
}

int djs_cmd_serve(int argc, char **argv)
{
    const char *usage = "djs serve [--config FILE] [--data DIR] [--listen HOST:PORT] [--tls-cert F --tls-key F [--http2]] "
                        "[--rate-limit PER_S[:BURST]] [--insecure-no-auth] [--max-body BYTES] [--heartbeat-interval S] "
                        "[--lease S] [--snapshot-every EVENTS] [--output-cap BYTES] [--keep-finished JOBS] [--keep-finished-s S] "
                        "[--stream-ping-ms MS] [--stream-stall-ms MS] "
                        "[--stream-batch-ms MS] [--stream-window-bytes BYTES] [--ui-dir DIR] [--dev] "
                        "[--node-id N --peers ID=HOST:PORT,... [--advertise URL] [--election-ms MS] [--join]]";
    saved_argv = djs_calloc((size_t)argc + 2, sizeof(char *));
    saved_argv[0] = "djs";
    for (int i = 0; i < argc; i++)
        saved_argv[i + 1] = argv[i];
    djs_cli_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    const char *cfg_path = djs_cli_opt(argc, argv, "--config");
    if (cfg_path != NULL) {
        char err[512];
        if (djs_cli_config_load(&cfg, cfg_path, serve_keys, err, sizeof(err)) != 0) {
            fprintf(stderr, "djs serve: config %s\n", err);
            return 2;
        }
    }
    int rc = serve_with(argc, argv, &cfg, usage);
    djs_cli_config_free(&cfg);
    return rc;
}

static int serve_with(int argc, char **argv, const djs_cli_config_t *cfg, const char *usage)
{
    int no_auth = flag_setting(argc, argv, cfg, "insecure-no-auth");
    const char *rate = setting(argc, argv, cfg, "rate-limit");
    const char *tls_cert = setting(argc, argv, cfg, "tls-cert"), *tls_key = setting(argc, argv, cfg, "tls-key");
    int http2 = flag_setting(argc, argv, cfg, "http2");
    int dev = flag_setting(argc, argv, cfg, "dev");
    const char *data = setting(argc, argv, cfg, "data");
    const char *listen = setting(argc, argv, cfg, "listen");
    const char *ui_dir = setting(argc, argv, cfg, "ui-dir");
    const char *peers = setting(argc, argv, cfg, "peers");
    const char *advertise = setting(argc, argv, cfg, "advertise");
    uint64_t node_id = 0, election_ms = 0;
    int join = flag_setting(argc, argv, cfg, "join");
    djs_engine_config_t ec;
    djs_engine_config_init(&ec);
    int snap_set = 0;
    uint64_t max_body = 0, hb_s = 0, lease_s = 0, snap = 0, out_cap = 0, ping_ms = 0, stall_ms = 0, batch_ms = 0, window = 0;
    uint64_t keep_n = 0, keep_s = 0;
    if (no_auth < 0 || http2 < 0 || dev < 0 || join < 0 ||
        num_setting(argc, argv, cfg, "max-body", 1024, 1u << 30, &max_body) < 0 ||
        num_setting(argc, argv, cfg, "heartbeat-interval", 1, 3600, &hb_s) < 0 ||
        num_setting(argc, argv, cfg, "lease", 1, 86400, &lease_s) < 0 ||
        (snap_set = num_setting(argc, argv, cfg, "snapshot-every", 0, 1000000000, &snap)) < 0 ||
        num_setting(argc, argv, cfg, "output-cap", 1024, 1u << 30, &out_cap) < 0 ||
        num_setting(argc, argv, cfg, "keep-finished", 1, 100000000, &keep_n) < 0 ||
        num_setting(argc, argv, cfg, "keep-finished-s", 1, 365 * 86400, &keep_s) < 0 ||
        num_setting(argc, argv, cfg, "stream-ping-ms", 100, 600000, &ping_ms) < 0 ||
        num_setting(argc, argv, cfg, "stream-stall-ms", 100, 3600000, &stall_ms) < 0 ||
        num_setting(argc, argv, cfg, "stream-batch-ms", 0, 1000, &batch_ms) < 0 ||
        num_setting(argc, argv, cfg, "stream-window-bytes", 65536, 1u << 30, &window) < 0 ||
        num_setting(argc, argv, cfg, "node-id", 1, 1000000, &node_id) < 0 ||
        num_setting(argc, argv, cfg, "election-ms", 100, 60000, &election_ms) < 0)
        return 2;
    if ((peers != NULL) != (node_id != 0)) {
        fprintf(stderr, "djs serve: a cluster node needs both --node-id and --peers\n");
        return 2;
    }
    if (peers != NULL && dev) {
        fprintf(stderr, "djs serve: --dev starts a single server; a cluster node takes agents of its own (djs worker)\n");
        return 2;
    }
    if (hb_s > 0)
        ec.heartbeat_ns = hb_s * 1000000000ULL;
    if (lease_s > 0)
        ec.lease_ns = lease_s * 1000000000ULL;
    if (snap_set > 0) /* not setting() again: the command-line option was consumed by num_setting */
        ec.snapshot_every = snap;
    if (out_cap > 0)
        ec.output_cap = (uint32_t)out_cap;
    if (keep_n > 0)
        ec.state.max_terminal = keep_n;
    if (keep_s > 0)
        ec.state.max_terminal_age = keep_s * 1000000000ULL;
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, usage) < 0)
        return 2;
    if (data == NULL)
        data = "./data";
    if (listen == NULL)
        listen = "127.0.0.1:8080";
    djs_server_config_t sc;
    djs_server_config_init(&sc);
    if (max_body > 0)
        sc.max_body = (size_t)max_body;
    sc.stream_ping_ms = (unsigned)ping_ms;
    sc.stream_stall_ms = (unsigned)stall_ms;
    if (setting(argc, argv, cfg, "stream-batch-ms") != NULL)
        sc.stream_batch_ms = (int)batch_ms;
    sc.stream_window_bytes = (size_t)window;
    if (ui_dir != NULL) {
        struct stat ust;
        if (stat(ui_dir, &ust) != 0 || !S_ISDIR(ust.st_mode)) {
            fprintf(stderr, "djs serve: --ui-dir %s is not a directory (give the dashboard's build, e.g. ui/dist)\n", ui_dir);
            return 2;
        }
        sc.ui_dir = ui_dir;
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || (size_t)(colon - listen) >= sizeof(host) || atoi(colon + 1) < 0 ||
        atoi(colon + 1) > 65535) {
        fprintf(stderr, "djs serve: --listen wants HOST:PORT (e.g. 127.0.0.1:8080)\n");
        return 2;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    sc.host = host;
    sc.port = atoi(colon + 1);
    if (rate != NULL) {
        char *end;
        unsigned long r = strtoul(rate, &end, 10), b = 0;
        if (*end == ':')
            b = strtoul(end + 1, &end, 10);
        if (*end != '\0' || r > 10000000 || b > 10000000) {
            fprintf(stderr, "djs serve: --rate-limit wants PER_S or PER_S:BURST (0 = no limit)\n");
            return 2;
        }
        sc.rate_per_s = (unsigned)r;
        sc.rate_burst = (unsigned)b;
    }

    serve_t s;
    memset(&s, 0, sizeof(s));
    char raft_dir[4200], self_url[300];
    if (peers != NULL) {
        djs_cluster_config_t cc;
        djs_cluster_config_init(&cc);
        snprintf(raft_dir, sizeof(raft_dir), "%s/raft", data);
        snprintf(self_url, sizeof(self_url), "%s://%s", tls_cert ? "https" : "http", listen);
        cc.node_id = node_id;
        cc.peers = peers;
        cc.dir = raft_dir;
        cc.url = advertise != NULL ? advertise : self_url;
        if (election_ms > 0)
            cc.election_ms = (uint32_t)election_ms;
        cc.join = join;
        cc.on_event = on_cluster_event;
        cc.on_lead = on_cluster_lead;
        cc.on_fail = on_cluster_fail;
        cc.arg = &s;
        cc.note = on_note;
        char err[400];
        if (djs_cluster_new(&s.cluster, &cc, err, sizeof(err)) != 0) {
            fprintf(stderr, "djs serve: %s\n", err);
            return 2;
        }
        s.grace_ms = (uint32_t)(ec.heartbeat_ns * ec.missed_heartbeats / 1000000);
    }
    uv_loop_init(&s.loop);
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.on_fatal = on_fatal;
    o.fatal_arg = &s;
    if (s.cluster != NULL) {
        o.replicate = djs_cluster_replicate;
        o.replicate_arg = s.cluster;
    }
#ifdef DJS_TEST_SEAMS
    const char *enospc = getenv("DJS_TEST_ENOSPC_FILE");
    if (enospc != NULL && *enospc != '\0') {
        o.fault = enospc_fault;
        o.fault_arg = (void *)enospc;
        fprintf(stderr, "djs serve: TEST SEAM: commits fail with ENOSPC while %s exists\n", enospc);
    }
#endif
    uint64_t t0 = uv_hrtime();
    int rc = djs_log_open(&s.log, data, &o);
    if (rc != 0) {
        fprintf(stderr, "djs serve: cannot open the event log in %s: %s\n", data, djs_strerror(rc));
        uv_loop_close(&s.loop);
        return 1;
    }
    if ((rc = check_chain(s.log, data)) != 0) {
        djs_log_close(s.log);
        uv_loop_close(&s.loop);
        return DJS_SERVE_EXIT_DAMAGED;
    }
    djs_log_attach(s.log, &s.loop);
    uint64_t before = djs_log_last_seq(s.log), replay_ns = 0, replayed = 0;
    ec.note = on_note;
    if ((rc = djs_engine_open(&s.engine, s.log, &s.loop, &ec, &replay_ns, &replayed)) != 0) {
        fprintf(stderr, "djs serve: cannot rebuild the state from the log: %s (check it with: djs replay verify %s)\n",
                djs_strerror(rc), data);
        djs_log_close(s.log);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        return 1;
    }
    const djs_metrics_t *m = djs_state_metrics(djs_engine_state(s.engine));
    printf("djs serve: state rebuilt in %.1f ms (%" PRIu64 " events replayed after the snapshot): %" PRIu64
           " jobs in memory (%" PRIu64 " queued, %" PRIu64 " running), %" PRIu64 " active workers\n",
           replay_ns / 1e6, replayed, djs_state_njobs(djs_engine_state(s.engine)), m->by_state[DJS_JOB_QUEUED],
           m->by_state[DJS_JOB_RUNNING], m->workers_active);
    if (s.cluster != NULL)
        djs_engine_follow(s.engine); /* until Raft elects this node */
    else if ((rc = djs_engine_server_started(s.engine, (int64_t)getpid(), listen, NULL)) != 0 || (rc = djs_log_sync(s.log)) != 0) {
        fprintf(stderr, "djs serve: cannot write to the event log: %s\n", djs_strerror(rc));
        djs_engine_close(s.engine);
        djs_log_close(s.log);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        return 1;
    }
    printf("djs serve: event log %s open in %.1f ms (%" PRIu64 " events before this start, now at seq %" PRIu64 ")\n", data,
           (uv_hrtime() - t0) / 1e6, before, djs_log_last_seq(s.log));
    djs_auth_t *auth = NULL;
    if (!no_auth) {
        char secret[4200];
        struct stat st;
        snprintf(secret, sizeof(secret), "%s/%s", data, DJS_AUTH_SECRET_FILE);
        int first = stat(secret, &st) != 0;
        if ((rc = djs_auth_open(&auth, data)) != 0) {
            fprintf(stderr, "djs serve: cannot load the token secret %s: %s\n", secret, djs_strerror(rc));
            return abort_start(&s, NULL);
        }
        if (first) {
            djs_buf_t tok;
            djs_buf_init(&tok);
            const char *user = getenv("USER") ? getenv("USER") : "admin";
            if (djs_auth_sign(auth, user, DJS_ROLE_ADMIN, (uint64_t)time(NULL), 24 * 3600, &tok) == 0)
                printf("djs serve: first start: admin token for '%s', valid 24 h (more with: djs token create --sub NAME --role "
                       "ROLE):\n%.*s\n",
                       user, (int)tok.len, (const char *)tok.base);
            djs_buf_dispose(&tok);
        }
    }
    sc.auth = auth;
    sc.tls_cert = tls_cert;
    sc.tls_key = tls_key;
    sc.http2 = http2;
    sc.on_shutdown = on_shutdown_request;
    sc.shutdown_arg = &s;
    sc.cluster = s.cluster;
    if ((rc = djs_server_start(&s.server, &s.loop, s.engine, &sc)) != 0) {
        fprintf(stderr, "djs serve: cannot listen on %s: %s%s\n", listen, djs_strerror(rc),
                rc == DJS_EINVAL && (tls_cert || tls_key) ? " (give both --tls-cert and --tls-key)" : "");
        return abort_start(&s, auth);
    }
    printf("djs serve: listening on %s://%s:%d/ (health: /health, API: /api/v1, dashboard: /ui/%s%s)\n",
           tls_cert ? "https" : "http", host, djs_server_port(s.server), ui_dir ? " from " : "", ui_dir ? ui_dir : "");
    if (s.cluster != NULL) {
        char err[400];
        if ((rc = djs_cluster_start(s.cluster, &s.loop, s.log, err, sizeof(err))) != 0) {
            fprintf(stderr, "djs serve: cannot start the cluster node: %s\n", err);
            djs_server_stop(s.server);
            djs_cluster_close(s.cluster);
            s.cluster = NULL;
            return abort_start(&s, auth);
        }
        printf("djs serve: cluster node %" PRIu64 " of %s (Raft files in %s); writes go to the leader\n", node_id, peers, raft_dir);
    }
    if (no_auth)
        printf(
            "djs serve: WARNING: --insecure-no-auth: NO AUTHENTICATION, every request acts as an admin. Local experiments only.\n");
    else
        printf("djs serve: bearer tokens required (JWT HS256, secret in %s/%s)\n", data, DJS_AUTH_SECRET_FILE);
    if (dev) {
        char url[300];
        snprintf(url, sizeof(url), "%s://%s:%d", tls_cert ? "https" : "http", host, djs_server_port(s.server));
        djs_buf_t tok;
        djs_buf_init(&tok);
        const char *user = getenv("USER") ? getenv("USER") : "admin";
        if (auth != NULL)
            djs_auth_sign(auth, user, DJS_ROLE_ADMIN, (uint64_t)time(NULL), 24 * 3600, &tok);
        djs_buf_append(&tok, "", 1);
        printf("djs serve: --dev: starting %d local agents (djs worker local-1, local-2; workdirs in %s)\n", DEV_AGENTS, data);
        printf("djs serve: URL   %s\n", url);
        if (auth != NULL) {
            printf("djs serve: TOKEN %s   (admin, 24 h)\n", (const char *)tok.base);
            djs_buf_t code;
            djs_buf_init(&code);
            if (djs_auth_sign_login(auth, user, DJS_ROLE_ADMIN, (uint64_t)time(NULL), 600, 24 * 3600, &code) == 0)
                printf("djs serve: DASHBOARD %s/ui/login#code=%s\n"
                       "djs serve:           (a one-time login, valid 10 min; later: djs token create --login-code --sub NAME "
                       "--role ROLE --url %s)\n",
                       url, (const char *)code.base, url);
            djs_buf_dispose(&code);
        } else {
            printf("djs serve: DASHBOARD %s/ui/\n", url);
        }
        printf("djs serve: try:  export DJS_SERVER=%s DJS_TOKEN=%s\n"
               "                 ./build/djs submit -f examples/diamond.yaml && ./build/djs watch --name-prefix diamond\n",
               url, auth != NULL ? (const char *)tok.base : "none");
        fflush(stdout);
        int arc = start_agents(&s, auth, url, data);
        djs_buf_dispose(&tok);
        if (arc != 0)
            fprintf(stderr, "djs serve: --dev: the local agents did not start; serving without them\n");
    }
    printf("djs serve: press Ctrl-C to stop\n");
    fflush(stdout);

    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_run(&s.loop, UV_RUN_DEFAULT);

    if (s.exit_code == 0 && (rc = djs_log_sync(s.log)) != 0) {
        fprintf(stderr, "djs serve: final flush failed: %s\n", djs_strerror(rc));
        s.exit_code = 3;
    }
    if (s.exit_code != 0)
        return s.exit_code; /* fail-stop: do not touch the log again */
    djs_engine_close(s.engine);
    djs_log_close(s.log);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    uv_loop_close(&s.loop);
    djs_auth_close(auth);
    printf("djs serve: stopped cleanly\n");
    return 0;
}

/* djs replay verify DATA_DIR, djs replay rebuild DATA_DIR (djs backup and restore: cmd_backup.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "projections/replay.h"
#include "projections/state.h"
#include "replay/verify.h"
#include "tools/djs/cli.h"

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    uint64_t *t0 = arg;
    if (!isatty(2) && done != total)
        return;
    double s = (djs_monotonic_ns() - *t0) / 1e9;
    fprintf(stderr, "\rverify: %" PRIu64 "/%" PRIu64 " records (%.0f%%) %.1fs", done, total, total ? 100.0 * done / total : 100.0,
            s);
    if (done == total)
        fputc('\n', stderr);
}

static int open_ro(const char *dir, djs_log_t **log)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    int rc = djs_log_open(log, dir, &o);
    if (rc != 0)
        fprintf(stderr, "djs: cannot open the log in %s: %s\n", dir, djs_strerror(rc));
    return rc;
}

static int verify(const char *dir)
{
    djs_log_t *log;
    if (open_ro(dir, &log) != 0)
        return 1;
    djs_verify_report_t rep;
    uint64_t t0 = djs_monotonic_ns();
    int rc = djs_verify_log(log, &rep, on_progress, &t0);
    double s = (djs_monotonic_ns() - t0) / 1e9;
    djs_log_close(log);
    if (rc != 0) {
        printf("FAIL %s: first bad seq %" PRIu64 ": %s [%s]\n", dir, rep.bad_seq, rep.detail, djs_err_name(rep.error));
        printf("     %" PRIu64 " records before it verified\n", rep.records);
        return 1;
    }
    char hex[2 * DJS_HASH_LEN + 1];
    for (int i = 0; i < DJS_HASH_LEN; i++)
        sprintf(hex + 2 * i, "%02x", rep.head_hash[i]);
    printf("OK %s: %" PRIu64 " records, seqs 1..%" PRIu64 ", %" PRIu64 " index entries, chain head %s (%.2fs)\n", dir, rep.records,
           rep.last_seq, rep.index_entries, hex, s);
    return 0;
}

/* Replay the whole log into a fresh projection (no snapshot) and print its
 * digest: two logs with the same history give the same digest. */
static int rebuild(const char *dir, int keep_all)
{
    djs_log_t *log;
    if (open_ro(dir, &log) != 0)
        return 1;
    djs_state_config_t sc;
    djs_state_config_init(&sc);
    if (keep_all) {
        sc.max_terminal = UINT64_MAX;
        sc.max_terminal_age = UINT64_MAX / 2;
    }
    djs_state_t *st = djs_state_new(&sc);
    uint64_t t0 = djs_monotonic_ns();
    uint64_t bad = 0;
    int err = 0;
    int rc = djs_state_replay(st, log, 1, UINT64_MAX, NULL, &bad, &err);
    double s = (djs_monotonic_ns() - t0) / 1e9;
    if (rc != 0)
        fprintf(stderr, "rebuild: event %" PRIu64 " does not apply: %s\n", bad, djs_err_name(err ? err : rc));
    if (rc == 0) {
        uint8_t d[32];
        char hex[65];
        djs_state_digest(st, d);
        for (int i = 0; i < 32; i++)
            sprintf(hex + 2 * i, "%02x", d[i]);
        const djs_metrics_t *m = djs_state_metrics(st);
        printf("OK %s: %" PRIu64 " events replayed in %.2fs (%.0f/s), %" PRIu64 " jobs in memory, %" PRIu64 " submitted, %" PRIu64
               " completed, %" PRIu64 " failed; state digest %s\n",
               dir, djs_state_seq(st), s, djs_state_seq(st) / (s > 0 ? s : 1e-9), djs_state_njobs(st), m->submitted, m->completed,
               m->failed, hex);
    }
    djs_state_free(st);
    djs_log_close(log);
    return rc == 0 ? 0 : 1;
}

int djs_cmd_replay(int argc, char **argv)
{
    const char *usage = "djs replay verify DATA_DIR | djs replay rebuild [--keep-all] DATA_DIR";
    int keep_all = djs_cli_flag(argc, argv, "--keep-all");
    const char *pos[2];
    int n = djs_cli_rest(argc, argv, pos, 2, usage);
    if (n < 0)
        return 2;
    if (n == 2 && strcmp(pos[0], "verify") == 0)
        return verify(pos[1]);
    if (n == 2 && strcmp(pos[0], "rebuild") == 0)
        return rebuild(pos[1], keep_all);
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
}

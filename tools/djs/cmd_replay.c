/* djs replay verify DATA_DIR, djs backup DATA_DIR DEST (rebuild and diff: cmd_replay_state.c). */
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

int djs_cmd_replay(int argc, char **argv)
{
    const char *usage = "djs replay verify DATA_DIR | djs replay rebuild DATA_DIR [...] | djs replay diff DATA_DIR [...]";
    if (argc >= 2 && strcmp(argv[1], "rebuild") == 0) /* replay/rebuild.h: cmd_replay_state.c */
        return djs_cmd_replay_rebuild(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "diff") == 0)
        return djs_cmd_replay_diff(argc - 1, argv + 1);
    const char *pos[2];
    int n = djs_cli_rest(argc, argv, pos, 2, usage);
    if (n < 0)
        return 2;
    if (n == 2 && strcmp(pos[0], "verify") == 0)
        return verify(pos[1]);
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
}

int djs_cmd_backup(int argc, char **argv)
{
    const char *usage = "djs backup DATA_DIR DEST";
    const char *pos[2];
    if (djs_cli_rest(argc, argv, pos, 2, usage) != 2) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    djs_log_t *log;
    if (open_ro(pos[0], &log) != 0)
        return 1;
    uint64_t t0 = djs_monotonic_ns(), seq = djs_log_last_seq(log);
    int rc = djs_log_backup(log, pos[1]);
    djs_log_close(log);
    if (rc != 0) {
        fprintf(stderr, "djs backup: %s -> %s failed: %s\n", pos[0], pos[1], djs_strerror(rc));
        return 1;
    }
    printf("djs backup: %s -> %s done in %.2fs (log was at seq %" PRIu64 " or later); check it with: djs replay verify %s\n",
           pos[0], pos[1], (djs_monotonic_ns() - t0) / 1e9, seq, pos[1]);
    return 0;
}

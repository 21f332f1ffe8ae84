/* djs replay archive DATA_DIR --before POINT DEST [--prune-output] and
 * djs replay archive --check FILE [DATA_DIR] (replay/archive.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "replay/archive.h"
#include "tools/cli/args.h"
#include "tools/djs/cli.h"
#include "tools/djs/progress.h"

static void on_progress(void *arg, const char *phase, uint64_t done, uint64_t total)
{
    djs_progress_phase(arg, phase);
    djs_progress(arg, done, total);
}

/* --check FILE [DIR]: the archive's chain, and that DIR's log starts where it ends. */
static int check(const char *file, const char *dir)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "djs replay archive: cannot open %s\n", file);
        return 1;
    }
    djs_archive_check_report_t rep;
    int rc = djs_archive_check(f, &rep);
    fclose(f);
    if (rc != 0) {
        printf("FAIL %s: %s [%s]\n", file, rep.detail, djs_err_name(rc));
        return 1;
    }
    char head[2 * DJS_HASH_LEN + 1];
    djs_hex(rep.head, DJS_HASH_LEN, head);
    printf("OK %s: %" PRIu64 " records, seqs %" PRIu64 "..%" PRIu64 ", %" PRIu64 " output chunks, chain head %s\n", file,
           rep.events, rep.first_seq, rep.last_seq, rep.chunks, head);
    if (dir == NULL)
        return 0;
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    if ((rc = djs_log_open(&log, dir, &o)) != 0) {
        fprintf(stderr, "djs replay archive: cannot open the log in %s: %s\n", dir, djs_strerror(rc));
        return 1;
    }
    djs_log_base_t base;
    rc = djs_log_get_base(log, &base);
    djs_log_close(log);
    if (rc != 0 || base.seq != rep.last_seq || memcmp(base.hash, rep.head, DJS_HASH_LEN) != 0) {
        printf("FAIL %s does not continue %s: its log %s\n", dir, file,
               rc != 0 ? "was never archived" : "starts from another record or hash");
        return 1;
    }
    printf("OK %s continues it: its log starts at seq %" PRIu64 ", chained to that head\n", dir, base.seq + 1);
    return 0;
}

int djs_cmd_replay_archive(int argc, char **argv)
{
    const char *usage = "djs replay archive DATA_DIR --before SEQ|TIME DEST [--prune-output] | djs replay archive --check FILE "
                        "[DATA_DIR]";
    int checking = djs_cli_flag(argc, argv, "--check");
    const char *before = djs_cli_opt(argc, argv, "--before");
    int prune = djs_cli_flag(argc, argv, "--prune-output");
    const char *pos[2];
    int n = djs_cli_rest(argc, argv, pos, 2, usage);
    if (n < 0)
        return 2;
    if (checking) {
        if (n < 1 || before != NULL || prune) {
            fprintf(stderr, "usage: %s\n", usage);
            return 2;
        }
        return check(pos[0], n == 2 ? pos[1] : NULL);
    }
    djs_archive_options_t o = {0};
    int is_time = 0;
    uint64_t v = 0;
    if (n != 2 || before == NULL) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    if (djs_cli_point(before, djs_wall_ns(), &is_time, &v) != 0 || (!is_time && v == 0)) {
        fprintf(stderr, "djs replay archive: --before wants a seq or a time (RFC 3339, or back from now like -30d), not \"%s\"\n",
                before);
        return 2;
    }
    if (is_time)
        o.before_ns = v;
    else
        o.before_seq = v;
    o.prune_output = prune;
    djs_progress_t pr;
    djs_progress_init(&pr, "export");
    o.progress = on_progress;
    o.arg = &pr;
    djs_archive_report_t rep;
    int rc = djs_archive(pos[0], pos[1], &o, &rep);
    djs_progress_end(&pr);
    if (rc != 0) {
        fprintf(stderr, "djs replay archive: %s [%s]\n", rep.detail, djs_err_name(rc));
        return 1;
    }
    char head[2 * DJS_HASH_LEN + 1], digest[65];
    djs_hex(rep.head, DJS_HASH_LEN, head);
    djs_hex(rep.digest, 32, digest);
    printf("djs replay archive: seqs %" PRIu64 "..%" PRIu64 " (%" PRIu64 " records, %" PRIu64 " output chunks) moved to %s "
           "(%.1f MB, checked) in %.1fs\n",
           rep.first_seq, rep.base_seq, rep.events, rep.chunks, pos[1], (double)rep.file_bytes / 1e6,
           (double)(djs_monotonic_ns() - pr.t0) / 1e9);
    printf("   the log now starts at seq %" PRIu64 ", chained to the archive's head %s\n", rep.base_seq + 1, head);
    printf("   state at seq %" PRIu64 " kept as its starting snapshot (digest %s)\n", rep.base_seq, digest);
    if (prune)
        printf("   output of %" PRIu64 " jobs archived whole removed from the log (%.1f MB)\n", rep.jobs_pruned,
               (double)rep.pruned_bytes / 1e6);
    printf("   check it any time with: djs replay archive --check %s %s\n", pos[1], pos[0]);
    return 0;
}

/* djs replay verify DATA_DIR (rebuild and diff: cmd_replay_state.c; djs backup and restore: cmd_backup.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "projections/replay.h"
#include "projections/state.h"
#include "replay/verify.h"
#include "tools/djs/cli.h"
#include "tools/djs/progress.h"

static void human(char *out, size_t n, uint64_t b)
{
    if (b < 10000)
        snprintf(out, n, "%" PRIu64 " B", b);
    else if (b < 10000000)
        snprintf(out, n, "%.1f kB", b / 1e3);
    else if (b < 10000000000ull)
        snprintf(out, n, "%.1f MB", b / 1e6);
    else
        snprintf(out, n, "%.1f GB", b / 1e9);
}

static void iso(char *out, size_t n, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

/* djs replay verify [--from SEQ] [--no-replay] [--no-output] [-o json] DIR */
static int verify(int argc, char **argv)
{
    const char *usage = "djs replay verify [--from SEQ] [--no-replay] [--no-output] [-o json] DATA_DIR";
    djs_verify_options_t o;
    djs_verify_options_init(&o);
    const char *from = djs_cli_opt(argc, argv, "--from");
    if (from != NULL && djs_cli_u64(from, &o.from) != 0) {
        fprintf(stderr, "djs replay verify: --from wants a seq (a record whose hash you trust), not \"%s\"\n", from);
        return 2;
    }
    o.replay = !djs_cli_flag(argc, argv, "--no-replay");
    o.output = !djs_cli_flag(argc, argv, "--no-output");
    const char *fmt = djs_cli_opt(argc, argv, "-o");
    int json = fmt != NULL && strcmp(fmt, "json") == 0;
    if (fmt != NULL && !json && strcmp(fmt, "text") != 0) {
        fprintf(stderr, "djs replay verify: -o wants json or text\n");
        return 2;
    }
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 1, usage) != 1) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    const char *dir = pos[0];
    djs_log_t *log;
    if (open_ro(dir, &log) != 0)
        return 1;
    djs_progress_t pr;
    djs_progress_init(&pr, "verify");
    o.progress = djs_progress;
    o.arg = &pr;
    djs_verify_report_t rep;
    int rc = djs_verify_run(log, &o, &rep);
    double s = (djs_monotonic_ns() - pr.t0) / 1e9;
    djs_log_close(log);
    char head[2 * DJS_HASH_LEN + 1], digest[65], t0[32] = "-", t1[32] = "-", path[4200];
    djs_hex(rep.head_hash, DJS_HASH_LEN, head);
    djs_hex(rep.digest, 32, digest);
    if (rep.records > 0) {
        iso(t0, sizeof(t0), rep.first_ts);
        iso(t1, sizeof(t1), rep.last_ts);
    }
    struct stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    uint64_t size = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (json) {
        printf("{\"ok\":%s,\"dir\":\"%s\",\"first_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"records\":%" PRIu64
               ",\"bad_seq\":%" PRIu64 ",\"error\":\"%s\",\"jobs\":%" PRIu64 ",\"workers\":%" PRIu64 ",\"schedule_fires\":%" PRIu64
               ",\"first_at\":\"%s\",\"last_at\":\"%s\",\"record_bytes\":%" PRIu64 ",\"file_bytes\":%" PRIu64
               ",\"index_entries\":%" PRIu64 ",\"output_chunks\":%" PRIu64 ",\"output_bytes\":%" PRIu64
               ",\"output_unbound\":%" PRIu64 ",\"snapshots\":%u,\"snapshots_old\":%u,\"base_seq\":%" PRIu64
               ",\"trusted_seq\":%" PRIu64 ",\"chain_head\":\"%s\",\"digest\":%s%s%s,\"seconds\":%.3f}\n",
               rc == 0 ? "true" : "false", dir, rep.first_seq, rep.last_seq, rep.records, rep.bad_seq,
               rc == 0 ? "" : djs_err_name(rep.error), rep.jobs, rep.workers, rep.schedule_fires, t0, t1, rep.bytes, size,
               rep.index_entries, rep.output_chunks, rep.output_bytes, rep.output_unbound, rep.snapshots, rep.snapshots_old,
               rep.base_seq, rep.trusted_seq, head, o.replay && rc == 0 ? "\"" : "", o.replay && rc == 0 ? digest : "null",
               o.replay && rc == 0 ? "\"" : "", s);
        return rc == 0 ? 0 : 1;
    }
    if (rc != 0) {
        printf("FAIL %s: first bad seq %" PRIu64 ": %s [%s]\n", dir, rep.bad_seq, rep.detail, djs_err_name(rep.error));
        printf("     %" PRIu64 " records before it verified (seqs %" PRIu64 "..%" PRIu64 ")\n", rep.records, rep.first_seq,
               rep.last_seq);
        if (rep.snapshot_problem) /* a cache, not the log: never cut a healthy log for it */
            printf("     the records themselves verified up to here; a snapshot is only a cache the server skips:\n"
                   "     replace it with: djs replay rebuild --write-snapshot %s (docs/operations.md, runbook)\n",
                   dir);
        else
            printf("     to recover: djs restore BACKUP DIR --to-seq %" PRIu64 " (docs/operations.md, \"Disaster recovery\")\n",
                   rep.bad_seq > 0 ? rep.bad_seq - 1 : 0);
        return 1;
    }
    printf("OK %s: %" PRIu64 " records, seqs %" PRIu64 "..%" PRIu64 " (%.2fs, %.0f records/s)\n", dir, rep.records, rep.first_seq,
           rep.last_seq, s, s > 0 ? rep.records / s : 0.0);
    if (rep.base_seq > 0)
        printf("   archived before seq %" PRIu64 ": the chain starts from the archive's head\n", rep.base_seq + 1);
    if (rep.trusted_seq > rep.base_seq)
        printf("   trusted record %" PRIu64 " (--from): earlier records not checked\n", rep.trusted_seq);
    printf("   time span  %s .. %s\n", t0, t1);
    printf("   contents   %" PRIu64 " jobs submitted, %" PRIu64 " worker registrations, %" PRIu64 " schedule fires\n", rep.jobs,
           rep.workers, rep.schedule_fires);
    char rb[32], fb[32];
    human(rb, sizeof(rb), rep.bytes);
    human(fb, sizeof(fb), size);
    printf("   size       %s of records in a %s file\n", rb, fb);
    printf("   index      %" PRIu64 " entries, consistent with the records\n", rep.index_entries);
    char ob[32];
    human(ob, sizeof(ob), rep.output_bytes);
    if (o.output)
        printf("   output     %" PRIu64 " chunks (%s) match their events' SHA-256\n", rep.output_chunks, ob);
    if (o.output && rep.output_unbound)
        printf("              %" PRIu64 " older chunks carry no hash (written before output was bound into the chain)\n",
               rep.output_unbound);
    if (o.replay) {
        printf("   snapshots  %u reproduced by the replay", rep.snapshots);
        if (rep.snapshots_old)
            printf(", %u of an older format restored and compared", rep.snapshots_old);
        printf("\n   digest     %s (state at seq %" PRIu64 ")\n", digest, rep.last_seq);
    }
    printf("   chain head %s\n", head);
    return 0;
}

int djs_cmd_replay(int argc, char **argv)
{
    const char *usage = "djs replay verify [--from SEQ] [--no-replay] [--no-output] [-o json] DATA_DIR | djs replay rebuild "
                        "DATA_DIR [...] | djs replay diff DATA_DIR [...] | djs replay export|import|archive ...";
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return verify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "rebuild") == 0) /* replay/rebuild.h: cmd_replay_state.c */
        return djs_cmd_replay_rebuild(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "diff") == 0)
        return djs_cmd_replay_diff(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "export") == 0) /* cmd_export.c */
        return djs_cmd_replay_export(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "import") == 0)
        return djs_cmd_replay_import(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "archive") == 0) /* cmd_archive.c */
        return djs_cmd_replay_archive(argc - 1, argv + 1);
    const char *pos[2];
    int n = djs_cli_rest(argc, argv, pos, 2, usage);
    if (n < 0)
        return 2;
    fprintf(stderr, "usage: %s\n", usage);
    return 2;
}

/* djs backup DATA_DIR DEST [--config FILE], djs restore BACKUP DIR
 * [--to-seq N | --to-time T] [--config-to FILE]: thin over replay/backup.h
 * and replay/restore.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"
#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "replay/backup.h"
#include "replay/restore.h"
#include "tools/djs/cli.h"

int djs_cmd_backup(int argc, char **argv)
{
    const char *usage = "djs backup DATA_DIR DEST [--config FILE]";
    const char *config = djs_cli_opt(argc, argv, "--config");
    const char *pos[2];
    if (djs_cli_rest(argc, argv, pos, 2, usage) != 2) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    int rc = djs_log_open(&log, pos[0], &o);
    if (rc != 0) {
        fprintf(stderr, "djs backup: cannot open the log in %s: %s\n", pos[0], djs_strerror(rc));
        return 1;
    }
    djs_backup_options_t bo;
    djs_backup_options_init(&bo);
    bo.secret_name = DJS_AUTH_SECRET_FILE;
    bo.config_path = config;
    djs_backup_report_t rep;
    rc = djs_backup_run(log, pos[1], &bo, &rep);
    djs_log_close(log);
    if (rc != 0) {
        fprintf(stderr, "djs backup: %s -> %s failed: %s [%s]\n", pos[0], pos[1], rep.detail, djs_err_name(rc));
        if (rep.copy_ns > 0)
            fprintf(stderr, "djs backup: %s has no %s: it is not a usable backup\n", pos[1], DJS_BACKUP_MANIFEST);
        return 1;
    }
    char head[65], digest[65], when[40];
    djs_hex(rep.head, DJS_HASH_LEN, head);
    djs_hex(rep.digest, 32, digest);
    djs_rfc3339_ns(rep.ts_ns, when);
    double copy_s = rep.copy_ns / 1e9, total_s = rep.total_ns / 1e9;
    printf("djs backup: %s -> %s: %" PRIu64 " bytes (%.1f MB) in %.2fs, %.1f MB/s (copy %.2fs, %.1f MB/s)\n", pos[0], pos[1],
           rep.bytes, rep.bytes / 1e6, total_s, rep.bytes / 1e6 / (total_s > 0 ? total_s : 1e-9), copy_s,
           rep.data_bytes / 1e6 / (copy_s > 0 ? copy_s : 1e-9));
    printf("  seq %" PRIu64 " (%s), chain head %s\n  state digest %s\n", rep.seq, rep.seq ? when : "empty log", head, digest);
    if (rep.first_seq > 1)
        printf("  archived before seq %" PRIu64 ": a restore can go back to any seq from %" PRIu64 " to %" PRIu64 "\n",
               rep.first_seq, rep.first_seq, rep.seq);
    printf("  token secret: %s\n", rep.has_secret ? "carried (" DJS_AUTH_SECRET_FILE ", 0600)" : "none in DATA_DIR");
    printf("  config: %s\n", rep.has_config ? config : "none given (--config FILE to carry it)");
    printf("  manifest: %s/%s (verified copy)\n", pos[1], DJS_BACKUP_MANIFEST);
    if (!rep.has_secret)
        fprintf(stderr, "djs backup: warning: %s has no %s (a server without auth?): tokens will not survive a restore\n", pos[0],
                DJS_AUTH_SECRET_FILE);
    return 0;
}

/* The restored config may still name the old data directory in `data = `:
 * the --data flag printed with it wins, but say so. */
static void warn_config_data(const char *path, const char *dir)
{
    FILE *f = fopen(path, "r");
    char line[4200];
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        char *p = line + strspn(line, " \t");
        if (strncmp(p, "data", 4) != 0 || strchr(" \t=", p[4]) == NULL)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *v = p + 4 + strspn(p + 4, " \t=");
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            v[--n] = '\0';
        if (strcmp(v, dir) != 0)
            printf("  note: the config says 'data = %s'; --data on the command line wins: edit the file to make it permanent\n", v);
        break;
    }
    if (f != NULL)
        fclose(f);
}

static void print_restored(const char *backup, const char *dir, const djs_restore_report_t *rep)
{
    char head[65], digest[65], when[40];
    djs_hex(rep->head, DJS_HASH_LEN, head);
    djs_hex(rep->digest, 32, digest);
    djs_rfc3339_ns(rep->ts_ns, when);
    printf("djs restore: %s -> %s: %" PRIu64 " bytes in %.2fs\n", backup, dir, rep->bytes, rep->total_ns / 1e9);
    printf("  seq %" PRIu64 " (%s), chain head %s\n  state digest %s\n", rep->seq, rep->seq ? when : "empty log", head, digest);
    if (rep->cut)
        printf("  point in time: cut after seq %" PRIu64 " (the backup ends at %" PRIu64 "): %" PRIu64
               " records removed, the output of %" PRIu64 " jobs cut back\n",
               rep->seq, rep->manifest.seq, rep->records_dropped, rep->output_jobs_dropped);
    else
        printf("  whole backup (seq %" PRIu64 " as in the manifest); verified\n", rep->manifest.seq);
    if (rep->has_secret)
        printf("  token secret: %s/%s (0600): tokens signed before the backup still work\n", dir, DJS_AUTH_SECRET_FILE);
    else
        printf("  token secret: none in the backup: the server makes a new one and earlier tokens are refused\n");
    const djs_backup_file_t *cf = djs_backup_file(&rep->manifest, "config");
    if (rep->config_path[0] != '\0') {
        printf("  config: %s (backed up from %s)\n", rep->config_path, cf != NULL && cf->source[0] ? cf->source : "?");
        printf("  start it with: djs serve --config %s --data %s\n", rep->config_path, dir);
        warn_config_data(rep->config_path, dir);
    } else {
        printf("  config: none in the backup\n  start it with: djs serve --data %s\n", dir);
    }
}

int djs_cmd_restore(int argc, char **argv)
{
    const char *usage = "djs restore BACKUP DIR [--to-seq N | --to-time RFC3339|-DURATION] [--config-to FILE | --config-to-source]";
    const char *to_seq = djs_cli_opt(argc, argv, "--to-seq"), *to_time = djs_cli_opt(argc, argv, "--to-time");
    const char *config_to = djs_cli_opt(argc, argv, "--config-to");
    int config_to_source = djs_cli_flag(argc, argv, "--config-to-source");
    const char *pos[2];
    if (djs_cli_rest(argc, argv, pos, 2, usage) != 2 || (to_seq != NULL && to_time != NULL) ||
        (config_to != NULL && config_to_source)) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    djs_restore_options_t o;
    djs_restore_options_init(&o);
    o.secret_name = DJS_AUTH_SECRET_FILE;
    o.config_dest = config_to;
    o.config_to_source = config_to_source;
    if (to_seq != NULL && (djs_cli_u64(to_seq, &o.to_seq) != 0 || o.to_seq == 0)) {
        fprintf(stderr, "djs restore: --to-seq wants a seq of 1 or more, not '%s'\n", to_seq);
        return 2;
    }
    if (to_time != NULL) {
        if (djs_cli_time(to_time, djs_wall_ns(), &o.to_time_ns) != 0) {
            fprintf(stderr,
                    "djs restore: --to-time wants an RFC 3339 time with its zone (2026-12-04T10:02:00Z, "
                    "2026-12-04T11:02:00.5+01:00) or a time back from now (-2h, -90m), not '%s'\n",
                    to_time);
            return 2;
        }
        o.has_to_time = 1;
    }
    djs_restore_report_t rep;
    int rc = djs_restore(pos[0], pos[1], &o, &rep);
    if (rc != 0 && !rep.in_place) {
        fprintf(stderr, "djs restore: %s -> %s failed: %s [%s]\n", pos[0], pos[1], rep.detail, djs_err_name(rc));
        fprintf(stderr, "djs restore: %s was not touched\n", pos[1]);
        return 1;
    }
    print_restored(pos[0], pos[1], &rep);
    if (rc != 0) {
        fprintf(stderr, "djs restore: %s [%s]\n", rep.detail, djs_err_name(rc));
        return 1;
    }
    return 0;
}

/* djs replay export DATA_DIR ... and djs replay import FILE NEWDIR
 * (replay/export.h, replay/import.h). Progress on stderr: a bar on a
 * terminal, a line every 10% otherwise. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "replay/export.h"
#include "replay/import.h"
#include "tools/djs/cli.h"
#include "tools/djs/progress.h"

/* --from/--to: a seq or a time, as every replay tool reads them
 * (djs_cmd_log_point: a "from" time is the first record at or after it, a
 * "to" time the last at or before it). */
static int point(djs_log_t *log, const char *opt, const char *s, int is_to, uint64_t *seq)
{
    int rc = djs_cmd_log_point(log, s, is_to, seq);
    if (rc != 0) {
        fprintf(stderr, "djs replay export: %s %s: %s\n", opt, s,
                rc == DJS_EINVAL || rc == DJS_ERANGE ? "not a seq or a time (RFC 3339, or -24h back from now)" : djs_strerror(rc));
        return -1;
    }
    if (is_to && *seq == 0) {
        fprintf(stderr, "djs replay export: %s %s: no record at or before it\n", opt, s);
        return -1;
    }
    return 0;
}

static int parse_types(const char *s, djs_export_options_t *o)
{
    while (s != NULL && *s != '\0') {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        int t = djs_event_type_from_name(s, n);
        if (t < 0 || o->ntypes >= DJS_EXPORT_MAX_TYPES) {
            fprintf(stderr, "djs replay export: --types: unknown event type \"%.*s\" (docs/events.md lists them)\n", (int)n, s);
            return -1;
        }
        o->types[o->ntypes++] = t;
        s = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* The options other than the range, which needs the log. */
static int export_options(int argc, char **argv, djs_export_options_t *o)
{
    const char *fmt = djs_cli_opt(argc, argv, "--format"), *types = djs_cli_opt(argc, argv, "--types");
    const char *entity = djs_cli_opt(argc, argv, "--entity");
    if (fmt == NULL || (strcmp(fmt, "jsonl") != 0 && strcmp(fmt, "msgpack") != 0)) {
        fprintf(stderr, "djs replay export: --format jsonl|msgpack is required\n");
        return -1;
    }
    o->format = strcmp(fmt, "jsonl") == 0 ? DJS_EXPORT_JSONL : DJS_EXPORT_MSGPACK;
    if (types != NULL && parse_types(types, o) != 0)
        return -1;
    if (entity != NULL) {
        if (djs_id_parse(entity, strlen(entity), &o->entity) != 0) {
            fprintf(stderr, "djs replay export: --entity %s: not an id\n", entity);
            return -1;
        }
        o->has_entity = 1;
    }
    return 0;
}

static int open_ro(const char *dir, djs_log_t **log)
{
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.readonly = 1;
    int rc = djs_log_open(log, dir, &lo);
    if (rc != 0)
        fprintf(stderr, "djs: cannot open the log in %s: %s\n", dir, djs_strerror(rc));
    return rc;
}

static int run_export(const char *dir, const char *file, const char *from, const char *to, djs_export_options_t *o)
{
    djs_log_t *log;
    if (open_ro(dir, &log) != 0)
        return 1;
    if ((from != NULL && point(log, "--from", from, 0, &o->from_seq) != 0) ||
        (to != NULL && point(log, "--to", to, 1, &o->to_seq) != 0)) {
        djs_log_close(log);
        return 2;
    }
    FILE *out = file != NULL ? fopen(file, "w") : stdout;
    if (out == NULL) {
        fprintf(stderr, "djs replay export: cannot write %s: %s\n", file, strerror(errno));
        djs_log_close(log);
        return 1;
    }
    djs_progress_t p;
    djs_progress_init(&p, "export");
    o->progress = djs_progress;
    o->progress_arg = &p;
    djs_export_report_t rep;
    int rc = djs_export(log, o, out, &rep);
    djs_log_close(log);
    if (file != NULL && fclose(out) != 0 && rc == 0) {
        rc = DJS_EIO;
        snprintf(rep.detail, sizeof(rep.detail), "writing %s failed: %s", file, strerror(errno));
    }
    if (rc != 0) {
        fprintf(stderr, "djs replay export: FAIL %s: %s [%s]\n", dir, rep.detail, djs_err_name(rc));
        if (file != NULL)
            unlink(file);
        return 1;
    }
    double s = (double)(djs_monotonic_ns() - p.t0) / 1e9;
    char h[2 * DJS_HASH_LEN + 1];
    djs_hex(rep.head, DJS_HASH_LEN, h);
    fprintf(stderr,
            "djs replay export: %" PRIu64 " records (seqs %" PRIu64 "..%" PRIu64 "), %" PRIu64 " output chunks (%" PRIu64
            " bytes), %s, head %s; %.1f MB in %.2fs (%.0f records/s)\n",
            rep.events, rep.first_seq, rep.last_seq, rep.chunks, rep.output_bytes,
            rep.complete ? "complete (importable)" : "filtered (for reading, not importable)", h, (double)rep.bytes / 1e6, s,
            (double)rep.events / (s > 0 ? s : 1e-9));
    return 0;
}

int djs_cmd_replay_export(int argc, char **argv)
{
    const char *usage = "djs replay export DATA_DIR --format jsonl|msgpack [--from SEQ|TIME] [--to SEQ|TIME] [--types T,...] "
                        "[--entity ID] [-o FILE]";
    djs_export_options_t o;
    djs_export_options_init(&o);
    const char *from = djs_cli_opt(argc, argv, "--from"), *to = djs_cli_opt(argc, argv, "--to");
    const char *file = djs_cli_opt(argc, argv, "-o");
    if (file == NULL)
        file = djs_cli_opt(argc, argv, "--output");
    if (export_options(argc, argv, &o) != 0)
        return 2;
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 1, usage) != 1) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    if (file == NULL && isatty(1) && o.format == DJS_EXPORT_MSGPACK) {
        fprintf(stderr, "djs replay export: not writing MessagePack to a terminal: use -o FILE or a pipe\n");
        return 2;
    }
    return run_export(pos[0], file, from, to, &o);
}

int djs_cmd_replay_import(int argc, char **argv)
{
    const char *usage = "djs replay import FILE|- NEWDIR";
    const char *pos[2];
    if (djs_cli_rest(argc, argv, pos, 2, usage) != 2) {
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
    }
    FILE *in = strcmp(pos[0], "-") == 0 ? stdin : fopen(pos[0], "r");
    if (in == NULL) {
        fprintf(stderr, "djs replay import: cannot read %s: %s\n", pos[0], strerror(errno));
        return 1;
    }
    djs_progress_t p;
    djs_progress_init(&p, "import");
    djs_import_options_t o = {.progress = djs_progress, .progress_arg = &p};
    djs_import_report_t rep;
    int rc = djs_import(in, pos[1], &o, &rep);
    if (in != stdin)
        fclose(in);
    if (rc != 0) {
        fprintf(stderr, "djs replay import: FAIL %s: %s [%s]; nothing was written to %s\n", pos[0], rep.detail, djs_err_name(rc),
                pos[1]);
        return 1;
    }
    double s = (double)(djs_monotonic_ns() - p.t0) / 1e9;
    char h[2 * DJS_HASH_LEN + 1], d[2 * DJS_HASH_LEN + 1];
    djs_hex(rep.head, DJS_HASH_LEN, h);
    djs_hex(rep.digest, DJS_HASH_LEN, d);
    printf("OK %s: %" PRIu64 " records, seqs 1..%" PRIu64 ", %" PRIu64 " output chunks (%" PRIu64
           " bytes), verified, chain head %s, state digest %s (%.2fs, %.0f records/s)\n",
           pos[1], rep.events, rep.last_seq, rep.chunks, rep.output_bytes, h, d, s, (double)rep.events / (s > 0 ? s : 1e-9));
    return 0;
}

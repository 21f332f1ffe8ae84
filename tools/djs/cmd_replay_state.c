/* djs replay rebuild DIR [--to-seq N | --to-time T] [--keep-all]
 * [--write-snapshot] and djs replay diff DIR --from A --to B [-o json]:
 * the state at points of the log (replay/rebuild.h, replay/diff.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "replay/diff.h"
#include "replay/point.h"
#include "replay/rebuild.h"
#include "tools/djs/cli.h"

#define REBUILD_USAGE "djs replay rebuild DATA_DIR [--to-seq N | --to-time TIME] [--keep-all] [--write-snapshot]"
#define DIFF_USAGE "djs replay diff DATA_DIR --from SEQ|TIME --to SEQ|TIME [--limit N] [-o table|json]"
#define DIFF_DEFAULT_ITEMS 10000

int djs_cmd_log_point(djs_log_t *log, const char *s, int is_to, uint64_t *seq)
{
    int is_time;
    uint64_t v;
    int rc = djs_cli_point(s, djs_wall_ns(), &is_time, &v);
    if (rc != 0)
        return rc;
    if (!is_time) {
        *seq = v;
        return 0;
    }
    return is_to ? djs_replay_point_to(log, v, seq) : djs_replay_point_from(log, v, seq);
}

static int open_log(const char *cmd, const char *dir, int tool, djs_log_t **log)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = !tool;
    o.tool = tool;
    int rc = djs_log_open(log, dir, &o);
    if (rc != 0)
        fprintf(stderr, "djs replay %s: cannot open the log in %s: %s\n", cmd, dir, djs_strerror(rc));
    return rc;
}

/* ---- rebuild ------------------------------------------------------------------------- */

/* --to-seq / --to-time into o->to_seq; 0 or an exit code after a message. */
static int rebuild_point(djs_log_t *log, const char *to_seq, const char *to_time, djs_replay_rebuild_opts_t *o)
{
    if (to_seq != NULL && djs_cli_u64(to_seq, &o->to_seq) != 0)
        return fprintf(stderr, "djs replay rebuild: --to-seq takes an event seq, not '%s'\n", to_seq), 2;
    if (to_time == NULL)
        return 0;
    uint64_t ns;
    int rc = djs_cli_time(to_time, djs_wall_ns(), &ns);
    if (rc != 0)
        return fprintf(stderr, "djs replay rebuild: --to-time takes an RFC 3339 time (2026-12-04T10:02:00Z) or -24h, not '%s'\n",
                       to_time),
               2;
    if ((rc = djs_replay_point_to(log, ns, &o->to_seq)) != 0)
        return fprintf(stderr, "djs replay rebuild: cannot place %s in the log: %s\n", to_time, djs_strerror(rc)), 1;
    if (o->to_seq == 0)
        return fprintf(stderr, "djs replay rebuild: the log has no event at or before %s\n", to_time), 1;
    return 0;
}

static void print_rebuild(const char *dir, const djs_replay_rebuild_report_t *r, int snapshot)
{
    char d[65], when[40];
    djs_hex(r->digest, 32, d);
    djs_cli_format_time(r->ts_ns, when, sizeof(when));
    printf("OK %s: %" PRIu64 " events replayed in %.2fs (%.0f/s), %" PRIu64 " jobs in memory, %" PRIu64 " submitted, %" PRIu64
           " completed, %" PRIu64 " failed; state digest %s\n",
           dir, r->events, r->seconds, r->events / (r->seconds > 0 ? r->seconds : 1e-9), r->jobs, r->submitted, r->completed,
           r->failed, d);
    printf("   at seq %" PRIu64 " (%s)\n", r->seq, when);
    if (r->start_seq != 0)
        printf("   started from the archive base snapshot at seq %" PRIu64 "\n", r->start_seq);
    if (snapshot)
        printf("   snapshot of %" PRIu64 " bytes stored at seq %" PRIu64 " (keeping %" PRIu64 " finished jobs for %" PRIu64
               " s, %s)\n",
               r->snapshot_bytes, r->seq, r->max_terminal, (uint64_t)(r->max_terminal_age / 1000000000ull),
               r->retention_seq ? "the retention of the newest snapshot" : "the default retention");
}

int djs_cmd_replay_rebuild(int argc, char **argv)
{
    djs_replay_rebuild_opts_t o;
    djs_replay_rebuild_opts_init(&o);
    o.keep_all = djs_cli_flag(argc, argv, "--keep-all");
    o.write_snapshot = djs_cli_flag(argc, argv, "--write-snapshot");
    const char *to_seq = djs_cli_opt(argc, argv, "--to-seq"), *to_time = djs_cli_opt(argc, argv, "--to-time");
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 1, REBUILD_USAGE) != 1)
        return fprintf(stderr, "usage: %s\n", REBUILD_USAGE), 2;
    if (to_seq != NULL && to_time != NULL)
        return fprintf(stderr, "djs replay rebuild: give --to-seq or --to-time, not both\n"), 2;
    if (o.keep_all && o.write_snapshot)
        return fprintf(stderr, "djs replay rebuild: --write-snapshot stores the server's state, which evicts finished jobs: "
                               "not with --keep-all\n"),
               2;
    djs_log_t *log;
    if (open_log("rebuild", pos[0], o.write_snapshot, &log) != 0)
        return 1;
    int code = rebuild_point(log, to_seq, to_time, &o);
    djs_replay_rebuild_report_t r;
    int rc = code == 0 ? djs_replay_rebuild(log, &o, &r, NULL) : 0;
    djs_log_close(log);
    if (code != 0)
        return code;
    if (rc == DJS_ECORRUPT)
        fprintf(stderr, "djs replay rebuild: event %" PRIu64 " does not apply: %s (run djs replay verify %s)\n", r.bad_seq,
                djs_err_name(r.bad_err ? r.bad_err : rc), pos[0]);
    else if (rc == DJS_EINVAL)
        fprintf(stderr, "djs replay rebuild: --to-seq %" PRIu64 " is not a seq of the log (1 to its last)\n", o.to_seq);
    else if (rc != 0)
        fprintf(stderr, "djs replay rebuild: %s\n", djs_strerror(rc));
    if (rc != 0)
        return 1;
    print_rebuild(pos[0], &r, o.write_snapshot);
    return 0;
}

/* ---- diff ---------------------------------------------------------------------------- */

static json_t *diff_json(const djs_diff_report_t *r)
{
    json_t *counts = json_object(), *items = json_array();
    for (int k = 0; k < DJS_DIFF_NKINDS; k++)
        json_object_set_new(counts, djs_diff_kind_name(k), json_integer((json_int_t)r->counts[k]));
    for (uint32_t i = 0; i < r->nitems; i++) {
        const djs_diff_item_t *it = &r->items[i];
        char id[DJS_ID_TEXT_LEN + 1];
        djs_id_format(&it->id, id);
        json_t *name = json_string(it->name);
        json_array_append_new(items, json_pack("{s:s,s:s,s:o,s:s,s:I,s:I}", "kind", djs_diff_kind_name(it->kind), "id", id, "name",
                                               name ? name : json_string("?"), "status", it->status, "events",
                                               (json_int_t)it->count, "firstSeq", (json_int_t)it->seq));
    }
    char from[40], to[40];
    djs_cli_format_time(r->from_ts, from, sizeof(from));
    djs_cli_format_time(r->to_ts, to, sizeof(to));
    return json_pack("{s:I,s:I,s:s?,s:s?,s:I,s:o,s:o,s:b}", "fromSeq", (json_int_t)r->from_seq, "toSeq", (json_int_t)r->to_seq,
                     "fromTime", r->from_ts ? from : NULL, "toTime", r->to_ts ? to : NULL, "events", (json_int_t)r->events,
                     "counts", counts, "items", items, "truncated", r->truncated);
}

static void diff_table(const djs_diff_report_t *r)
{
    printf("events %" PRIu64 "..%" PRIu64 " (%" PRIu64 " events)\n", r->from_seq + 1, r->to_seq, r->events);
    for (int k = 0; k < DJS_DIFF_NKINDS; k++)
        printf("  %-20s %" PRIu64 "\n", djs_diff_kind_name(k), r->counts[k]);
    if (r->nitems == 0)
        return;
    printf("\n");
    static const char *const head[] = {"KIND", "ID", "NAME", "STATUS AT END", "EVENTS"};
    json_t *t = djs_client_table_new(head, 5);
    for (uint32_t i = 0; i < r->nitems; i++) {
        const djs_diff_item_t *it = &r->items[i];
        char id[DJS_ID_TEXT_LEN + 1], n[16], name[80];
        djs_id_format(&it->id, id);
        snprintf(n, sizeof(n), "%" PRIu32, it->count);
        json_t *nm = json_string(it->name);
        const char *row[5] = {djs_diff_kind_name(it->kind), id, nm ? djs_client_cell(nm, name, sizeof(name)) : "?", it->status, n};
        djs_client_table_add(t, row, 5);
        json_decref(nm);
    }
    djs_client_table_print(t);
    if (r->truncated)
        printf("(listing cut at %" PRIu32 " items: --limit N for more; counts are complete)\n", r->nitems);
}

static int diff_points(djs_log_t *log, const char *from, const char *to, uint64_t *a, uint64_t *b)
{
    const char *pts[2] = {from, to};
    uint64_t *out[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        int rc = djs_cmd_log_point(log, pts[k], k, out[k]);
        if (rc == DJS_EINVAL || rc == DJS_ERANGE)
            return fprintf(stderr, "djs replay diff: --%s '%s' is neither an event seq nor a time (RFC 3339 or -24h)\n",
                           k ? "to" : "from", pts[k]),
                   2;
        if (rc != 0)
            return fprintf(stderr, "djs replay diff: cannot place %s in the log: %s\n", pts[k], djs_strerror(rc)), 1;
    }
    /* a "from" time names the first event at or after it: the diff starts just before it */
    int is_time;
    uint64_t v;
    if (djs_cli_point(from, 0, &is_time, &v) != 0 || is_time)
        *a = *a > 0 ? *a - 1 : 0;
    if (*a > *b)
        return fprintf(stderr, "djs replay diff: --from is after --to\n"), 2;
    if (*b > djs_log_last_seq(log))
        return fprintf(stderr, "djs replay diff: --to %" PRIu64 " is past the log's last seq %" PRIu64 "\n", *b,
                       djs_log_last_seq(log)),
               2;
    return 0;
}

int djs_cmd_replay_diff(int argc, char **argv)
{
    const char *from = djs_cli_opt(argc, argv, "--from"), *to = djs_cli_opt(argc, argv, "--to");
    const char *lim = djs_cli_opt(argc, argv, "--limit"), *o = djs_cli_opt(argc, argv, "-o");
    uint64_t max_items = DIFF_DEFAULT_ITEMS;
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 1, DIFF_USAGE) != 1 || from == NULL || to == NULL)
        return fprintf(stderr, "usage: %s\n", DIFF_USAGE), 2;
    if (lim != NULL && (djs_cli_u64(lim, &max_items) != 0 || max_items > UINT32_MAX))
        return fprintf(stderr, "djs replay diff: --limit takes 0 (counts only) to 4294967295\n"), 2;
    if (o != NULL && strcmp(o, "json") != 0 && strcmp(o, "table") != 0)
        return fprintf(stderr, "djs replay diff: -o takes table or json, not '%s'\n", o), 2;
    int json = o != NULL ? strcmp(o, "json") == 0 : !isatty(1);
    djs_log_t *log;
    if (open_log("diff", pos[0], 0, &log) != 0)
        return 1;
    uint64_t a = 0, b = 0;
    int code = diff_points(log, from, to, &a, &b);
    djs_diff_report_t r;
    memset(&r, 0, sizeof(r));
    int rc = code == 0 ? djs_diff_run(log, a, b, (uint32_t)max_items, &r) : 0;
    djs_log_close(log);
    if (code == 0 && rc == DJS_ECORRUPT)
        fprintf(stderr, "djs replay diff: event %" PRIu64 " does not apply: %s (run djs replay verify %s)\n", r.bad_seq,
                djs_err_name(r.bad_err ? r.bad_err : rc), pos[0]);
    else if (code == 0 && rc != 0)
        fprintf(stderr, "djs replay diff: %s\n", djs_strerror(rc));
    if (code == 0 && rc == 0) {
        if (json) {
            json_t *j = diff_json(&r);
            djs_client_print_json(j);
            json_decref(j);
        } else {
            diff_table(&r);
        }
    }
    djs_diff_dispose(&r);
    return code != 0 ? code : rc != 0;
}

/* The djs program's subcommands (private to tools/djs): main.c dispatches
 * argv[1] to one of them with argv[0] its name. Each returns the exit
 * code (0, 1, 2: see client.h), not a DJS_E... code. The option helpers (djs_cli_opt, ...) come with tools/cli/args.h. */
#ifndef DJS_TOOLS_DJS_CLI_H
#define DJS_TOOLS_DJS_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tools/cli/args.h"
#include "tools/client/client.h"

struct djs_log;
/* A --from/--to value (an event seq, an RFC 3339 time or -24h) as a seq
 * of log: a "from" time is the first event at or after it, a "to" time the
 * last at or before it (replay/point.h). 0, DJS_EINVAL/DJS_ERANGE (not a
 * seq or time), or the log's read errors. */
int djs_cmd_log_point(struct djs_log *log, const char *s, int is_to, uint64_t *seq);

int djs_cmd_serve(int argc, char **argv);
int djs_cmd_replay(int argc, char **argv);
/* cmd_export.c: djs replay export|import, argv[0] "export" or "import" */
int djs_cmd_replay_export(int argc, char **argv);
int djs_cmd_replay_import(int argc, char **argv);
int djs_cmd_replay_archive(int argc, char **argv); /* cmd_archive.c */
int djs_cmd_backup(int argc, char **argv);         /* cmd_backup.c */
int djs_cmd_restore(int argc, char **argv);        /* cmd_backup.c */
/* cmd_replay_state.c: djs replay rebuild / djs replay diff (argv[0] is the
 * sub-subcommand) */
int djs_cmd_replay_rebuild(int argc, char **argv);
int djs_cmd_replay_diff(int argc, char **argv);
/* cmd_audit.c: djs audit (argv[0] "audit") */
int djs_cmd_audit(int argc, char **argv);
int djs_cmd_bench(int argc, char **argv);
int djs_cmd_token(int argc, char **argv);
/* djs worker [options]: argv[0] is "worker". */
int djs_cmd_worker(int argc, char **argv);
int djs_cmd_cluster_recover(int argc, char **argv);

/* The client subcommands (submit, jobs, job, cancel, retry, delete,
 * history, logs, workers, stats, events: cmd_client.c). djs_cmd_is_client
 * says whether name is one; djs_cmd_client runs it with argv[0] its name;
 * djs_cmd_client_usage prints their lines of 'djs help'. */
int djs_cmd_is_client(const char *name);
int djs_cmd_client(int argc, char **argv);
void djs_cmd_client_usage(FILE *f);

/* The client subcommands' bodies (cmd_submit.c, cmd_jobs.c,
 * cmd_system.c): c is initialised; argv[0] is the subcommand name, the
 * shared options are already taken. Return the exit code. */
int djs_cmd_submit(djs_client_t *c, int argc, char **argv);
int djs_cmd_jobs(djs_client_t *c, int argc, char **argv);
int djs_cmd_watch(djs_client_t *c, int argc, char **argv);
int djs_cmd_job(djs_client_t *c, int argc, char **argv);
int djs_cmd_why(djs_client_t *c, int argc, char **argv); /* cmd_why.c */
/* cmd_schedule.c: djs schedule create|show|pause|resume|delete, djs schedules */
int djs_cmd_schedule(djs_client_t *c, int argc, char **argv);
int djs_cmd_schedules(djs_client_t *c, int argc, char **argv);
/* The job of djs submit's flags (or -f FILE) in argv, named `name` unless
 * --name or -f says otherwise, into *out (the caller's): 0, or the exit code
 * 1 or 2 after a message. */
int djs_cmd_job_body(djs_client_t *c, int argc, char **argv, const char *name, json_t **out);
int djs_cmd_job_action(djs_client_t *c, int argc, char **argv); /* cancel, retry, delete */
int djs_cmd_history(djs_client_t *c, int argc, char **argv);
int djs_cmd_logs(djs_client_t *c, int argc, char **argv);
int djs_cmd_workers(djs_client_t *c, int argc, char **argv);
int djs_cmd_stats(djs_client_t *c, int argc, char **argv);
int djs_cmd_cluster(djs_client_t *c, int argc, char **argv);
int djs_cmd_events(djs_client_t *c, int argc, char **argv);

#endif

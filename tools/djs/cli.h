/* The djs program's subcommands (private to tools/djs): main.c dispatches
 * argv[1] to one of them with argv[0] its name. Each returns the exit
 * code. The option helpers (cli_opt, ...) come with tools/cli/args.h. */
#ifndef DJS_TOOLS_DJS_CLI_H
#define DJS_TOOLS_DJS_CLI_H

#include <stdio.h>

#include "tools/cli/args.h"
#include "tools/client/client.h"

int cmd_serve(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* djs worker [options]: argv[0] is "worker". */
int cmd_worker(int argc, char **argv);

/* The client subcommands (submit, jobs, job, cancel, retry, delete,
 * history, logs, workers, stats, events: cmd_client.c). cli_is_client
 * says whether name is one; cmd_client runs it with argv[0] its name;
 * cli_client_usage prints their lines of 'djs help'. */
int cli_is_client(const char *name);
int cmd_client(int argc, char **argv);
void cli_client_usage(FILE *f);

/* The client subcommands' bodies (cmd_submit.c, cmd_jobs.c,
 * cmd_system.c): c is initialised; argv[0] is the subcommand name, the
 * shared options are already taken. Return the exit code. */
int client_submit(client_t *c, int argc, char **argv);
int client_jobs(client_t *c, int argc, char **argv);
int client_watch(client_t *c, int argc, char **argv);
int client_job(client_t *c, int argc, char **argv);
int client_job_action(client_t *c, int argc, char **argv); /* cancel, retry, delete */
int client_history(client_t *c, int argc, char **argv);
int client_logs(client_t *c, int argc, char **argv);
int client_workers(client_t *c, int argc, char **argv);
int client_stats(client_t *c, int argc, char **argv);
int client_events(client_t *c, int argc, char **argv);

#endif

/* Shared helpers of the djs program's subcommands (private to tools/djs). */
#ifndef DJS_TOOLS_CLI_H
#define DJS_TOOLS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Look for --name VALUE or --name=VALUE in argv; returns the value or NULL.
 * Marks consumed entries NULL so leftovers can be reported. */
const char *cli_opt(int argc, char **argv, const char *name);
/* Same for a flag without a value. */
int cli_flag(int argc, char **argv, const char *name);
/* Parse a non-negative integer with optional k/M/G suffix (x1000). */
int cli_u64(const char *s, uint64_t *out);
/* After options were taken, fail on anything left that starts with "--";
 * collect the remaining positional arguments. */
int cli_rest(int argc, char **argv, const char **pos, int maxpos, const char *usage);

int cmd_serve(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_token(int argc, char **argv);
int bench_log(int argc, char **argv);
int bench_engine(int argc, char **argv);
int bench_api(int argc, char **argv);
int bench_e2e(int argc, char **argv);
int bench_stream(int argc, char **argv);

/* The client subcommands (submit, jobs, job, cancel, retry, delete,
 * history, logs, workers, stats, events: cmd_client.c). cli_is_client
 * says whether name is one; cmd_client runs it with argv[0] its name;
 * cli_client_usage prints their lines of 'djs help'. */
int cli_is_client(const char *name);
int cmd_client(int argc, char **argv);
void cli_client_usage(FILE *f);

#endif

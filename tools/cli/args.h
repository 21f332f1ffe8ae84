/* Command-line options, for the djs program and the tool libraries that
 * take an argv (the benchmarks, the client's shared options). Options are
 * taken out of argv as they are read (their entries become NULL), so
 * djs_cli_rest can report what is left. */
#ifndef DJS_TOOLS_CLI_ARGS_H
#define DJS_TOOLS_CLI_ARGS_H

#include <stdint.h>

#include "core/error.h"

/* Look for --name VALUE or --name=VALUE in argv; returns the value or NULL.
 * Marks consumed entries NULL so leftovers can be reported. */
const char *djs_cli_opt(int argc, char **argv, const char *name);
/* Same for a flag without a value. */
int djs_cli_flag(int argc, char **argv, const char *name);
/* Parse a non-negative integer with optional k/M/G suffix (x1000) into
 * *out (left alone on failure). 0, DJS_EINVAL (NULL, empty, a sign, not
 * a number, another suffix) or DJS_ERANGE (over UINT64_MAX). */
int djs_cli_u64(const char *s, uint64_t *out);
/* Parse a duration: digits with an optional unit s, m, h or d ("90",
 * "90s", "10m", "2h", "1d") into seconds in *secs (left alone on failure).
 * 0, DJS_EINVAL (NULL, empty, a sign, another unit, anything after it) or
 * DJS_ERANGE (over UINT64_MAX seconds). 0 is a duration: callers that
 * want a positive one say so. */
int djs_cli_duration(const char *s, uint64_t *secs);
/* After options were taken, fail on anything left that starts with "--";
 * collect the remaining positional arguments (at most maxpos) into pos.
 * Returns their count (a count, not an error: 0 is none), or DJS_EINVAL
 * after a message with usage on stderr. */
int djs_cli_rest(int argc, char **argv, const char **pos, int maxpos, const char *usage);

#endif

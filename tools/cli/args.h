/* Command-line options, for the djs program and the tool libraries that
 * take an argv (the benchmarks, the client's shared options). Options are
 * taken out of argv as they are read (their entries become NULL), so
 * djs_cli_rest can report what is left. */
#ifndef DJS_TOOLS_CLI_ARGS_H
#define DJS_TOOLS_CLI_ARGS_H

#include <stddef.h>
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
/* Parse a time: RFC 3339 ("2026-12-04T10:02:00Z", fractions of a second,
 * "+01:00" offsets) or a duration back from now_ns ("-24h", "-90m", units
 * of djs_cli_duration), into ns since the epoch in *ns (left alone on
 * failure). 0, DJS_EINVAL (malformed, a field out of range, before 1970)
 * or DJS_ERANGE (past what 64-bit ns hold, or further back than 1970). */
int djs_cli_time(const char *s, uint64_t now_ns, uint64_t *ns);
/* A point of the log: digits are a seq (*is_time 0, *v the seq), anything
 * else a time for djs_cli_time (*is_time 1, *v ns). Errors as djs_cli_u64
 * and djs_cli_time. */
int djs_cli_point(const char *s, uint64_t now_ns, int *is_time, uint64_t *v);
/* ns since the epoch as "2026-12-04T10:02:00.123Z" into out (n >= 25). */
void djs_cli_format_time(uint64_t ns, char *out, size_t n);
/* After options were taken, fail on anything left that starts with "--";
 * collect the remaining positional arguments (at most maxpos) into pos.
 * Returns their count (a count, not an error: 0 is none), or DJS_EINVAL
 * after a message with usage on stderr. */
int djs_cli_rest(int argc, char **argv, const char **pos, int maxpos, const char *usage);

#endif

/* A job's stdout as lines, for the two things the agent reads in it: the
 * "::progress PCT [STEP]" lines (docs/worker.md) and the last line, which
 * is the job's result when it parses as JSON. Pure: bytes in, state out.
 *
 * Lines end at '\n'; a line may arrive split across any number of feeds.
 * Each line is trimmed of blanks (and a trailing '\r') on both ends;
 * blank lines leave the last line as it was. A line longer than
 * DJS_AGENT_LINE_MAX bytes is neither progress nor result (it clears the last
 * line). Embedded struct: djs_agent_lines_init, djs_agent_lines_dispose. */
#ifndef DJS_TOOLS_AGENT_LINES_H
#define DJS_TOOLS_AGENT_LINES_H

#include <stddef.h>

#include "core/buf.h"

#define DJS_AGENT_LINE_MAX (256u << 10)
#define DJS_AGENT_STEP_MAX 256 /* currentStep bytes kept, with the NUL */

typedef struct djs_agent_lines {
    djs_buf_t line; /* the line being read */
    djs_buf_t last; /* the last whole non-blank line, trimmed (the result) */
    int line_long;  /* the line being read is over DJS_AGENT_LINE_MAX */
    /* progress: the last ::progress line wins */
    int pct;     /* 0..100, -1 before the first */
    int pending; /* a ::progress line came since the caller cleared it */
    char step[DJS_AGENT_STEP_MAX];
} djs_agent_lines_t;

void djs_agent_lines_init(djs_agent_lines_t *l);
void djs_agent_lines_dispose(djs_agent_lines_t *l);
/* Take len bytes of stdout. */
void djs_agent_lines_feed(djs_agent_lines_t *l, const char *p, size_t len);
/* The output ended: a last line without its newline counts as a line. */
void djs_agent_lines_end(djs_agent_lines_t *l);

/* One trimmed line s[0..n): 1 and *pct (rounded, clamped to 0..100) and
 * step (the rest of the line, trimmed at the front, cut to steplen - 1)
 * when it is "::progress" then a blank then a number; else 0 and nothing
 * written. */
int djs_agent_progress_parse(const char *s, size_t n, int *pct, char *step, size_t steplen);

#endif

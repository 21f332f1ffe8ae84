/* Progress of a long tool run on stderr: a bar on a terminal, otherwise a
 * plain line every 10 % (and one at the end), so logs of cron jobs stay
 * short. Shared by replay verify, export, import and archive. */
#ifndef DJS_TOOLS_DJS_PROGRESS_H
#define DJS_TOOLS_DJS_PROGRESS_H

#include <stdint.h>

typedef struct djs_progress {
    const char *what; /* "verify", "export", ... (a phase may change it) */
    uint64_t t0;      /* monotonic ns at the start */
    int tty;          /* stderr is a terminal */
    int decile;       /* lines said so far, for the plain form */
    int open;         /* a bar line is waiting for its newline */
} djs_progress_t;

void djs_progress_init(djs_progress_t *p, const char *what);
/* Report done of total records; the arg is a djs_progress_t (the callback
 * shape of replay/verify.h and replay/export.h). */
void djs_progress(void *arg, uint64_t done, uint64_t total);
/* A new phase: ends the bar of the previous one. */
void djs_progress_phase(djs_progress_t *p, const char *what);
/* Ends a bar left open (a run that stopped early). */
void djs_progress_end(djs_progress_t *p);

#endif

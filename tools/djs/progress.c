#include "tools/djs/progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

void djs_progress_init(djs_progress_t *p, const char *what)
{
    memset(p, 0, sizeof(*p));
    p->what = what;
    p->t0 = djs_monotonic_ns();
    p->tty = isatty(2);
}

void djs_progress_end(djs_progress_t *p)
{
    if (p->open)
        fputc('\n', stderr);
    p->open = 0;
}

void djs_progress_phase(djs_progress_t *p, const char *what)
{
    if (p->what != NULL && strcmp(p->what, what) == 0)
        return;
    djs_progress_end(p);
    p->what = what;
    p->decile = 0;
}

void djs_progress(void *arg, uint64_t done, uint64_t total)
{
    djs_progress_t *p = arg;
    double s = (double)(djs_monotonic_ns() - p->t0) / 1e9, pct = total ? 100.0 * (double)done / (double)total : 100.0;
    if (p->tty) {
        char bar[41];
        int fill = (int)(pct * 40 / 100);
        for (int i = 0; i < 40; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[40] = '\0';
        fprintf(stderr, "\r%s [%s] %3.0f%% %" PRIu64 "/%" PRIu64 " %.1fs %.0f/s", p->what, bar, pct, done, total, s,
                s > 0 ? (double)done / s : 0.0);
        p->open = 1;
        if (done >= total)
            djs_progress_end(p);
        return;
    }
    int d = (int)(pct / 10) + 1; /* 1..11: 0 is "nothing said yet" */
    if (d <= p->decile)
        return;
    p->decile = d;
    fprintf(stderr, "%s: %" PRIu64 "/%" PRIu64 " records (%.0f%%) %.1fs\n", p->what, done, total, pct, s);
}

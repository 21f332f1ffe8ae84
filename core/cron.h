/* THROWAWAY STUB of the cron/tz module's interface (/work/wt/prompts/cron_iface.md),
 * written by the schedules branch until the real core/cron.c lands; the
 * lead replaces this file and core/cron.c with the cron engineer's. It
 * parses 5 fields (numbers, *, a-b, steps, lists; no names), the macros
 * and "every N[smhd]", and searches minute by minute in the zone's local
 * time (no DST handling).
 *
 * core/cron.h: schedule specs. */
#ifndef DJS_CORE_CRON_H
#define DJS_CORE_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"

typedef struct djs_cron {
    uint64_t minutes;    /* bit m: minute m */
    uint32_t hours;      /* bit h */
    uint32_t mdays;      /* bit d (1..31) */
    uint16_t months;     /* bit m (1..12) */
    uint8_t wdays;       /* bit d (0..6, 0 = Sunday) */
    uint8_t dom_star;    /* day-of-month was '*' */
    uint8_t dow_star;    /* day-of-week was '*' */
    uint8_t interval;    /* an "every" spec */
    uint64_t interval_s; /* its period */
} djs_cron_t;            /* plain struct, no pointers: copyable, storable */

/* Parse a 5-field cron spec, a macro or a fixed interval ("every 90s").
 * 0, or DJS_EINVAL with a one-line reason in err (may be NULL). */
int djs_cron_parse(const char *spec, size_t len, djs_cron_t *out, char *err, size_t errlen);
int djs_cron_is_interval(const djs_cron_t *c);
/* The first fire time strictly after `after` (unix seconds), in zone tz
 * (NULL = UTC); for an interval, anchor + k*interval > after. Returns 0,
 * or DJS_ENOTFOUND when no time exists within 5 years. */
int djs_cron_next(const djs_cron_t *c, const djs_tz_t *tz, int64_t anchor, int64_t after, int64_t *next);

#endif

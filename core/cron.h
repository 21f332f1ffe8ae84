/* Schedule specs: 5-field cron, @macros and fixed intervals.
 *
 * A djs_cron_t is a parsed spec, a plain struct without pointers (copy it,
 * store it, compare it with memcmp after zeroing). Fire times are computed
 * in a time zone (core/tz.h) by skipping over the fields (month, day, hour,
 * minute), never by scanning minute by minute: one djs_cron_next costs a
 * few hundred nanoseconds to a few microseconds.
 *
 * Daylight saving time, the rule of cron and Temporal: a matching local
 * time that does not exist (spring forward: 02:30 on the change day in
 * Europe/Paris) fires once, at the first instant after the gap (03:00
 * local, the instant of the change); several matching times in one gap
 * fire once together. A matching local time that occurs twice (fall back)
 * fires once, at its first occurrence; the repeated hour fires nothing, so
 * no local wall time ever fires twice. This holds for every calendar spec,
 * including "* / 15 * * * *"-style ones with a wildcard hour.
 *
 * Day-of-month and day-of-week: when both are restricted (neither field
 * starts with '*') a day matches if either matches (the usual cron OR
 * rule); otherwise both must (the '*' one matches every day). As in Vixie
 * cron, a field such as "* / 2" (a step over '*') counts as unrestricted.
 */
#ifndef DJS_CORE_CRON_H
#define DJS_CORE_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"

#define DJS_CRON_DOM_STAR 0x01u /* day-of-month starts with '*' */
#define DJS_CRON_DOW_STAR 0x02u /* day-of-week starts with '*' */
#define DJS_CRON_INTERVAL 0x04u /* an "every N<unit>" spec */

#define DJS_CRON_SPEC_MAX 256               /* bytes */
#define DJS_CRON_INTERVAL_MAX (366 * 86400) /* seconds */
#define DJS_CRON_HORIZON_YEARS 5

typedef struct djs_cron {
    uint64_t minutes; /* bit m: minute m (0..59) */
    uint32_t hours;   /* bit h: hour h (0..23) */
    uint32_t doms;    /* bit d: day of month d (1..31) */
    uint16_t months;  /* bit m: month m (1..12) */
    uint8_t dows;     /* bit d: weekday d (0 = Sunday .. 6) */
    uint8_t flags;    /* DJS_CRON_* */
    int64_t interval; /* seconds, for DJS_CRON_INTERVAL */
} djs_cron_t;

/* Parse a 5-field cron spec ("*\/5 * * * *": minute hour day-of-month
 * month day-of-week; '*', values, ranges a-b, steps *\/n and a-b/n, lists
 * a,b-c; names JAN-DEC and SUN-SAT in any case; 7 = Sunday), a macro
 * (@yearly @annually @monthly @weekly @daily @midnight @hourly), or a fixed
 * interval ("every 90s", "every 5m", "every 2h", "every 1d"; at least 1 s,
 * at most 366 d). Leading and trailing white space is ignored; at most
 * DJS_CRON_SPEC_MAX bytes; spec need not be NUL-terminated. On error *out
 * is zeroed and err (may be NULL) gets a NUL-terminated one-line reason,
 * for example "hour: 24 is out of range 0-23".
 * Errors: DJS_EINVAL. */
int djs_cron_parse(const char *spec, size_t len, djs_cron_t *out, char *err, size_t errlen);
/* 1 for an interval spec, 0 for a calendar one. */
int djs_cron_is_interval(const djs_cron_t *c);
/* The interval in seconds (0 for a calendar spec). */
int64_t djs_cron_interval(const djs_cron_t *c);

/* The first fire time strictly after `after` (unix seconds). A calendar
 * spec fires at matching local times in zone tz (NULL = UTC), with the DST
 * rule above; `anchor` is ignored. An interval spec fires at
 * anchor + k * interval for k >= 0 (the schedule's start), the first one
 * > after; tz is ignored. Errors: DJS_ENOTFOUND (no fire time within
 * DJS_CRON_HORIZON_YEARS years of `after`, e.g. "0 0 31 2 *"; or `after`
 * beyond some 8,000 years of 1970, or the next interval time overflows),
 * DJS_EINVAL (c or next NULL). */
int djs_cron_next(const djs_cron_t *c, const djs_tz_t *tz, int64_t anchor, int64_t after, int64_t *next);

#endif

/* Clocks.
 *
 * djs_clock_t stamps events: every value it returns is strictly greater
 * than the one before, even if the wall clock steps back (NTP, restart on
 * another host). Its high-water mark is persisted by the log itself: the
 * last record's timestamp floors the clock when the log is opened, so time
 * never goes backwards across a restart, and time -> seq is a binary search.
 *
 * Only the engine and the log read clocks; projections never do (DESIGN.md
 * invariant 2). The time source is injectable for tests.
 */
#ifndef DJS_CORE_CLOCK_H
#define DJS_CORE_CLOCK_H

#include <stdint.h>

/* Returns nanoseconds since the Unix epoch. */
typedef uint64_t (*djs_time_cb)(void *arg);

typedef struct djs_clock {
    uint64_t last_ns;
    djs_time_cb now;
    void *arg;
} djs_clock_t;

/* src NULL means the real-time clock (CLOCK_REALTIME). */
void djs_clock_init(djs_clock_t *c, djs_time_cb src, void *arg);
/* Raise the high-water mark: later stamps are > ns. */
void djs_clock_floor(djs_clock_t *c, uint64_t ns);
/* A stamp strictly greater than every earlier one of this clock. */
uint64_t djs_clock_next(djs_clock_t *c);
/* Current source time without advancing the high-water mark, never below it. */
uint64_t djs_clock_peek(const djs_clock_t *c);

/* ns as RFC 3339 UTC with nanoseconds, "2026-12-05T15:11:55.123456789Z". */
#define DJS_RFC3339_NS_LEN 40
void djs_rfc3339_ns(uint64_t ns, char out[DJS_RFC3339_NS_LEN]);

uint64_t djs_wall_ns(void);      /* CLOCK_REALTIME */
uint64_t djs_monotonic_ns(void); /* CLOCK_MONOTONIC, for durations */

#endif

#include "core/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t djs_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t djs_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_src(void *arg)
{
    (void)arg;
    return djs_wall_ns();
}

void djs_clock_init(djs_clock_t *c, djs_time_cb src, void *arg)
{
    c->last_ns = 0;
    c->now = src != NULL ? src : wall_src;
    c->arg = arg;
}

void djs_clock_floor(djs_clock_t *c, uint64_t ns)
{
    if (ns > c->last_ns)
        c->last_ns = ns;
}

uint64_t djs_clock_next(djs_clock_t *c)
{
    uint64_t t = c->now(c->arg);
    c->last_ns = t > c->last_ns ? t : c->last_ns + 1;
    return c->last_ns;
}

uint64_t djs_clock_peek(const djs_clock_t *c)
{
    uint64_t t = c->now(c->arg);
    return t > c->last_ns ? t : c->last_ns;
}

void djs_rfc3339_ns(uint64_t ns, char out[DJS_RFC3339_NS_LEN])
{
    time_t s = (time_t)(ns / 1000000000ULL);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, DJS_RFC3339_NS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, DJS_RFC3339_NS_LEN - n, ".%09uZ", (unsigned)(ns % 1000000000ULL));
}

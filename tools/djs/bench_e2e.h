/* Shared parts of `djs bench e2e` (bench_e2e.c: djs with simulated workers;
 * bench_beanstalk.c: the same work on beanstalkd). Private to tools/djs. */
#ifndef DJS_TOOLS_BENCH_E2E_H
#define DJS_TOOLS_BENCH_E2E_H

#include <netinet/in.h>
#include <stdint.h>

/* A free loopback TCP port: bind 0, read it, release it. 0 on failure. */

/* Sort lat (microseconds) and give p50 and p99 in milliseconds (0 when n is 0). */
void e2e_percentiles(uint32_t *lat, uint64_t n, double *p50_ms, double *p99_ms);

/* Remove dir and the regular files directly in it. */
void e2e_rm_dir(const char *dir);

typedef struct e2e_bs_result {
    int ran;               /* 0: not run, why says why */
    double jobs_per_s;     /* N / (first put sent .. last DELETED read) */
    double put_per_s;      /* N / (first put sent .. last INSERTED read) */
    double p50_ms, p99_ms; /* INSERTED read .. RESERVED read, per job */
    uint64_t errors;
    char why[160];
} e2e_bs_result_t;

/* beanstalkd with its binlog in a fresh directory under tmpbase and -f 0 (fsync
 * on every write), on a free loopback port: N jobs put by `producers`
 * connections, reserved and deleted by `consumers` connections, all on one
 * libuv loop. */
void e2e_beanstalk(uint64_t njobs, int producers, int consumers, const char *tmpbase, e2e_bs_result_t *out);

#endif

/* The peer of `djs bench e2e` (e2e.c): the same work on beanstalkd
 * (beanstalk.c), for the comparison in the same run. */
#ifndef DJS_TOOLS_BENCH_BEANSTALK_H
#define DJS_TOOLS_BENCH_BEANSTALK_H

#include <netinet/in.h>
#include <stdint.h>

typedef struct djs_bench_bs_result {
    int ran;               /* 0: not run, why says why */
    double jobs_per_s;     /* N / (first put sent .. last DELETED read) */
    double put_per_s;      /* N / (first put sent .. last INSERTED read) */
    double p50_ms, p99_ms; /* INSERTED read .. RESERVED read, per job */
    uint64_t errors;
    char why[160];
} djs_bench_bs_result_t;

/* beanstalkd with its binlog in a fresh directory under tmpbase and -f 0 (fsync
 * on every write), on a free loopback port: N jobs put by `producers`
 * connections, reserved and deleted by `consumers` connections, all on one
 * libuv loop. */
void djs_bench_beanstalk(uint64_t njobs, int producers, int consumers, const char *tmpbase, djs_bench_bs_result_t *out);

#endif

/* The djs run of `djs bench e2e` (private to tools/bench): e2e.c drives the
 * simulated workers and the producers against a running `djs serve` on
 * one libuv loop; e2e_cmd.c is the command around it (options, the child
 * server, the beanstalkd peer, the report). */
#ifndef DJS_TOOLS_BENCH_E2E_H
#define DJS_TOOLS_BENCH_E2E_H

#include <netinet/in.h>
#include <stdint.h>

/* What to run: the server's address and admin token (borrowed for the
 * run), and the shape of the load (see e2e.c's opening comment). */
typedef struct djs__bench_e2e_params {
    struct sockaddr_in addr;
    const char *token;
    uint64_t n, hold_ms;
    uint32_t workers, producers, slots, conns, batch;
    int batched; /* reports batched, else one request per report */
    int claim;   /* polls with ?claim=true: what they deliver is RUNNING already, no start report */
} djs__bench_e2e_params_t;

/* The figures of one run: ok 0 and why when it failed (the counters are
 * then partial). */
typedef struct djs__bench_e2e_result {
    int ok;
    char why[256];
    double jobs_per_s, submit_per_s, p50_ms, p99_ms, sent_p50_ms, sent_p99_ms, seconds;
    int64_t peak_running_server, peak_slots_busy, peak_running_client;
    uint64_t refused, errors, polls, empty_polls, heartbeats, reconnects, submits, starts, completes, reports_reqs,
        carried_by_polls, carried_by_reports;
} djs__bench_e2e_result_t;

/* Run the load to its end (every job completed) or its failure (a refused
 * request, a lost connection, 60 s without a completion: out->ok 0 and
 * out->why); fills *out. */
void djs__bench_e2e_run(const djs__bench_e2e_params_t *p, djs__bench_e2e_result_t *out);

#endif

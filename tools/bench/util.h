/* Pieces every benchmark that drives a child `djs serve` needs: a free loopback port, an admin token, starting the server and
 * waiting for it, the requests that submit no-op jobs, percentiles. HTTP
 * itself is in uvhttp.h. */
#ifndef DJS_TOOLS_BENCH_UTIL_H
#define DJS_TOOLS_BENCH_UTIL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

/* What a benchmark's child server needs: a fresh data directory, this
 * program's path (to exec `serve`), a free port and an admin token. */
typedef struct djs_bench_env {
    char dir[4096], exe[4096], listen[64], token[1024];
    struct sockaddr_in addr;
} djs_bench_env_t;
/* Make the directory under dirbase (NULL: $TMPDIR or /var/tmp) and fill
 * env; `what` names the bench in messages. 0, or after a message DJS_EIO
 * (the directory, this program's path, a port) or the token's error
 * (api/auth.h). */
int djs_bench_prepare(const char *what, const char *dirbase, uint64_t ttl_s, djs_bench_env_t *env);
/* CPU seconds (user + system) used so far by process pid, all threads. */
double djs_bench_proc_cpu_s(pid_t pid);

/* A free 127.0.0.1 port in addr (bound, read, released). 0 or DJS_EIO. */
int djs_bench_free_port(struct sockaddr_in *addr);
/* Start `exe serve --data dir --listen 127.0.0.1:PORT --rate-limit 0` with
 * stdout (and stderr when quiet) to /dev/null and wait up to 10 s for GET
 * /health. The pid, or after a message DJS_EIO (no fork) or
 * DJS_EUNAVAILABLE (it did not answer; the child is killed). */
pid_t djs_bench_serve(const char *what, const char *exe, const char *dir, const struct sockaddr_in *addr, int quiet);
/* The same with more arguments for serve: extra, NULL-terminated (at most
 * 8; NULL: none). */
pid_t djs_bench_serve_args(const char *what, const char *exe, const char *dir, const struct sockaddr_in *addr, int quiet,
                           const char *const *extra);
/* A POST /api/v1/jobs request (auth: "Authorization: ...\r\n" or "") for
 * m no-op jobs: one job object, or with workflow set a workflow of m
 * independent jobs. malloc'd; *len gets its length. */
char *djs_bench_submit_request(const char *auth, uint32_t m, int workflow, size_t *len);
/* Raise RLIMIT_NOFILE to its hard limit when fds + 64 descriptors do not
 * fit; 0, or DJS_ELIMIT after "djs bench WHAT: N NOUN need about FDS
 * file descriptors (ulimit -n is L)" when they still do not. */
int djs_bench_fd_limit(const char *what, uint64_t n, const char *noun, uint64_t fds);
/* Sort lat (microseconds) and give p50 and p99 in milliseconds (0 when n is 0). */
void djs_bench_percentiles(uint32_t *lat, uint64_t n, double *p50_ms, double *p99_ms);
/* Remove dir and the regular files directly in it. */
void djs_bench_rm_dir(const char *dir);

#endif

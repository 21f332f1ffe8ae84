#include "tools/bench/util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api/auth.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "tools/bench/uvhttp.h"

int djs_bench_free_port(struct sockaddr_in *addr)
{
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t alen = sizeof(*addr);
    int rc =
        (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 || getsockname(fd, (struct sockaddr *)addr, &alen) != 0)
            ? DJS_EIO
            : 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* An admin token for the server of data directory dir (its secret is made
 * if needed), valid ttl_s. 0, or djs_auth_open's or djs_auth_sign's error
 * after a message naming `what`. */
static int bench_token(const char *what, const char *dir, uint64_t ttl_s, char *token, size_t n)
{
    djs_auth_t *auth;
    djs_buf_t tok;
    djs_buf_init(&tok);
    int rc = djs_auth_open(&auth, dir);
    if (rc != 0) {
        fprintf(stderr, "djs bench %s: cannot make a token in %s\n", what, dir);
        return rc;
    }
    rc = djs_auth_sign(auth, "bench", DJS_ROLE_ADMIN, (uint64_t)time(NULL), ttl_s, &tok);
    if (rc == 0)
        snprintf(token, n, "%.*s", (int)tok.len, (const char *)tok.base);
    else
        fprintf(stderr, "djs bench %s: cannot make a token in %s\n", what, dir);
    djs_buf_dispose(&tok);
    djs_auth_close(auth);
    return rc;
}

pid_t djs_bench_serve(const char *what, const char *exe, const char *dir, const struct sockaddr_in *addr, int quiet)
{
    return djs_bench_serve_args(what, exe, dir, addr, quiet, NULL);
}

pid_t djs_bench_serve_args(const char *what, const char *exe, const char *dir, const struct sockaddr_in *addr, int quiet,
                           const char *const *extra)
{
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", ntohs(addr->sin_port));
    /* no rate limit: a benchmark is one principal on purpose */
    const char *argv[8 + 8 + 1] = {exe, "serve", "--data", dir, "--listen", listen, "--rate-limit", "0"};
    int n = 8;
    for (int i = 0; extra != NULL && extra[i] != NULL && i < 8; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return DJS_EIO;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        if (quiet)
            dup2(devnull, 2);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    char out[512];
    for (int i = 0; i < 200; i++) {
        usleep(50000);
        if (djs_bench_http_request(addr, "GET /health HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", out, sizeof(out)) == 200)
            return pid;
    }
    fprintf(stderr, "djs bench %s: the server did not start\n", what);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return DJS_EUNAVAILABLE;
}

int djs_bench_prepare(const char *what, const char *dirbase, uint64_t ttl_s, djs_bench_env_t *env)
{
    const char *base = dirbase ? dirbase : getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    snprintf(env->dir, sizeof(env->dir), "%s/djs-bench-%s-XXXXXX", base, what);
    if (mkdtemp(env->dir) == NULL) {
        perror(env->dir);
        return DJS_EIO;
    }
    ssize_t el = readlink("/proc/self/exe", env->exe, sizeof(env->exe) - 1);
    if (el <= 0) {
        perror("readlink /proc/self/exe");
        return DJS_EIO;
    }
    env->exe[el] = '\0';
    int rc = djs_bench_free_port(&env->addr);
    if (rc != 0) {
        perror("choosing a port");
        return rc;
    }
    snprintf(env->listen, sizeof(env->listen), "127.0.0.1:%d", ntohs(env->addr.sin_port));
    return bench_token(what, env->dir, ttl_s, env->token, sizeof(env->token));
}

double djs_bench_proc_cpu_s(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *p = strrchr(text, ')'); /* the command name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

char *djs_bench_submit_request(const char *auth, uint32_t m, int workflow, size_t *len)
{
    static const char one[] = "{\"name\":\"noop\",\"payload\":{\"kind\":\"noop\"}}";
    size_t cap = 512 + (size_t)m * 64;
    char *body = djs_malloc(cap), *req = djs_malloc(cap + 1400);
    size_t bl = 0;
    if (!workflow) {
        bl = (size_t)snprintf(body, cap, "%s", one);
    } else {
        bl = (size_t)snprintf(body, cap, "{\"jobs\":[");
        for (uint32_t i = 0; i < m; i++)
            bl += (size_t)snprintf(body + bl, cap - bl, "%s{\"key\":\"k%u\",\"name\":\"noop\",\"payload\":{\"kind\":\"noop\"}}",
                                   i ? "," : "", i);
        bl += (size_t)snprintf(body + bl, cap - bl, "]}");
    }
    *len = (size_t)snprintf(req, cap + 1400,
                            "POST /api/v1/jobs HTTP/1.1\r\nHost: b\r\n%sContent-Type: application/json\r\nContent-Length: "
                            "%zu\r\n\r\n%.*s",
                            auth, bl, (int)bl, body);
    djs_free(body);
    return req;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void djs_bench_percentiles(uint32_t *lat, uint64_t n, double *p50_ms, double *p99_ms)
{
    *p50_ms = *p99_ms = 0;
    if (n == 0)
        return;
    qsort(lat, n, sizeof(uint32_t), cmp_u32);
    *p50_ms = lat[n / 2] / 1e3;
    *p99_ms = lat[n * 99 / 100] / 1e3;
}

void djs_bench_rm_dir(const char *dir)
{
    uv_fs_t req;
    uv_dirent_t ent;
    char path[4400];
    if (uv_fs_scandir(NULL, &req, dir, 0, NULL) >= 0) {
        while (uv_fs_scandir_next(&req, &ent) != UV_EOF) {
            snprintf(path, sizeof(path), "%s/%s", dir, ent.name);
            unlink(path);
        }
    }
    uv_fs_req_cleanup(&req);
    rmdir(dir);
}

int djs_bench_fd_limit(const char *what, uint64_t n, const char *noun, uint64_t fds)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= fds + 64)
        return 0;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= fds + 64)
        return 0;
    fprintf(stderr, "djs bench %s: %" PRIu64 " %s need about %" PRIu64 " file descriptors (ulimit -n is %llu)\n", what, n, noun,
            fds, (unsigned long long)rl.rlim_cur);
    return DJS_ELIMIT;
}

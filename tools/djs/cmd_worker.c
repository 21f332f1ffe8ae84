/* djs worker: parse the options, then run the agent (agent.c). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "tools/agent/agent.h"
#include "tools/cli/servers.h"
#include "tools/djs/cli.h"

#define WORKER_USAGE                                                                                                               \
    "djs worker --server URL[,URL...] --token T [--name N] [--capabilities A,B] [--tags k=v,...] [--slots K] [--workdir DIR]\n"    \
    "           [--heartbeat S] [--grace S] [--drain-timeout S] [--cacert FILE] [--insecure] [--no-claim]\n"                       \
    "(also DJS_SERVER, DJS_TOKEN; several --server URLs: a cluster's nodes, the leader is followed;\n"                             \
    "defaults: name = host name, slots = CPUs, workdir = current directory, heartbeat 5 s, grace 5 s,\n"                           \
    "drain-timeout 60 s; see docs/worker.md)"

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "djs worker: %s%s%s%s\nusage: %s\n", what, arg ? " '" : "", arg ? arg : "", arg ? "'" : "", WORKER_USAGE);
    return 2;
}

/* Seconds (decimals allowed) as milliseconds, within [min_s, max_s]: 0, or
 * DJS_EINVAL after a usage message. */
static int seconds_opt(int argc, char **argv, const char *name, double dflt, double min_s, double max_s, uint64_t *ms)
{
    const char *v = djs_cli_opt(argc, argv, name);
    double s = dflt;
    if (v != NULL) {
        char *end;
        errno = 0;
        s = strtod(v, &end);
        if (errno != 0 || end == v || *end != '\0' || !isfinite(s) || s < min_s || s > max_s) {
            fprintf(stderr, "djs worker: %s must be seconds from %g to %g, got '%s'\nusage: %s\n", name, min_s, max_s, v,
                    WORKER_USAGE);
            return DJS_EINVAL;
        }
    }
    *ms = (uint64_t)(s * 1000 + 0.5);
    return 0;
}

static int slots_opt(int argc, char **argv, uint32_t *slots)
{
    const char *v = djs_cli_opt(argc, argv, "--slots");
    uint64_t n;
    if (v == NULL) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        *slots = cpus > 0 ? (uint32_t)cpus : 1;
        return 0;
    }
    if (djs_cli_u64(v, &n) != 0 || n < 1 || n > 10000)
        return usage_error("--slots must be from 1 to 10000, got", v);
    *slots = (uint32_t)n;
    return 0;
}

/* One base URL or a comma-separated list of them (tools/cli/servers.h). */
static int check_server(const char *server)
{
    djs_servers_t s;
    char err[320], what[340];
    if (djs_servers_parse(&s, server, err, sizeof(err)) != 0) {
        snprintf(what, sizeof(what), "--server %s", err);
        return usage_error(what, NULL);
    }
    djs_servers_dispose(&s);
    return 0;
}

static int check_workdir(const char *dir, char *out)
{
    struct stat st;
    if (realpath(dir, out) == NULL || stat(out, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "djs worker: --workdir %s: %s\n", dir, errno ? strerror(errno) : "not a directory");
        return 2;
    }
    return 0;
}

int djs_cmd_worker(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        printf("usage: %s\n", WORKER_USAGE);
        return 0;
    }
    djs_agent_config_t c = {0};
    char host[256], workdir[PATH_MAX];
    const char *sv = djs_cli_opt(argc, argv, "--server"), *wd = djs_cli_opt(argc, argv, "--workdir");
    c.token = djs_cli_opt(argc, argv, "--token");
    c.name = djs_cli_opt(argc, argv, "--name");
    c.capabilities = djs_cli_opt(argc, argv, "--capabilities");
    const char *tags = djs_cli_opt(argc, argv, "--tags");
    char caps[4096];
    c.cacert = djs_cli_opt(argc, argv, "--cacert");
    c.insecure = djs_cli_flag(argc, argv, "--insecure");
    c.no_claim = djs_cli_flag(argc, argv, "--no-claim");
    if (slots_opt(argc, argv, &c.slots) != 0 || seconds_opt(argc, argv, "--heartbeat", 5, 0.1, 3600, &c.heartbeat_ms) != 0 ||
        seconds_opt(argc, argv, "--grace", 5, 0, 3600, &c.grace_ms) != 0 ||
        seconds_opt(argc, argv, "--drain-timeout", 60, 0, 86400, &c.drain_timeout_ms) != 0)
        return 2;
    const char *pos[1];
    if (djs_cli_rest(argc, argv, pos, 0, WORKER_USAGE) < 0)
        return 2;
    if (tags != NULL) {
        /* tags are key=value labels; they are advertised as capabilities
         * "key=value", so a job routes to them with requiredCapabilities */
        for (const char *p = tags; *p != '\0';) {
            const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p), *eq = memchr(p, '=', (size_t)(end - p));
            if (eq == NULL || eq == p || eq + 1 == end || end - p > 64)
                return usage_error("--tags takes key=value pairs separated by commas (each at most 64 bytes)", NULL);
            p = comma ? comma + 1 : end;
        }
        snprintf(caps, sizeof(caps), "%s%s%s", c.capabilities ? c.capabilities : "", c.capabilities ? "," : "", tags);
        c.capabilities = caps;
    }
    if (sv == NULL)
        sv = getenv("DJS_SERVER");
    if (c.token == NULL)
        c.token = getenv("DJS_TOKEN");
    if (sv == NULL)
        return usage_error("--server (or DJS_SERVER) is required", NULL);
    if (c.token == NULL || *c.token == '\0')
        return usage_error("--token (or DJS_TOKEN) is required", NULL);
    if (check_server(sv) != 0)
        return 2;
    c.server = sv;
    if (c.name == NULL) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            return usage_error("no --name and no host name", NULL);
        host[sizeof(host) - 1] = '\0';
        c.name = host;
    }
    if (*c.name == '\0' || strlen(c.name) > 256)
        return usage_error("--name must be 1 to 256 bytes", NULL);
    errno = 0;
    if (check_workdir(wd ? wd : ".", workdir) != 0)
        return 2;
    c.workdir = workdir;
    return djs_agent_run(&c);
}

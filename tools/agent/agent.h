/* djs worker: the agent that runs jobs on a machine. One libuv loop, one
 * thread: it registers with the server, heartbeats, long-polls for
 * assignments, runs each through its kind (kinds.h), ships output and
 * progress, reports the outcome, and drains on SIGTERM. See
 * docs/worker.md. The djs program's `worker` subcommand calls it. */
#ifndef DJS_TOOLS_AGENT_AGENT_H
#define DJS_TOOLS_AGENT_AGENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct djs_agent_config {
    const char *server; /* base URL, e.g. http://127.0.0.1:8080, or a comma-separated list of a cluster's (tools/cli/servers.h) */
    const char *token;  /* bearer token (worker role, subject = name; or admin/operator) */
    const char *name;   /* worker name (registration key) */
    const char *capabilities; /* comma-separated, or NULL */
    uint32_t slots;           /* jobs at once */
    const char *workdir;      /* jobs' base directory (absolute) */
    uint64_t heartbeat_ms;
    uint64_t grace_ms;         /* SIGTERM to SIGKILL */
    uint64_t drain_timeout_ms; /* after SIGTERM, how long running jobs may go on */
    const char *cacert;
    int insecure;
    int no_claim; /* poll without ?claim=true: each assignment gets a start report (docs/worker.md) */
} djs_agent_config_t;

/* Run the agent until drained (0), a second signal (1), or a start failure (1). */
int djs_agent_run(const djs_agent_config_t *c);

#endif

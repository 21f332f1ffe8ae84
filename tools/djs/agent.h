/* djs worker: the agent that runs jobs on a machine. One libuv loop, one
 * thread: it registers with the server, heartbeats, long-polls for
 * assignments, runs each through its kind (agent_kinds.c), ships output
 * and progress, reports the outcome, and drains on SIGTERM. See
 * docs/worker.md. Private to tools/djs. */
#ifndef DJS_TOOLS_AGENT_H
#define DJS_TOOLS_AGENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tools/djs/agent_http.h"

typedef struct agent_config {
    const char *server;       /* base URL, e.g. http://127.0.0.1:8080 */
    const char *token;        /* bearer token (worker role, subject = name; or admin/operator) */
    const char *name;         /* worker name (registration key) */
    const char *capabilities; /* comma-separated, or NULL */
    uint32_t slots;           /* jobs at once */
    const char *workdir;      /* jobs' base directory (absolute) */
    uint64_t heartbeat_ms;
    uint64_t grace_ms;         /* SIGTERM to SIGKILL */
    uint64_t drain_timeout_ms; /* after SIGTERM, how long running jobs may go on */
    const char *cacert;
    int insecure;
} agent_config_t;

/* Run the agent until drained (0), a second signal (1), or a start failure (1). */
int agent_run(const agent_config_t *c);
/* djs worker [options] (cmd_worker.c): argv[0] is "worker". Exit code. */
int cmd_worker(int argc, char **argv);

/* ---- what a job kind sees -------------------------------------------------------------- */

typedef struct agent agent_t;
typedef struct agent_job agent_job_t;

/* A kind of job: the payload's "kind" names it. */
typedef struct agent_kind {
    const char *name;
    /* Start the job. 0: it runs; the kind calls agent_job_output as output
     * comes and agent_job_exit exactly once at the end (never from inside
     * start). Otherwise write why into err: the job fails with that text
     * and no kind callback follows. */
    int (*start)(agent_job_t *job, char *err, size_t errlen);
    /* Stop it: sig is SIGTERM (ask) or SIGKILL (now). The kind still calls
     * agent_job_exit (it may do so from inside kill). */
    void (*kill)(agent_job_t *job, int sig);
} agent_kind_t;

/* The kind table (agent_kinds.c), NULL-name terminated, and lookup. */
extern const agent_kind_t agent_kinds[];
const agent_kind_t *agent_kind_find(const char *name);

/* Accessors for kinds. The payload is owned by the job. */
const json_t *agent_job_payload(const agent_job_t *j);
uint32_t agent_job_timeout_s(const agent_job_t *j);
const char *agent_job_id(const agent_job_t *j);
uint32_t agent_job_attempt(const agent_job_t *j);
const char *agent_job_workdir(const agent_job_t *j);
uv_loop_t *agent_job_loop(const agent_job_t *j);
agent_http_t *agent_job_http(const agent_job_t *j);
/* The kind's own state (owned by the kind, NULL at start). */
void *agent_job_data(const agent_job_t *j);
void agent_job_set_data(agent_job_t *j, void *data);

/* Output the job produced: is_stdout 1 for stdout (scanned for ::progress
 * lines and the result line), 0 for stderr. */
void agent_job_output(agent_job_t *j, int is_stdout, const char *data, size_t len);
/* The job ended: ok 1 succeeded, else error says why ("exit status 3").
 * The kind must have released its resources (agent_job_data is dropped). */
void agent_job_exit(agent_job_t *j, int ok, const char *error);

#endif

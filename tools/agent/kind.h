/* What a job kind sees of the worker agent: the job it runs and the two
 * calls that report back. The agent (agent.c) implements these
 * functions; the kinds (kinds.c) call them. This header is below both, so
 * neither includes the other. Threading: the agent's loop thread only. */
#ifndef DJS_TOOLS_AGENT_KIND_H
#define DJS_TOOLS_AGENT_KIND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "tools/agent/agent_http.h"

typedef struct djs_agent_job djs_agent_job_t;

/* A kind of job: the payload's "kind" names it. */
typedef struct djs_agent_kind {
    const char *name;
    /* Start the job. 0: it runs; the kind calls djs_agent_job_output as output
     * comes and djs_agent_job_exit exactly once at the end (never from inside
     * start). Otherwise it writes why into err and returns a DJS_E... code
     * (DJS_EINVAL a malformed payload, DJS_ENOTFOUND / DJS_EPERM a bad cwd,
     * DJS_EIO what could not be started): the job fails with that text and
     * no kind callback follows. */
    int (*start)(djs_agent_job_t *job, char *err, size_t errlen);
    /* Stop it: sig is SIGTERM (ask) or SIGKILL (now). The kind still calls
     * djs_agent_job_exit (it may do so from inside kill). */
    void (*kill)(djs_agent_job_t *job, int sig);
} djs_agent_kind_t;

/* Accessors for kinds. The payload is owned by the job. */
const json_t *djs_agent_job_payload(const djs_agent_job_t *j);
uint32_t djs_agent_job_timeout_s(const djs_agent_job_t *j);
const char *djs_agent_job_id(const djs_agent_job_t *j);
uint32_t djs_agent_job_attempt(const djs_agent_job_t *j);
const char *djs_agent_job_workdir(const djs_agent_job_t *j);
uv_loop_t *djs_agent_job_loop(const djs_agent_job_t *j);
djs_agent_http_t *djs_agent_job_http(const djs_agent_job_t *j);
/* The kind's own state (owned by the kind, NULL at start). */
void *djs_agent_job_data(const djs_agent_job_t *j);
void djs_agent_job_set_data(djs_agent_job_t *j, void *data);

/* Output the job produced: is_stdout 1 for stdout (scanned for ::progress
 * lines and the result line), 0 for stderr. */
void djs_agent_job_output(djs_agent_job_t *j, int is_stdout, const char *data, size_t len);
/* The job ended: ok 1 succeeded, else error says why ("exit status 3").
 * The kind must have released its resources (djs_agent_job_data is dropped). */
void djs_agent_job_exit(djs_agent_job_t *j, int ok, const char *error);

#endif

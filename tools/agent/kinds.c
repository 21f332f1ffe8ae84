/* The job kinds of the worker agent. To add one: write its start and kill
 * functions (see djs_agent_kind_t in kind.h) and add a line to kinds[]
 * at the bottom of this file; docs/worker.md says more. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "tools/agent/kinds.h"

extern char **environ;

#define EXEC_MAX_ARGS 4096
#define EXEC_MAX_ENV 4096
#define EXEC_LINGER_MS 2000 /* after the exit, how long the pipes may stay open */

/* ---- exec: a command in its own process group ------------------------------------------------ */

typedef struct exec {
    djs_agent_job_t *job; /* NULL after a failed start: nobody is told the end */
    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_timer_t linger;
    uv_write_t wr;
    uv_shutdown_t sd;
    char *stdin_text;
    int has_in, open, exited, term_signal;
    int64_t exit_status;
    char buf[64 * 1024];
} exec_t;

static void exec_finish(exec_t *e)
{
    char error[128];
    int ok = 0;
    if (e->term_signal != 0) {
        const char *abbrev = sigabbrev_np(e->term_signal);
        if (abbrev != NULL)
            snprintf(error, sizeof(error), "killed by signal SIG%s", abbrev);
        else
            snprintf(error, sizeof(error), "killed by signal %d", e->term_signal);
    } else if (e->exit_status != 0) {
        snprintf(error, sizeof(error), "exit status %lld", (long long)e->exit_status);
    } else {
        ok = 1;
        error[0] = '\0';
    }
    djs_agent_job_t *j = e->job;
    djs_free(e->stdin_text);
    djs_free(e);
    if (j != NULL)
        djs_agent_job_exit(j, ok, ok ? NULL : error);
}

static void on_exec_closed(uv_handle_t *h)
{
    exec_t *e = h->data;
    if (--e->open == 0)
        exec_finish(e);
}

static void close_once(exec_t *e, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        h->data = e;
        uv_close(h, on_exec_closed);
    }
}

/* Once the process is gone and both pipes are done, the rest can go. */
static void exec_check(exec_t *e)
{
    if (!e->exited || !uv_is_closing((uv_handle_t *)&e->out) || !uv_is_closing((uv_handle_t *)&e->err))
        return;
    close_once(e, (uv_handle_t *)&e->linger);
    if (e->has_in)
        close_once(e, (uv_handle_t *)&e->in);
}

static void on_linger(uv_timer_t *t)
{
    exec_t *e = container_of(t, exec_t, linger);
    close_once(e, (uv_handle_t *)&e->out); /* a leftover grandchild holds them: stop waiting */
    close_once(e, (uv_handle_t *)&e->err);
    exec_check(e);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    exec_t *e = container_of(p, exec_t, proc);
    e->exited = 1;
    e->exit_status = status;
    e->term_signal = sig;
    kill(-p->pid, SIGKILL); /* what the job left behind in its group goes with it */
    close_once(e, (uv_handle_t *)&e->proc);
    if (e->has_in)
        close_once(e, (uv_handle_t *)&e->in);
    uv_timer_start(&e->linger, on_linger, EXEC_LINGER_MS, 0);
    exec_check(e);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    exec_t *e = h->data;
    *buf = uv_buf_init(e->buf, sizeof(e->buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    exec_t *e = s->data;
    if (n > 0) {
        djs_agent_job_output(e->job, s == (uv_stream_t *)&e->out, buf->base, (size_t)n);
    } else if (n < 0) {
        close_once(e, (uv_handle_t *)s);
        exec_check(e);
    }
}

static void on_shutdown(uv_shutdown_t *sd, int status)
{
    (void)status;
    exec_t *e = container_of(sd, exec_t, sd);
    close_once(e, (uv_handle_t *)&e->in);
}

static void on_written(uv_write_t *w, int status)
{
    exec_t *e = container_of(w, exec_t, wr);
    if (status != 0 || uv_is_closing((uv_handle_t *)&e->in) || uv_shutdown(&e->sd, (uv_stream_t *)&e->in, on_shutdown) != 0)
        close_once(e, (uv_handle_t *)&e->in);
}

/* ---- exec: the payload ----------------------------------------------------------------------- */

static void free_strv(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        djs_free(v[i]);
    djs_free(v);
}

static char *strf(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = djs_malloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static char **exec_args(const char *command, const json_t *args, char *err, size_t n)
{
    if (args != NULL && (!json_is_array(args) || json_array_size(args) > EXEC_MAX_ARGS)) {
        snprintf(err, n, "malformed payload: args must be an array of at most %d strings", EXEC_MAX_ARGS);
        return NULL;
    }
    size_t count = args ? json_array_size(args) : 0;
    char **v = djs_calloc(count + 2, sizeof(char *));
    v[0] = strf(command, "", "");
    for (size_t i = 0; i < count; i++) {
        const json_t *x = json_array_get(args, i);
        if (!json_is_string(x)) {
            snprintf(err, n, "malformed payload: args[%zu] is not a string", i);
            free_strv(v);
            return NULL;
        }
        v[i + 1] = strf(json_string_value(x), "", "");
    }
    return v;
}

static int env_overridden(const json_t *env, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (eq == NULL || env == NULL)
        return 0;
    char key[256];
    if ((size_t)(eq - entry) >= sizeof(key))
        return 0;
    snprintf(key, sizeof(key), "%.*s", (int)(eq - entry), entry);
    return json_object_get(env, key) != NULL || strcmp(key, "DJS_JOB_ID") == 0 || strcmp(key, "DJS_JOB_ATTEMPT") == 0;
}

/* The agent's environment, then the payload's env, then DJS_JOB_ID and DJS_JOB_ATTEMPT. */
static char **exec_env(djs_agent_job_t *job, const json_t *env, char *err, size_t n)
{
    if (env != NULL && (!json_is_object(env) || json_object_size(env) > EXEC_MAX_ENV)) {
        snprintf(err, n, "malformed payload: env must be an object of strings");
        return NULL;
    }
    size_t count = 0, k = 0;
    while (environ[count] != NULL)
        count++;
    char **v = djs_calloc(count + (env ? json_object_size(env) : 0) + 3, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        if (!env_overridden(env, environ[i]))
            v[k++] = strf(environ[i], "", "");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)env, key, val)
    {
        if (!json_is_string(val) || *key == '\0' || strchr(key, '=') != NULL) {
            snprintf(err, n, "malformed payload: env.%.64s must be a string with a name without '='", key);
            free_strv(v);
            return NULL;
        }
        v[k++] = strf(key, "=", json_string_value(val));
    }
    char att[16];
    snprintf(att, sizeof(att), "%u", djs_agent_job_attempt(job));
    v[k++] = strf("DJS_JOB_ID=", djs_agent_job_id(job), "");
    v[k++] = strf("DJS_JOB_ATTEMPT=", att, "");
    return v;
}

/* cwd relative to the workdir, and staying inside it (symbolic links too). */
static int exec_cwd(const char *workdir, const json_t *cwd, char *out, size_t n, char *err, size_t errlen)
{
    char root[PATH_MAX], joined[PATH_MAX * 2];
    if (realpath(workdir, root) == NULL)
        return snprintf(err, errlen, "worker directory %s: %s", workdir, strerror(errno)), DJS_EIO;
    if (cwd == NULL) {
        snprintf(out, n, "%s", root);
        return 0;
    }
    const char *rel = json_string_value(cwd);
    if (rel == NULL)
        return snprintf(err, errlen, "malformed payload: cwd must be a string"), DJS_EINVAL;
    if (rel[0] == '/')
        return snprintf(err, errlen, "cwd '%.200s' must be relative to the worker directory", rel), DJS_EINVAL;
    snprintf(joined, sizeof(joined), "%s/%s", root, rel);
    if (realpath(joined, out) == NULL) {
        int rc = errno == ENOENT || errno == ENOTDIR ? DJS_ENOTFOUND : DJS_EIO;
        return snprintf(err, errlen, "cwd '%.200s': %s", rel, strerror(errno)), rc;
    }
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && (strncmp(out, root, rl) != 0 || (out[rl] != '/' && out[rl] != '\0')))
        return snprintf(err, errlen, "cwd '%.200s' leaves the worker directory", rel), DJS_EPERM;
    return 0;
}

static int exec_spawn(djs_agent_job_t *job, exec_t *e, char **argv, char **env, const char *cwd, char *err, size_t n)
{
    uv_loop_t *loop = djs_agent_job_loop(job);
    uv_process_options_t o = {0};
    uv_stdio_container_t stdio[3];
    uv_pipe_init(loop, &e->out, 0);
    uv_pipe_init(loop, &e->err, 0);
    uv_timer_init(loop, &e->linger);
    e->out.data = e->err.data = e->linger.data = e;
    e->open = 4; /* out, err, linger, proc */
    if (e->has_in) {
        uv_pipe_init(loop, &e->in, 0);
        e->in.data = e;
        e->open++;
    }
    stdio[0].flags = e->has_in ? UV_CREATE_PIPE | UV_READABLE_PIPE : UV_IGNORE;
    stdio[0].data.stream = (uv_stream_t *)&e->in;
    stdio[1].flags = stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&e->out;
    stdio[2].data.stream = (uv_stream_t *)&e->err;
    o.file = argv[0];
    o.args = argv;
    o.env = env;
    o.cwd = cwd;
    o.flags = UV_PROCESS_DETACHED; /* setsid: its own process group, killed as one */
    o.exit_cb = on_exit_cb;
    o.stdio_count = 3;
    o.stdio = stdio;
    int rc = uv_spawn(loop, &e->proc, &o);
    e->proc.data = e;
    if (rc != 0)
        snprintf(err, n, "cannot run '%.200s': %s", argv[0], uv_strerror(rc));
    return rc != 0 ? djs_err_from_uv(rc) : 0;
}

static void exec_abandon(exec_t *e)
{
    e->job = NULL;
    close_once(e, (uv_handle_t *)&e->proc);
    close_once(e, (uv_handle_t *)&e->out);
    close_once(e, (uv_handle_t *)&e->err);
    close_once(e, (uv_handle_t *)&e->linger);
    if (e->has_in)
        close_once(e, (uv_handle_t *)&e->in);
}

static void exec_feed(exec_t *e)
{
    uv_buf_t b = uv_buf_init(e->stdin_text, (unsigned)strlen(e->stdin_text));
    if (uv_write(&e->wr, (uv_stream_t *)&e->in, &b, 1, on_written) != 0)
        close_once(e, (uv_handle_t *)&e->in);
}

static int exec_start(djs_agent_job_t *job, char *err, size_t n)
{
    const json_t *p = djs_agent_job_payload(job);
    const json_t *cmd = json_object_get(p, "command"), *in = json_object_get(p, "stdin");
    char cwd[PATH_MAX];
    if (!json_is_string(cmd) || json_string_length(cmd) == 0)
        return snprintf(err, n, "malformed payload: command must be a non-empty string"), DJS_EINVAL;
    if (in != NULL && !json_is_string(in))
        return snprintf(err, n, "malformed payload: stdin must be a string"), DJS_EINVAL;
    int rc = exec_cwd(djs_agent_job_workdir(job), json_object_get(p, "cwd"), cwd, sizeof(cwd), err, n);
    if (rc != 0)
        return rc;
    char **argv = exec_args(json_string_value(cmd), json_object_get(p, "args"), err, n);
    char **env = argv ? exec_env(job, json_object_get(p, "env"), err, n) : NULL;
    if (env == NULL) {
        free_strv(argv);
        return DJS_EINVAL;
    }
    exec_t *e = djs_calloc(1, sizeof(*e));
    e->job = job;
    e->has_in = in != NULL;
    rc = exec_spawn(job, e, argv, env, cwd, err, n);
    free_strv(argv);
    free_strv(env);
    if (rc != 0) {
        exec_abandon(e);
        return rc;
    }
    djs_agent_job_set_data(job, e);
    uv_read_start((uv_stream_t *)&e->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&e->err, on_alloc, on_read);
    if (e->has_in) {
        e->stdin_text = djs_strndup(json_string_value(in), json_string_length(in));
        exec_feed(e);
    }
    return 0;
}

static void exec_kill(djs_agent_job_t *job, int sig)
{
    exec_t *e = djs_agent_job_data(job);
    if (e == NULL || e->exited)
        return;
    if (kill(-e->proc.pid, sig) != 0)
        kill(e->proc.pid, sig);
}

/* ---- http: one request, success by status ----------------------------------------------------- */

typedef struct http_job {
    djs_agent_job_t *job;
    djs_agent_http_req_t *req;
    int expect[32];
    int nexpect;
} http_job_t;

static int http_expected(const http_job_t *h, long status)
{
    if (h->nexpect == 0)
        return status >= 200 && status < 300;
    for (int i = 0; i < h->nexpect; i++)
        if (h->expect[i] == status)
            return 1;
    return 0;
}

static void on_http_done(void *arg, long status, const char *body, size_t len, const char *error)
{
    http_job_t *h = arg;
    djs_agent_job_t *j = h->job;
    char why[512];
    int ok = status != 0 && http_expected(h, status);
    if (status == 0)
        snprintf(why, sizeof(why), "request failed: %s", error);
    else
        snprintf(why, sizeof(why), "HTTP status %ld%s", status, h->nexpect ? " (not in expectStatus)" : " (expected 2xx)");
    if (len > 0)
        djs_agent_job_output(j, 1, body, len);
    djs_free(h);
    djs_agent_job_exit(j, ok, ok ? NULL : why);
}

static int http_headers(const json_t *hs, char ***out, char *err, size_t n)
{
    *out = NULL;
    if (hs == NULL)
        return 0;
    if (!json_is_object(hs) || json_object_size(hs) > 64)
        return snprintf(err, n, "malformed payload: headers must be an object of at most 64 strings"), DJS_EINVAL;
    char **v = djs_calloc(json_object_size(hs) + 1, sizeof(char *));
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)hs, key, val)
    {
        const char *s = json_string_value(val);
        if (s == NULL || strpbrk(key, ":\r\n") != NULL || strpbrk(s, "\r\n") != NULL || *key == '\0') {
            free_strv(v);
            return snprintf(err, n, "malformed payload: header '%.64s' must be a string without line breaks", key), DJS_EINVAL;
        }
        v[k++] = strf(key, ": ", s);
    }
    *out = v;
    return 0;
}

static int http_expect(http_job_t *h, const json_t *ex, char *err, size_t n)
{
    size_t i;
    json_t *x;
    if (ex == NULL)
        return 0;
    if (!json_is_array(ex) || json_array_size(ex) > 32)
        return snprintf(err, n, "malformed payload: expectStatus must be an array of at most 32 status codes"), DJS_EINVAL;
    json_array_foreach(ex, i, x)
    {
        if (!json_is_integer(x) || json_integer_value(x) < 100 || json_integer_value(x) > 599)
            return snprintf(err, n, "malformed payload: expectStatus[%zu] is not an HTTP status", i), DJS_EINVAL;
        h->expect[h->nexpect++] = (int)json_integer_value(x);
    }
    return 0;
}

static int http_start(djs_agent_job_t *job, char *err, size_t n)
{
    const json_t *p = djs_agent_job_payload(job);
    const char *url = json_string_value(json_object_get(p, "url"));
    const json_t *m = json_object_get(p, "method"), *body = json_object_get(p, "body");
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return snprintf(err, n, "malformed payload: url must be an http:// or https:// URL"), DJS_EINVAL;
    if (m != NULL && (!json_is_string(m) || json_string_length(m) == 0 || json_string_length(m) > 16))
        return snprintf(err, n, "malformed payload: method must be a short string"), DJS_EINVAL;
    if (body != NULL && !json_is_string(body))
        return snprintf(err, n, "malformed payload: body must be a string"), DJS_EINVAL;
    http_job_t *h = djs_calloc(1, sizeof(*h));
    char **headers = NULL;
    int rc = http_expect(h, json_object_get(p, "expectStatus"), err, n);
    if (rc != 0 || (rc = http_headers(json_object_get(p, "headers"), &headers, err, n)) != 0) {
        djs_free(h);
        return rc;
    }
    h->job = job;
    djs_agent_http_call_t c = {.method = m ? json_string_value(m) : "GET",
                               .url = url,
                               .body = body ? json_string_value(body) : NULL,
                               .len = body ? json_string_length(body) : 0,
                               .headers = (const char *const *)headers,
                               .auth = 0, /* the server's token never goes to a job's URL */
                               .timeout_ms = (long)djs_agent_job_timeout_s(job) * 1000};
    h->req = djs_agent_http_send(djs_agent_job_http(job), &c, on_http_done, h);
    free_strv(headers);
    if (h->req == NULL) {
        djs_free(h);
        return snprintf(err, n, "cannot start the request to %.200s", url), DJS_EIO;
    }
    djs_agent_job_set_data(job, h);
    return 0;
}

static void http_kill(djs_agent_job_t *job, int sig)
{
    (void)sig;
    http_job_t *h = djs_agent_job_data(job);
    if (h == NULL)
        return;
    djs_agent_http_cancel(h->req);
    djs_free(h);
    djs_agent_job_exit(job, 0, "request cancelled");
}

/* ---- the table ------------------------------------------------------------------------------- */

static const djs_agent_kind_t kinds[] = {
    {"exec", exec_start, exec_kill},
    {"http", http_start, http_kill},
    {NULL, NULL, NULL},
};

const djs_agent_kind_t *djs_agent_kind_find(const char *name)
{
    for (const djs_agent_kind_t *k = kinds; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

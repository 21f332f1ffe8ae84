/* djs submit: one job from flags, or a job or a workflow from a JSON or
 * YAML file (-f FILE, - for stdin), POSTed to /api/v1/jobs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/job.h"
#include "tools/djs/cli.h"
#include "tools/client/client.h"
#include "tools/client/yamljson.h"

#define MAX_FILE (16u << 20)
#define MAX_IDEMPOTENCY_KEY 128
#define MAX_TIMEOUT_S 604800
#define MAX_RETRIES 100

typedef struct submit_args {
    const char *file, *idem;
    const char *name, *description, *priority, *payload, *cmd, *timeout, *retries;
    const char *at, *in, *ckey, *climit;
    json_t *deps, *caps; /* arrays of strings, owned */
} submit_args_t;

static void take_args(submit_args_t *a, int argc, char **argv)
{
    a->file = djs_cli_opt(argc, argv, "-f");
    if (a->file == NULL)
        a->file = djs_cli_opt(argc, argv, "--file");
    a->idem = djs_cli_opt(argc, argv, "--idempotency-key");
    a->name = djs_cli_opt(argc, argv, "--name");
    a->description = djs_cli_opt(argc, argv, "--description");
    a->priority = djs_cli_opt(argc, argv, "--priority");
    a->payload = djs_cli_opt(argc, argv, "--payload");
    a->cmd = djs_cli_opt(argc, argv, "--cmd");
    a->timeout = djs_cli_opt(argc, argv, "--timeout");
    a->retries = djs_cli_opt(argc, argv, "--retries");
    a->at = djs_cli_opt(argc, argv, "--at");
    a->in = djs_cli_opt(argc, argv, "--in");
    a->ckey = djs_cli_opt(argc, argv, "--concurrency-key");
    a->climit = djs_cli_opt(argc, argv, "--concurrency-limit");
    a->deps = djs_client_opt_all(argc, argv, "--depends-on");
    a->caps = djs_client_opt_all(argc, argv, "--requires");
}

static int any_job_flag(const submit_args_t *a)
{
    return a->name || a->description || a->priority || a->payload || a->cmd || a->timeout || a->retries || a->at || a->in ||
           a->ckey || a->climit || json_array_size(a->deps) || json_array_size(a->caps);
}

/* ---- a job from flags ------------------------------------------------------------------ */

/* --payload JSON (an object) or --cmd "shell command". */
static int flag_payload(const djs_client_t *c, const submit_args_t *a, json_t *job)
{
    if (a->payload != NULL && a->cmd != NULL)
        return djs_client_usage_error(c, "give --payload or --cmd, not both");
    if (a->cmd != NULL) {
        json_t *p = json_pack("{s:s, s:s, s:[s, s]}", "kind", "exec", "command", "/bin/sh", "args", "-c", a->cmd);
        if (p == NULL)
            return djs_client_usage_error(c, "--cmd must be UTF-8 text");
        json_object_set_new(job, "payload", p);
    }
    if (a->payload != NULL) {
        json_error_t err;
        json_t *p = json_loads(a->payload, JSON_REJECT_DUPLICATES, &err);
        if (!json_is_object(p)) {
            json_decref(p);
            return djs_client_usage_error(c, "--payload must be a JSON object%s%s", p == NULL ? ": " : "",
                                          p == NULL ? err.text : "");
        }
        json_object_set_new(job, "payload", p);
    }
    return 0;
}

static int flag_numbers(const djs_client_t *c, const submit_args_t *a, json_t *job)
{
    if (a->timeout != NULL) {
        if (djs_client_check_uint(c, "--timeout", a->timeout, MAX_TIMEOUT_S) != 0)
            return 2;
        json_object_set_new(job, "timeoutSeconds", json_integer(strtoll(a->timeout, NULL, 10)));
    }
    if (a->retries != NULL) {
        if (djs_client_check_uint(c, "--retries", a->retries, MAX_RETRIES) != 0)
            return 2;
        json_object_set_new(job, "maxRetries", json_integer(strtoll(a->retries, NULL, 10)));
    }
    return 0;
}

#define MAX_DELAY_S (366ULL * 86400) /* the server says precisely what it accepts */

/* --at TIME (RFC 3339, checked by the server) or --in DURATION. */
static int flag_when(const djs_client_t *c, const submit_args_t *a, json_t *job)
{
    uint64_t secs;
    if (a->at != NULL && a->in != NULL)
        return djs_client_usage_error(c, "give --at or --in, not both");
    if (a->at != NULL && json_object_set_new(job, "scheduledAt", json_string(a->at)) != 0)
        return djs_client_usage_error(c, "--at must be UTF-8 text");
    if (a->in != NULL) {
        if (djs_cli_duration(a->in, &secs) != 0 || secs > MAX_DELAY_S)
            return djs_client_usage_error(c, "--in takes a duration like 90, 90s, 10m, 2h or 1d (at most 366d), not '%s'", a->in);
        json_object_set_new(job, "delaySeconds", json_integer((json_int_t)secs));
    }
    return 0;
}

/* --concurrency-key K [--concurrency-limit N] */
static int flag_concurrency(const djs_client_t *c, const submit_args_t *a, json_t *job)
{
    if (a->climit != NULL && a->ckey == NULL)
        return djs_client_usage_error(c, "--concurrency-limit needs --concurrency-key");
    if (a->ckey != NULL && json_object_set_new(job, "concurrencyKey", json_string(a->ckey)) != 0)
        return djs_client_usage_error(c, "--concurrency-key must be UTF-8 text");
    if (a->climit != NULL) {
        if (djs_client_check_uint(c, "--concurrency-limit", a->climit, DJS_JOB_MAX_CONCURRENCY_LIMIT) != 0)
            return 2;
        json_object_set_new(job, "concurrencyLimit", json_integer(strtoll(a->climit, NULL, 10)));
    }
    return 0;
}

static int flag_lists(const djs_client_t *c, const submit_args_t *a, json_t *job)
{
    size_t i;
    json_t *v;
    json_array_foreach(a->deps, i, v)
    {
        if (djs_client_check_id(c, json_string_value(v)) != 0)
            return 2;
    }
    if (json_array_size(a->deps) > 0)
        json_object_set(job, "dependencies", a->deps);
    if (json_array_size(a->caps) > 0)
        json_object_set(job, "requiredCapabilities", a->caps);
    return 0;
}

static int job_from_flags(const djs_client_t *c, const submit_args_t *a, json_t **out)
{
    json_t *job = json_object();
    int rc = 0;
    *out = NULL;
    if (a->name == NULL)
        rc = djs_client_usage_error(c, "missing --name NAME (or -f FILE)");
    else if (json_object_set_new(job, "name", json_string(a->name)) != 0)
        rc = djs_client_usage_error(c, "--name must be UTF-8 text");
    else if (a->description != NULL && json_object_set_new(job, "description", json_string(a->description)) != 0)
        rc = djs_client_usage_error(c, "--description must be UTF-8 text");
    else if (a->priority != NULL && djs_priority_parse(a->priority, strlen(a->priority)) < 0)
        rc = djs_client_usage_error(c, "--priority takes HIGH, NORMAL or LOW, not '%s'", a->priority);
    if (rc == 0 && a->priority != NULL)
        json_object_set_new(job, "priority", json_string(djs_priority_name(djs_priority_parse(a->priority, strlen(a->priority)))));
    if (rc == 0 && (rc = flag_payload(c, a, job)) == 0 && (rc = flag_numbers(c, a, job)) == 0 && (rc = flag_when(c, a, job)) == 0 &&
        (rc = flag_concurrency(c, a, job)) == 0)
        rc = flag_lists(c, a, job);
    if (rc != 0)
        json_decref(job);
    else
        *out = job;
    return rc;
}

/* ---- a job or a workflow from a file --------------------------------------------------- */

/* All of f into b: 0, DJS_ETOOBIG (over MAX_FILE) or DJS_EIO. */
static int read_all(FILE *f, djs_buf_t *b)
{
    size_t n;
    while ((n = fread(djs_buf_reserve(b, 65536), 1, 65536, f)) > 0) {
        b->len += n;
        if (b->len > MAX_FILE)
            return DJS_ETOOBIG;
    }
    return ferror(f) ? DJS_EIO : 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* .json is JSON, .yaml/.yml YAML; anything else (stdin) JSON if it parses,
 * else YAML. On failure, the error of the format the text looks like. */
static json_t *parse_doc(const char *path, const char *text, size_t len, char *err, size_t n)
{
    int yaml = has_suffix(path, ".yaml") || has_suffix(path, ".yml"), json = has_suffix(path, ".json");
    json_error_t je;
    json_t *j = NULL;
    if (!yaml && (j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) != NULL)
        return j;
    if (!yaml)
        snprintf(err, n, "line %d column %d: %s", je.line, je.column, je.text);
    if (json)
        return NULL;
    char yerr[256];
    if ((j = djs_client_yamljson_parse(text, len, yerr, sizeof(yerr))) != NULL)
        return j;
    size_t lead = strspn(text, " \t\r\n");
    if (yaml || lead >= len || (text[lead] != '{' && text[lead] != '['))
        snprintf(err, n, "%s", yerr);
    return NULL;
}

/* 0 and *out (an object), or 1 after a message. */
static int job_from_file(const char *path, json_t **out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    const char *shown = f == stdin ? "stdin" : path;
    char err[320];
    djs_buf_t b;
    if (f == NULL) {
        fprintf(stderr, "djs submit: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    djs_buf_init(&b);
    int rc = read_all(f, &b);
    if (f != stdin)
        fclose(f);
    *out = rc == 0 ? parse_doc(path, b.len ? (const char *)b.base : "", b.len, err, sizeof(err)) : NULL;
    djs_buf_dispose(&b);
    if (rc != 0)
        fprintf(stderr, "djs submit: cannot read %s (or it is over %u MiB)\n", shown, MAX_FILE >> 20);
    else if (*out == NULL)
        fprintf(stderr, "djs submit: %s: %s\n", shown, err);
    else if (!json_is_object(*out))
        fprintf(stderr, "djs submit: %s: must hold one job (an object) or a workflow ({\"jobs\": [...]})\n", shown);
    if (*out != NULL && json_is_object(*out))
        return 0;
    json_decref(*out);
    *out = NULL;
    return 1;
}

/* ---- the request ------------------------------------------------------------------------ */

static void print_accepted(const djs_client_t *c, json_t *ans)
{
    json_t *jobs = json_object_get(ans, "jobs");
    if (c->out == DJS_CLIENT_OUT_JSON) {
        djs_client_print_json(ans);
    } else if (json_is_array(jobs)) { /* a workflow: its keys and ids */
        static const char *const head[] = {"KEY", "ID"};
        json_t *t = djs_client_table_new(head, 2), *j;
        size_t i;
        json_array_foreach(jobs, i, j)
        {
            char k[160], id[64];
            const char *row[] = {djs_client_cell(json_object_get(j, "key"), k, sizeof(k)),
                                 djs_client_cell(json_object_get(j, "id"), id, sizeof(id))};
            djs_client_table_add(t, row, 2);
        }
        djs_client_table_print(t);
    } else {
        char id[64];
        printf("%s\n", djs_client_cell(json_object_get(ans, "id"), id, sizeof(id)));
    }
}

/* Without --idempotency-key a submit still carries a random one
 * ("djs-cli-" and 32 hex digits), so that the client may send it again
 * to another node of a cluster when an answer was lost (a leader killed
 * after it committed): the job is created once. */
static void random_key(char *out, size_t n)
{
    uint8_t r[16];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        uint64_t t = djs_wall_ns() ^ (uint64_t)getpid() << 32;
        memcpy(r, &t, 8);
        memcpy(r + 8, &t, 8);
    }
    int k = snprintf(out, n, "djs-cli-");
    for (size_t i = 0; i < sizeof(r) && (size_t)k + 2 < n; i++)
        k += snprintf(out + k, n - (size_t)k, "%02x", r[i]);
}

static int post(djs_client_t *c, json_t *body, const char *idem)
{
    char header[32 + MAX_IDEMPOTENCY_KEY], key[48];
    const char *headers[] = {header, NULL};
    djs_buf_t url;
    json_t *ans;
    if (idem == NULL) {
        random_key(key, sizeof(key));
        idem = key;
    }
    snprintf(header, sizeof(header), "Idempotency-Key: %s", idem);
    djs_buf_init(&url);
    djs_client_url(c, &url, "/api/v1/jobs");
    int rc = djs_client_json(c, "POST", (const char *)url.base, body, headers, &ans);
    djs_buf_dispose(&url);
    if (rc == 0) {
        print_accepted(c, ans);
        json_decref(ans);
    }
    return rc;
}

static int check_idem(const djs_client_t *c, const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > MAX_IDEMPOTENCY_KEY)
        return djs_client_usage_error(c, "--idempotency-key takes 1 to %d characters", MAX_IDEMPOTENCY_KEY);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f)
            return djs_client_usage_error(c, "--idempotency-key takes printable ASCII without spaces");
    return 0;
}

int djs_cmd_job_body(djs_client_t *c, int argc, char **argv, const char *name, json_t **out)
{
    submit_args_t a;
    int rc;
    *out = NULL;
    take_args(&a, argc, argv);
    if (a.name == NULL && a.file == NULL)
        a.name = name;
    if ((rc = djs_client_rest(c, argc, argv, NULL, 0, 0)) != 0)
        goto done;
    if (a.idem != NULL)
        rc = djs_client_usage_error(c, "--idempotency-key is for djs submit (each fired job is new)");
    else if (a.file != NULL && any_job_flag(&a) && a.name != name)
        rc = djs_client_usage_error(c, "-f FILE takes the job from the file: no --cmd, --payload, ... with it");
    else
        rc = a.file != NULL ? job_from_file(a.file, out) : job_from_flags(c, &a, out);
done:
    json_decref(a.deps);
    json_decref(a.caps);
    return rc;
}

int djs_cmd_submit(djs_client_t *c, int argc, char **argv)
{
    submit_args_t a;
    json_t *body = NULL;
    int rc;
    take_args(&a, argc, argv);
    if ((rc = djs_client_rest(c, argc, argv, NULL, 0, 0)) != 0)
        goto done;
    if (a.idem != NULL && (rc = check_idem(c, a.idem)) != 0)
        goto done;
    if (a.file != NULL && any_job_flag(&a)) {
        rc = djs_client_usage_error(c, "-f FILE takes the job from the file: no --name, --cmd, ... with it");
        goto done;
    }
    rc = a.file != NULL ? job_from_file(a.file, &body) : job_from_flags(c, &a, &body);
    if (rc == 0)
        rc = post(c, body, a.idem);
done:
    json_decref(body);
    json_decref(a.deps);
    json_decref(a.caps);
    return rc;
}

#include "tools/client/client.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/id.h"
#include "tools/cli/args.h"

#define MAX_429_RETRIES 3
#define MAX_RETRY_AFTER_S 10
#define ROUND_WAIT_MS 500 /* between rounds over the servers, without a Retry-After */

/* ---- options ------------------------------------------------------------------------ */

int djs_client_usage_error(const djs_client_t *c, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "djs %s: ", c->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'djs %s --help')\n", c->cmd);
    return 2;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : dflt;
}

/* Values that end up in a header or a URL must not carry CR, LF or NUL
 * tricks: reject control characters and spaces. */
static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int take_connection(djs_client_t *c, int argc, char **argv)
{
    const char *v, *list = djs_cli_opt(argc, argv, "--server");
    char err[320];
    if (list == NULL)
        list = env_or("DJS_SERVER", DJS_CLIENT_DEFAULT_SERVER);
    if (djs_servers_parse(&c->servers, list, err, sizeof(err)) != 0)
        return djs_client_usage_error(c, "--server %s", err);
    c->server = djs_servers_current(&c->servers);
    c->token = djs_cli_opt(argc, argv, "--token");
    if (c->token == NULL)
        c->token = env_or("DJS_TOKEN", NULL);
    if (c->token != NULL && (*c->token == '\0' || !printable(c->token)))
        return djs_client_usage_error(c, "the token (--token or DJS_TOKEN) must be one word of printable characters");
    c->opts.cacert = djs_cli_opt(argc, argv, "--cacert");
    c->opts.insecure = djs_cli_flag(argc, argv, "--insecure");
    c->opts.timeout_ms = DJS_CLIENT_DEFAULT_TIMEOUT_S * 1000L;
    if ((v = djs_cli_opt(argc, argv, "--request-timeout")) != NULL) {
        uint64_t s;
        if (djs_client_check_uint(c, "--request-timeout", v, 86400) != 0)
            return 2;
        s = strtoull(v, NULL, 10);
        c->opts.timeout_ms = (long)s * 1000L;
    }
    return 0;
}

static int take_output(djs_client_t *c, int argc, char **argv)
{
    const char *o = djs_cli_opt(argc, argv, "-o");
    const char *o2 = djs_cli_opt(argc, argv, "--output");
    if (o == NULL)
        o = o2;
    c->out = DJS_CLIENT_OUT_TABLE;
    if (o == NULL || strcmp(o, "table") == 0)
        return 0;
    if (strcmp(o, "json") == 0) {
        c->out = DJS_CLIENT_OUT_JSON;
        return 0;
    }
    return djs_client_usage_error(c, "-o takes table or json, not '%s'", o);
}

static int take_point(djs_client_t *c, int argc, char **argv)
{
    c->as_of = djs_cli_opt(argc, argv, "--as-of");
    c->at_seq = djs_cli_opt(argc, argv, "--at-seq");
    if (c->as_of != NULL && c->at_seq != NULL)
        return djs_client_usage_error(c, "give --as-of or --at-seq, not both");
    if (c->at_seq != NULL && djs_client_check_uint(c, "--at-seq", c->at_seq, UINT64_MAX) != 0)
        return 2;
    if (c->as_of != NULL && (*c->as_of == '\0' || strlen(c->as_of) > 64))
        return djs_client_usage_error(c, "--as-of takes an RFC 3339 time, e.g. 2026-11-27T10:02:00Z");
    return 0;
}

int djs_client_init(djs_client_t *c, const char *cmd, int argc, char **argv, int reads)
{
    memset(c, 0, sizeof(*c));
    c->cmd = cmd;
    djs_client_http_res_init(&c->res);
    int rc = take_connection(c, argc, argv);
    if (rc == 0)
        rc = take_output(c, argc, argv);
    if (rc == 0 && reads)
        rc = take_point(c, argc, argv);
    return rc;
}

void djs_client_dispose(djs_client_t *c)
{
    djs_client_http_close(c->http);
    djs_client_http_res_dispose(&c->res);
    djs_servers_dispose(&c->servers);
    c->http = NULL;
    c->server = NULL;
}

int djs_client_rest(const djs_client_t *c, int argc, char **argv, const char **pos, int minpos, int maxpos)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i] == NULL)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return djs_client_usage_error(c, "unknown option, or an option without its value: '%s'", argv[i]);
        if (n == maxpos)
            return djs_client_usage_error(c, "unexpected argument '%s'", argv[i]);
        pos[n++] = argv[i];
    }
    if (n < minpos)
        return djs_client_usage_error(c, maxpos == 1 ? "missing the ID" : "missing arguments");
    return 0;
}

json_t *djs_client_opt_all(int argc, char **argv, const char *name)
{
    json_t *a = json_array();
    const char *v;
    while ((v = djs_cli_opt(argc, argv, name)) != NULL)
        json_array_append_new(a, json_string(v));
    return a;
}

int djs_client_check_id(const djs_client_t *c, const char *s)
{
    djs_id_t id;
    if (djs_id_parse(s, strlen(s), &id) != 0)
        return djs_client_usage_error(c, "'%s' is not an id (a UUID: 8-4-4-4-12 hex digits)", s);
    return 0;
}

int djs_client_check_uint(const djs_client_t *c, const char *opt, const char *s, uint64_t max)
{
    char *end;
    if (*s < '0' || *s > '9')
        return djs_client_usage_error(c, "%s takes a non-negative integer, not '%s'", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > max)
        return djs_client_usage_error(c, "%s takes an integer from 0 to %llu, not '%s'", opt, (unsigned long long)max, s);
    return 0;
}

/* ---- URLs --------------------------------------------------------------------------- */

static void url_add(djs_buf_t *u, const char *s, size_t n)
{
    djs_buf_append(u, s, n);
    djs_buf_reserve(u, 1)[0] = '\0';
}

void djs_client_url(const djs_client_t *c, djs_buf_t *url, const char *path)
{
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        n--;
    djs_buf_reset(url);
    url_add(url, c->server, n);
    url_add(url, path, strlen(path));
}

void djs_client_query(djs_buf_t *url, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    url_add(url, memchr(url->base, '?', url->len) ? "&" : "?", 1);
    url_add(url, name, strlen(name));
    url_add(url, "=", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
            url_add(url, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            url_add(url, e, 3);
        }
    }
}

void djs_client_query_point(const djs_client_t *c, djs_buf_t *url)
{
    if (c->as_of != NULL)
        djs_client_query(url, "as_of", c->as_of);
    if (c->at_seq != NULL)
        djs_client_query(url, "at_seq", c->at_seq);
}

/* ---- calls --------------------------------------------------------------------------- */

/* Copy s (at most n bytes of it) into out as one line: control
 * characters (newlines, escapes) become spaces, trailing blanks go. */
static const char *clean(char *out, size_t cap, const char *s, size_t n)
{
    size_t k = 0, i;
    for (i = 0; i < n && s[i] != '\0' && k + 1 < cap; i++)
        out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    if (i < n && s[i] != '\0' && cap > 4) { /* cut short: at a UTF-8 boundary, and say so */
        k = k < cap - 4 ? k : cap - 4;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        memcpy(out + k, "...", 3);
        k += 3;
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    out[k] = '\0';
    return out;
}

/* The one line for a non-2xx answer: the problem's title and detail, or
 * the reason phrase and the start of whatever else the body is. */
static void print_problem(const djs_client_t *c)
{
    const djs_client_http_res_t *r = &c->res;
    json_t *j = json_loadb((const char *)r->body.base, r->body.len, 0, NULL);
    const char *title = json_string_value(json_object_get(j, "title"));
    const char *detail = json_string_value(json_object_get(j, "detail"));
    char t[128], d[320];
    clean(t, sizeof(t), title ? title : r->reason[0] ? r->reason : "HTTP error", SIZE_MAX);
    if (detail != NULL)
        clean(d, sizeof(d), detail, SIZE_MAX);
    else
        clean(d, sizeof(d), j == NULL ? (const char *)r->body.base : "", r->body.len);
    if (d[0] != '\0' && strcmp(d, t) != 0)
        fprintf(stderr, "djs: %ld %s: %s\n", r->status, t, d);
    else
        fprintf(stderr, "djs: %ld %s\n", r->status, t);
    json_decref(j);
}

/* After a 429: wait its Retry-After if it is short; 0 if not worth it. */
static int wait_retry_after(const djs_client_http_res_t *r)
{
    char *end;
    unsigned long s = strtoul(r->retry_after, &end, 10);
    if (r->retry_after[0] == '\0' || *end != '\0' || s > MAX_RETRY_AFTER_S)
        return 0;
    sleep((unsigned)(s ? s : 1));
    return 1;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void set_url(djs_buf_t *u, const char *s)
{
    djs_buf_reset(u);
    url_add(u, s, strlen(s));
}

/* METHOD u, a 429 tried again after a short Retry-After, a 307 followed to
 * the leader (which becomes current) while the servers' rule allows: the
 * transport's result, c->res the last answer, u the URL that gave it. */
static int request_following(djs_client_t *c, const char *method, djs_buf_t *u, const char *body, size_t len,
                             const char *const *headers)
{
    for (int hops = 0;; hops++) {
        int rc;
        for (int tries = 0;; tries++) {
            rc = djs_client_http_request(c->http, method, (const char *)u->base, c->token, headers, body, len, &c->res);
            if (rc != 0 || c->res.status != 429 || tries == MAX_429_RETRIES || !wait_retry_after(&c->res))
                break;
        }
        const char *loc = c->res.location;
        if (rc != 0 || (c->res.status != 307 && c->res.status != 308) || hops == DJS_SERVERS_MAX_HOPS ||
            !djs_servers_may_follow(&c->servers, loc))
            return rc;
        djs_servers_learn(&c->servers, (const char *)u->base, loc);
        c->server = djs_servers_current(&c->servers);
        set_url(u, loc);
    }
}

/* The servers that did not take one call, and why: for the error line. */
typedef struct tried {
    int n;
    struct {
        char url[128];
        char why[200];
    } s[DJS_SERVERS_MAX + 1];
} tried_t;

/* A redirect that was not followed because it leads outside the list. */
static int unlisted(const djs_client_t *c, int rc)
{
    return rc == 0 && (c->res.status == 307 || c->res.status == 308) && !djs_servers_may_follow(&c->servers, c->res.location);
}

/* Why url (its server) did not take the call, into t; the entry's index. */
static int tried_note(tried_t *t, const djs_client_t *c, const char *url, int rc)
{
    const djs_client_http_res_t *r = &c->res;
    char why[sizeof(t->s[0].why)], name[sizeof(t->s[0].url)], loc[96], tt[128];
    const char *rel = djs_servers_rel(&c->servers, url);
    clean(name, sizeof(name), url, rel ? (size_t)(rel - url) : strlen(url));
    if (rc != 0) {
        clean(why, sizeof(why), r->error, SIZE_MAX);
    } else if (r->status == 307 || r->status == 308) {
        clean(loc, sizeof(loc), r->location[0] ? r->location : "nowhere", SIZE_MAX);
        snprintf(why, sizeof(why), "%ld to %s: %s", r->status, loc,
                 unlisted(c, rc) ? "not one of the --server URLs, not followed" : "too many redirects");
    } else {
        json_t *j = json_loadb((const char *)r->body.base, r->body.len, 0, NULL);
        const char *title = json_string_value(json_object_get(j, "title"));
        snprintf(why, sizeof(why), "%ld %s", r->status, clean(tt, sizeof(tt), title ? title : r->reason, SIZE_MAX));
        json_decref(j);
    }
    if (c->servers.learned != NULL && djs_servers_same_origin(url, c->servers.learned)) {
        size_t k = strlen(why);
        snprintf(why + k, sizeof(why) - k, "; the leader that %s named", c->servers.url[0]);
    }
    int i;
    for (i = 0; i < t->n && strcmp(t->s[i].url, name) != 0; i++)
        ;
    if (i == DJS_SERVERS_MAX + 1)
        i = DJS_SERVERS_MAX; /* more than the list can hold: the last entry's line */
    t->n += i == t->n;
    snprintf(t->s[i].url, sizeof(t->s[i].url), "%s", name);
    snprintf(t->s[i].why, sizeof(t->s[i].why), "%s", why);
    return i;
}

static int tried_fail(const tried_t *t, uint64_t ms, int all_unlisted)
{
    fprintf(stderr, "djs: no server took the request in %.1f s; tried", ms / 1000.0);
    for (int i = 0; i < t->n; i++)
        fprintf(stderr, "%s %s (%s)", i ? "," : "", t->s[i].url, t->s[i].why);
    fprintf(stderr, "%s\n", all_unlisted ? "; list the leader in --server to follow it there" : "");
    return 1;
}

/* A request that went out may have taken effect: it is sent again only if
 * doing it twice does no harm. */
static int resendable(const char *method, const char *const *headers)
{
    static const char *const idem[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(idem) / sizeof(idem[0]); i++)
        if (strcmp(method, idem[i]) == 0)
            return 1;
    for (int i = 0; headers != NULL && headers[i] != NULL; i++)
        if (strncasecmp(headers[i], "Idempotency-Key:", 16) == 0 && headers[i][16 + strspn(headers[i] + 16, " \t")] != '\0')
            return 1;
    return 0;
}

/* How long to wait before the next round: the answer's Retry-After, up to
 * DJS_CLIENT_FAILOVER_WAIT_MS, or a short pause. */
static uint64_t round_wait_ms(const djs_client_http_res_t *r)
{
    char *end;
    unsigned long s = strtoul(r->retry_after, &end, 10);
    if (r->retry_after[0] == '\0' || *end != '\0')
        return ROUND_WAIT_MS;
    return s * 1000 > DJS_CLIENT_FAILOVER_WAIT_MS ? DJS_CLIENT_FAILOVER_WAIT_MS : s ? s * 1000 : ROUND_WAIT_MS;
}

static int cannot_reach(const djs_client_t *c, const char *server)
{
    char e[sizeof(c->res.error)];
    fprintf(stderr, "djs: cannot reach %s: %s\n", server, clean(e, sizeof(e), c->res.error, SIZE_MAX));
    return 1;
}

/* One try failed (rc, c->res) at url: 1 to go on trying, or 0 after the
 * error line when going on would be wrong. */
static int may_go_on(djs_client_t *c, tried_t *t, const char *url, int rc, const char *method, const char *const *headers)
{
    if (rc != 0 && rc != DJS_EIO) { /* not the server's fault: an answer too large, no memory */
        cannot_reach(c, c->server);
        return 0;
    }
    if (rc != 0 && c->servers.n == 1 && djs_servers_same_origin(url, c->servers.url[0])) {
        cannot_reach(c, c->servers.url[0]); /* one server: as ever */
        return 0;
    }
    int i = tried_note(t, c, url, rc);
    if (rc != 0 && c->res.sent && !resendable(method, headers)) {
        char e[sizeof(c->res.error)];
        fprintf(stderr,
                "djs: no answer from %s (%s) after the request went out: it may have taken effect, so it is not sent again\n",
                t->s[i].url, clean(e, sizeof(e), c->res.error, SIZE_MAX));
        return 0;
    }
    return 1;
}

/* The call, to each server in turn until one takes it (djs_client_send's
 * contract): 0 with its answer in c->res, or 1 after the error line. */
static int send_failover(djs_client_t *c, const char *method, const char *url, const char *body, size_t len,
                         const char *const *headers, djs_buf_t *u)
{
    const char *rel = djs_servers_rel(&c->servers, url); /* NULL: not built by djs_client_url, sent as it is */
    tried_t *t = djs_calloc(1, sizeof(*t));
    uint64_t t0 = mono_ms();
    int code = 1, in_round = 0, all_unlisted = 1;
    for (;;) {
        set_url(u, rel ? c->server : url);
        url_add(u, rel ? rel : "", rel ? strlen(rel) : 0);
        int rc = request_following(c, method, u, body, len, headers);
        const char *last = (const char *)u->base;
        if (rc == 0 && !djs_servers_unavailable(c->res.status, (const char *)c->res.body.base, c->res.body.len)) {
            code = 0;
            break;
        }
        if (!may_go_on(c, t, last, rc, method, headers))
            break;
        all_unlisted &= unlisted(c, rc);
        int was_learned = c->servers.learned != NULL;
        int moved = rel != NULL && djs_servers_failed(&c->servers, last);
        c->server = djs_servers_current(&c->servers);
        if (moved && ++in_round < (int)c->servers.n + was_learned)
            continue; /* the next server at once: each once a round (and the learned leader) */
        uint64_t wait = round_wait_ms(&c->res), spent = mono_ms() - t0;
        if (rc == 0 && c->servers.n == 1 && (all_unlisted || spent + wait > DJS_CLIENT_FAILOVER_MS)) {
            print_problem(c); /* one server, and it answered: its answer, as ever */
            break;
        }
        if (all_unlisted || spent + wait > DJS_CLIENT_FAILOVER_MS) {
            tried_fail(t, spent, all_unlisted);
            break;
        }
        sleep_ms(wait);
        in_round = 0;
        all_unlisted = 1;
    }
    djs_free(t);
    return code;
}

int djs_client_send(djs_client_t *c, const char *method, const char *url, const char *body, size_t len, const char *const *headers)
{
    if (c->http == NULL && djs_client_http_open(&c->http, &c->opts) != 0) {
        fprintf(stderr, "djs: cannot start libcurl\n");
        return 1;
    }
    djs_buf_t u;
    djs_buf_init(&u);
    int rc = send_failover(c, method, url, body, len, headers, &u);
    djs_buf_dispose(&u);
    if (rc != 0)
        return 1;
    if (c->res.status >= 200 && c->res.status <= 299)
        return 0;
    print_problem(c);
    return 1;
}

int djs_client_json(djs_client_t *c, const char *method, const char *url, json_t *body, const char *const *headers, json_t **out)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = djs_client_send(c, method, url, text, text ? strlen(text) : 0, headers);
    free(text);
    *out = NULL;
    if (rc != 0)
        return rc;
    if (c->res.body.len == 0) {
        *out = json_object();
        return 0;
    }
    json_error_t err;
    *out = json_loadb((const char *)c->res.body.base, c->res.body.len, 0, &err);
    if (*out == NULL) {
        fprintf(stderr, "djs: %s answered %ld with a body that is not JSON (%s)\n", c->server, c->res.status, err.text);
        return 1;
    }
    return 0;
}

/* ---- output ---------------------------------------------------------------------------- */

void djs_client_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    putchar('\n');
}

/* An array of strings, numbers, booleans or nulls. */
static int plain_list(json_t *a)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        if (json_is_object(x) || json_is_array(x))
            return 0;
    }
    return 1;
}

/* Such an array as "a, b, c" ("-" if empty) into b, NUL-terminated. */
static void join(json_t *a, djs_buf_t *b)
{
    char cell[512];
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *x = djs_client_cell(json_array_get(a, i), cell, sizeof(cell));
        djs_buf_append(b, ", ", i ? 2 : 0);
        djs_buf_append(b, x, strlen(x));
    }
    djs_buf_append(b, "-", b->len ? 0 : 1);
    djs_buf_append(b, "", 1);
}

const char *djs_client_cell(json_t *v, char *buf, size_t n)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        return json_string_length(v) ? clean(buf, n, json_string_value(v), json_string_length(v)) : "-";
    case JSON_INTEGER:
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, n, "%.3g", json_real_value(v));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    case JSON_NULL:
        return "-";
    default:
        break;
    }
    if (json_is_array(v) && plain_list(v)) {
        djs_buf_t b;
        djs_buf_init(&b);
        join(v, &b);
        clean(buf, n, (const char *)b.base, b.len);
        djs_buf_dispose(&b);
        return buf;
    }
    char *t = json_dumps(v, JSON_COMPACT);
    clean(buf, n, t ? t : "?", SIZE_MAX);
    free(t);
    return buf;
}

static void kv_lines(json_t *t, const char *prefix, json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        char key[128], cell[512];
        snprintf(key, sizeof(key), "%s%s", prefix, k);
        if (json_is_object(v) && json_object_size(v) > 0) {
            char sub[130];
            snprintf(sub, sizeof(sub), "%s.", key);
            kv_lines(t, sub, v);
            continue;
        }
        if (json_is_array(v) && plain_list(v)) { /* in full, however long */
            djs_buf_t b;
            djs_buf_init(&b);
            join(v, &b);
            const char *row[] = {key, (const char *)b.base};
            djs_client_table_add(t, row, 2);
            djs_buf_dispose(&b);
            continue;
        }
        const char *row[] = {key, djs_client_cell(v, cell, sizeof(cell))};
        djs_client_table_add(t, row, 2);
    }
}

void djs_client_print_kv(json_t *obj)
{
    json_t *t = djs_client_table_new(NULL, 0);
    kv_lines(t, "", obj);
    djs_client_table_print(t);
}

json_t *djs_client_table_new(const char *const *header, int n)
{
    json_t *t = json_array();
    if (header != NULL)
        djs_client_table_add(t, header, n);
    return t;
}

void djs_client_table_add(json_t *t, const char *const *cells, int n)
{
    json_t *row = json_array();
    for (int i = 0; i < n; i++) {
        json_t *cell = json_string(cells[i] ? cells[i] : "-");
        json_array_append_new(row, cell ? cell : json_string("?")); /* not UTF-8 */
    }
    json_array_append_new(t, row);
}

static void column_widths(json_t *t, size_t *w, size_t nw)
{
    size_t i, k;
    json_t *row, *cell;
    json_array_foreach(t, i, row)
    {
        json_array_foreach(row, k, cell)
        {
            if (k < nw && json_string_length(cell) > w[k])
                w[k] = json_string_length(cell);
        }
    }
}

void djs_client_table_print(json_t *t)
{
    size_t w[16] = {0}, i, k;
    json_t *row, *cell;
    column_widths(t, w, 16);
    json_array_foreach(t, i, row)
    {
        size_t n = json_array_size(row);
        json_array_foreach(row, k, cell)
        {
            if (k + 1 < n && k < 16)
                printf("%-*s  ", (int)w[k], json_string_value(cell));
            else
                printf("%s\n", json_string_value(cell));
        }
    }
    json_decref(t);
}

/* ---- events ---------------------------------------------------------------------------------- */

void djs_client_print_events(json_t *events, int with_entity)
{
    static const char *const head[] = {"SEQ", "TIME", "TYPE", "ACTOR", "ENTITY", "BODY"};
    static const char *const head_no_entity[] = {"SEQ", "TIME", "TYPE", "ACTOR", "BODY"};
    json_t *t = djs_client_table_new(with_entity ? head : head_no_entity, with_entity ? 6 : 5);
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        char seq[32], at[64], type[64], actor[128], entity[64], body[80];
        const char *row[6] = {djs_client_cell(json_object_get(e, "seq"), seq, sizeof(seq)),
                              djs_client_cell(json_object_get(e, "at"), at, sizeof(at)),
                              djs_client_cell(json_object_get(e, "type"), type, sizeof(type)),
                              djs_client_cell(json_object_get(e, "actor"), actor, sizeof(actor)),
                              djs_client_cell(json_object_get(e, "entity"), entity, sizeof(entity)),
                              djs_client_cell(json_object_get(e, "body"), body, sizeof(body))};
        if (!with_entity)
            row[4] = row[5];
        djs_client_table_add(t, row, with_entity ? 6 : 5);
    }
    djs_client_table_print(t);
}

int djs_client_cut_at_seq(const djs_client_t *c, json_t *events)
{
    if (c->at_seq == NULL)
        return 0;
    json_int_t max = (json_int_t)strtoull(c->at_seq, NULL, 10);
    int cut = 0;
    size_t n;
    while ((n = json_array_size(events)) > 0 && json_integer_value(json_object_get(json_array_get(events, n - 1), "seq")) > max) {
        json_array_remove(events, n - 1);
        cut = 1;
    }
    return cut;
}

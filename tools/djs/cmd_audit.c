/* djs audit DIR|--server URL (--job ID | --actor NAME | --type T[,T...])
 * [--from SEQ|TIME] [--to SEQ|TIME] [--limit N] [-o json|table]: who did
 * what and when, from a data directory (replay/audit.h on a read-only
 * handle, beside a running server or on a copy) or from a server's
 * GET /api/v1/audit. Both give the same rows: {seq, at, type, actor,
 * entity, facts}. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "replay/audit.h"
#include "tools/djs/cli.h"

#define USAGE                                                                                                                      \
    "djs audit DATA_DIR|--server URL (--job ID | --actor NAME | --type T[,T...]) [--from SEQ|TIME] [--to SEQ|TIME]\n"              \
    "                 [--limit N] [-o table|json]"
#define DEFAULT_LIMIT 1000
#define MAX_LIMIT 10000000
#define DIR_BUDGET 1000000 /* records examined per library call: a bounded step between checks */
#define PAGE_LIMIT 1000    /* the server's largest page */

typedef struct audit_args {
    const char *job, *actor, *types, *from, *to;
    uint64_t limit;
} audit_args_t;

static int usage_error(const char *what)
{
    fprintf(stderr, "djs audit: %s\nusage: %s\n", what, USAGE);
    return 2;
}

static int take_args(int argc, char **argv, audit_args_t *a)
{
    memset(a, 0, sizeof(*a));
    a->job = djs_cli_opt(argc, argv, "--job");
    a->actor = djs_cli_opt(argc, argv, "--actor");
    a->types = djs_cli_opt(argc, argv, "--type");
    a->from = djs_cli_opt(argc, argv, "--from");
    a->to = djs_cli_opt(argc, argv, "--to");
    const char *lim = djs_cli_opt(argc, argv, "--limit");
    a->limit = DEFAULT_LIMIT;
    if (a->job == NULL && a->actor == NULL && a->types == NULL)
        return usage_error("give a filter: --job ID, --actor NAME or --type T (they combine)");
    if (lim != NULL && (djs_cli_u64(lim, &a->limit) != 0 || a->limit == 0 || a->limit > MAX_LIMIT))
        return usage_error("--limit takes 1 to 10000000");
    djs_id_t id;
    if (a->job != NULL && djs_id_parse(a->job, strlen(a->job), &id) != 0)
        return usage_error("--job takes a job, worker or schedule id (a UUID)");
    if (a->actor != NULL && (*a->actor == '\0' || strlen(a->actor) > DJS_EVENT_MAX_ACTOR))
        return usage_error("--actor takes a token subject, a worker name, \"scheduler\" or \"server\" (1 to 255 bytes)");
    djs_audit_query_t q;
    const char *bad;
    size_t bad_len;
    djs_audit_query_init(&q);
    if (a->types != NULL && djs_audit_query_add_types(&q, a->types, strlen(a->types), &bad, &bad_len) != 0) {
        fprintf(stderr, "djs audit: --type: '%.*s' is not an event type (docs/events.md: job.submitted, job.cancelled, ...)\n",
                (int)bad_len, bad);
        return 2;
    }
    for (int k = 0; k < 2; k++) {
        const char *p = k ? a->to : a->from;
        int is_time;
        uint64_t v;
        if (p != NULL && djs_cli_point(p, djs_wall_ns(), &is_time, &v) != 0) {
            fprintf(stderr, "djs audit: %s '%s' is neither an event seq nor a time (RFC 3339 like 2026-12-04T10:02:00Z, or -24h)\n",
                    k ? "--to" : "--from", p);
            return 2;
        }
    }
    return 0;
}

/* ---- output: the same for both sources -------------------------------------------- */

static void facts_cell(json_t *facts, char *out, size_t n)
{
    const char *k;
    json_t *v;
    size_t at = 0;
    out[0] = '\0';
    json_object_foreach(facts, k, v)
    {
        char cell[160];
        djs_client_cell(v, cell, sizeof(cell));
        int w = snprintf(out + at, n - at, "%s%s=%s", at ? " " : "", k, cell);
        if (w < 0 || (size_t)w >= n - at)
            break;
        at += (size_t)w;
    }
}

static void print_rows(json_t *events, json_t *next, int json, const char *more_hint)
{
    if (json) {
        json_t *o = json_pack("{s:O,s:O}", "events", events, "next", next);
        djs_client_print_json(o);
        json_decref(o);
        return;
    }
    static const char *const head[] = {"SEQ", "TIME", "TYPE", "ACTOR", "ENTITY", "FACTS"};
    json_t *t = djs_client_table_new(head, 6);
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        char seq[32], at[64], type[64], actor[128], entity[64], facts[400];
        facts_cell(json_object_get(e, "facts"), facts, sizeof(facts));
        const char *row[6] = {djs_client_cell(json_object_get(e, "seq"), seq, sizeof(seq)),
                              djs_client_cell(json_object_get(e, "at"), at, sizeof(at)),
                              djs_client_cell(json_object_get(e, "type"), type, sizeof(type)),
                              djs_client_cell(json_object_get(e, "actor"), actor, sizeof(actor)),
                              djs_client_cell(json_object_get(e, "entity"), entity, sizeof(entity)),
                              facts};
        djs_client_table_add(t, row, 6);
    }
    djs_client_table_print(t);
    if (json_is_integer(next))
        fprintf(stderr, "(more: %s --from %" JSON_INTEGER_FORMAT ")\n", more_hint, json_integer_value(next));
}

/* ---- from a data directory --------------------------------------------------------- */

static json_t *json_text(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j != NULL)
        return j;
    char buf[DJS_EVENT_MAX_ACTOR + 1];
    size_t k = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
    for (size_t i = 0; i < k; i++)
        buf[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?'; /* not UTF-8: show it, never fail */
    return json_stringn(buf, k);
}

static json_t *time_json(uint64_t ns)
{
    char t[40];
    if (ns == 0)
        return json_null();
    djs_cli_format_time(ns, t, sizeof(t));
    return json_string(t);
}

static json_t *id_json(const djs_id_t *id)
{
    char t[DJS_ID_TEXT_LEN + 1];
    djs_id_format(id, t);
    return json_string(t);
}

static int on_match(void *arg, const djs_audit_match_t *m)
{
    json_t *e = json_object(), *facts = json_object();
    json_object_set_new(e, "seq", json_integer((json_int_t)m->seq));
    json_object_set_new(e, "at", time_json(m->ts_ns));
    json_object_set_new(e, "type", json_string(djs_event_type_name(m->type)));
    json_object_set_new(e, "actor", json_text(m->actor.p, m->actor.len));
    json_object_set_new(e, "entity", djs_id_is_nil(&m->entity) ? json_null() : id_json(&m->entity));
    for (uint32_t i = 0; i < m->nfacts; i++) {
        const djs_audit_fact_t *f = &m->facts[i];
        json_t *v = f->kind == DJS_AUDIT_ID     ? id_json(&f->id)
                    : f->kind == DJS_AUDIT_UINT ? json_integer((json_int_t)f->u)
                    : f->kind == DJS_AUDIT_TIME ? time_json(f->u)
                                                : json_text(f->s.p, f->s.len);
        json_object_set_new(facts, f->key, v);
    }
    json_object_set_new(e, "facts", facts);
    json_array_append_new(arg, e);
    return 0;
}

static int build_query(djs_log_t *log, const char *dir, const audit_args_t *a, djs_audit_query_t *q)
{
    djs_audit_query_init(q);
    if (a->job != NULL) {
        djs_id_parse(a->job, strlen(a->job), &q->entity);
        q->has_entity = 1;
        int known = djs_audit_entity_known(log, &q->entity);
        if (known < 0)
            fprintf(stderr, "djs audit: reading %s failed: %s\n", dir, djs_strerror(known));
        else if (known == 0 && djs_log_first_seq(log) > 1)
            fprintf(stderr,
                    "djs audit: no job, worker or schedule %s in the log in %s (it starts at seq %" PRIu64
                    " after an archive: older events are in the archive)\n",
                    a->job, dir, djs_log_first_seq(log));
        else if (known == 0)
            fprintf(stderr, "djs audit: no job, worker or schedule %s in the log in %s\n", a->job, dir);
        if (known <= 0)
            return 1;
    }
    if (a->actor != NULL) {
        q->actor = a->actor;
        q->actor_len = strlen(a->actor);
    }
    if (a->types != NULL)
        djs_audit_query_add_types(q, a->types, strlen(a->types), NULL, NULL);
    const char *pts[2] = {a->from, a->to};
    for (int k = 0; k < 2; k++) {
        int rc = pts[k] == NULL ? 0 : djs_cmd_log_point(log, pts[k], k, k ? &q->to_seq : &q->from_seq);
        if (rc != 0) {
            fprintf(stderr, "djs audit: cannot place %s in the log: %s\n", pts[k], djs_strerror(rc));
            return 1;
        }
    }
    return 0;
}

static int audit_dir(const char *dir, const audit_args_t *a, int json)
{
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    int rc = djs_log_open(&log, dir, &o);
    if (rc != 0) {
        fprintf(stderr, "djs audit: cannot open the log in %s: %s\n", dir, djs_strerror(rc));
        return 1;
    }
    djs_audit_query_t q;
    json_t *events = json_array(), *next = json_null();
    int code = build_query(log, dir, a, &q);
    uint64_t got = 0;
    while (code == 0) {
        djs_audit_result_t res;
        q.limit = (uint32_t)(a->limit - got);
        q.budget = DIR_BUDGET;
        if ((rc = djs_audit_run(log, &q, on_match, events, &res)) != 0) {
            fprintf(stderr, "djs audit: reading %s failed: %s\n", dir, djs_strerror(rc));
            code = 1;
            break;
        }
        got += res.matched;
        if (res.next_seq == 0)
            break;
        if (got >= a->limit) {
            json_decref(next);
            next = json_integer((json_int_t)res.next_seq);
            break;
        }
        q.from_seq = res.next_seq;
    }
    djs_log_close(log);
    if (code == 0)
        print_rows(events, next, json, "djs audit ... (same filters)");
    json_decref(events);
    json_decref(next);
    return code;
}

/* ---- from a server ---------------------------------------------------------------- */

/* A --from/--to value as the server takes it: a seq as it is, any time
 * (RFC 3339 in any offset, or relative) as UTC with every nanosecond, so
 * both sides place it on the same event. */
static void query_point(djs_buf_t *url, const char *name, const char *v)
{
    int is_time;
    uint64_t ns;
    char t[64];
    if (v == NULL)
        return;
    if (djs_cli_point(v, djs_wall_ns(), &is_time, &ns) == 0 && is_time) {
        djs_cli_format_time(ns - ns % 1000000000ull, t, sizeof(t));
        snprintf(t + 19, sizeof(t) - 19, ".%09uZ", (unsigned)(ns % 1000000000ull)); /* after YYYY-MM-DDTHH:MM:SS */
        v = t;
    }
    djs_client_query(url, name, v);
}

static int audit_server(djs_client_t *c, const audit_args_t *a)
{
    json_t *events = json_array(), *next = json_null();
    uint64_t cursor = 0;
    int code = 0;
    for (;;) {
        djs_buf_t url;
        char num[32];
        uint64_t want = a->limit - json_array_size(events);
        djs_buf_init(&url);
        djs_client_url(c, &url, "/api/v1/audit");
        if (a->job)
            djs_client_query(&url, "job", a->job);
        if (a->actor)
            djs_client_query(&url, "actor", a->actor);
        if (a->types)
            djs_client_query(&url, "type", a->types);
        query_point(&url, "from", a->from);
        query_point(&url, "to", a->to);
        snprintf(num, sizeof(num), "%" PRIu64, want < PAGE_LIMIT ? want : PAGE_LIMIT);
        djs_client_query(&url, "limit", num);
        if (cursor != 0) {
            snprintf(num, sizeof(num), "%" PRIu64, cursor);
            djs_client_query(&url, "cursor", num);
        }
        json_t *page;
        code = djs_client_json(c, "GET", (const char *)url.base, NULL, NULL, &page);
        djs_buf_dispose(&url);
        if (code != 0)
            break;
        json_array_extend(events, json_object_get(page, "events"));
        json_t *n = json_object_get(page, "next");
        cursor = json_is_integer(n) ? (uint64_t)json_integer_value(n) : 0;
        json_decref(page);
        if (cursor == 0)
            break;
        if (json_array_size(events) >= a->limit) {
            json_decref(next);
            next = json_integer((json_int_t)cursor);
            break;
        }
    }
    if (code == 0)
        print_rows(events, next, c->out == DJS_CLIENT_OUT_JSON, "djs audit --server ... (same filters)");
    json_decref(events);
    json_decref(next);
    return code;
}

/* 1 if argv holds option name (as "name", "name=..."). */
static int has_opt(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (argv[i] != NULL && strncmp(argv[i], name, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '='))
            return 1;
    return 0;
}

int djs_cmd_audit(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s\n\nwho did what and when, from the log (docs/cli.md).\n", USAGE);
            return 0;
        }
    int remote = has_opt(argc, argv, "--server"), out_given = has_opt(argc, argv, "-o") || has_opt(argc, argv, "--output");
    djs_client_t c;
    int code = djs_client_init(&c, "audit", argc, argv, 0);
    audit_args_t a;
    if (code == 0)
        code = take_args(argc, argv, &a);
    const char *pos[1] = {NULL};
    if (code == 0 && (code = djs_client_rest(&c, argc, argv, pos, 0, 1)) != 0)
        fprintf(stderr, "usage: %s\n", USAGE);
    if (code == 0 && remote == (pos[0] != NULL))
        code = usage_error(remote ? "give a data directory or --server URL, not both" : "give a data directory or --server URL");
    if (code == 0) {
        if (!out_given)
            c.out = isatty(1) ? DJS_CLIENT_OUT_TABLE : DJS_CLIENT_OUT_JSON;
        code = remote ? audit_server(&c, &a) : audit_dir(pos[0], &a, c.out == DJS_CLIENT_OUT_JSON);
    }
    djs_client_dispose(&c);
    return code;
}

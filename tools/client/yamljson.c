#include "tools/client/yamljson.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/alloc.h"
#include "core/error.h"

typedef struct yp {
    yaml_parser_t parser;
    char *err;
    size_t errlen;
} yp_t;

static json_t *node(yp_t *y, yaml_event_t *ev, int depth);

static void fail_at(yp_t *y, yaml_mark_t m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_at(yp_t *y, yaml_mark_t m, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(y->err, y->errlen, "line %zu column %zu: ", m.line + 1, m.column + 1);
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < y->errlen)
        vsnprintf(y->err + k, y->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

static int next(yp_t *y, yaml_event_t *ev)
{
    if (yaml_parser_parse(&y->parser, ev))
        return 0;
    fail_at(y, y->parser.problem_mark, "%s", y->parser.problem ? y->parser.problem : "malformed YAML");
    return DJS_EINVAL;
}

/* ---- scalars ------------------------------------------------------------------------ */

static int all_digits(const char *s, int base)
{
    const char *digits = base == 16 ? "0123456789abcdefABCDEF" : base == 8 ? "01234567" : "0123456789";
    return *s != '\0' && strspn(s, digits) == strlen(s);
}

/* [-+]?[0-9]+, 0x.., 0o.. -> integer; NULL if it is not one (or too big). */
static json_t *as_int(const char *s)
{
    const char *d = s + (*s == '-' || *s == '+');
    int base = 10;
    if (d == s && d[0] == '0' && (d[1] == 'x' || d[1] == 'o'))
        base = d[1] == 'x' ? 16 : 8, d += 2;
    if (!all_digits(d, base))
        return NULL;
    errno = 0;
    long long v = strtoll(base == 10 ? s : d, NULL, base);
    return errno == 0 ? json_integer(v) : NULL;
}

/* [-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)? -> real, else NULL. */
static json_t *as_float(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    size_t before = strspn(p, "0123456789"), after = 0;
    p += before;
    if (*p == '.')
        after = strspn(p + 1, "0123456789"), p += 1 + after;
    if (before + after == 0)
        return NULL;
    if (*p == 'e' || *p == 'E') {
        p += 1 + (p[1] == '-' || p[1] == '+');
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return NULL;
        p += exp;
    }
    return *p == '\0' ? json_real(strtod(s, NULL)) : NULL;
}

static int is_one_of(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}

static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const trues[] = {"true", "True", "TRUE", NULL};
static const char *const falses[] = {"false", "False", "FALSE", NULL};

static json_t *plain(const char *s, size_t len)
{
    json_t *v;
    if (strlen(s) != len) /* a NUL inside: only a string can hold it */
        return json_stringn(s, len);
    if (is_one_of(s, nulls))
        return json_null();
    if (is_one_of(s, trues))
        return json_true();
    if (is_one_of(s, falses))
        return json_false();
    if ((v = as_int(s)) != NULL || (v = as_float(s)) != NULL)
        return v;
    return json_stringn(s, len);
}

/* A scalar with an explicit tag: !!str, !!int, !!float, !!bool, !!null. */
static json_t *tagged(yp_t *y, yaml_event_t *ev, const char *tag)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    json_t *v = NULL;
    if (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "!") == 0)
        v = json_stringn(s, len);
    else if (strcmp(tag, YAML_INT_TAG) == 0)
        v = as_int(s);
    else if (strcmp(tag, YAML_FLOAT_TAG) == 0)
        v = as_float(s);
    else if (strcmp(tag, YAML_BOOL_TAG) == 0)
        v = is_one_of(s, trues) ? json_true() : is_one_of(s, falses) ? json_false() : NULL;
    else if (strcmp(tag, YAML_NULL_TAG) == 0)
        v = is_one_of(s, nulls) ? json_null() : NULL;
    else
        return fail_at(y, ev->start_mark, "the tag %.64s is not supported", tag), NULL;
    if (v == NULL)
        fail_at(y, ev->start_mark, "'%.64s' does not fit its tag %.64s", s, tag);
    return v;
}

static json_t *scalar(yp_t *y, yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    size_t len = ev->data.scalar.length;
    json_t *v;
    if (ev->data.scalar.tag != NULL)
        return tagged(y, ev, (const char *)ev->data.scalar.tag);
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
        v = plain(s, len);
    else
        v = json_stringn(s, len);
    if (v == NULL)
        fail_at(y, ev->start_mark, "a string is not valid UTF-8");
    return v;
}

/* ---- collections ---------------------------------------------------------------------- */

static json_t *sequence(yp_t *y, int depth)
{
    json_t *a = json_array(), *v;
    yaml_event_t ev;
    for (;;) {
        if (next(y, &ev) != 0)
            break;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return a;
        }
        if ((v = node(y, &ev, depth + 1)) == NULL)
            break;
        json_array_append_new(a, v);
    }
    json_decref(a);
    return NULL;
}

/* Read one key into *key (a copy); 1 at the end of the mapping, 0, or DJS_EINVAL. */
static int mapping_key(yp_t *y, json_t *o, char **key)
{
    yaml_event_t ev;
    if (next(y, &ev) != 0)
        return DJS_EINVAL;
    int rc = 0;
    if (ev.type == YAML_MAPPING_END_EVENT) {
        rc = 1;
    } else if (ev.type != YAML_SCALAR_EVENT || ev.data.scalar.tag != NULL ||
               strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
        fail_at(y, ev.start_mark, "mapping keys must be strings");
        rc = DJS_EINVAL;
    } else if (json_object_get(o, (const char *)ev.data.scalar.value) != NULL) {
        fail_at(y, ev.start_mark, "duplicate key '%.64s'", (const char *)ev.data.scalar.value);
        rc = DJS_EINVAL;
    } else {
        *key = djs_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
    }
    yaml_event_delete(&ev);
    return rc;
}

static json_t *mapping(yp_t *y, int depth)
{
    json_t *o = json_object(), *v;
    yaml_event_t ev;
    for (;;) {
        char *key = NULL;
        int rc = mapping_key(y, o, &key);
        if (rc == 1)
            return o;
        if (rc < 0 || next(y, &ev) != 0 || (v = node(y, &ev, depth + 1)) == NULL) {
            djs_free(key);
            break;
        }
        if (json_object_set_new(o, key, v) != 0) {
            fail_at(y, y->parser.mark, "a key is not valid UTF-8");
            djs_free(key);
            break;
        }
        djs_free(key);
    }
    json_decref(o);
    return NULL;
}

/* The value that starts with ev (which this deletes). */
static json_t *node(yp_t *y, yaml_event_t *ev, int depth)
{
    json_t *v = NULL;
    if (depth > DJS_CLIENT_YAMLJSON_MAX_DEPTH)
        fail_at(y, ev->start_mark, "nested more than %d deep", DJS_CLIENT_YAMLJSON_MAX_DEPTH);
    else if (ev->type == YAML_SCALAR_EVENT)
        v = scalar(y, ev);
    else if (ev->type == YAML_SEQUENCE_START_EVENT)
        v = sequence(y, depth);
    else if (ev->type == YAML_MAPPING_START_EVENT)
        v = mapping(y, depth);
    else if (ev->type == YAML_ALIAS_EVENT)
        fail_at(y, ev->start_mark, "aliases (*name) are not supported");
    else
        fail_at(y, ev->start_mark, "unexpected YAML structure");
    yaml_event_delete(ev);
    return v;
}

/* ---- documents ------------------------------------------------------------------------ */

/* Expect an event of type t (deleting it); 0 or DJS_EINVAL. */
static int expect(yp_t *y, yaml_event_type_t t, const char *what)
{
    yaml_event_t ev;
    if (next(y, &ev) != 0)
        return DJS_EINVAL;
    int ok = ev.type == t;
    if (!ok)
        fail_at(y, ev.start_mark, "%s", what);
    yaml_event_delete(&ev);
    return ok ? 0 : DJS_EINVAL;
}

static json_t *document(yp_t *y)
{
    yaml_event_t ev;
    json_t *v;
    if (expect(y, YAML_STREAM_START_EVENT, "not a YAML stream") != 0 || next(y, &ev) != 0)
        return NULL;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        fail_at(y, ev.start_mark, "the file is empty");
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev);
    if (next(y, &ev) != 0 || (v = node(y, &ev, 1)) == NULL)
        return NULL;
    if (expect(y, YAML_DOCUMENT_END_EVENT, "expected the end of the document") != 0 ||
        expect(y, YAML_STREAM_END_EVENT, "only one YAML document is allowed") != 0) {
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *djs_client_yamljson_parse(const char *text, size_t len, char *err, size_t errlen)
{
    yp_t y = {.err = err, .errlen = errlen};
    err[0] = '\0';
    if (!yaml_parser_initialize(&y.parser)) {
        snprintf(err, errlen, "cannot start the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
    json_t *v = document(&y);
    yaml_parser_delete(&y.parser);
    return v;
}

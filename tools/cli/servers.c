#include "tools/cli/servers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"

/* ---- URLs ------------------------------------------------------------------------------------ */

typedef struct origin {
    int https;
    const char *host; /* without the brackets of an IPv6 literal */
    size_t hlen;
    unsigned port;
    size_t end; /* bytes of "scheme://authority" */
} origin_t;

/* Values that end up in a header or a URL: no control characters or blanks. */
static int printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int parse_port(const char *p, size_t n, unsigned dflt, unsigned *port)
{
    unsigned v = 0;
    if (n == 0) {
        *port = dflt;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || (v = v * 10 + (unsigned)(p[i] - '0')) > 65535)
            return -1;
    }
    *port = v;
    return v == 0 ? -1 : 0;
}

/* The origin of an absolute http(s) URL; -1 if it is not one. */
static int origin_of(const char *url, origin_t *o)
{
    size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        o->https = 0, skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        o->https = 1, skip = 8;
    else
        return -1;
    const char *a = url + skip;
    size_t alen = strcspn(a, "/?#");
    o->end = skip + alen;
    const char *at = memrchr(a, '@', alen); /* user:password@ is not part of the origin */
    if (at != NULL) {
        alen -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    const char *port = NULL;
    if (alen > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', alen);
        if (close == NULL || (close + 1 < a + alen && close[1] != ':'))
            return -1;
        o->host = a + 1;
        o->hlen = (size_t)(close - a - 1);
        port = close + 1 < a + alen ? close + 2 : a + alen;
    } else {
        const char *colon = memchr(a, ':', alen);
        o->host = a;
        o->hlen = colon ? (size_t)(colon - a) : alen;
        port = colon ? colon + 1 : a + alen;
    }
    if (o->hlen == 0)
        return -1;
    return parse_port(port, (size_t)(a + alen - port), o->https ? 443 : 80, &o->port);
}

int djs_servers_same_origin(const char *a, const char *b)
{
    origin_t x, y;
    if (origin_of(a, &x) != 0 || origin_of(b, &y) != 0)
        return 0;
    return x.https == y.https && x.port == y.port && x.hlen == y.hlen && strncasecmp(x.host, y.host, x.hlen) == 0;
}

/* url goes to base: it starts with it, followed by a path, a query or nothing. */
static int on_base(const char *url, const char *base)
{
    size_t n = strlen(base);
    return strncmp(url, base, n) == 0 && (url[n] == '\0' || url[n] == '/' || url[n] == '?');
}

/* ---- the list ---------------------------------------------------------------------------------- */

static int add_url(djs_servers_t *s, const char *p, size_t n, char *err, size_t errlen)
{
    origin_t o;
    while (n > 0 && p[n - 1] == '/')
        n--;
    char *u = djs_strndup(p, n);
    int ok = (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) && printable(u, n) && origin_of(u, &o) == 0;
    if (!ok || n > DJS_SERVERS_URL_MAX || s->n == DJS_SERVERS_MAX) {
        if (!ok)
            snprintf(err, errlen, "must be an http:// or https:// URL, not '%.*s'", n > 200 ? 200 : (int)n, u);
        else if (n > DJS_SERVERS_URL_MAX)
            snprintf(err, errlen, "takes URLs of at most %d bytes", DJS_SERVERS_URL_MAX);
        else
            snprintf(err, errlen, "takes at most %d URLs", DJS_SERVERS_MAX);
        djs_free(u);
        return DJS_EINVAL;
    }
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->url[i], u) == 0) {
            djs_free(u); /* listed twice: once is enough */
            return 0;
        }
    s->url[s->n++] = u;
    return 0;
}

int djs_servers_parse(djs_servers_t *s, const char *list, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        int rc = n == 0 ? DJS_EINVAL : add_url(s, p, n, err, errlen);
        if (n == 0)
            snprintf(err, errlen, "must be an http:// or https:// URL, or a comma-separated list of them, not '%.200s'", list);
        if (rc != 0) {
            djs_servers_dispose(s);
            return rc;
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

void djs_servers_dispose(djs_servers_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        djs_free(s->url[i]);
    djs_free(s->learned);
    memset(s, 0, sizeof(*s));
}

const char *djs_servers_current(const djs_servers_t *s)
{
    return s->learned ? s->learned : s->n ? s->url[s->cur] : NULL;
}

const char *djs_servers_rel(const djs_servers_t *s, const char *url)
{
    if (s->learned != NULL && on_base(url, s->learned))
        return url + strlen(s->learned);
    for (size_t i = 0; i < s->n; i++)
        if (on_base(url, s->url[i]))
            return url + strlen(s->url[i]);
    return NULL;
}

/* ---- following the leader -------------------------------------------------------------------------- */

int djs_servers_may_follow(const djs_servers_t *s, const char *location)
{
    origin_t o;
    size_t n = strlen(location);
    if (n > DJS_SERVERS_LOCATION_MAX || !printable(location, n) || origin_of(location, &o) != 0)
        return 0;
    if (s->n == 1)
        return 1;
    for (size_t i = 0; i < s->n; i++)
        if (djs_servers_same_origin(s->url[i], location))
            return 1;
    return 0;
}

int djs_servers_learn(djs_servers_t *s, const char *url, const char *location)
{
    origin_t o;
    if (s->n == 0 || origin_of(location, &o) != 0)
        return 0;
    const char *rel = djs_servers_rel(s, url);
    size_t ll = strlen(location), rl = rel ? strlen(rel) : 0, bl = o.end;
    if (rl > 0 && ll >= o.end + rl && strcmp(location + ll - rl, rel) == 0)
        bl = ll - rl;
    while (bl > o.end && location[bl - 1] == '/')
        bl--;
    char *base = djs_strndup(location, bl);
    int changed = 0;
    size_t i;
    for (i = 0; i < s->n && !djs_servers_same_origin(s->url[i], base); i++)
        ;
    if (i < s->n) {
        changed = s->learned != NULL || s->cur != i;
        djs_free(s->learned);
        s->learned = NULL;
        s->cur = i;
    } else if (s->n == 1 && bl <= DJS_SERVERS_URL_MAX && (s->learned == NULL || strcmp(s->learned, base) != 0)) {
        djs_free(s->learned);
        s->learned = base;
        base = NULL;
        changed = 1;
    }
    djs_free(base);
    return changed;
}

int djs_servers_failed(djs_servers_t *s, const char *url)
{
    const char *cur = djs_servers_current(s);
    if (cur == NULL || !djs_servers_same_origin(url, cur))
        return 0;
    if (s->learned != NULL) { /* back to the entry that pointed there */
        djs_free(s->learned);
        s->learned = NULL;
        return 1;
    }
    if (s->n == 1)
        return 0;
    s->cur = (s->cur + 1) % s->n;
    return 1;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

int djs_servers_unavailable(long status, const char *body, size_t len)
{
    if (status == 0 || status == 307 || status == 308)
        return 1;
    if (status != 503 || body == NULL || len == 0)
        return 0;
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    int r = type != NULL && (ends_with(type, "/no-leader") || ends_with(type, "/not-leader"));
    json_decref(j);
    return r;
}

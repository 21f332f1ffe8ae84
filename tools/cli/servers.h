/* The djs servers a client talks to: --server (or DJS_SERVER) as one base
 * URL or a comma-separated list of them (the nodes of a cluster), which
 * one is current, and the rules for following the leader. Used by the
 * CLI's client (tools/client/client.c) and the worker agent
 * (tools/agent). Pure: no I/O, no clock.
 *
 * A cluster follower answers a write 307 with Location: the leader's base
 * URL + the same path and query, and 503 with problem type .../no-leader
 * (or .../not-leader) during an election. A client re-sends the write
 * (same method, body and headers, the token included) to the Location
 * when djs_servers_may_follow says so, at most DJS_SERVERS_MAX_HOPS times
 * for one request; djs_servers_learn then makes the leader the current
 * server, so later requests go straight to it. When a server did not take
 * a call (djs_servers_unavailable: no answer, 503 no-leader, a redirect
 * not followed), djs_servers_failed moves on to the next one in the list.
 *
 * Embedded struct: djs_servers_parse fills it, djs_servers_dispose frees
 * it. Strings it returns are its own, valid until the next
 * djs_servers_learn or djs_servers_failed, or the dispose. */
#ifndef DJS_TOOLS_CLI_SERVERS_H
#define DJS_TOOLS_CLI_SERVERS_H

#include <stddef.h>

#include "core/error.h"

#define DJS_SERVERS_MAX 16      /* base URLs in one list */
#define DJS_SERVERS_URL_MAX 800 /* bytes of one base URL */
#define DJS_SERVERS_MAX_HOPS 3  /* redirects followed for one request */
#define DJS_SERVERS_LOCATION_MAX 4096

typedef struct djs_servers {
    char *url[DJS_SERVERS_MAX]; /* the list, in its order, trailing '/' removed */
    size_t n;
    size_t cur;    /* url[cur] is the current server, unless learned is set */
    char *learned; /* a leader's base URL outside the list, learned from a redirect (lists of one only); or NULL */
} djs_servers_t;

/* Parse list: base URLs (http:// or https://, printable, at most
 * DJS_SERVERS_URL_MAX bytes) separated by commas, blanks around them
 * ignored, a URL given twice kept once, at most DJS_SERVERS_MAX. The first
 * is current. 0, or DJS_EINVAL with err set to the reason, ready to follow
 * the option's name ("must be an http:// or https:// URL, not 'x'"); s is
 * then empty (dispose is still fine). */
int djs_servers_parse(djs_servers_t *s, const char *list, char *err, size_t errlen);
void djs_servers_dispose(djs_servers_t *s);

/* The current server's base URL (never NULL after a successful parse). */
const char *djs_servers_current(const djs_servers_t *s);
/* Which server a URL goes to: the rest of url after the base it starts
 * with ("/api/v1/jobs?x=1", or "" for the base itself), trying the learned
 * one and then the list; NULL if it starts with none of them. */
const char *djs_servers_rel(const djs_servers_t *s, const char *url);

/* 1 if a and b are http(s) URLs of one origin: scheme, host (either case)
 * and port (80 and 443 when not given) equal. 0 otherwise, or if either is
 * not an http(s) URL. */
int djs_servers_same_origin(const char *a, const char *b);
/* 1 if a redirect to location may be followed: an absolute http or https
 * URL (printable, at most DJS_SERVERS_LOCATION_MAX bytes) whose origin is
 * one of the list's; for a list of one, any such URL (a cluster node may
 * advertise a URL the list does not name). */
int djs_servers_may_follow(const djs_servers_t *s, const char *location);
/* A request to url was redirected to location (which djs_servers_may_follow
 * accepted): that server becomes current. Its base is location without the
 * request's path and query (djs_servers_rel of url) when it ends with them,
 * else location's origin; a list entry of that origin is taken as it is
 * written. 1 if the current server changed, else 0. */
int djs_servers_learn(djs_servers_t *s, const char *url, const char *location);
/* url's server did not take a call. If it is the current one (same
 * origin), the next one becomes current: the next in the list (round
 * robin), or, after a learned leader, the list's entry that led to it.
 * 1 if the current server changed; 0 if url went elsewhere (another call
 * moved on already) or there is nowhere else to go (one URL). */
int djs_servers_failed(djs_servers_t *s, const char *url);

/* 1 if an answer means "this server does not take writes now, another
 * may": no answer (status 0), a 503 whose problem type (body, len bytes of
 * JSON) ends in /no-leader or /not-leader, or a 307 or 308 (a redirect
 * to the leader that was not followed). */
int djs_servers_unavailable(long status, const char *body, size_t len);

#endif

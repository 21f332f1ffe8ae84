/* libcurl multi on libuv: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to wake it (CURLMOPT_TIMERFUNCTION);
 * libuv tells curl when a socket is ready (curl_multi_socket_action). */
#include "tools/agent/agent_http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"

#define DEFAULT_MAX_BODY (16u << 20)
#define CONNECT_TIMEOUT_MS 5000L

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    djs_agent_http_t *h;
    struct sock *prev, *next;
} sock_t;

struct djs_agent_http_req {
    djs_agent_http_t *h;
    CURL *easy;
    struct curl_slist *headers;
    djs_buf_t body; /* the request body (copied) */
    djs_buf_t res;  /* the answer */
    size_t max_body;
    djs_agent_http_cb cb;
    void *arg;
    const djs_agent_http_route_t *route;
    char *url;     /* where it goes now (route only) */
    djs_buf_t loc; /* the answer's Location, NUL-terminated (route only) */
    int hops;
    struct djs_agent_http_req *prev, *next;
    char errbuf[CURL_ERROR_SIZE];
};

struct djs_agent_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    sock_t *socks;
    djs_agent_http_req_t *reqs;
    char *token, *cacert;
    int insecure;
    int open_handles; /* the timer and the polls: freed when 0 after close */
    int closing;
};

static void maybe_free(djs_agent_http_t *h)
{
    if (!h->closing || h->open_handles > 0)
        return;
    djs_free(h->token);
    djs_free(h->cacert);
    djs_free(h);
}

static void on_handle_closed(uv_handle_t *hd)
{
    djs_agent_http_t *h = hd->data;
    if (hd->type == UV_POLL)
        djs_free(container_of((uv_poll_t *)hd, sock_t, poll));
    h->open_handles--;
    maybe_free(h);
}

static void sock_close(sock_t *s)
{
    djs_agent_http_t *h = s->h;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        h->socks = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static void req_unlink(djs_agent_http_req_t *r)
{
    djs_agent_http_t *h = r->h;
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
}

static void req_free(djs_agent_http_req_t *r)
{
    curl_multi_remove_handle(r->h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    djs_buf_dispose(&r->body);
    djs_buf_dispose(&r->res);
    djs_buf_dispose(&r->loc);
    djs_free(r->url);
    djs_free(r);
}

/* A redirect the route wants followed: the same easy handle, its body and
 * headers, to location. 0, or -1 (then the answer goes to the callback). */
static int follow(djs_agent_http_t *h, djs_agent_http_req_t *r, long status)
{
    const djs_agent_http_route_t *rt = r->route;
    if (rt == NULL || rt->redirect == NULL || (status != 307 && status != 308) || r->loc.len <= 1 ||
        r->hops >= DJS_AGENT_HTTP_MAX_HOPS)
        return -1;
    const char *location = (const char *)r->loc.base;
    if (!rt->redirect(rt->arg, r->url, location))
        return -1;
    djs_free(r->url);
    r->url = djs_strndup(location, strlen(location));
    r->hops++;
    djs_buf_reset(&r->res);
    djs_buf_reset(&r->loc);
    r->errbuf[0] = '\0';
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
    return curl_multi_add_handle(h->multi, r->easy) == CURLM_OK ? 0 : -1;
}

/* Deliver every finished transfer. */
static void check_done(djs_agent_http_t *h)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        djs_agent_http_req_t *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode rc = m->data.result;
        long status = 0;
        char error[CURL_ERROR_SIZE + 32];
        error[0] = '\0';
        if (rc == CURLE_OK) {
            curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
            if (follow(h, r, status) == 0)
                continue;
        } else if (rc == CURLE_WRITE_ERROR) {
            snprintf(error, sizeof(error), "the answer is larger than %zu bytes", r->max_body);
        } else {
            snprintf(error, sizeof(error), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        }
        req_unlink(r);
        curl_multi_remove_handle(h->multi, r->easy);
        djs_buf_reserve(&r->res, 1)[0] = '\0';
        if (r->route != NULL && r->route->answered != NULL)
            r->route->answered(r->route->arg, r->url, status, (const char *)r->res.base, r->res.len);
        r->cb(r->arg, status, (const char *)r->res.base, r->res.len, error);
        req_free(r);
    }
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    sock_t *s = container_of(p, sock_t, poll);
    djs_agent_http_t *h = s->h;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    check_done(h);
}

static void on_timer(uv_timer_t *t)
{
    djs_agent_http_t *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    djs_agent_http_t *h = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s != NULL) {
            curl_multi_assign(h->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = djs_calloc(1, sizeof(*s));
        s->fd = fd;
        s->h = h;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) != 0) {
            djs_free(s);
            return -1; /* curl's socket callback: -1 fails the transfer */
        }
        s->poll.data = h;
        h->open_handles++;
        s->next = h->socks;
        if (h->socks != NULL)
            h->socks->prev = s;
        h->socks = s;
        curl_multi_assign(h->multi, fd, s);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&s->poll, ev, on_poll);
    return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    djs_agent_http_t *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else /* 0 too: curl must not be called back from inside itself */
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

int djs_agent_http_open(djs_agent_http_t **out, uv_loop_t *loop, const djs_agent_http_opts_t *o)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return DJS_EIO;
    djs_agent_http_t *h = djs_calloc(1, sizeof(*h));
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        djs_free(h);
        curl_global_cleanup();
        return DJS_EIO;
    }
    h->loop = loop;
    h->token = o->token ? djs_strndup(o->token, strlen(o->token)) : NULL;
    h->cacert = o->cacert ? djs_strndup(o->cacert, strlen(o->cacert)) : NULL;
    h->insecure = o->insecure;
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    h->open_handles = 1;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    *out = h;
    return 0;
}

void djs_agent_http_close(djs_agent_http_t *h)
{
    if (h == NULL)
        return;
    while (h->reqs != NULL) {
        djs_agent_http_req_t *r = h->reqs;
        req_unlink(r);
        req_free(r);
    }
    curl_multi_cleanup(h->multi); /* closes cached connections: their sockets are removed */
    h->multi = NULL;
    while (h->socks != NULL)
        sock_close(h->socks);
    h->closing = 1;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_handle_closed);
    curl_global_cleanup();
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    djs_agent_http_req_t *r = arg;
    size_t len = size * n;
    if (r->res.len + len > r->max_body)
        return 0; /* CURLE_WRITE_ERROR */
    djs_buf_append(&r->res, p, len);
    return len;
}

/* The Location of an answer (route only); a new answer (after a 100) starts over. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    djs_agent_http_req_t *r = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        djs_buf_reset(&r->loc);
    } else if (len > 9 && strncasecmp(p, "location:", 9) == 0) {
        const char *v = p + 9, *end = p + len;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
            end--;
        djs_buf_reset(&r->loc);
        if (end - v < 8192)
            djs_buf_append(&r->loc, v, (size_t)(end - v));
        djs_buf_append(&r->loc, "", 1);
    }
    return len;
}

static struct curl_slist *build_headers(const djs_agent_http_t *h, const djs_agent_http_call_t *c)
{
    char line[512];
    struct curl_slist *l = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    if (l != NULL && c->content_type != NULL) {
        snprintf(line, sizeof(line), "Content-Type: %s", c->content_type);
        l = curl_slist_append(l, line);
    }
    if (l != NULL && c->auth && h->token != NULL) {
        djs_buf_t a;
        djs_buf_init(&a);
        djs_buf_append(&a, "Authorization: Bearer ", 22);
        djs_buf_append(&a, h->token, strlen(h->token) + 1);
        struct curl_slist *t = curl_slist_append(l, (const char *)a.base);
        djs_buf_dispose(&a);
        if (t == NULL)
            curl_slist_free_all(l);
        l = t;
    }
    for (int i = 0; l != NULL && c->headers != NULL && c->headers[i] != NULL; i++) {
        struct curl_slist *t = curl_slist_append(l, c->headers[i]);
        if (t == NULL)
            curl_slist_free_all(l);
        l = t;
    }
    return l;
}

static void set_method(djs_agent_http_req_t *r, const djs_agent_http_call_t *c)
{
    CURL *e = r->easy;
    int get = strcmp(c->method, "GET") == 0;
    if (!get || c->len > 0) {
        djs_buf_append(&r->body, c->body ? c->body : "", c->len);
        djs_buf_reserve(&r->body, 1);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body.base);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
    }
    if (strcmp(c->method, "POST") != 0 && !get)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    if (strcmp(c->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
}

djs_agent_http_req_t *djs_agent_http_send(djs_agent_http_t *h, const djs_agent_http_call_t *c, djs_agent_http_cb cb, void *arg)
{
    djs_agent_http_req_t *r = djs_calloc(1, sizeof(*r));
    r->h = h;
    r->cb = cb;
    r->arg = arg;
    r->max_body = c->max_body ? c->max_body : DEFAULT_MAX_BODY;
    r->route = c->route;
    djs_buf_init(&r->body);
    djs_buf_init(&r->res);
    djs_buf_init(&r->loc);
    r->easy = curl_easy_init();
    r->headers = r->easy ? build_headers(h, c) : NULL;
    if (r->headers == NULL)
        goto fail;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "djs-worker/0.1");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    if (r->route != NULL) {
        r->url = djs_strndup(c->url, strlen(c->url));
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    }
    if (h->cacert != NULL)
        curl_easy_setopt(e, CURLOPT_CAINFO, h->cacert);
    if (h->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    set_method(r, c);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK)
        goto fail;
    r->next = h->reqs;
    if (h->reqs != NULL)
        h->reqs->prev = r;
    h->reqs = r;
    return r;
fail:
    if (r->easy != NULL)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    djs_buf_dispose(&r->body);
    djs_buf_dispose(&r->res);
    djs_buf_dispose(&r->loc);
    djs_free(r->url);
    djs_free(r);
    return NULL;
}

void djs_agent_http_cancel(djs_agent_http_req_t *r)
{
    if (r == NULL)
        return;
    req_unlink(r);
    req_free(r);
}

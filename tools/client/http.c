#include "tools/client/http.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"

struct djs_client_http {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

int djs_client_http_open(djs_client_http_t **out, const djs_client_http_opts_t *o)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return DJS_EIO;
    djs_client_http_t *h = djs_calloc(1, sizeof(*h));
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        djs_free(h);
        curl_global_cleanup();
        return DJS_EIO;
    }
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, DJS_CLIENT_HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "djs-cli/0.1");
    if (o->cacert != NULL)
        curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->cacert);
    if (o->insecure) {
        curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    *out = h;
    return 0;
}

void djs_client_http_close(djs_client_http_t *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    djs_free(h);
    curl_global_cleanup();
}

void djs_client_http_res_init(djs_client_http_res_t *r)
{
    memset(r, 0, sizeof(*r));
    djs_buf_init(&r->body);
}

void djs_client_http_res_dispose(djs_client_http_res_t *r)
{
    djs_buf_dispose(&r->body);
}

static void res_reset(djs_client_http_res_t *r)
{
    djs_buf_t body = r->body;
    memset(r, 0, sizeof(*r));
    r->body = body;
    djs_buf_reset(&r->body);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    djs_client_http_res_t *r = arg;
    size_t len = size * n;
    if (r->body.len + len > DJS_CLIENT_HTTP_MAX_BODY)
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    djs_buf_append(&r->body, p, len);
    return len;
}

/* Copy value (blanks and CR LF trimmed) into out: cut to cap, or "" when
 * whole is set and it does not fit (a cut URL would be another URL). */
static void keep(char *out, size_t cap, const char *v, size_t len, int whole)
{
    while (len > 0 && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len >= cap)
        len = whole ? 0 : cap - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

/* "HTTP/1.1 404 Not Found": a new answer starts (after a 100 Continue, say). */
static void status_line(djs_client_http_res_t *r, const char *p, size_t len)
{
    const char *sp = memchr(p, ' ', len);
    djs_buf_reset(&r->body);
    r->reason[0] = r->content_type[0] = r->seq[0] = r->retry_after[0] = '\0';
    r->log_next[0] = r->log_complete[0] = r->location[0] = '\0';
    if (sp == NULL)
        return;
    const char *rest = sp + 1, *end = p + len;
    const char *sp2 = memchr(rest, ' ', (size_t)(end - rest));
    if (sp2 != NULL)
        keep(r->reason, sizeof(r->reason), sp2 + 1, (size_t)(end - sp2 - 1), 0);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    static const struct {
        const char *name;
        size_t off, cap;
    } wanted[] = {
        {"content-type", offsetof(djs_client_http_res_t, content_type), sizeof(((djs_client_http_res_t *)0)->content_type)},
        {"djs-seq", offsetof(djs_client_http_res_t, seq), sizeof(((djs_client_http_res_t *)0)->seq)},
        {"retry-after", offsetof(djs_client_http_res_t, retry_after), sizeof(((djs_client_http_res_t *)0)->retry_after)},
        {"djs-log-next-offset", offsetof(djs_client_http_res_t, log_next), sizeof(((djs_client_http_res_t *)0)->log_next)},
        {"djs-log-complete", offsetof(djs_client_http_res_t, log_complete), sizeof(((djs_client_http_res_t *)0)->log_complete)},
        {"location", offsetof(djs_client_http_res_t, location), sizeof(((djs_client_http_res_t *)0)->location)},
    };
    djs_client_http_res_t *r = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        status_line(r, p, len);
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL)
        return len;
    size_t nlen = (size_t)(colon - p);
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
        if (nlen == strlen(wanted[i].name) && strncasecmp(p, wanted[i].name, nlen) == 0)
            keep((char *)r + wanted[i].off, wanted[i].cap, colon + 1, len - nlen - 1,
                 wanted[i].off == offsetof(djs_client_http_res_t, location));
    return len;
}

/* The request's header list; NULL only if curl ran out of memory. */
static struct curl_slist *request_headers(const char *token, const char *const *extra, int has_body)
{
    struct curl_slist *l = curl_slist_append(NULL, "Accept: application/json, application/problem+json, text/plain");
    l = l ? curl_slist_append(l, "Expect:") : NULL; /* no 100-continue round trip */
    if (l != NULL && has_body)
        l = curl_slist_append(l, "Content-Type: application/json");
    if (l != NULL && token != NULL) {
        djs_buf_t auth;
        djs_buf_init(&auth);
        djs_buf_append(&auth, "Authorization: Bearer ", 22);
        djs_buf_append(&auth, token, strlen(token) + 1);
        struct curl_slist *t = curl_slist_append(l, (const char *)auth.base);
        djs_buf_dispose(&auth);
        l = t;
    }
    for (int i = 0; l != NULL && extra != NULL && extra[i] != NULL; i++)
        l = curl_slist_append(l, extra[i]);
    return l;
}

static void set_method(CURL *c, const char *method, const char *body, size_t len)
{
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L); /* resets the previous request's method and body */
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    }
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ? NULL : method);
}

int djs_client_http_request(djs_client_http_t *h, const char *method, const char *url, const char *token,
                            const char *const *headers, const char *body, size_t len, djs_client_http_res_t *r)
{
    CURL *c = h->curl;
    res_reset(r);
    struct curl_slist *hl = request_headers(token, headers, body != NULL || strcmp(method, "GET") != 0);
    if (hl == NULL) {
        snprintf(r->error, sizeof(r->error), "out of memory");
        return DJS_ENOMEM;
    }
    h->errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    set_method(c, method, body, len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hl);
    djs_buf_reserve(&r->body, 1)[0] = '\0';
    if (rc != CURLE_OK) {
        long sent = 0;
        curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
        r->sent = sent > 0;
        if (rc == CURLE_WRITE_ERROR)
            snprintf(r->error, sizeof(r->error), "the answer is larger than %u MiB", DJS_CLIENT_HTTP_MAX_BODY >> 20);
        else
            snprintf(r->error, sizeof(r->error), "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        r->status = 0;
        return rc == CURLE_WRITE_ERROR ? DJS_ETOOBIG : DJS_EIO;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    return 0;
}

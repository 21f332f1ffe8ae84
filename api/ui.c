/* The dashboard's files: the embedded table of api/ui.h (or a directory,
 * djs serve --ui-dir), served at /ui/ with content negotiation, ETags and
 * caching, and / redirected there. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server_internal.h"
#include "api/ui.h"

#define UI_MAX_FILE (32u << 20) /* --ui-dir: larger files are refused */

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
                          "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

const djs_ui_asset_t *djs_ui_find(const char *path, size_t n)
{
    for (size_t i = 0; i < djs_ui_nassets; i++)
        if (strlen(djs_ui_assets[i].path) == n && memcmp(djs_ui_assets[i].path, path, n) == 0)
            return &djs_ui_assets[i];
    return NULL;
}

/* The q value of one Accept-Encoding element's parameters (p..end): 1000ths. */
static int qvalue(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            int q = 0, scale = 1000;
            if (p < end && *p == '1')
                return 1000;
            if (p < end && *p == '0')
                p++;
            if (p < end && *p == '.')
                for (p++; p < end && *p >= '0' && *p <= '9' && scale > 1; p++)
                    scale /= 10, q += (*p - '0') * scale;
            return q;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1000;
}

int djs_ui_pick_encoding(const char *accept, size_t n, const djs_ui_asset_t *a)
{
    static const char *const names[DJS_UI_NENC] = {"identity", "gzip", "br"};
    int q[DJS_UI_NENC] = {-1, -1, -1}, star = -1;
    const char *p = accept, *end = accept ? accept + n : NULL;
    while (p != NULL && p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tlen = (size_t)(p - tok);
        const char *params = p;
        while (p < end && *p != ',')
            p++;
        if (tlen == 0)
            continue;
        int v = qvalue(params, p);
        if (tlen == 1 && tok[0] == '*')
            star = v;
        for (int e = 0; e < DJS_UI_NENC; e++)
            if (strlen(names[e]) == tlen && strncasecmp(tok, names[e], tlen) == 0)
                q[e] = v;
    }
    for (int e = 0; e < DJS_UI_NENC; e++)
        if (q[e] < 0)
            q[e] = star >= 0 ? star : (e == DJS_UI_IDENTITY ? 1 : 0); /* identity is acceptable unless refused */
    if (accept == NULL)
        q[DJS_UI_IDENTITY] = 1;
    if (a->body[DJS_UI_BROTLI] != NULL && q[DJS_UI_BROTLI] > 0 && q[DJS_UI_BROTLI] >= q[DJS_UI_GZIP])
        return DJS_UI_BROTLI;
    if (a->body[DJS_UI_GZIP] != NULL && q[DJS_UI_GZIP] > 0)
        return DJS_UI_GZIP;
    if (a->body[DJS_UI_BROTLI] != NULL && q[DJS_UI_BROTLI] > 0)
        return DJS_UI_BROTLI;
    return q[DJS_UI_IDENTITY] > 0 ? DJS_UI_IDENTITY : -1;
}

int djs_ui_etag_matches(const char *inm, size_t n, const char *etag)
{
    size_t el = strlen(etag);
    const char *p = inm, *end = inm + n;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p < end && *p == '*')
            return 1;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2; /* weak comparison, as RFC 9110 wants for If-None-Match */
        const char *tok = p;
        while (p < end && *p != ',')
            p++;
        const char *t = p;
        while (t > tok && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - tok) == el && memcmp(tok, etag, el) == 0)
            return 1;
    }
    return 0;
}

int djs_ui_path_ok(const char *rel, size_t n)
{
    size_t seg = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || rel[i] == '/') {
            size_t len = i - seg;
            if (i == n && len == 0 && n > 0)
                break; /* a trailing slash */
            if (n > 0 && (len == 0 || rel[seg] == '.'))
                return 0; /* empty, ".", ".." and hidden segments */
            seg = i + 1;
            continue;
        }
        char c = rel[i];
        if (c == '\\' || c == '%' || c == '\0' || (unsigned char)c < 0x20)
            return 0;
    }
    return 1;
}

int djs_ui_is_app_route(const char *rel, size_t n)
{
    const char *last = rel;
    for (size_t i = 0; i < n; i++)
        if (rel[i] == '/')
            last = rel + i + 1;
    return memchr(last, '.', (size_t)(rel + n - last)) == NULL;
}

static void add(h2o_req_t *req, const h2o_token_t *tok, const char *name, const char *v, size_t len)
{
    if (tok != NULL)
        h2o_add_header(&req->pool, &req->res.headers, tok, NULL, v, len);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, v, len);
}

static void security_headers(h2o_req_t *req)
{
    add(req, NULL, "content-security-policy", csp, sizeof(csp) - 1);
    add(req, NULL, "x-content-type-options", H2O_STRLIT("nosniff"));
    add(req, NULL, "referrer-policy", H2O_STRLIT("no-referrer"));
    add(req, NULL, "x-frame-options", H2O_STRLIT("DENY"));
}

static h2o_generator_t static_body = {NULL, NULL}; /* the bodies outlive every request */

/* Answer status with body[0..len) (not copied) or, for HEAD, its headers only. */
static int send_body(h2o_req_t *req, int status, const char *reason, const void *body, size_t len)
{
    djs__observe(req, status);
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_start_response(req, &static_body);
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_iovec_t b = h2o_iovec_init(body, head ? 0 : len);
    h2o_send(req, &b, head || len == 0 ? 0 : 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static int redirect(h2o_req_t *req, const char *to)
{
    add(req, H2O_TOKEN_LOCATION, NULL, to, strlen(to));
    add(req, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    return send_body(req, 302, "Found", "see /ui/\n", 9);
}

/* The ETag header value of asset a in encoding enc, in the request's pool. */
static h2o_iovec_t etag_of(h2o_req_t *req, const char *hex, int enc)
{
    static const char *const suffix[DJS_UI_NENC] = {"", "-gz", "-br"};
    char *e = h2o_mem_alloc_pool(&req->pool, 48);
    int n = snprintf(e, 48, "\"%s%s\"", hex, suffix[enc]);
    return h2o_iovec_init(e, (size_t)n);
}

/* 1 (after a 304) when If-None-Match holds the etag. */
static int not_modified(h2o_req_t *req, h2o_iovec_t etag)
{
    h2o_iovec_t inm;
    char *z = h2o_mem_alloc_pool(&req->pool, etag.len + 1);
    memcpy(z, etag.base, etag.len);
    z[etag.len] = '\0';
    if (!djs__header_value(req, H2O_TOKEN_IF_NONE_MATCH, NULL, &inm) || !djs_ui_etag_matches(inm.base, inm.len, z))
        return 0;
    send_body(req, 304, "Not Modified", NULL, 0);
    return 1;
}

static int serve_asset(h2o_req_t *req, const djs_ui_asset_t *a)
{
    h2o_iovec_t ae;
    int have = djs__header_value(req, H2O_TOKEN_ACCEPT_ENCODING, NULL, &ae);
    int enc = djs_ui_pick_encoding(have ? ae.base : NULL, have ? ae.len : 0, a);
    if (a->body[DJS_UI_GZIP] != NULL || a->body[DJS_UI_BROTLI] != NULL)
        add(req, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
    if (enc < 0)
        return djs__problem(req, 406, "not-acceptable", "Not Acceptable",
                            "no encoding of this file is acceptable (Accept-Encoding)");
    h2o_iovec_t etag = etag_of(req, a->etag, enc);
    if (a->immutable)
        add(req, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("public, max-age=31536000, immutable"));
    else
        add(req, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    add(req, H2O_TOKEN_ETAG, NULL, etag.base, etag.len);
    if (not_modified(req, etag))
        return 0;
    add(req, H2O_TOKEN_CONTENT_TYPE, NULL, a->mime, strlen(a->mime));
    if (enc == DJS_UI_GZIP)
        add(req, H2O_TOKEN_CONTENT_ENCODING, NULL, H2O_STRLIT("gzip"));
    else if (enc == DJS_UI_BROTLI)
        add(req, H2O_TOKEN_CONTENT_ENCODING, NULL, H2O_STRLIT("br"));
    return send_body(req, 200, "OK", a->body[enc], a->len[enc]);
}

static const char *mime_of(const char *rel, size_t n)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".json", "application/json"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".woff2", "font/woff2"},
                 {".txt", "text/plain; charset=utf-8"},
                 {".map", "application/json"}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t el = strlen(types[i].ext);
        if (n >= el && memcmp(rel + n - el, types[i].ext, el) == 0)
            return types[i].mime;
    }
    return "application/octet-stream";
}

/* --ui-dir: the file dir/rel, read per request (development: no cache). 0
 * after answering; 1 when there is no such file. */
static int serve_file(h2o_req_t *req, const char *dir, const char *rel, size_t n)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%.*s", dir, (int)n, rel) >= (int)sizeof(path))
        return 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if ((uint64_t)st.st_size > UI_MAX_FILE) {
        close(fd);
        return djs__problem(req, 500, "internal", "Internal error", "the file is larger than 32 MiB");
    }
    char *body = h2o_mem_alloc_pool(&req->pool, (size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, body + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    char *etag = h2o_mem_alloc_pool(&req->pool, 64);
    int el = snprintf(etag, 64, "\"%llx-%llx\"", (unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_sec);
    add(req, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    add(req, H2O_TOKEN_ETAG, NULL, etag, (size_t)el);
    if (not_modified(req, h2o_iovec_init(etag, (size_t)el)))
        return 0;
    const char *m = mime_of(rel, n);
    add(req, H2O_TOKEN_CONTENT_TYPE, NULL, m, strlen(m));
    return send_body(req, 200, "OK", body, got);
}

int djs__ui_serve(djs_server_t *s, h2o_req_t *req)
{
    const char *p = req->path_normalized.base;
    size_t n = req->path_normalized.len;
    security_headers(req);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        add(req, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        return djs__problem(req, 405, "method-not-allowed", "Method Not Allowed", "the dashboard's files answer GET and HEAD");
    }
    if (n == 1 || n == 3) /* "/" and "/ui" */
        return redirect(req, "/ui/");
    const char *rel = p + 4; /* past "/ui/" */
    size_t rn = n - 4;
    /* the raw path, before h2o's normalisation: no encoded bytes, no dot segments */
    size_t raw = req->path.len;
    const char *q = memchr(req->path.base, '?', raw);
    if (q != NULL)
        raw = (size_t)(q - req->path.base);
    if (memchr(req->path.base, '%', raw) != NULL || !djs_ui_path_ok(rel, rn) ||
        (raw >= 3 && (memmem(req->path.base, raw, "/..", 3) != NULL || memmem(req->path.base, raw, "/./", 3) != NULL)))
        return djs__problem(req, 400, "invalid-path", "Invalid path",
                            "a dashboard path has no encoded bytes, dot segments or hidden names");
    if (rn == 0 || rel[rn - 1] == '/') {
        rel = "index.html", rn = 10;
    }
    if (s->cfg.ui_dir != NULL) {
        int rc = serve_file(req, s->cfg.ui_dir, rel, rn);
        if (rc != 1)
            return rc;
        if (djs_ui_is_app_route(rel, rn) && (rc = serve_file(req, s->cfg.ui_dir, "index.html", 10)) != 1)
            return rc;
        return djs__problem(req, 404, "not-found", "Not Found", "no such file in the dashboard's directory");
    }
    const djs_ui_asset_t *a = djs_ui_find(rel, rn);
    if (a == NULL && djs_ui_is_app_route(rel, rn))
        a = djs_ui_find("index.html", 10);
    if (a == NULL)
        return djs__problem(req, 404, "not-found", "Not Found", "no such file in the dashboard");
    return serve_asset(req, a);
}

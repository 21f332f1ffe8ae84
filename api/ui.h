/* The dashboard's assets, embedded in the binary, and how they are served.
 *
 * The table is generated at build time by tools/ui-embed.sh from the built
 * dashboard (ui/, built by Vite; or ui/stub/ when the build machine has no
 * Node.js 20): for every file its path under /ui/, MIME type, a strong
 * ETag (a SHA-256 prefix of the identity body), whether its name carries a
 * content hash (so it never changes), and its identity, gzip and brotli
 * bodies (NULL where compressing did not pay). The bodies live in .rodata
 * (one .incbin each): serving them copies nothing.
 *
 * Serving (djs__ui_serve, api/ui.c, called by the route dispatch for "/"
 * and "/ui..."): GET and HEAD; Accept-Encoding negotiation with Vary;
 * If-None-Match -> 304; Cache-Control immutable for hashed assets, no-cache
 * for the rest; a path with no extension that is no file answers
 * index.html (the dashboard's own routes), a missing file is a 404; a
 * strict Content-Security-Policy on every answer. With a directory
 * (djs serve --ui-dir) files are read from there per request instead.
 */
#ifndef DJS_API_UI_H
#define DJS_API_UI_H

#include <stddef.h>

enum { DJS_UI_IDENTITY, DJS_UI_GZIP, DJS_UI_BROTLI, DJS_UI_NENC };

typedef struct djs_ui_asset {
    const char *path; /* relative to /ui/, e.g. "index.html", "assets/index-Ab12.js" */
    const char *mime;
    const char *etag;                       /* 32 hex digits, unquoted */
    int immutable;                          /* the name carries a content hash */
    const unsigned char *body[DJS_UI_NENC]; /* by encoding; NULL: not kept */
    size_t len[DJS_UI_NENC];
} djs_ui_asset_t;

/* Generated (build/ui_assets.c). */
extern const djs_ui_asset_t djs_ui_assets[];
extern const size_t djs_ui_nassets;
extern const int djs_ui_stub; /* 1: the stub page (no Node.js at build time) */

/* The embedded asset at path (relative to /ui/, n bytes), or NULL. */
const djs_ui_asset_t *djs_ui_find(const char *path, size_t n);

/* The encoding to send for an Accept-Encoding header value (NULL: none
 * sent) given which bodies exist: brotli before gzip before identity,
 * honouring q=0 (also on "*" and "identity"). -1 when nothing acceptable
 * exists (identity refused and no compressed body accepted). */
int djs_ui_pick_encoding(const char *accept, size_t n, const djs_ui_asset_t *a);

/* 1 if an If-None-Match value (a list, or "*") matches the quoted etag. */
int djs_ui_etag_matches(const char *inm, size_t n, const char *etag);

/* 1 if a request path under /ui/ (rel, n bytes, without the "/ui/") is
 * safe: no "..", no empty or dot segments, no backslash, NUL or '%'. */
int djs_ui_path_ok(const char *rel, size_t n);

/* 1 if a missing rel should answer index.html: its last segment has no '.'. */
int djs_ui_is_app_route(const char *rel, size_t n);

#endif

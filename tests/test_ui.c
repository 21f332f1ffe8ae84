/* api/ui: Accept-Encoding negotiation, If-None-Match matching, the path
 * checks of the dashboard's files, and the embedded table itself. */
#include <string.h>

#include "api/ui.h"
#include "testutil.h"

static const unsigned char body[] = "x";

static djs_ui_asset_t asset(int gz, int br)
{
    djs_ui_asset_t a;
    memset(&a, 0, sizeof(a));
    a.path = "index.html";
    a.mime = "text/html";
    a.etag = "00";
    a.body[DJS_UI_IDENTITY] = body;
    a.body[DJS_UI_GZIP] = gz ? body : NULL;
    a.body[DJS_UI_BROTLI] = br ? body : NULL;
    return a;
}

static int pick(const char *accept, const djs_ui_asset_t *a)
{
    return djs_ui_pick_encoding(accept, accept ? strlen(accept) : 0, a);
}

START_TEST(encoding_prefers_brotli_then_gzip)
{
    djs_ui_asset_t all = asset(1, 1), gz = asset(1, 0), none = asset(0, 0);
    ck_assert_int_eq(pick("gzip, deflate, br", &all), DJS_UI_BROTLI);
    ck_assert_int_eq(pick("gzip, deflate, br", &gz), DJS_UI_GZIP);
    ck_assert_int_eq(pick("gzip, deflate, br", &none), DJS_UI_IDENTITY);
    ck_assert_int_eq(pick("gzip", &all), DJS_UI_GZIP);
    ck_assert_int_eq(pick("br", &gz), DJS_UI_IDENTITY);
    ck_assert_int_eq(pick(NULL, &all), DJS_UI_IDENTITY);
    ck_assert_int_eq(pick("", &all), DJS_UI_IDENTITY);
    ck_assert_int_eq(pick("GZIP", &all), DJS_UI_GZIP); /* codings are case-insensitive */
}
END_TEST

START_TEST(encoding_honours_q)
{
    djs_ui_asset_t all = asset(1, 1), none = asset(0, 0);
    ck_assert_int_eq(pick("br;q=0, gzip", &all), DJS_UI_GZIP);
    ck_assert_int_eq(pick("br;q=0.5, gzip;q=0.9", &all), DJS_UI_GZIP);
    ck_assert_int_eq(pick("br;q=0.9, gzip;q=0.5", &all), DJS_UI_BROTLI);
    ck_assert_int_eq(pick("gzip;q=0, br;q=0", &all), DJS_UI_IDENTITY);
    ck_assert_int_eq(pick("*", &all), DJS_UI_BROTLI);
    ck_assert_int_eq(pick("*;q=0", &all), -1);         /* identity refused too */
    ck_assert_int_eq(pick("identity;q=0", &none), -1); /* nothing acceptable */
    ck_assert_int_eq(pick("identity;q=0, gzip", &none), -1);
    ck_assert_int_eq(pick("identity;q=0, gzip", &all), DJS_UI_GZIP);
    ck_assert_int_eq(pick("gzip;q=1.0", &all), DJS_UI_GZIP);
}
END_TEST

static int inm(const char *h, const char *etag)
{
    return djs_ui_etag_matches(h, strlen(h), etag);
}

START_TEST(if_none_match)
{
    const char *e = "\"abc-br\"";
    ck_assert(inm("\"abc-br\"", e));
    ck_assert(inm("\"x\", \"abc-br\"", e));
    ck_assert(inm("W/\"abc-br\"", e));
    ck_assert(inm("*", e));
    ck_assert(!inm("\"abc-gz\"", e));
    ck_assert(!inm("\"abc\"", e));
    ck_assert(!inm("abc-br", e));
    ck_assert(!inm("", e));
    ck_assert(inm("\"abc-br\"  ", e));
}
END_TEST

static int ok(const char *p)
{
    return djs_ui_path_ok(p, strlen(p));
}

START_TEST(paths)
{
    ck_assert(ok(""));
    ck_assert(ok("index.html"));
    ck_assert(ok("assets/index-Ab12.js"));
    ck_assert(ok("jobs/j-1"));
    ck_assert(ok("jobs/"));
    ck_assert(!ok(".."));
    ck_assert(!ok("../etc/passwd"));
    ck_assert(!ok("assets/../../x"));
    ck_assert(!ok("./index.html"));
    ck_assert(!ok("a//b"));
    ck_assert(!ok("/abs"));
    ck_assert(!ok(".env"));
    ck_assert(!ok("a\\b"));
    ck_assert(!ok("%2e%2e/x"));
    ck_assert(!djs_ui_path_ok("a\0b", 3));
    ck_assert(djs_ui_is_app_route("jobs/j-1", 8));
    ck_assert(djs_ui_is_app_route("", 0));
    ck_assert(!djs_ui_is_app_route("assets/x.js", 11));
    ck_assert(!djs_ui_is_app_route("favicon.svg", 11));
    ck_assert(djs_ui_is_app_route("a.b/c", 5)); /* only the last segment counts */
}
END_TEST

/* The generated table: index.html is there, every entry has an identity
 * body and a 32-hex ETag, compressed bodies are smaller, hashed names are
 * immutable and index.html is not. */
START_TEST(embedded_table)
{
    ck_assert_uint_gt(djs_ui_nassets, 0);
    const djs_ui_asset_t *idx = djs_ui_find("index.html", 10);
    ck_assert_ptr_nonnull(idx);
    ck_assert(!idx->immutable);
    ck_assert_str_eq(idx->mime, "text/html; charset=utf-8");
    ck_assert_ptr_null(djs_ui_find("index.htm", 9));
    ck_assert_ptr_null(djs_ui_find("nope.js", 7));
    for (size_t i = 0; i < djs_ui_nassets; i++) {
        const djs_ui_asset_t *a = &djs_ui_assets[i];
        ck_assert_ptr_nonnull(a->body[DJS_UI_IDENTITY]);
        ck_assert_uint_eq(strlen(a->etag), 32);
        ck_assert_uint_eq(strspn(a->etag, "0123456789abcdef"), 32);
        ck_assert(djs_ui_path_ok(a->path, strlen(a->path)));
        for (int e = DJS_UI_GZIP; e < DJS_UI_NENC; e++)
            if (a->body[e] != NULL)
                ck_assert_uint_lt(a->len[e], a->len[DJS_UI_IDENTITY]);
        if (strncmp(a->path, "assets/", 7) == 0 && strchr(a->path + 7, '-') != NULL)
            ck_assert_msg(a->immutable, "%s is hashed but not immutable", a->path);
        ck_assert_ptr_eq(djs_ui_find(a->path, strlen(a->path)), a);
    }
    if (djs_ui_stub)
        ck_assert(memmem(idx->body[DJS_UI_IDENTITY], idx->len[DJS_UI_IDENTITY], "djs-ui", 6) != NULL);
}
END_TEST

static Suite *ui_suite(void)
{
    Suite *s = suite_create("ui");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, encoding_prefers_brotli_then_gzip);
    tcase_add_test(tc, encoding_honours_q);
    tcase_add_test(tc, if_none_match);
    tcase_add_test(tc, paths);
    tcase_add_test(tc, embedded_table);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(ui_suite)

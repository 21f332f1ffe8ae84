#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "tools/cli/servers.h"

static void parse_ok(djs_servers_t *s, const char *list)
{
    char err[256] = "";
    ck_assert_msg(djs_servers_parse(s, list, err, sizeof(err)) == 0, "%s: %s", list, err);
}

START_TEST(parse_one_and_lists)
{
    djs_servers_t s;
    parse_ok(&s, "http://127.0.0.1:8080/");
    ck_assert_uint_eq(s.n, 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://127.0.0.1:8080"); /* the trailing '/' goes, as before */
    djs_servers_dispose(&s);

    parse_ok(&s, "http://a:8081,https://b:8082/ , http://c:8083,http://a:8081");
    ck_assert_uint_eq(s.n, 3); /* blanks ignored, a repeat kept once */
    ck_assert_str_eq(s.url[0], "http://a:8081");
    ck_assert_str_eq(s.url[1], "https://b:8082");
    ck_assert_str_eq(s.url[2], "http://c:8083");
    ck_assert_str_eq(djs_servers_current(&s), "http://a:8081");
    djs_servers_dispose(&s);
    djs_servers_dispose(&s); /* twice is fine */

    parse_ok(&s, "https://[::1]:8443/djs");
    ck_assert_str_eq(djs_servers_current(&s), "https://[::1]:8443/djs");
    djs_servers_dispose(&s);
}
END_TEST

START_TEST(parse_refuses)
{
    static const char *const bad[] = {
        "",           "ftp://example.com", "example.com:8080",   "http://",          "http://:8080",
        "http://a:0", "http://a:65536",    "http://a:80x",       "http://a b",       "http://a\r\nX: y",
        "http://a,",  ",http://a",         "http://a,,http://b", "http://a,ftp://b", "HTTP://a",
        NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        djs_servers_t s;
        char err[256] = "";
        ck_assert_msg(djs_servers_parse(&s, bad[i], err, sizeof(err)) == DJS_EINVAL, "'%s' parsed", bad[i]);
        ck_assert_msg(strstr(err, "must be an http:// or https:// URL") != NULL, "'%s': %s", bad[i], err);
        ck_assert_uint_eq(s.n, 0);
        ck_assert_ptr_null(djs_servers_current(&s));
        djs_servers_dispose(&s);
    }
    /* too many, too long */
    char list[17 * 24] = "", one[32], err[256];
    for (int i = 0; i < 17; i++) {
        snprintf(one, sizeof(one), "%shttp://h%d:80", i ? "," : "", i);
        strcat(list, one);
    }
    djs_servers_t s;
    ck_assert_int_eq(djs_servers_parse(&s, list, err, sizeof(err)), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "at most 16 URLs"));
    char *p = strrchr(list, ',');
    *p = '\0';
    parse_ok(&s, list);
    ck_assert_uint_eq(s.n, 16);
    djs_servers_dispose(&s);
    char longurl[DJS_SERVERS_URL_MAX + 16] = "http://h/";
    memset(longurl + 9, 'x', DJS_SERVERS_URL_MAX);
    longurl[DJS_SERVERS_URL_MAX + 9] = '\0';
    ck_assert_int_eq(djs_servers_parse(&s, longurl, err, sizeof(err)), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "at most 800 bytes"));
}
END_TEST

START_TEST(origins)
{
    ck_assert(djs_servers_same_origin("http://a:80/x", "http://A"));
    ck_assert(djs_servers_same_origin("https://a/x?y", "https://a:443"));
    ck_assert(djs_servers_same_origin("http://user:pw@a:81", "http://a:81/api"));
    ck_assert(djs_servers_same_origin("http://[::1]:8080/a", "http://[::1]:8080"));
    ck_assert(djs_servers_same_origin("HTTP://a:8080", "http://a:8080"));
    ck_assert(!djs_servers_same_origin("http://a:8080", "https://a:8080"));
    ck_assert(!djs_servers_same_origin("http://a:8080", "http://a:8081"));
    ck_assert(!djs_servers_same_origin("http://a", "http://ab"));
    ck_assert(!djs_servers_same_origin("http://[::1]:80", "http://[::2]:80"));
    ck_assert(!djs_servers_same_origin("http://a", "/api/v1/jobs"));
    ck_assert(!djs_servers_same_origin("ftp://a", "ftp://a"));
    ck_assert(!djs_servers_same_origin("http://a:x", "http://a:x"));
}
END_TEST

START_TEST(rel_of_urls)
{
    djs_servers_t s;
    parse_ok(&s, "http://a:1,http://b:2/djs");
    ck_assert_str_eq(djs_servers_rel(&s, "http://a:1/api/v1/jobs?x=1"), "/api/v1/jobs?x=1");
    ck_assert_str_eq(djs_servers_rel(&s, "http://b:2/djs/api/v1/jobs"), "/api/v1/jobs");
    ck_assert_str_eq(djs_servers_rel(&s, "http://a:1"), "");
    ck_assert_ptr_null(djs_servers_rel(&s, "http://a:10/api"));
    ck_assert_ptr_null(djs_servers_rel(&s, "http://b:2/djsx/api"));
    ck_assert_ptr_null(djs_servers_rel(&s, "http://c:3/api"));
    djs_servers_dispose(&s);
}
END_TEST

/* The Location rule: only http(s), and only the list's origins unless the list has one URL. */
START_TEST(location_rule)
{
    djs_servers_t s;
    parse_ok(&s, "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103");
    ck_assert(djs_servers_may_follow(&s, "http://127.0.0.1:8102/api/v1/workers"));
    ck_assert(djs_servers_may_follow(&s, "http://127.0.0.1:8103/api/v1/workers/x/poll?wait=25"));
    ck_assert(!djs_servers_may_follow(&s, "http://127.0.0.1:8104/api/v1/workers"));
    ck_assert(!djs_servers_may_follow(&s, "https://127.0.0.1:8102/api/v1/workers")); /* another scheme: another origin */
    ck_assert(!djs_servers_may_follow(&s, "http://evil.example/api/v1/workers"));
    ck_assert(!djs_servers_may_follow(&s, "/api/v1/workers")); /* relative */
    ck_assert(!djs_servers_may_follow(&s, "ftp://127.0.0.1:8102/x"));
    ck_assert(!djs_servers_may_follow(&s, "file:///etc/passwd"));
    ck_assert(!djs_servers_may_follow(&s, "http://127.0.0.1:8102/a b"));
    ck_assert(!djs_servers_may_follow(&s, ""));
    djs_servers_dispose(&s);

    parse_ok(&s, "http://127.0.0.1:8101");
    ck_assert(djs_servers_may_follow(&s, "http://10.0.0.7:8080/api/v1/jobs")); /* one URL: any http(s) */
    ck_assert(djs_servers_may_follow(&s, "https://leader.example/api/v1/jobs"));
    ck_assert(!djs_servers_may_follow(&s, "gopher://10.0.0.7/x"));
    ck_assert(!djs_servers_may_follow(&s, "//10.0.0.7/x"));
    char big[DJS_SERVERS_LOCATION_MAX + 64] = "http://h/";
    memset(big + 9, 'x', DJS_SERVERS_LOCATION_MAX);
    big[DJS_SERVERS_LOCATION_MAX + 9] = '\0';
    ck_assert(!djs_servers_may_follow(&s, big));
    djs_servers_dispose(&s);
}
END_TEST

START_TEST(learn_the_leader)
{
    djs_servers_t s;
    parse_ok(&s, "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103");
    const char *u = "http://127.0.0.1:8101/api/v1/workers/w/poll?wait=25";
    ck_assert_int_eq(djs_servers_learn(&s, u, "http://127.0.0.1:8103/api/v1/workers/w/poll?wait=25"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://127.0.0.1:8103");
    ck_assert_ptr_null(s.learned);
    ck_assert_int_eq(djs_servers_learn(&s, u, "http://127.0.0.1:8103/api/v1/workers/w/poll?wait=25"), 0); /* no change */
    /* a leader outside the list of three is not learned (may_follow refuses it anyway) */
    ck_assert_int_eq(djs_servers_learn(&s, u, "http://10.0.0.9:1/api/v1/workers/w/poll?wait=25"), 0);
    ck_assert_str_eq(djs_servers_current(&s), "http://127.0.0.1:8103");
    djs_servers_dispose(&s);

    /* one URL: the leader's base, from the Location without the request's path */
    parse_ok(&s, "http://lb:80/djs");
    ck_assert_int_eq(djs_servers_learn(&s, "http://lb:80/djs/api/v1/jobs?x=1", "http://node2:8082/djs/api/v1/jobs?x=1"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://node2:8082/djs");
    ck_assert_str_eq(djs_servers_rel(&s, "http://node2:8082/djs/api/v1/jobs"), "/api/v1/jobs");
    ck_assert_int_eq(djs_servers_learn(&s, "http://node2:8082/djs/api/v1/jobs", "http://node2:8082/djs/api/v1/jobs"), 0);
    /* a Location that does not end with the path: its origin */
    ck_assert_int_eq(djs_servers_learn(&s, "http://node2:8082/djs/api/v1/jobs", "http://node3:8083/elsewhere"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://node3:8083");
    /* back to the listed one */
    ck_assert_int_eq(djs_servers_learn(&s, "http://node3:8083/api/v1/jobs", "http://lb/djs/api/v1/jobs"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://lb:80/djs");
    ck_assert_ptr_null(s.learned);
    ck_assert_int_eq(djs_servers_learn(&s, "http://lb:80/djs/x", "not a url"), 0);
    djs_servers_dispose(&s);
}
END_TEST

START_TEST(rotation)
{
    djs_servers_t s;
    parse_ok(&s, "http://a:1,http://b:2,http://c:3");
    ck_assert_int_eq(djs_servers_failed(&s, "http://a:1/api/v1/workers"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://b:2");
    /* more calls in flight to a fail late: b stays current */
    ck_assert_int_eq(djs_servers_failed(&s, "http://a:1/api/v1/workers/w/heartbeat"), 0);
    ck_assert_str_eq(djs_servers_current(&s), "http://b:2");
    ck_assert_int_eq(djs_servers_failed(&s, "http://b:2/x"), 1);
    ck_assert_int_eq(djs_servers_failed(&s, "http://c:3/x"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://a:1"); /* round robin */
    /* a redirect to c, then c dies: on to a */
    ck_assert_int_eq(djs_servers_learn(&s, "http://a:1/x", "http://c:3/x"), 1);
    ck_assert_int_eq(djs_servers_failed(&s, "http://c:3/x"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://a:1");
    djs_servers_dispose(&s);

    parse_ok(&s, "http://a:1");
    ck_assert_int_eq(djs_servers_failed(&s, "http://a:1/x"), 0); /* nowhere else */
    ck_assert_str_eq(djs_servers_current(&s), "http://a:1");
    ck_assert_int_eq(djs_servers_learn(&s, "http://a:1/x", "http://z:9/x"), 1);
    ck_assert_str_eq(djs_servers_current(&s), "http://z:9");
    ck_assert_int_eq(djs_servers_failed(&s, "http://a:1/x"), 0); /* not the current one */
    ck_assert_int_eq(djs_servers_failed(&s, "http://z:9/x"), 1); /* the learned leader died: back to the list */
    ck_assert_str_eq(djs_servers_current(&s), "http://a:1");
    ck_assert_ptr_null(s.learned);
    djs_servers_dispose(&s);
}
END_TEST

START_TEST(unavailable_answers)
{
    const char *noleader = "{\"type\":\"https://djs.dev/problems/no-leader\",\"title\":\"No cluster leader\",\"status\":503}";
    const char *notleader = "{\"type\":\"https://djs.dev/problems/not-leader\",\"status\":503}";
    const char *full = "{\"type\":\"https://djs.dev/problems/storage-full\",\"status\":503}";
    ck_assert(djs_servers_unavailable(0, NULL, 0));
    ck_assert(djs_servers_unavailable(503, noleader, strlen(noleader)));
    ck_assert(djs_servers_unavailable(503, notleader, strlen(notleader)));
    ck_assert(djs_servers_unavailable(307, notleader, strlen(notleader)));
    ck_assert(djs_servers_unavailable(308, "", 0));
    ck_assert(!djs_servers_unavailable(503, full, strlen(full)));
    ck_assert(!djs_servers_unavailable(503, "oops", 4));
    ck_assert(!djs_servers_unavailable(503, NULL, 0));
    ck_assert(!djs_servers_unavailable(500, noleader, strlen(noleader)));
    ck_assert(!djs_servers_unavailable(200, "{}", 2));
    ck_assert(!djs_servers_unavailable(409, "{}", 2));
}
END_TEST

static Suite *cli_servers_suite(void)
{
    Suite *s = suite_create("cli_servers");
    TCase *tc = tcase_create("servers");
    tcase_add_test(tc, parse_one_and_lists);
    tcase_add_test(tc, parse_refuses);
    tcase_add_test(tc, origins);
    tcase_add_test(tc, rel_of_urls);
    tcase_add_test(tc, location_rule);
    tcase_add_test(tc, learn_the_leader);
    tcase_add_test(tc, rotation);
    tcase_add_test(tc, unavailable_answers);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(cli_servers_suite)

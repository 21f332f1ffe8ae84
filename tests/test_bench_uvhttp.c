#include <string.h>

#include "testutil.h"
#include "tools/bench/uvhttp.h"

/* Feed text to the framer in pieces of step bytes: the read at which the
 * first answer was whole (bytes in by then), or 0 if it never was. */
static size_t whole_after(const char *text, size_t step, size_t *total, size_t *head)
{
    size_t scanned = 0, len = strlen(text);
    *total = *head = 0;
    for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
        if (djs_bench_http_answer(text, have, &scanned, total, head))
            return have;
        if (have == len)
            return 0;
    }
}

START_TEST(framing_by_content_length)
{
    const char *a = "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}";
    size_t total, head, hl = strlen(a) - 7;
    for (size_t step = 1; step <= strlen(a); step++) {                     /* the head split anywhere, even inside "\r\n\r\n" */
        ck_assert_uint_eq(whole_after(a, step, &total, &head), strlen(a)); /* whole at the last byte, not before */
        ck_assert_uint_eq(total, strlen(a));
        ck_assert_uint_eq(head, hl);
    }
    ck_assert_int_eq(djs_bench_http_status(a, strlen(a)), 201);
    ck_assert_int_eq(djs_bench_http_status(a, 11), 0);
}
END_TEST

START_TEST(framing_edges)
{
    size_t total, head;
    /* no Content-Length: the head alone */
    const char *h = "HTTP/1.1 204 No Content\r\nServer: h2o\r\n\r\n";
    ck_assert_uint_eq(whole_after(h, 1000, &total, &head), strlen(h));
    ck_assert_uint_eq(total, strlen(h));
    /* the header name in any case, blanks after the colon */
    const char *u = "HTTP/1.1 200 OK\r\nCONTENT-LENGTH:    3\r\n\r\nabc";
    ck_assert_uint_eq(whole_after(u, 1000, &total, &head), strlen(u));
    ck_assert_uint_eq(total - head, 3);
    /* one byte short of the body: not yet */
    size_t scanned = 0;
    total = head = 0;
    ck_assert_int_eq(djs_bench_http_answer(u, strlen(u) - 1, &scanned, &total, &head), 0);
    ck_assert_int_eq(djs_bench_http_answer(u, strlen(u), &scanned, &total, &head), 1);
    /* two answers back to back: the first is framed alone */
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 503 X\r\nContent-Length: 0\r\n\r\n";
    scanned = total = head = 0;
    ck_assert_int_eq(djs_bench_http_answer(two, strlen(two), &scanned, &total, &head), 1);
    ck_assert_uint_eq(total, strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    const char *second = two + total;
    scanned = total = head = 0;
    ck_assert_int_eq(djs_bench_http_answer(second, strlen(second), &scanned, &total, &head), 1);
    ck_assert_int_eq(djs_bench_http_status(second, strlen(second)), 503);
    /* a head still coming */
    scanned = total = head = 0;
    ck_assert_int_eq(djs_bench_http_answer("HTTP/1.1 200 OK\r\n\r", 18, &scanned, &total, &head), 0);
    ck_assert_uint_eq(total, 0);
}
END_TEST

static Suite *bench_uvhttp_suite(void)
{
    Suite *s = suite_create("bench_uvhttp");
    TCase *tc = tcase_create("framing");
    tcase_add_test(tc, framing_by_content_length);
    tcase_add_test(tc, framing_edges);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(bench_uvhttp_suite)

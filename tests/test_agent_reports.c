#include <jansson.h>
#include <string.h>

#include "core/alloc.h"
#include "testutil.h"
#include "tools/agent/reports.h"
#include "tools/agent/retry.h"

START_TEST(items_by_action)
{
    json_t *res = json_pack("{s:i}", "rows", 3);
    json_t *s = djs_agent_report_item("J1", 2, "start", res, "e");
    json_t *c = djs_agent_report_item("J1", 2, "complete", res, "e");
    json_t *f = djs_agent_report_item("J1", 3, "fail", NULL, "exit status 3");
    ck_assert_str_eq(json_string_value(json_object_get(s, "action")), "start");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "attempt")), 2);
    ck_assert_ptr_null(json_object_get(s, "result"));
    ck_assert_ptr_null(json_object_get(s, "error"));
    ck_assert(json_equal(json_object_get(c, "result"), res));
    ck_assert_ptr_null(json_object_get(c, "error"));
    ck_assert_str_eq(json_string_value(json_object_get(f, "error")), "exit status 3");
    ck_assert_ptr_null(json_object_get(f, "result"));
    ck_assert_int_eq(res->refcount, 2); /* the complete item holds a reference */
    json_decref(s);
    json_decref(c);
    json_decref(f);
    json_decref(res);
}
END_TEST

START_TEST(body_is_the_items_in_order)
{
    djs_agent_batch_t b;
    djs_agent_batch_init(&b);
    char *empty = djs_agent_batch_finish(&b);
    ck_assert_str_eq(empty, "{\"reports\":[]}");
    djs_free(empty);
    djs_agent_batch_init(&b);
    for (int i = 1; i <= 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "J%d", i);
        json_t *it = djs_agent_report_item(id, 1, "start", NULL, NULL);
        ck_assert_int_eq(djs_agent_batch_add(&b, it), 0);
        json_decref(it);
    }
    ck_assert_uint_eq(b.n, 3);
    char *body = djs_agent_batch_finish(&b);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *r = json_object_get(j, "reports");
    ck_assert_uint_eq(json_array_size(r), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(r, 2), "jobId")), "J3");
    json_decref(j);
    djs_free(body);
}
END_TEST

START_TEST(batch_stops_at_the_count)
{
    djs_agent_batch_t b;
    djs_agent_batch_init(&b);
    json_t *it = djs_agent_report_item("0190a0b0-0000-7000-8000-000000000000", 1, "start", NULL, NULL);
    for (int i = 0; i < DJS_AGENT_BATCH_MAX; i++)
        ck_assert_int_eq(djs_agent_batch_add(&b, it), 0);
    ck_assert_int_eq(djs_agent_batch_add(&b, it), DJS_ELIMIT); /* the 1001st goes in the next request */
    ck_assert_uint_eq(b.n, DJS_AGENT_BATCH_MAX);
    char *body = djs_agent_batch_finish(&b);
    json_t *j = json_loads(body, 0, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "reports")), DJS_AGENT_BATCH_MAX);
    json_decref(j);
    djs_free(body);
    json_decref(it);
}
END_TEST

START_TEST(batch_stops_at_the_bytes)
{
    size_t big = DJS_AGENT_BATCH_MAX_BYTES / 3;
    char *err = malloc(big + 1);
    memset(err, 'e', big);
    err[big] = '\0';
    json_t *it = djs_agent_report_item("J", 1, "fail", NULL, err);
    djs_agent_batch_t b;
    djs_agent_batch_init(&b);
    ck_assert_int_eq(djs_agent_batch_add(&b, it), 0);
    ck_assert_int_eq(djs_agent_batch_add(&b, it), 0);
    ck_assert_int_eq(djs_agent_batch_add(&b, it), DJS_ETOOBIG); /* three would pass the byte limit */
    char *body = djs_agent_batch_finish(&b);
    ck_assert_uint_le(strlen(body), DJS_AGENT_BATCH_MAX_BYTES);
    djs_free(body);
    json_decref(it);
    /* one report over the limit on its own still goes (alone) */
    char *huge = malloc(DJS_AGENT_BATCH_MAX_BYTES + 2);
    memset(huge, 'h', DJS_AGENT_BATCH_MAX_BYTES + 1);
    huge[DJS_AGENT_BATCH_MAX_BYTES + 1] = '\0';
    json_t *h = djs_agent_report_item("J", 1, "fail", NULL, huge);
    djs_agent_batch_init(&b);
    ck_assert_int_eq(djs_agent_batch_add(&b, h), 0);
    ck_assert_int_eq(djs_agent_batch_add(&b, h), DJS_ETOOBIG);
    djs_free(djs_agent_batch_finish(&b));
    json_decref(h);
    free(huge);
    free(err);
}
END_TEST

START_TEST(each_report_settled_on_its_own)
{
    json_t *ans = json_loads("{\"results\":[{\"status\":200},{\"status\":409,\"type\":\"stale-attempt\",\"detail\":\"attempt 1 "
                             "of 2\"},{\"status\":503},{}]}",
                             0, NULL);
    char why[128] = "request";
    long st = -1;
    ck_assert_int_eq(djs_agent_batch_result(200, ans, 0, &st, why, sizeof(why)), DJS_AGENT_ANS_OK);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(why, "request");
    ck_assert_int_eq(djs_agent_batch_result(200, ans, 1, &st, why, sizeof(why)), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(st, 409);
    ck_assert_str_eq(why, "409 stale-attempt: attempt 1 of 2");
    ck_assert_int_eq(djs_agent_batch_result(200, ans, 2, &st, why, sizeof(why)), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(st, 503);
    ck_assert_int_eq(djs_agent_batch_result(200, ans, 3, &st, why, sizeof(why)), DJS_AGENT_ANS_RETRY); /* no status */
    ck_assert_int_eq(djs_agent_batch_result(200, ans, 9, &st, why, sizeof(why)), DJS_AGENT_ANS_RETRY); /* fewer results */
    json_decref(ans);
}
END_TEST

START_TEST(request_status_settles_all)
{
    char why[64] = "502 from the proxy";
    long st = -1;
    ck_assert_int_eq(djs_agent_batch_result(502, NULL, 0, &st, why, sizeof(why)), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(st, 502);
    ck_assert_int_eq(djs_agent_batch_result(0, NULL, 5, &st, why, sizeof(why)), DJS_AGENT_ANS_RETRY);
    ck_assert_int_eq(djs_agent_batch_result(400, NULL, 1, &st, why, sizeof(why)), DJS_AGENT_ANS_FINAL);
    ck_assert_int_eq(st, 400);
    ck_assert_str_eq(why, "502 from the proxy"); /* the caller's description stays */
    /* a 2xx that is not JSON: every report retried */
    ck_assert_int_eq(djs_agent_batch_result(200, NULL, 0, &st, why, sizeof(why)), DJS_AGENT_ANS_RETRY);
}
END_TEST

static Suite *agent_reports_suite(void)
{
    Suite *s = suite_create("agent_reports");
    TCase *tc = tcase_create("reports");
    tcase_add_test(tc, items_by_action);
    tcase_add_test(tc, body_is_the_items_in_order);
    tcase_add_test(tc, batch_stops_at_the_count);
    tcase_add_test(tc, batch_stops_at_the_bytes);
    tcase_add_test(tc, each_report_settled_on_its_own);
    tcase_add_test(tc, request_status_settles_all);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(agent_reports_suite)

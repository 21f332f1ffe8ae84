#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tools/agent/lines.h"

static void feed(djs_agent_lines_t *l, const char *s)
{
    djs_agent_lines_feed(l, s, strlen(s));
}

static int last_is(const djs_agent_lines_t *l, const char *s)
{
    return l->last.len == strlen(s) && memcmp(l->last.base, s, l->last.len) == 0;
}

START_TEST(progress_parse_forms)
{
    int pct = -7;
    char step[32] = "untouched";
    ck_assert_int_eq(djs_agent_progress_parse("::progress 42 copying files", 27, &pct, step, sizeof(step)), 1);
    ck_assert_int_eq(pct, 42);
    ck_assert_str_eq(step, "copying files");
    ck_assert_int_eq(djs_agent_progress_parse("::progress\t12.5", 15, &pct, step, sizeof(step)), 1);
    ck_assert_int_eq(pct, 13); /* rounded */
    ck_assert_str_eq(step, "");
    ck_assert_int_eq(djs_agent_progress_parse("::progress 250 x", 16, &pct, step, sizeof(step)), 1);
    ck_assert_int_eq(pct, 100);
    ck_assert_int_eq(djs_agent_progress_parse("::progress -3", 13, &pct, step, sizeof(step)), 1);
    ck_assert_int_eq(pct, 0);
}
END_TEST

START_TEST(progress_parse_refuses)
{
    int pct = -7;
    char step[8] = "keep";
    const char *bad[] = {"::progress",      "::progress ",   "::progress abc", "::progress42",
                         "::progressive 4", " ::progress 4", "::progress nan", "progress 4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(djs_agent_progress_parse(bad[i], strlen(bad[i]), &pct, step, sizeof(step)) == 0, "%s", bad[i]);
    ck_assert_int_eq(pct, -7);
    ck_assert_str_eq(step, "keep");
    /* the step is cut to the buffer */
    ck_assert_int_eq(djs_agent_progress_parse("::progress 5 a long step", 24, &pct, step, sizeof(step)), 1);
    ck_assert_str_eq(step, "a long ");
}
END_TEST

START_TEST(progress_split_across_reads)
{
    djs_agent_lines_t l;
    djs_agent_lines_init(&l);
    ck_assert_int_eq(l.pct, -1);
    feed(&l, "::prog");
    ck_assert_int_eq(l.pending, 0);
    feed(&l, "ress 3");
    ck_assert_int_eq(l.pending, 0); /* no newline yet: not a line */
    feed(&l, "7 step one\r\n::progress 50");
    ck_assert_int_eq(l.pending, 1);
    ck_assert_int_eq(l.pct, 37);
    ck_assert_str_eq(l.step, "step one");
    l.pending = 0;
    djs_agent_lines_end(&l); /* the last line without its newline counts */
    ck_assert_int_eq(l.pending, 1);
    ck_assert_int_eq(l.pct, 50);
    djs_agent_lines_dispose(&l);
}
END_TEST

START_TEST(last_line_is_the_result)
{
    djs_agent_lines_t l;
    djs_agent_lines_init(&l);
    feed(&l, "hello\n  {\"n\": 1}  \n\n   \n");
    ck_assert(last_is(&l, "{\"n\": 1}")); /* trimmed; blank lines leave it */
    feed(&l, "tail");
    ck_assert(last_is(&l, "{\"n\": 1}"));
    djs_agent_lines_end(&l);
    ck_assert(last_is(&l, "tail"));
    ck_assert_int_eq(l.pending, 0);
    djs_agent_lines_dispose(&l);
}
END_TEST

START_TEST(overlong_line_is_neither)
{
    djs_agent_lines_t l;
    djs_agent_lines_init(&l);
    feed(&l, "{\"ok\":true}\n");
    size_t n = DJS_AGENT_LINE_MAX + 1;
    char *big = calloc(1, n + 1);
    memcpy(big, "::progress 10 ", 14);
    memset(big + 14, 'x', n - 14);
    djs_agent_lines_feed(&l, big, n / 2); /* split: the cap counts the whole line */
    djs_agent_lines_feed(&l, big + n / 2, n - n / 2);
    djs_agent_lines_feed(&l, "\n", 1);
    ck_assert_int_eq(l.pending, 0);
    ck_assert_uint_eq(l.last.len, 0); /* an overlong last line is no result */
    /* exactly at the cap is still a line */
    big[DJS_AGENT_LINE_MAX] = '\n';
    djs_agent_lines_feed(&l, big, DJS_AGENT_LINE_MAX + 1);
    ck_assert_int_eq(l.pending, 1);
    ck_assert_int_eq(l.pct, 10);
    ck_assert_uint_eq(l.last.len, DJS_AGENT_LINE_MAX);
    free(big);
    djs_agent_lines_dispose(&l);
}
END_TEST

static Suite *agent_lines_suite(void)
{
    Suite *s = suite_create("agent_lines");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, progress_parse_forms);
    tcase_add_test(tc, progress_parse_refuses);
    tcase_add_test(tc, progress_split_across_reads);
    tcase_add_test(tc, last_line_is_the_result);
    tcase_add_test(tc, overlong_line_is_neither);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(agent_lines_suite)

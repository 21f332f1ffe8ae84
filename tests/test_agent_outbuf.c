#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tools/agent/outbuf.h"

static char *filled(size_t n, char c)
{
    char *p = malloc(n);
    memset(p, c, n);
    return p;
}

START_TEST(chunks_at_and_around_the_cap)
{
    djs_agent_outbuf_t o;
    djs_agent_outbuf_init(&o);
    ck_assert_uint_eq(djs_agent_outbuf_chunk(&o), 0);
    ck_assert_int_eq(djs_agent_outbuf_due(&o, 0, 0), 0); /* nothing waits */
    char *b = filled(DJS_AGENT_OUT_CHUNK + 1, 'a');
    djs_agent_outbuf_append(&o, b, DJS_AGENT_OUT_CHUNK - 1);
    ck_assert_uint_eq(djs_agent_outbuf_chunk(&o), DJS_AGENT_OUT_CHUNK - 1);
    ck_assert_int_eq(djs_agent_outbuf_due(&o, 1, DJS_AGENT_OUT_PERIOD_MS - 1), 0); /* running, small, too soon */
    ck_assert_int_eq(djs_agent_outbuf_due(&o, 1, DJS_AGENT_OUT_PERIOD_MS), 1);
    ck_assert_int_eq(djs_agent_outbuf_due(&o, 0, 0), 1); /* flushing: at once */
    djs_agent_outbuf_append(&o, b, 1);
    ck_assert_uint_eq(djs_agent_outbuf_chunk(&o), DJS_AGENT_OUT_CHUNK); /* exactly a chunk */
    ck_assert_int_eq(djs_agent_outbuf_due(&o, 1, 0), 1);                /* a full chunk does not wait */
    djs_agent_outbuf_append(&o, b, 1);
    ck_assert_uint_eq(djs_agent_outbuf_chunk(&o), DJS_AGENT_OUT_CHUNK); /* one more byte: still one chunk */
    free(b);
    djs_agent_outbuf_dispose(&o);
}
END_TEST

START_TEST(acks_move_the_offset)
{
    djs_agent_outbuf_t o;
    djs_agent_outbuf_init(&o);
    djs_agent_outbuf_append(&o, "0123456789", 10);
    ck_assert_int_eq(djs_agent_outbuf_ack(&o, 4), 0);
    ck_assert_uint_eq(o.off, 4);
    ck_assert_uint_eq(o.buf.len, 6);
    ck_assert_int_eq(memcmp(o.buf.base, "456789", 6), 0);
    ck_assert_int_eq(djs_agent_outbuf_ack(&o, 3), DJS_ERANGE); /* behind: nothing changes */
    ck_assert_uint_eq(o.off, 4);
    ck_assert_uint_eq(o.buf.len, 6);
    ck_assert_int_eq(djs_agent_outbuf_ack(&o, 4), 0); /* the same offset again: nothing to drop */
    ck_assert_uint_eq(o.buf.len, 6);
    ck_assert_int_eq(djs_agent_outbuf_ack(&o, 100), 0); /* the server has more than we kept (a retry after a lost answer) */
    ck_assert_uint_eq(o.off, 100);
    ck_assert_uint_eq(o.buf.len, 0);
    djs_agent_outbuf_dispose(&o);
}
END_TEST

START_TEST(overflow_drops_and_marks)
{
    djs_agent_outbuf_t o;
    djs_agent_outbuf_init(&o);
    char *b = filled(DJS_AGENT_OUT_BUF_CAP, 'x');
    djs_agent_outbuf_append(&o, b, DJS_AGENT_OUT_BUF_CAP - 10);
    djs_agent_outbuf_append(&o, b, 25); /* 10 fit, 15 dropped */
    ck_assert_uint_eq(o.buf.len, DJS_AGENT_OUT_BUF_CAP);
    ck_assert_uint_eq(o.dropped, 15);
    djs_agent_outbuf_append(&o, b, 5); /* still no room: counted */
    ck_assert_uint_eq(o.dropped, 20);
    ck_assert_int_eq(djs_agent_outbuf_ack(&o, 1000), 0); /* room for the marker now */
    djs_agent_outbuf_append(&o, "tail", 4);
    ck_assert_uint_eq(o.dropped, 0);
    const char *m = "\n[djs agent: 20 bytes of output dropped]\n";
    size_t ml = strlen(m), at = DJS_AGENT_OUT_BUF_CAP - 1000;
    ck_assert_uint_eq(o.buf.len, at + ml + 4);
    ck_assert_int_eq(memcmp(o.buf.base + at, m, ml), 0);
    ck_assert_int_eq(memcmp(o.buf.base + at + ml, "tail", 4), 0);
    free(b);
    djs_agent_outbuf_dispose(&o);
}
END_TEST

START_TEST(end_marks_and_kill_silences)
{
    djs_agent_outbuf_t o;
    djs_agent_outbuf_init(&o);
    char *b = filled(DJS_AGENT_OUT_BUF_CAP + 7, 'y');
    djs_agent_outbuf_append(&o, b, DJS_AGENT_OUT_BUF_CAP + 7);
    ck_assert_uint_eq(o.dropped, 7);
    djs_agent_outbuf_end(&o); /* the marker goes in even over the cap */
    ck_assert_uint_eq(o.dropped, 0);
    ck_assert_uint_gt(o.buf.len, DJS_AGENT_OUT_BUF_CAP);
    djs_agent_outbuf_end(&o); /* nothing dropped since: no second marker */
    size_t len = o.buf.len;
    djs_agent_outbuf_end(&o);
    ck_assert_uint_eq(o.buf.len, len);
    djs_agent_outbuf_kill(&o);
    ck_assert_uint_eq(o.buf.len, 0);
    djs_agent_outbuf_append(&o, "more", 4);
    ck_assert_uint_eq(o.buf.len, 0);
    ck_assert_uint_eq(djs_agent_outbuf_chunk(&o), 0);
    ck_assert_int_eq(djs_agent_outbuf_due(&o, 0, 1000000), 0);
    free(b);
    djs_agent_outbuf_dispose(&o);
}
END_TEST

static Suite *agent_outbuf_suite(void)
{
    Suite *s = suite_create("agent_outbuf");
    TCase *tc = tcase_create("outbuf");
    tcase_add_test(tc, chunks_at_and_around_the_cap);
    tcase_add_test(tc, acks_move_the_offset);
    tcase_add_test(tc, overflow_drops_and_marks);
    tcase_add_test(tc, end_marks_and_kill_silences);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(agent_outbuf_suite)

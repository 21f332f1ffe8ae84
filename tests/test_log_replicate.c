/* The replicated log (eventlog/log.h, opts.replicate): a leader's batches
 * wait for their commit before they reach LMDB; a follower checks and
 * stores committed entries; what was stored already is skipped; gaps,
 * tampering and another leader's entry over our pending batch are refused;
 * output chunks travel with the events; a snapshot waits for the events
 * it covers. No Raft here: the test plays the consensus, handing the
 * captured entries to djs_log_commit_entry in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/event.h"
#include "eventlog/log.h"
#include "logtest.h"
#include "testutil.h"

/* The entries a leader proposed, in order. */
typedef struct captured {
    uint8_t *e[64];
    size_t len[64];
    uint64_t last[64];
    int n;
    int refuse; /* answer DJS_ENOTLEADER: consensus refused */
} captured_t;

static int capture(void *arg, const void *entry, size_t len, uint64_t last_seq)
{
    captured_t *c = arg;
    if (c->refuse)
        return DJS_ENOTLEADER;
    ck_assert_int_lt(c->n, 64);
    c->e[c->n] = djs_malloc(len + 8);
    memcpy(c->e[c->n], entry, len);
    c->len[c->n] = len;
    c->last[c->n] = last_seq;
    c->n++;
    return 0;
}

static djs_log_t *open_replicated(const char *dir, captured_t *c)
{
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.replicate = capture;
    o.replicate_arg = c;
    djs_log_t *log = NULL;
    ck_assert_int_eq(djs_log_open(&log, dir, &o), 0);
    return log;
}

/* Events seen by on_new, in order. */
typedef struct seen {
    uint64_t seqs[256];
    int n;
} seen_t;

static int on_new(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    seen_t *s = arg;
    djs_event_t ev;
    ck_assert_int_eq(djs_event_decode(rec, len, &ev), 0);
    ck_assert_uint_eq(ev.seq, seq);
    s->seqs[s->n++] = seq;
    return 0;
}

static void append_events(djs_log_t *log, uint64_t first, int n)
{
    for (int i = 0; i < n; i++) {
        djs_event_t ev;
        ck_assert_int_eq(lt_append(log, NULL, first + (uint64_t)i, 0, &ev), 0);
        ck_assert_uint_eq(ev.seq, first + (uint64_t)i);
    }
}

static void free_captured(captured_t *c)
{
    for (int i = 0; i < c->n; i++)
        djs_free(c->e[i]);
}

static void on_answered(void *arg, uint64_t seq, int status)
{
    ck_assert_int_eq(status, 0);
    (void)seq;
    (*(int *)arg)++;
}

START_TEST(leader_durable_only_once_committed)
{
    captured_t c = {0};
    djs_log_t *log = open_replicated(tu_tmpdir(), &c);
    djs_event_t ev;
    ck_assert_int_eq(lt_append(log, NULL, 1, 0, &ev), DJS_ENOTLEADER); /* a follower appends nothing */
    djs_log_set_leader(log, 1);
    append_events(log, 1, 3);
    djs_log_flush(log);
    ck_assert_int_eq(c.n, 1);
    ck_assert_uint_eq(c.last[0], 3);
    ck_assert_uint_eq(djs_log_pending(log), 1);
    ck_assert_int_eq(djs_log_sync(log), 0); /* returns: nothing was handed to the writer */
    ck_assert_uint_eq(djs_log_durable_seq(log), 0);
    ck_assert_uint_eq(djs_log_committed_seq(log), 0);
    /* a second batch while the first waits */
    append_events(log, 4, 2);
    djs_log_flush(log);
    ck_assert_int_eq(c.n, 2);
    int answered = 0;
    djs_log_when_durable(log, 3, on_answered, &answered);
    djs_log_when_durable(log, 4, on_answered, &answered);
    ck_assert_int_eq(answered, 0); /* not committed: no answer */
    ck_assert_int_eq(djs_log_commit_entry(log, c.e[0], c.len[0], NULL, NULL), 0);
    ck_assert_uint_eq(djs_log_pending(log), 1);
    djs_log_when_durable(log, 1, on_answered, &answered); /* committed: answered at once (no loop here) */
    ck_assert_int_eq(answered, 2);
    ck_assert_int_eq(djs_log_wait_durable(log, 3), 0);
    ck_assert_uint_eq(djs_log_durable_seq(log), 3);
    ck_assert_uint_eq(djs_log_committed_seq(log), 3);
    ck_assert_int_eq(djs_log_commit_entry(log, c.e[1], c.len[1], NULL, NULL), 0);
    ck_assert_int_eq(answered, 2); /* seq 4: not before its own commit */
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(answered, 3);
    ck_assert_uint_eq(djs_log_durable_seq(log), 5);
    ck_assert_uint_eq(djs_log_pending(log), 0);
    djs_log_close(log);
    free_captured(&c);
}
END_TEST

START_TEST(follower_stores_checks_and_skips)
{
    captured_t c = {0}, none = {0};
    djs_log_t *lead = open_replicated(tu_tmpdir(), &c);
    djs_log_set_leader(lead, 1);
    append_events(lead, 1, 4);
    djs_log_flush(lead);
    append_events(lead, 5, 3);
    djs_log_flush(lead);
    for (int i = 0; i < c.n; i++)
        ck_assert_int_eq(djs_log_commit_entry(lead, c.e[i], c.len[i], NULL, NULL), 0);
    ck_assert_int_eq(djs_log_sync(lead), 0);

    const char *fdir = tu_tmpdir();
    djs_log_t *fol = open_replicated(fdir, &none);
    seen_t seen = {0};
    for (int i = 0; i < c.n; i++)
        ck_assert_int_eq(djs_log_commit_entry(fol, c.e[i], c.len[i], on_new, &seen), 0);
    ck_assert_int_eq(seen.n, 7);
    for (int i = 0; i < 7; i++)
        ck_assert_uint_eq(seen.seqs[i], (uint64_t)i + 1);
    ck_assert_int_eq(djs_log_sync(fol), 0);
    ck_assert_uint_eq(djs_log_durable_seq(fol), 7);
    uint8_t a[DJS_HASH_LEN], b[DJS_HASH_LEN];
    ck_assert_int_eq(djs_log_hash_at(lead, 7, a), 0);
    ck_assert_int_eq(djs_log_hash_at(fol, 7, b), 0);
    ck_assert_mem_eq(a, b, DJS_HASH_LEN);
    ck_assert_int_eq(none.n, 0); /* a follower proposes nothing */
    djs_log_close(fol);

    /* a restart: consensus replays entries this node stored: checked, skipped */
    fol = open_replicated(fdir, &none);
    seen.n = 0;
    for (int i = 0; i < c.n; i++)
        ck_assert_int_eq(djs_log_commit_entry(fol, c.e[i], c.len[i], on_new, &seen), 0);
    ck_assert_int_eq(seen.n, 0);
    ck_assert_uint_eq(djs_log_last_seq(fol), 7);
    djs_log_close(fol);
    djs_log_close(lead);
    free_captured(&c);
}
END_TEST

START_TEST(gaps_tampering_and_padding)
{
    captured_t c = {0}, none = {0};
    djs_log_t *lead = open_replicated(tu_tmpdir(), &c);
    djs_log_set_leader(lead, 1);
    append_events(lead, 1, 2);
    djs_log_flush(lead);
    append_events(lead, 3, 2);
    djs_log_flush(lead);
    ck_assert_int_eq(c.n, 2);

    djs_log_t *fol = open_replicated(tu_tmpdir(), &none);
    /* the second entry first: a gap */
    ck_assert_int_eq(djs_log_commit_entry(fol, c.e[1], c.len[1], NULL, NULL), DJS_ESEQGAP);
    ck_assert_uint_eq(djs_log_last_seq(fol), 0);
    /* a flipped byte in the last record's body: the chain refuses it */
    uint8_t *t = djs_malloc(c.len[0]);
    memcpy(t, c.e[0], c.len[0]);
    t[c.len[0] - 40] ^= 0x01;
    int rc = djs_log_commit_entry(fol, t, c.len[0], NULL, NULL);
    ck_assert_msg(rc == DJS_ECHAIN || rc == DJS_ECORRUPT, "tampered entry: %s", djs_err_name(rc));
    djs_free(t);
    djs_log_close(fol);

    fol = open_replicated(tu_tmpdir(), &none);
    /* not a djs entry */
    ck_assert_int_eq(djs_log_commit_entry(fol, "XXXXXXXXXXXX", 12, NULL, NULL), DJS_ECORRUPT);
    /* zero padding to whole words is accepted; other trailing bytes are not */
    memset(c.e[0] + c.len[0], 0, 5);
    ck_assert_int_eq(djs_log_commit_entry(fol, c.e[0], c.len[0] + 5, NULL, NULL), 0);
    memset(c.e[1] + c.len[1], 0, 5);
    c.e[1][c.len[1] + 2] = 7;
    ck_assert_int_eq(djs_log_commit_entry(fol, c.e[1], c.len[1] + 5, NULL, NULL), DJS_ECORRUPT);
    ck_assert_int_eq(djs_log_commit_entry(fol, c.e[1], c.len[1], NULL, NULL), 0);
    ck_assert_int_eq(djs_log_sync(fol), 0);
    ck_assert_uint_eq(djs_log_durable_seq(fol), 4);
    djs_log_close(fol);
    djs_log_close(lead);
    free_captured(&c);
}
END_TEST

START_TEST(another_leaders_entry_over_ours)
{
    /* two logs that both believe they lead from the same start */
    captured_t a = {0}, b = {0};
    djs_log_t *la = open_replicated(tu_tmpdir(), &a), *lb = open_replicated(tu_tmpdir(), &b);
    djs_log_set_leader(la, 1);
    djs_log_set_leader(lb, 1);
    append_events(la, 1, 2);
    djs_log_flush(la);
    append_events(lb, 1, 3); /* other timestamps, other hashes */
    djs_log_flush(lb);
    ck_assert_int_eq(djs_log_commit_entry(la, b.e[0], b.len[0], NULL, NULL), DJS_ENOTLEADER);
    ck_assert_uint_eq(djs_log_durable_seq(la), 0);
    djs_log_close(la);
    djs_log_close(lb);
    free_captured(&a);
    free_captured(&b);
}
END_TEST

START_TEST(refused_proposal_fails_the_log)
{
    captured_t c = {0};
    djs_log_t *log = open_replicated(tu_tmpdir(), &c);
    djs_log_set_leader(log, 1);
    append_events(log, 1, 1);
    c.refuse = 1;
    djs_log_flush(log);
    ck_assert_int_eq(djs_log_status(log), DJS_ENOTLEADER);
    djs_event_t ev;
    ck_assert_int_eq(lt_append(log, NULL, 2, 0, &ev), DJS_ESTORAGE);
    djs_log_close(log);
}
END_TEST

START_TEST(output_chunks_travel_with_the_events)
{
    captured_t c = {0}, none = {0};
    djs_log_t *lead = open_replicated(tu_tmpdir(), &c);
    djs_log_set_leader(lead, 1);
    djs_id_t job = lt_entity(3);
    ck_assert_int_eq(djs_log_put_output(lead, &job, 0, "hello ", 6), 0);
    ck_assert_int_eq(djs_log_put_output(lead, &job, 6, "world", 5), 0);
    append_events(lead, 1, 1);
    djs_log_flush(lead);
    ck_assert_int_eq(c.n, 1);
    djs_log_t *fol = open_replicated(tu_tmpdir(), &none);
    ck_assert_int_eq(djs_log_put_output(fol, &job, 0, "x", 1), DJS_ENOTLEADER);
    ck_assert_int_eq(djs_log_commit_entry(fol, c.e[0], c.len[0], NULL, NULL), 0);
    ck_assert_int_eq(djs_log_sync(fol), 0);
    djs_buf_t out;
    djs_buf_init(&out);
    uint64_t next = 0;
    ck_assert_int_eq(djs_log_read_output(fol, &job, 0, 1024, &out, &next), 0);
    ck_assert_uint_eq(next, 11);
    ck_assert_mem_eq(out.base, "hello world", 11);
    djs_buf_dispose(&out);
    djs_log_close(fol);
    djs_log_close(lead);
    free_captured(&c);
}
END_TEST

START_TEST(snapshot_waits_for_its_events)
{
    captured_t c = {0};
    djs_log_t *log = open_replicated(tu_tmpdir(), &c);
    djs_log_set_leader(log, 1);
    append_events(log, 1, 3);
    ck_assert_int_eq(djs_log_put_snapshot(log, 3, "snap", 4, 2), 0);
    ck_assert_int_eq(djs_log_sync(log), 0); /* does not wait for the blocked snapshot */
    uint64_t seq = 0;
    djs_buf_t out;
    djs_buf_init(&out);
    ck_assert_int_eq(djs_log_get_snapshot(log, UINT64_MAX, &seq, &out), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_log_snapshot_pending(log), 1);
    ck_assert_int_eq(djs_log_commit_entry(log, c.e[0], c.len[0], NULL, NULL), 0);
    ck_assert_int_eq(djs_log_sync(log), 0);
    ck_assert_int_eq(djs_log_get_snapshot(log, UINT64_MAX, &seq, &out), 0);
    ck_assert_uint_eq(seq, 3);
    ck_assert_mem_eq(out.base, "snap", 4);
    djs_buf_dispose(&out);
    djs_log_close(log);
    free_captured(&c);
}
END_TEST

static Suite *log_replicate_suite(void)
{
    Suite *s = suite_create("log_replicate");
    TCase *tc = tcase_create("replicate");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, leader_durable_only_once_committed);
    tcase_add_test(tc, follower_stores_checks_and_skips);
    tcase_add_test(tc, gaps_tampering_and_padding);
    tcase_add_test(tc, another_leaders_entry_over_ours);
    tcase_add_test(tc, refused_proposal_fails_the_log);
    tcase_add_test(tc, output_chunks_travel_with_the_events);
    tcase_add_test(tc, snapshot_waits_for_its_events);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(log_replicate_suite)

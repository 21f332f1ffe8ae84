/* djs replay verify: a clean log verifies; every kind of damage is found
 * and named by its first bad seq. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eventlog/log.h"
#include "replay/verify.h"
#include "testutil.h"

#define N 300

static djs_id_t entity_of(int i)
{
    djs_id_t id = {{0}};
    id.b[0] = 0x01;
    id.b[15] = (uint8_t)(i % 7 + 1);
    return id;
}

/* Write N events; event k carries the actor "marker-<k>" so a test can find
 * its bytes in data.mdb. */
static void write_log(const char *dir)
{
    djs_log_t *log;
    ck_assert_int_eq(djs_log_open(&log, dir, NULL), 0);
    for (int k = 1; k <= N; k++) {
        char actor[32];
        djs_event_t ev = {0};
        ev.type = DJS_EV_JOB_PROGRESS;
        snprintf(actor, sizeof(actor), "marker-%05d", k);
        ev.actor = actor;
        ev.actor_len = strlen(actor);
        ev.entity = entity_of(k);
        if (k % 10 == 5)
            ev.entity = (djs_id_t){{0}}; /* some server-level events */
        ck_assert_int_eq(djs_log_append(log, &ev), 0);
        if (k % 50 == 0)
            djs_log_flush(log);
    }
    ck_assert_int_eq(djs_log_sync(log), 0);
    djs_log_close(log);
}

/* 0: one walk; else chain walks of this many records or more are split in two */
static uint64_t split_min;

static int verify_dir(const char *dir, djs_verify_report_t *rep)
{
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    ck_assert_int_eq(djs_log_open(&log, dir, &o), 0);
    /* synthetic records (progress of jobs never submitted): the structure
     * checks only; tests/test_verify_deep.c replays real logs */
    djs_verify_options_t vo;
    djs_verify_options_init(&vo);
    vo.replay = 0;
    vo.split_min = split_min;
    int rc = djs_verify_run(log, &vo, rep);
    djs_log_close(log);
    return rc;
}

/* Flip one byte inside the stored bytes of record k (found by its marker). */
static void flip_in_record(const char *dir, int k, int offset_from_marker)
{
    char path[4096], marker[32];
    size_t len;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    snprintf(marker, sizeof(marker), "marker-%05d", k);
    uint8_t *data = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(data);
    /* LMDB is copy-on-write: stale copies of a record can linger in free
     * pages, so change every copy; the live one is among them. */
    int hits = 0;
    for (uint8_t *p = data, *hit; (hit = memmem(p, len - (size_t)(p - data), marker, strlen(marker))) != NULL; p = hit + 1) {
        hit[offset_from_marker] ^= 0x20;
        hits++;
    }
    ck_assert_msg(hits > 0, "marker %s not in data.mdb", marker);
    ck_assert_int_eq(tu_write_file(path, data, len), 0);
    free(data);
}

START_TEST(clean_log_verifies)
{
    const char *dir = tu_tmpdir();
    write_log(dir);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify_dir(dir, &rep), 0);
    ck_assert_uint_eq(rep.records, N);
    ck_assert_uint_eq(rep.last_seq, N);
    ck_assert_uint_eq(rep.bad_seq, 0);
    ck_assert_uint_eq(rep.index_entries, N - N / 10);
    djs_log_t *log;
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    ck_assert_int_eq(djs_log_open(&log, dir, &o), 0);
    uint8_t head[DJS_HASH_LEN];
    ck_assert_int_eq(djs_log_hash_at(log, N, head), 0);
    ck_assert_mem_eq(rep.head_hash, head, DJS_HASH_LEN);
    djs_log_close(log);
}
END_TEST

START_TEST(one_changed_byte_is_detected)
{
    /* a byte of the actor text (inside the hashed prefix) */
    const char *dir = tu_tmpdir();
    write_log(dir);
    flip_in_record(dir, 137, 3);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify_dir(dir, &rep), DJS_ECHAIN);
    ck_assert_uint_eq(rep.bad_seq, 137);
    ck_assert_uint_eq(rep.records, 136);
    ck_assert(strstr(rep.detail, "137") != NULL);
}
END_TEST

START_TEST(changed_hash_byte_is_detected)
{
    /* the record's own hash: v1 layout puts entity (18 bytes), body {} and
     * the hash header after the actor: marker(12) + 18 + 1 + 2 = 33 */
    const char *dir = tu_tmpdir();
    write_log(dir);
    flip_in_record(dir, 42, 12 + 18 + 1 + 2 + 5);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify_dir(dir, &rep), DJS_ECHAIN);
    ck_assert_uint_eq(rep.bad_seq, 42);
}
END_TEST

START_TEST(structural_damage_is_named)
{
    /* turning the actor's string header into a reserved byte breaks decoding */
    const char *dir = tu_tmpdir();
    write_log(dir);
    flip_in_record(dir, 200, -1); /* 0xac (fixstr 12) ^ 0x20 = 0x8c, a fixmap: wrong type */
    djs_verify_report_t rep;
    int rc = verify_dir(dir, &rep);
    ck_assert_int_ne(rc, 0);
    ck_assert_uint_eq(rep.bad_seq, 200);
}
END_TEST

static void raw_delete(const char *dir, const char *dbname, MDB_val *key)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ck_assert_int_eq(mdb_env_open(env, dir, 0, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, dbname, strcmp(dbname, "events") == 0 ? MDB_INTEGERKEY : 0, &dbi), 0);
    ck_assert_int_eq(mdb_del(txn, dbi, key, NULL), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

START_TEST(missing_record_is_a_gap)
{
    const char *dir = tu_tmpdir();
    write_log(dir);
    uint64_t seq = 77;
    MDB_val k = {8, &seq};
    raw_delete(dir, "events", &k);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify_dir(dir, &rep), DJS_ESEQGAP);
    ck_assert_uint_eq(rep.bad_seq, 77);
}
END_TEST

START_TEST(missing_last_record_is_not_silent)
{
    /* removing the tail leaves a shorter valid chain: verify must still say
     * the log it checked is 1..N-1 so an operator comparing heads sees it */
    const char *dir = tu_tmpdir();
    write_log(dir);
    uint64_t seq = N;
    MDB_val k = {8, &seq};
    raw_delete(dir, "events", &k);
    djs_verify_report_t rep;
    int rc = verify_dir(dir, &rep);
    /* the entity index still names record N: a cut tail is caught by the
     * index check (a cut nil-entity tail only by comparing chain heads) */
    ck_assert_int_eq(rc, DJS_ECORRUPT);
    ck_assert_uint_eq(rep.last_seq, N - 1);
}
END_TEST

START_TEST(index_damage_is_detected)
{
    const char *dir = tu_tmpdir();
    write_log(dir);
    uint8_t key[24];
    djs_id_t e = entity_of(6);
    memcpy(key, e.b, 16);
    memset(key + 16, 0, 8);
    key[23] = 6;
    MDB_val k = {24, key};
    raw_delete(dir, "entity", &k);
    djs_verify_report_t rep;
    ck_assert_int_eq(verify_dir(dir, &rep), DJS_ECORRUPT);
    ck_assert(strstr(rep.detail, "index") != NULL);
}
END_TEST

static void split_walks(void)
{
    split_min = 2;
}

static void one_walk(void)
{
    split_min = 0;
}

static Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("verify");
    tcase_add_checked_fixture(tc, one_walk, NULL);
    tcase_add_test(tc, clean_log_verifies);
    tcase_add_test(tc, one_changed_byte_is_detected);
    tcase_add_test(tc, changed_hash_byte_is_detected);
    tcase_add_test(tc, structural_damage_is_named);
    tcase_add_test(tc, missing_record_is_a_gap);
    tcase_add_test(tc, missing_last_record_is_not_silent);
    tcase_add_test(tc, index_damage_is_detected);
    suite_add_tcase(s, tc);
    /* the same with the chain walk split in two halves on two threads (the
     * start-up check's way): every finding is the same */
    tc = tcase_create("split");
    tcase_add_checked_fixture(tc, split_walks, NULL);
    tcase_add_test(tc, clean_log_verifies);
    tcase_add_test(tc, one_changed_byte_is_detected);
    tcase_add_test(tc, changed_hash_byte_is_detected);
    tcase_add_test(tc, structural_damage_is_named);
    tcase_add_test(tc, missing_record_is_a_gap);
    tcase_add_test(tc, missing_last_record_is_not_silent);
    tcase_add_test(tc, index_damage_is_detected);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(verify_suite)

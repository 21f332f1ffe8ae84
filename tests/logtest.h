/* Helpers shared by tests/test_log.c and tests/test_log_crash.c: making
 * events with recognisable bodies, and checking a whole log (dense seqs,
 * decodable records, strictly increasing timestamps, the hash chain, the
 * entity index). The checkers return codes instead of asserting so forked
 * children can use them too. */
#ifndef DJS_TESTS_LOGTEST_H
#define DJS_TESTS_LOGTEST_H

#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/event.h"
#include "eventlog/log.h"

#define LT_ACTOR "tester"
#define LT_PAD_MAX 65535u

/* Entity k (k >= 1 never gives the nil id). */
static inline djs_id_t lt_entity(unsigned k)
{
    djs_id_t id;
    memset(&id, 0, sizeof(id));
    id.b[0] = 0x01;
    id.b[6] = 0x70;
    id.b[14] = (uint8_t)(k >> 8);
    id.b[15] = (uint8_t)k;
    return id;
}

/* A body {"i": i} or {"i": i, "p": bin(pad)}; returns its length. out
 * must hold 20 + pad bytes. */
static inline size_t lt_body(uint8_t *out, uint64_t i, size_t pad)
{
    size_t n = 0;
    out[n++] = pad ? 0x82 : 0x81;
    out[n++] = 0xa1;
    out[n++] = 'i';
    out[n++] = 0xcf;
    for (int k = 7; k >= 0; k--)
        out[n++] = (uint8_t)(i >> (8 * k));
    if (pad) {
        out[n++] = 0xa1;
        out[n++] = 'p';
        out[n++] = 0xc5;
        out[n++] = (uint8_t)(pad >> 8);
        out[n++] = (uint8_t)pad;
        memset(out + n, (int)(i & 0x7f), pad);
        n += pad;
    }
    return n;
}

/* The "i" of a body made by lt_body, or -1. */
static inline int lt_body_index(const uint8_t *b, size_t len, uint64_t *i)
{
    if (len < 12 || (b[0] != 0x81 && b[0] != 0x82) || b[1] != 0xa1 || b[2] != 'i' || b[3] != 0xcf)
        return -1;
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = v << 8 | b[4 + k];
    *i = v;
    return 0;
}

static const uint16_t lt_types[] = {DJS_EV_JOB_SUBMITTED,  DJS_EV_JOB_QUEUED,        DJS_EV_JOB_STARTED,
                                    DJS_EV_JOB_SUCCEEDED,  DJS_EV_WORKER_REGISTERED, DJS_EV_WORKER_HEARTBEAT,
                                    DJS_EV_SERVER_STARTED, DJS_EV_JOB_PROGRESS,      DJS_EV_JOB_FAILED};

static inline uint16_t lt_type(uint64_t i)
{
    return lt_types[i % (sizeof(lt_types) / sizeof(lt_types[0]))];
}

/* Append one event: type lt_type(i), actor LT_ACTOR, the given entity (NULL
 * = nil), body lt_body(i, pad). Returns djs_log_append's code; *out (if not
 * NULL) gets the appended event (seq, ts, hash; body points to scratch). */
static inline int lt_append(djs_log_t *log, const djs_id_t *entity, uint64_t i, size_t pad, djs_event_t *out)
{
    static uint8_t body[20 + LT_PAD_MAX];
    djs_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = lt_type(i);
    ev.actor = LT_ACTOR;
    ev.actor_len = strlen(LT_ACTOR);
    if (entity != NULL)
        ev.entity = *entity;
    ev.body = body;
    ev.body_len = lt_body(body, i, pad > LT_PAD_MAX ? LT_PAD_MAX : pad);
    int rc = djs_log_append(log, &ev);
    if (out != NULL)
        *out = ev;
    return rc;
}

/* ---- whole-log check ------------------------------------------------------ */

enum { LT_OK, LT_GAP, LT_DECODE, LT_SEQFIELD, LT_TS, LT_CHAIN, LT_BODY, LT_SCAN, LT_INDEX };

static inline const char *lt_what(int e)
{
    static const char *w[] = {"ok",
                              "seq gap",
                              "record does not decode",
                              "seq field differs from key",
                              "timestamp not increasing",
                              "hash chain broken",
                              "body not ours",
                              "scan error",
                              "entity index wrong"};
    return e >= 0 && e <= LT_INDEX ? w[e] : "?";
}

typedef struct lt_verify {
    uint64_t next; /* expected next seq (count + 1) */
    uint64_t last_ts;
    uint8_t hash[DJS_HASH_LEN];
    uint64_t with_entity; /* records with a non-nil entity */
    int check_body;       /* bodies must be lt_body's */
    int err;
    uint64_t err_seq;
} lt_verify_t;

static inline int lt_verify_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    lt_verify_t *v = arg;
    djs_event_t ev;
    uint8_t h[DJS_HASH_LEN];
    uint64_t i;
    int e = LT_OK;
    if (seq != v->next)
        e = LT_GAP;
    else if (djs_event_decode(rec, len, &ev) != 0)
        e = LT_DECODE;
    else if (ev.seq != seq)
        e = LT_SEQFIELD;
    else if (ev.ts_ns <= v->last_ts)
        e = LT_TS;
    else if (v->check_body && lt_body_index(ev.body, ev.body_len, &i) != 0)
        e = LT_BODY;
    else {
        djs_event_chain(v->hash, rec, len, h);
        if (memcmp(h, ev.hash, DJS_HASH_LEN) != 0)
            e = LT_CHAIN;
    }
    if (e != LT_OK) {
        v->err = e;
        v->err_seq = seq;
        return 1000 + e;
    }
    v->next = seq + 1;
    v->last_ts = ev.ts_ns;
    memcpy(v->hash, ev.hash, DJS_HASH_LEN);
    if (!djs_id_is_nil(&ev.entity))
        v->with_entity++;
    return 0;
}

/* Walk the whole log from seq 1. Returns LT_OK or the first problem
 * (v->err_seq says where); v->next - 1 is the number of records. */
static inline int lt_verify_log(djs_log_t *log, lt_verify_t *v)
{
    int body = v->check_body;
    memset(v, 0, sizeof(*v));
    v->check_body = body;
    v->next = 1;
    int rc = djs_log_scan(log, 1, UINT64_MAX, lt_verify_visit, v);
    if (v->err != LT_OK)
        return v->err;
    if (rc != 0) {
        v->err = LT_SCAN;
        v->err_seq = v->next;
        return LT_SCAN;
    }
    return LT_OK;
}

typedef struct lt_index {
    djs_log_t *log;
    djs_buf_t buf;
    uint64_t n;
    uint64_t bad_seq;
} lt_index_t;

static inline int lt_index_visit(void *arg, const djs_id_t *entity, uint64_t seq)
{
    lt_index_t *x = arg;
    djs_event_t ev;
    djs_buf_reset(&x->buf);
    if (djs_id_is_nil(entity) || djs_log_get(x->log, seq, &x->buf) != 0 || djs_event_decode(x->buf.base, x->buf.len, &ev) != 0 ||
        djs_id_cmp(&ev.entity, entity) != 0) {
        x->bad_seq = seq;
        return 1;
    }
    x->n++;
    return 0;
}

/* Every index entry points at a record of that entity, and there are as
 * many entries as records with an entity. Returns LT_OK or LT_INDEX. */
static inline int lt_check_index(djs_log_t *log, uint64_t with_entity, uint64_t *bad_seq)
{
    lt_index_t x;
    memset(&x, 0, sizeof(x));
    x.log = log;
    djs_buf_init(&x.buf);
    int rc = djs_log_scan_index(log, lt_index_visit, &x);
    djs_buf_dispose(&x.buf);
    *bad_seq = x.bad_seq;
    return rc == 0 && x.n == with_entity ? LT_OK : LT_INDEX;
}

#endif

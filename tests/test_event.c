/* core/event.h: the event record codec. Round trips for every type, the
 * hash chain, tamper detection, every malformed shape the decoder must
 * refuse, the encoder's refusals, type names, and the golden fixture
 * tests/fixtures/events-v1.bin (see tests/fixtures/README.md). */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/event.h"
#include "core/mp.h"
#include "testutil.h"

/* Every passing ck_assert_* records a "last point" (a write to Check's
 * message file); the byte-by-byte loops use this, which only reports a
 * failure. */
#define EXPECT(cond)                                                                                                               \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #cond);                                                         \
    } while (0)

static const uint8_t zero_hash[DJS_HASH_LEN];

static void pack_cstr(msgpack_packer *p, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(p, n);
    msgpack_pack_str_body(p, s, n);
}

static void sb_packer(msgpack_sbuffer *sb, msgpack_packer *p)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(p, sb, msgpack_sbuffer_write);
}

/* A copy at the very end of a heap block: a read past len hits ASan's redzone. */
static uint8_t *exact_copy(const void *data, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    if (len)
        memcpy(b, data, len);
    return b;
}

/* A non-trivial body: nested arrays and maps, strings, negative and extreme
 * integers, a float, a bin, nil and bools. */
static void pack_body(msgpack_packer *p, int variant)
{
    msgpack_pack_map(p, 6);
    pack_cstr(p, "variant");
    msgpack_pack_int64(p, variant);
    pack_cstr(p, "neg");
    msgpack_pack_int64(p, -1 - (int64_t)variant * 1000003);
    pack_cstr(p, "min");
    msgpack_pack_int64(p, INT64_MIN + variant);
    pack_cstr(p, "cmd");
    pack_cstr(p, "/usr/bin/env");
    pack_cstr(p, "args");
    msgpack_pack_array(p, 4);
    pack_cstr(p, "--flag");
    msgpack_pack_array(p, 2);
    msgpack_pack_int64(p, -1);
    msgpack_pack_uint64(p, 300);
    msgpack_pack_map(p, 1);
    pack_cstr(p, "k");
    msgpack_pack_nil(p);
    msgpack_pack_double(p, 0.5);
    pack_cstr(p, "env");
    msgpack_pack_map(p, 2);
    pack_cstr(p, "PATH");
    pack_cstr(p, "/usr/local/bin:/usr/bin:/bin (a string longer than 31 bytes)");
    pack_cstr(p, "nested");
    msgpack_pack_map(p, 1);
    pack_cstr(p, "deep");
    msgpack_pack_array(p, 3);
    msgpack_pack_true(p);
    msgpack_pack_false(p);
    msgpack_pack_bin(p, 3);
    msgpack_pack_bin_body(p, "\x00\xff\x7f", 3);
}

/* The event for round trip number i, of the given type. actor_buf must hold
 * 255 bytes. */
static void make_event(int i, int type, char *actor_buf, const msgpack_sbuffer *body, djs_event_t *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = (uint16_t)type;
    ev->seq = i == 0 ? 1 : (1ULL << ((i * 3) % 64)) + (uint64_t)i; /* every uint width */
    ev->ts_ns = 1700000000000000000ULL + (uint64_t)i * 999983;
    ev->actor_len = (size_t)(i * 37) % 256; /* 0 .. 255: fixstr and str8 */
    for (size_t j = 0; j < ev->actor_len; j++)
        actor_buf[j] = (char)(j % 3 == 2 ? 0xc3 : 'a' + (i + (int)j) % 26); /* some non-ASCII bytes */
    ev->actor = actor_buf;
    for (int j = 0; j < 16; j++)
        ev->entity.b[j] = (uint8_t)((i * 16 + j) ^ 0xa5);
    ev->body = (const uint8_t *)body->data;
    ev->body_len = body->size;
}

static void expect_same_event(const djs_event_t *got, const djs_event_t *want)
{
    ck_assert_uint_eq(got->version, DJS_EVENT_VERSION);
    ck_assert_uint_eq(got->seq, want->seq);
    ck_assert_uint_eq(got->type, want->type);
    ck_assert_uint_eq(got->ts_ns, want->ts_ns);
    ck_assert_uint_eq(got->actor_len, want->actor_len);
    ck_assert(want->actor_len == 0 || memcmp(got->actor, want->actor, want->actor_len) == 0);
    ck_assert_mem_eq(got->entity.b, want->entity.b, 16);
    if (want->body_len == 0) { /* NULL/0 encodes as {} */
        ck_assert_uint_eq(got->body_len, 1);
        ck_assert_uint_eq(got->body[0], 0x80);
    } else {
        ck_assert_uint_eq(got->body_len, want->body_len);
        ck_assert(memcmp(got->body, want->body, want->body_len) == 0);
    }
}

/* ---- round trip, chain -------------------------------------------------- */

START_TEST(roundtrip_every_type)
{
    const int *types;
    size_t ntypes = djs_event_types(&types);
    ck_assert_uint_ge(ntypes, 22);
    static const char prefix[] = "earlier bytes in the buffer";
    djs_buf_t out;
    djs_buf_init(&out);
    djs_buf_append(&out, prefix, sizeof(prefix));
    uint8_t prev[DJS_HASH_LEN];
    for (int j = 0; j < DJS_HASH_LEN; j++)
        prev[j] = (uint8_t)(j * 7 + 1);
    for (size_t i = 0; i < ntypes; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sb_packer(&sb, &pk);
        pack_body(&pk, (int)i);
        char actor[256];
        djs_event_t ev, back;
        make_event((int)i, types[i], actor, &sb, &ev);

        size_t start = out.len;
        ck_assert_int_eq(djs_event_encode(&ev, prev, &out), 0);
        ck_assert_uint_gt(out.len, start + sb.size + 16 + DJS_HASH_LEN);
        ck_assert_uint_eq(ev.version, DJS_EVENT_VERSION);
        ck_assert_mem_eq(out.base, prefix, sizeof(prefix)); /* appended, not overwritten */
        const uint8_t *rec = out.base + start;
        size_t len = out.len - start;

        /* the stored hash is the chain hash, and it is the last 32 bytes */
        uint8_t h[DJS_HASH_LEN];
        djs_event_chain(prev, rec, len, h);
        ck_assert_mem_eq(ev.hash, h, DJS_HASH_LEN);
        ck_assert_mem_eq(rec + len - DJS_HASH_LEN, h, DJS_HASH_LEN);

        uint8_t *copy = exact_copy(rec, len);
        ck_assert_int_eq(djs_event_decode(copy, len, &back), 0);
        expect_same_event(&back, &ev);
        ck_assert_mem_eq(back.hash, ev.hash, DJS_HASH_LEN);
        /* zero copy: actor and body point into the record */
        ck_assert(back.body > copy && back.body + back.body_len < copy + len);
        ck_assert(back.actor > (const char *)copy && back.actor + back.actor_len < (const char *)back.body);
        ck_assert_int_eq(djs_mp_validate(back.body, back.body_len, DJS_EVENT_MAX_DEPTH), 0);
        /* the whole record is one MessagePack array of 8 */
        ck_assert_int_eq(djs_mp_validate(copy, len, DJS_EVENT_MAX_DEPTH + 1), 0);
        ck_assert_uint_eq(copy[0], 0x98);
        ck_assert_uint_eq(copy[1], DJS_EVENT_VERSION);

        /* deterministic: the same event and predecessor give the same bytes */
        djs_buf_t again;
        djs_buf_init(&again);
        ck_assert_int_eq(djs_event_encode(&ev, prev, &again), 0);
        ck_assert_uint_eq(again.len, len);
        ck_assert(memcmp(again.base, rec, len) == 0);
        djs_buf_dispose(&again);

        memcpy(prev, ev.hash, DJS_HASH_LEN);
        free(copy);
        msgpack_sbuffer_destroy(&sb);
    }
    djs_buf_dispose(&out);
}
END_TEST

START_TEST(empty_body_and_actor)
{
    djs_event_t ev = {.type = DJS_EV_SERVER_STARTED, .seq = 0, .ts_ns = 0}, back;
    djs_buf_t out;
    djs_buf_init(&out);
    ck_assert_int_eq(djs_event_encode(&ev, zero_hash, &out), 0);
    ck_assert_int_eq(djs_event_decode(out.base, out.len, &back), 0);
    expect_same_event(&back, &ev);
    ck_assert_uint_eq(back.actor_len, 0);
    /* an explicit {} is the same record */
    djs_buf_t out2;
    djs_buf_init(&out2);
    ev.body = (const uint8_t *)"\x80";
    ev.body_len = 1;
    ck_assert_int_eq(djs_event_encode(&ev, zero_hash, &out2), 0);
    ck_assert_uint_eq(out2.len, out.len);
    ck_assert(memcmp(out2.base, out.base, out.len) == 0);
    djs_buf_dispose(&out);
    djs_buf_dispose(&out2);
}
END_TEST

/* Verify a run of framed records as `djs replay verify` would: each decodes
 * and carries the chain hash of its predecessor. Returns the index of the
 * first bad record, or n. */
static size_t verify_chain(const djs_buf_t *log, const size_t *off, const size_t *len, const size_t *order, size_t n)
{
    uint8_t prev[DJS_HASH_LEN] = {0};
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec = log->base + off[order[i]];
        djs_event_t ev;
        uint8_t h[DJS_HASH_LEN];
        if (djs_event_decode(rec, len[order[i]], &ev) != 0)
            return i;
        djs_event_chain(prev, rec, len[order[i]], h);
        if (memcmp(h, ev.hash, DJS_HASH_LEN) != 0)
            return i;
        memcpy(prev, ev.hash, DJS_HASH_LEN);
    }
    return n;
}

START_TEST(chain_of_100)
{
    enum { N = 100 };
    const int *types;
    size_t ntypes = djs_event_types(&types);
    djs_buf_t log;
    djs_buf_init(&log);
    size_t off[N], len[N], order[N];
    uint8_t hashes[N][DJS_HASH_LEN];
    uint8_t prev[DJS_HASH_LEN] = {0};
    for (size_t i = 0; i < N; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sb_packer(&sb, &pk);
        pack_body(&pk, (int)(i % 5)); /* bodies repeat: only the chain tells records apart */
        char actor[256];
        djs_event_t ev;
        make_event((int)(i % 7), types[i % ntypes], actor, &sb, &ev);
        ev.seq = i + 1;
        ev.ts_ns = 1700000000000000000ULL + i;
        off[i] = log.len;
        ck_assert_int_eq(djs_event_encode(&ev, prev, &log), 0);
        len[i] = log.len - off[i];
        order[i] = i;
        memcpy(hashes[i], ev.hash, DJS_HASH_LEN);
        memcpy(prev, ev.hash, DJS_HASH_LEN);
        msgpack_sbuffer_destroy(&sb);
    }
    /* the log verifies, and each stored hash is what djs_event_chain says */
    ck_assert_uint_eq(verify_chain(&log, off, len, order, N), N);
    for (size_t i = 0; i < N; i++) {
        uint8_t h[DJS_HASH_LEN];
        djs_event_chain(i == 0 ? zero_hash : hashes[i - 1], log.base + off[i], len[i], h);
        ck_assert_mem_eq(h, hashes[i], DJS_HASH_LEN);
        for (size_t j = 0; j < i; j++)
            ck_assert(memcmp(hashes[i], hashes[j], DJS_HASH_LEN) != 0);
    }
    /* reordering two records is detected at the first of them */
    order[40] = 41;
    order[41] = 40;
    ck_assert_uint_eq(verify_chain(&log, off, len, order, N), 40);
    /* removing one is detected at the gap */
    for (size_t i = 0; i < N - 1; i++)
        order[i] = i < 70 ? i : i + 1;
    ck_assert_uint_eq(verify_chain(&log, off, len, order, N - 1), 70);
    /* a different predecessor gives a different hash */
    uint8_t h[DJS_HASH_LEN];
    djs_event_chain(hashes[0], log.base + off[2], len[2], h);
    ck_assert(memcmp(h, hashes[2], DJS_HASH_LEN) != 0);
    djs_buf_dispose(&log);
}
END_TEST

/* Flip one bit of every byte of a record, one byte at a time: either the
 * decoder refuses it or the stored hash no longer matches the chain. */
START_TEST(tamper_every_byte_detected)
{
    const int *types;
    size_t ntypes = djs_event_types(&types);
    uint8_t prev[DJS_HASH_LEN];
    memset(prev, 0x3c, sizeof(prev));
    size_t refused = 0, chain_broken = 0;
    for (size_t t = 0; t < ntypes; t++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sb_packer(&sb, &pk);
        pack_body(&pk, (int)t);
        char actor[256];
        djs_event_t ev;
        make_event((int)t, types[t], actor, &sb, &ev);
        djs_buf_t out;
        djs_buf_init(&out);
        ck_assert_int_eq(djs_event_encode(&ev, prev, &out), 0);
        uint8_t *rec = exact_copy(out.base, out.len);
        for (size_t i = 0; i < out.len; i++) {
            rec[i] ^= 0x01;
            djs_event_t back;
            if (djs_event_decode(rec, out.len, &back) != 0) {
                refused++;
            } else {
                uint8_t h[DJS_HASH_LEN];
                djs_event_chain(prev, rec, out.len, h);
                if (memcmp(h, back.hash, DJS_HASH_LEN) == 0)
                    ck_abort_msg("type %d: flipping byte %zu of %zu went undetected", types[t], i, out.len);
                chain_broken++;
            }
            rec[i] ^= 0x01;
        }
        /* control: the untouched record verifies */
        djs_event_t back;
        uint8_t h[DJS_HASH_LEN];
        ck_assert_int_eq(djs_event_decode(rec, out.len, &back), 0);
        djs_event_chain(prev, rec, out.len, h);
        ck_assert_mem_eq(h, back.hash, DJS_HASH_LEN);
        free(rec);
        djs_buf_dispose(&out);
        msgpack_sbuffer_destroy(&sb);
    }
    /* both defences were exercised */
    ck_assert_uint_gt(refused, 0);
    ck_assert_uint_gt(chain_broken, 0);
}
END_TEST

/* ---- hand-crafted records ----------------------------------------------- */

enum { BODY_MAP, BODY_ARRAY, BODY_NIL, BODY_PAD, BODY_DEEP };

typedef struct craft {
    uint32_t nfields; /* array header */
    uint64_t version;
    int64_t seq; /* negative values are packed as negative ints */
    uint64_t type;
    size_t actor_len;
    int actor_bin; /* actor as bin instead of str */
    size_t entity_len;
    int body;        /* BODY_* */
    size_t body_arg; /* BODY_PAD: bin size; BODY_DEEP: nesting depth */
    size_t hash_len;
    size_t trailing; /* garbage bytes after the record */
} craft_t;

static const craft_t good = {
    .nfields = 8,
    .version = 1,
    .seq = 42,
    .type = DJS_EV_JOB_STARTED,
    .actor_len = 5,
    .entity_len = 16,
    .body = BODY_MAP,
    .hash_len = 32,
};

#define CRAFT_TS 1700000000000000001ULL

/* Pack a record field by field with msgpack-c. When the hash field is 32
 * bytes and last, it holds the true chain hash (from zero_hash), so only the
 * deliberate defect makes the record bad. */
static void craft(const craft_t *c, msgpack_sbuffer *sb)
{
    msgpack_packer p;
    sb_packer(sb, &p);
    msgpack_pack_array(&p, c->nfields);
    size_t hash_end = 0;
    for (uint32_t f = 0; f < c->nfields; f++) {
        switch (f) {
        case 0:
            msgpack_pack_uint64(&p, c->version);
            break;
        case 1:
            if (c->seq < 0)
                msgpack_pack_int64(&p, c->seq);
            else
                msgpack_pack_uint64(&p, (uint64_t)c->seq);
            break;
        case 2:
            msgpack_pack_uint64(&p, c->type);
            break;
        case 3:
            msgpack_pack_uint64(&p, CRAFT_TS);
            break;
        case 4: {
            char *a = malloc(c->actor_len + 1);
            memset(a, 'a', c->actor_len);
            if (c->actor_bin) {
                msgpack_pack_bin(&p, c->actor_len);
                msgpack_pack_bin_body(&p, a, c->actor_len);
            } else {
                msgpack_pack_str(&p, c->actor_len);
                msgpack_pack_str_body(&p, a, c->actor_len);
            }
            free(a);
            break;
        }
        case 5: {
            uint8_t e[64];
            for (int i = 0; i < 64; i++)
                e[i] = (uint8_t)(0xe0 + i);
            msgpack_pack_bin(&p, c->entity_len);
            msgpack_pack_bin_body(&p, e, c->entity_len);
            break;
        }
        case 6:
            switch (c->body) {
            case BODY_MAP:
                msgpack_pack_map(&p, 1);
                pack_cstr(&p, "k");
                msgpack_pack_array(&p, 3);
                msgpack_pack_int64(&p, 1);
                msgpack_pack_int64(&p, -2);
                pack_cstr(&p, "x");
                break;
            case BODY_ARRAY:
                msgpack_pack_array(&p, 2);
                pack_cstr(&p, "k");
                msgpack_pack_int64(&p, 1);
                break;
            case BODY_NIL:
                msgpack_pack_nil(&p);
                break;
            case BODY_PAD: {
                char *pad = calloc(1, c->body_arg + 1);
                msgpack_pack_map(&p, 1);
                pack_cstr(&p, "pad");
                msgpack_pack_bin(&p, c->body_arg);
                msgpack_pack_bin_body(&p, pad, c->body_arg);
                free(pad);
                break;
            }
            case BODY_DEEP:
                for (size_t d = 0; d < c->body_arg; d++) {
                    msgpack_pack_map(&p, 1);
                    pack_cstr(&p, "k");
                }
                msgpack_pack_nil(&p);
                break;
            }
            break;
        case 7: {
            uint8_t zero[64] = {0};
            msgpack_pack_bin(&p, c->hash_len);
            msgpack_pack_bin_body(&p, zero, c->hash_len);
            hash_end = sb->size;
            break;
        }
        default:
            msgpack_pack_nil(&p);
            break;
        }
    }
    if (c->hash_len == DJS_HASH_LEN && hash_end == sb->size) {
        uint8_t h[DJS_HASH_LEN];
        djs_event_chain(zero_hash, (const uint8_t *)sb->data, sb->size, h);
        memcpy(sb->data + sb->size - DJS_HASH_LEN, h, DJS_HASH_LEN);
    }
    for (size_t i = 0; i < c->trailing; i++)
        msgpack_sbuffer_write(sb, "\xc0", 1);
}

static int decode_crafted(const craft_t *c, size_t *len_out)
{
    msgpack_sbuffer sb;
    craft(c, &sb);
    uint8_t *rec = exact_copy(sb.data, sb.size);
    djs_event_t ev;
    int rc = djs_event_decode(rec, sb.size, &ev);
    if (len_out)
        *len_out = sb.size;
    free(rec);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The crafted control record is exactly what the encoder writes. */
START_TEST(crafted_control_matches_encoder)
{
    msgpack_sbuffer sb, body;
    msgpack_packer bp;
    craft(&good, &sb);
    sb_packer(&body, &bp);
    msgpack_pack_map(&bp, 1);
    pack_cstr(&bp, "k");
    msgpack_pack_array(&bp, 3);
    msgpack_pack_int64(&bp, 1);
    msgpack_pack_int64(&bp, -2);
    pack_cstr(&bp, "x");
    djs_event_t ev = {
        .seq = 42,
        .type = DJS_EV_JOB_STARTED,
        .ts_ns = CRAFT_TS,
        .actor = "aaaaa",
        .actor_len = 5,
        .body = (const uint8_t *)body.data,
        .body_len = body.size,
    };
    for (int i = 0; i < 16; i++)
        ev.entity.b[i] = (uint8_t)(0xe0 + i);
    djs_buf_t out;
    djs_buf_init(&out);
    ck_assert_int_eq(djs_event_encode(&ev, zero_hash, &out), 0);
    ck_assert_uint_eq(out.len, sb.size);
    ck_assert(memcmp(out.base, sb.data, sb.size) == 0);
    djs_event_t back;
    ck_assert_int_eq(djs_event_decode((const uint8_t *)sb.data, sb.size, &back), 0);
    expect_same_event(&back, &ev);
    djs_buf_dispose(&out);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&body);
}
END_TEST

START_TEST(decode_rejects_version)
{
    static const uint64_t versions[] = {0, 2, 3, 127, 255, 65536, UINT64_MAX};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        craft_t c = good;
        c.version = versions[i];
        ck_assert_int_eq(decode_crafted(&c, NULL), DJS_EVERSION);
        /* a future version may have another field count: the version decides */
        c.nfields = 3;
        ck_assert_int_eq(decode_crafted(&c, NULL), DJS_EVERSION);
    }
    /* a version that is not a uint at all */
    static const uint8_t str_version[] = {0x91, 0xa1, '1'};
    djs_event_t ev;
    ck_assert_int_eq(djs_event_decode(str_version, sizeof(str_version), &ev), DJS_EBADTYPE);
}
END_TEST

START_TEST(decode_rejects_field_count)
{
    craft_t c = good;
    ck_assert_int_eq(decode_crafted(&c, NULL), 0); /* control */
    c.nfields = 7;                                 /* no hash */
    ck_assert_int_eq(decode_crafted(&c, NULL), DJS_ECORRUPT);
    c.nfields = 9; /* one nil too many */
    ck_assert_int_eq(decode_crafted(&c, NULL), DJS_ECORRUPT);
    c.nfields = 1;
    ck_assert_int_eq(decode_crafted(&c, NULL), DJS_ECORRUPT);
    djs_event_t ev;
    ck_assert_int_eq(djs_event_decode((const uint8_t *)"\x90", 1, &ev), DJS_ECORRUPT);
    /* not an array */
    ck_assert_int_eq(djs_event_decode((const uint8_t *)"\x81\x01\x01", 3, &ev), DJS_EBADTYPE);
    ck_assert_int_eq(djs_event_decode((const uint8_t *)"\x01", 1, &ev), DJS_EBADTYPE);
}
END_TEST

START_TEST(decode_rejects_unknown_type)
{
    /* 0x10001 & 0xffff is a valid type: the full value must be checked */
    static const uint64_t bad[] = {0, 16, 17, 31, 38, 63, 67, 255, 0xffff, 0x10001, 0x10040, UINT64_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        craft_t c = good;
        c.type = bad[i];
        ck_assert_msg(decode_crafted(&c, NULL) == DJS_EBADTYPE, "type %llu", (unsigned long long)bad[i]);
    }
    const int *types;
    size_t n = djs_event_types(&types);
    for (size_t i = 0; i < n; i++) {
        craft_t c = good;
        c.type = (uint64_t)types[i];
        ck_assert_int_eq(decode_crafted(&c, NULL), 0);
    }
}
END_TEST

START_TEST(decode_rejects_bad_fields)
{
    craft_t c;
    size_t len;
#define EXPECT_CRAFT(field, value, want)                                                                                           \
    do {                                                                                                                           \
        c = good;                                                                                                                  \
        c.field = (value);                                                                                                         \
        ck_assert_int_eq(decode_crafted(&c, NULL), (want));                                                                        \
    } while (0)
    EXPECT_CRAFT(entity_len, 15, DJS_EBADTYPE);
    EXPECT_CRAFT(entity_len, 17, DJS_EBADTYPE);
    EXPECT_CRAFT(entity_len, 0, DJS_EBADTYPE);
    EXPECT_CRAFT(hash_len, 31, DJS_EBADTYPE);
    EXPECT_CRAFT(hash_len, 33, DJS_EBADTYPE);
    EXPECT_CRAFT(hash_len, 0, DJS_EBADTYPE);
    EXPECT_CRAFT(body, BODY_ARRAY, DJS_EBADTYPE);
    EXPECT_CRAFT(body, BODY_NIL, DJS_EBADTYPE);
    EXPECT_CRAFT(actor_bin, 1, DJS_EBADTYPE);
    EXPECT_CRAFT(actor_len, 255, 0);
    EXPECT_CRAFT(actor_len, 256, DJS_ETOOBIG);
    EXPECT_CRAFT(actor_len, 70000, DJS_ETOOBIG);
    EXPECT_CRAFT(actor_len, 0, 0);
    EXPECT_CRAFT(trailing, 1, DJS_ECORRUPT);
    EXPECT_CRAFT(trailing, 40, DJS_ECORRUPT);
    /* body nesting: the body map is level 1 of DJS_EVENT_MAX_DEPTH */
    c = good;
    c.body = BODY_DEEP;
    c.body_arg = DJS_EVENT_MAX_DEPTH;
    ck_assert_int_eq(decode_crafted(&c, NULL), 0);
    c.body_arg = DJS_EVENT_MAX_DEPTH + 1;
    ck_assert_int_eq(decode_crafted(&c, NULL), DJS_ETOOBIG);
    /* a negative seq is not a valid field; the reader's range error comes through */
    c = good;
    c.seq = -1;
    ck_assert_int_eq(decode_crafted(&c, &len), DJS_ERANGE);
#undef EXPECT_CRAFT
}
END_TEST

START_TEST(decode_rejects_oversize)
{
    /* body {"pad": bin32(n)} is n + 10 bytes */
    craft_t c = good;
    size_t len;
    c.body = BODY_PAD;
    c.body_arg = DJS_EVENT_MAX_BODY - 10;
    ck_assert_int_eq(decode_crafted(&c, &len), 0); /* the largest body */
    ck_assert_uint_le(len, DJS_EVENT_MAX_RECORD);
    c.body_arg = DJS_EVENT_MAX_BODY - 9;
    ck_assert_int_eq(decode_crafted(&c, &len), DJS_ETOOBIG); /* body one byte over */
    ck_assert_uint_le(len, DJS_EVENT_MAX_RECORD);            /* ... though the record is not */
    c.body_arg = DJS_EVENT_MAX_RECORD;
    ck_assert_int_eq(decode_crafted(&c, &len), DJS_ETOOBIG); /* the record itself over */
    ck_assert_uint_gt(len, DJS_EVENT_MAX_RECORD);

    /* over DJS_EVENT_MAX_RECORD is refused before parsing: a valid record
     * followed by padding still says TOOBIG, not CORRUPT */
    c = good;
    msgpack_sbuffer sb;
    craft(&c, &sb);
    uint8_t *big = calloc(1, DJS_EVENT_MAX_RECORD + 1);
    memcpy(big, sb.data, sb.size);
    djs_event_t ev;
    ck_assert_int_eq(djs_event_decode(big, DJS_EVENT_MAX_RECORD + 1, &ev), DJS_ETOOBIG);
    ck_assert_int_eq(djs_event_decode(big, DJS_EVENT_MAX_RECORD, &ev), DJS_ECORRUPT);
    ck_assert_int_eq(djs_event_decode(big, sb.size, &ev), 0);
    free(big);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(decode_rejects_empty_and_truncated)
{
    djs_event_t ev;
    ck_assert_int_eq(djs_event_decode(NULL, 0, &ev), DJS_ETRUNCATED);
    ck_assert_int_eq(djs_event_decode((const uint8_t *)"", 0, &ev), DJS_ETRUNCATED);

    msgpack_sbuffer sb;
    msgpack_packer pk;
    sb_packer(&sb, &pk);
    pack_body(&pk, 3);
    char actor[256];
    djs_event_t src;
    make_event(9, DJS_EV_JOB_FAILED, actor, &sb, &src);
    djs_buf_t out;
    djs_buf_init(&out);
    ck_assert_int_eq(djs_event_encode(&src, zero_hash, &out), 0);
    djs_event_t full;
    ck_assert_int_eq(djs_event_decode(out.base, out.len, &full), 0);
    size_t body_off = (size_t)(full.body - out.base), body_end = body_off + full.body_len;

    uint8_t *block = malloc(out.len);
    for (size_t cut = 0; cut < out.len; cut++) {
        uint8_t *rec = block + (out.len - cut); /* prefix ends at the block end */
        memcpy(rec, out.base, cut);
        int rc = djs_event_decode(rec, cut, &ev);
        int want;
        if (cut == 0)
            want = DJS_ETRUNCATED;
        else if (cut <= 8)
            want = DJS_ETOOBIG; /* the header claims 8 fields, fewer bytes remain */
        else if (cut > body_off && cut < body_end)
            want = rc == DJS_ETOOBIG ? DJS_ETOOBIG : DJS_ETRUNCATED; /* a body container may claim too much */
        else
            want = DJS_ETRUNCATED;
        if (rc != want)
            ck_abort_msg("cut %zu of %zu: decode gave %d, want %d", cut, out.len, rc, want);
    }
    free(block);
    djs_buf_dispose(&out);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- encoder refusals ---------------------------------------------------- */

static void expect_encode_refused(djs_event_t *ev, int want)
{
    static const char prefix[] = "existing";
    djs_buf_t out;
    djs_buf_init(&out);
    djs_buf_append(&out, prefix, sizeof(prefix));
    ck_assert_int_eq(djs_event_encode(ev, zero_hash, &out), want);
    ck_assert_uint_eq(out.len, sizeof(prefix));
    ck_assert_mem_eq(out.base, prefix, sizeof(prefix));
    djs_buf_dispose(&out);
    /* an empty buffer stays empty */
    djs_buf_init(&out);
    ck_assert_int_eq(djs_event_encode(ev, zero_hash, &out), want);
    ck_assert_uint_eq(out.len, 0);
    djs_buf_dispose(&out);
}

START_TEST(encode_refuses)
{
    char actor[300];
    memset(actor, 'w', sizeof(actor));
    djs_event_t ev = {.type = DJS_EV_JOB_QUEUED, .seq = 1, .ts_ns = 2, .actor = actor, .actor_len = 5};
    djs_buf_t ok;
    djs_buf_init(&ok);
    ck_assert_int_eq(djs_event_encode(&ev, zero_hash, &ok), 0); /* control */
    djs_buf_dispose(&ok);

    static const int bad_types[] = {0, 16, 31, 38, 67, 0xffff};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        djs_event_t e = ev;
        e.type = (uint16_t)bad_types[i];
        expect_encode_refused(&e, DJS_EINVAL);
    }

    djs_event_t e = ev;
    e.actor_len = 256;
    expect_encode_refused(&e, DJS_ETOOBIG);
    e.actor_len = 255;
    djs_buf_init(&ok);
    ck_assert_int_eq(djs_event_encode(&e, zero_hash, &ok), 0);
    djs_buf_dispose(&ok);

    /* malformed bodies */
    static const struct {
        const char *bytes;
        size_t len;
    } bodies[] = {
        {"\x92\x01\x02", 3},         /* an array */
        {"\xc0", 1},                 /* nil */
        {"\xa1k", 2},                /* a string */
        {"\x81\xa1k", 3},            /* map missing its value */
        {"\x81\xa1k\x01\x02", 5},    /* map then trailing byte */
        {"\x80\x80", 2},             /* two maps */
        {"\x81\xa1k\xc1", 4},        /* reserved byte */
        {"\x81\xa1k\xa5hi", 5},      /* truncated string inside */
        {"\xde\xff\xff\x01\x02", 5}, /* map16 claiming 65535 pairs */
        {"\xc1", 1},
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        e = ev;
        e.body = (const uint8_t *)bodies[i].bytes;
        e.body_len = bodies[i].len;
        expect_encode_refused(&e, DJS_EINVAL);
    }

    /* nesting: DJS_EVENT_MAX_DEPTH levels including the body map */
    for (int extra = 0; extra <= 1; extra++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sb_packer(&sb, &pk);
        for (int d = 0; d < DJS_EVENT_MAX_DEPTH + extra; d++) {
            msgpack_pack_map(&pk, 1);
            pack_cstr(&pk, "k");
        }
        msgpack_pack_nil(&pk);
        e = ev;
        e.body = (const uint8_t *)sb.data;
        e.body_len = sb.size;
        if (extra) {
            expect_encode_refused(&e, DJS_EINVAL);
        } else {
            djs_buf_init(&ok);
            ck_assert_int_eq(djs_event_encode(&e, zero_hash, &ok), 0);
            djs_buf_dispose(&ok);
        }
        msgpack_sbuffer_destroy(&sb);
    }

    /* size: a body of exactly DJS_EVENT_MAX_BODY is fine, one more byte is not */
    for (int over = 0; over <= 1; over++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        sb_packer(&sb, &pk);
        size_t n = DJS_EVENT_MAX_BODY - 10 + (size_t)over;
        char *pad = calloc(1, n);
        msgpack_pack_map(&pk, 1);
        pack_cstr(&pk, "pad");
        msgpack_pack_bin(&pk, n);
        msgpack_pack_bin_body(&pk, pad, n);
        free(pad);
        ck_assert_uint_eq(sb.size, DJS_EVENT_MAX_BODY + (size_t)over);
        e = ev;
        e.body = (const uint8_t *)sb.data;
        e.body_len = sb.size;
        if (over) {
            expect_encode_refused(&e, DJS_ETOOBIG);
        } else {
            djs_buf_init(&ok);
            ck_assert_int_eq(djs_event_encode(&e, zero_hash, &ok), 0);
            ck_assert_uint_le(ok.len, DJS_EVENT_MAX_RECORD);
            djs_event_t back;
            ck_assert_int_eq(djs_event_decode(ok.base, ok.len, &back), 0);
            ck_assert_uint_eq(back.body_len, DJS_EVENT_MAX_BODY);
            djs_buf_dispose(&ok);
        }
        msgpack_sbuffer_destroy(&sb);
    }
}
END_TEST

/* ---- type names ----------------------------------------------------------- */

START_TEST(type_names)
{
    static const struct {
        int num;
        const char *wire;
    } table[] = {
#define ROW(name, num, wire) {num, wire},
        DJS_EVENT_TYPE_MAP(ROW)
#undef ROW
    };
    const size_t ntable = sizeof(table) / sizeof(table[0]);
    const int *types;
    size_t n = djs_event_types(&types);
    ck_assert_uint_eq(n, ntable);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(types[i], table[i].num);
        if (i > 0)
            ck_assert_int_gt(types[i], types[i - 1]); /* number order, no duplicates */
        const char *name = djs_event_type_name(types[i]);
        ck_assert_ptr_nonnull(name);
        ck_assert_str_eq(name, table[i].wire);
        ck_assert_int_eq(djs_event_type_from_name(name, strlen(name)), types[i]);
        ck_assert(djs_event_type_valid(types[i]));
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(name, djs_event_type_name(types[j]));
        /* the length is honoured: a prefix or a longer buffer is another name */
        ck_assert_int_eq(djs_event_type_from_name(name, strlen(name) - 1), DJS_EINVAL);
        char longer[64];
        snprintf(longer, sizeof(longer), "%s_", name);
        ck_assert_int_eq(djs_event_type_from_name(longer, strlen(longer)), DJS_EINVAL);
        ck_assert_int_eq(djs_event_type_from_name(longer, strlen(name)), types[i]);
    }
    /* numbers are stored in logs: pin a few */
    ck_assert_int_eq(DJS_EV_JOB_SUBMITTED, 1);
    ck_assert_str_eq(djs_event_type_name(1), "job.submitted");
    ck_assert_str_eq(djs_event_type_name(14), "job.lease_expired");
    ck_assert_str_eq(djs_event_type_name(32), "worker.registered");
    ck_assert_str_eq(djs_event_type_name(65), "server.stopped");

    static const char *unknown[] = {"",      "job", "job.", "JOB.SUBMITTED", "job.Submitted", "job.submitted ", "worker.lostt",
                                    "server"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        ck_assert_int_eq(djs_event_type_from_name(unknown[i], strlen(unknown[i])), DJS_EINVAL);
    ck_assert_int_eq(djs_event_type_from_name("job.submitted\0", 14), DJS_EINVAL);
    static const int bad[] = {0, -1, 16, 31, 38, 63, 67, 0x10001, 65536};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_ptr_null(djs_event_type_name(bad[i]));
        ck_assert(!djs_event_type_valid(bad[i]));
    }
}
END_TEST

/* ---- golden fixture -------------------------------------------------------- */

#define FIXTURE_V1 DJS_SOURCE_DIR "/tests/fixtures/events-v1.bin"
/* The chain head (hash of the last record) of events-v1.bin. The file is
 * never regenerated for version 1, so this never changes. */
static const char fixture_v1_head[] = "efa675df38265509f83593933179da545b049b3a01d14cf07d3391c16dae79ad";

/* Record `index` of the fixture, of the given type; its body is packed into
 * *body (the caller destroys it). Deterministic: the fixture depends on
 * nothing else. Changing this function changes events-v1.bin, which must
 * not happen (see tests/fixtures/README.md). */
static void fixture_event(int type, int index, msgpack_sbuffer *body, djs_event_t *ev)
{
    msgpack_packer p;
    sb_packer(body, &p);
    msgpack_pack_map(&p, 4);
    pack_cstr(&p, "i");
    msgpack_pack_int64(&p, index);
    pack_cstr(&p, "name");
    char name[32];
    snprintf(name, sizeof(name), "job-%d", index);
    pack_cstr(&p, name);
    pack_cstr(&p, "tags");
    msgpack_pack_array(&p, 2);
    pack_cstr(&p, "a");
    pack_cstr(&p, "b");
    pack_cstr(&p, "neg");
    msgpack_pack_int64(&p, -1 - (int64_t)index);

    memset(ev, 0, sizeof(*ev));
    ev->type = (uint16_t)type;
    ev->seq = (uint64_t)index + 1;
    ev->ts_ns = 1700000000000000000ULL + (uint64_t)index * 1000;
    ev->actor = "fixture";
    ev->actor_len = 7;
    for (int j = 0; j < 16; j++)
        ev->entity.b[j] = (uint8_t)(j + 1);
    ev->entity.b[15] = (uint8_t)index;
    ev->body = (const uint8_t *)body->data;
    ev->body_len = body->size;
}

/* The event types when version 1 was released, in number order: the
 * fixture has one record for each. Frozen: a type added later is not in
 * events-v1.bin (and numbers are never reused or removed). */
static const int fixture_v1_types[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 32, 33, 34, 35, 36, 37, 64, 65};
#define FIXTURE_V1_COUNT (sizeof(fixture_v1_types) / sizeof(fixture_v1_types[0]))

/* The fixture file as the current encoder writes it. */
static void build_fixture_v1(djs_buf_t *file, uint8_t head[DJS_HASH_LEN])
{
    const int *types = fixture_v1_types;
    size_t n = FIXTURE_V1_COUNT;
    uint8_t prev[DJS_HASH_LEN] = {0};
    djs_buf_init(file);
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer body;
        djs_event_t ev;
        fixture_event(types[i], (int)i, &body, &ev);
        size_t frame = file->len;
        djs_buf_append(file, "\0\0\0\0", 4);
        ck_assert_int_eq(djs_event_encode(&ev, prev, file), 0);
        size_t len = file->len - frame - 4;
        for (int b = 0; b < 4; b++)
            file->base[frame + (size_t)b] = (uint8_t)(len >> (24 - 8 * b));
        memcpy(prev, ev.hash, DJS_HASH_LEN);
        msgpack_sbuffer_destroy(&body);
    }
    memcpy(head, prev, DJS_HASH_LEN);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

START_TEST(golden_fixture_v1)
{
    djs_buf_t want;
    uint8_t want_head[DJS_HASH_LEN];
    build_fixture_v1(&want, want_head);
    const char *w = getenv("DJS_WRITE_FIXTURES");
    if (w != NULL && strcmp(w, "1") == 0) {
        ck_assert_int_eq(tu_write_file(FIXTURE_V1, want.base, want.len), 0);
        char h[2 * DJS_HASH_LEN + 1];
        hex(want_head, DJS_HASH_LEN, h);
        fprintf(stderr, "wrote %s (%zu bytes), chain head %s\n", FIXTURE_V1, want.len, h);
    }

    size_t flen = 0;
    uint8_t *file = tu_read_file(FIXTURE_V1, &flen);
    ck_assert_msg(file != NULL, "cannot read %s", FIXTURE_V1);
    const int *types = fixture_v1_types;
    size_t n = FIXTURE_V1_COUNT;
    /* every type of the fixture is still known */
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(djs_event_type_valid(types[i]), "type %d of events-v1.bin is no longer known", types[i]);
    uint8_t prev[DJS_HASH_LEN] = {0};
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(flen - off >= 4, "fixture ends before record %zu", i);
        size_t len = (size_t)file[off] << 24 | (size_t)file[off + 1] << 16 | (size_t)file[off + 2] << 8 | file[off + 3];
        off += 4;
        ck_assert_msg(len <= flen - off, "record %zu overruns the file", i);
        const uint8_t *rec = file + off;
        djs_event_t got, exp;
        msgpack_sbuffer body;
        ck_assert_int_eq(djs_event_decode(rec, len, &got), 0);
        fixture_event(types[i], (int)i, &body, &exp);
        expect_same_event(&got, &exp);
        uint8_t h[DJS_HASH_LEN];
        djs_event_chain(prev, rec, len, h);
        ck_assert_mem_eq(got.hash, h, DJS_HASH_LEN);
        memcpy(prev, got.hash, DJS_HASH_LEN);
        msgpack_sbuffer_destroy(&body);
        off += len;
    }
    ck_assert_uint_eq(off, flen); /* one record per type, nothing after */

    /* the committed bytes are pinned ... */
    char h[2 * DJS_HASH_LEN + 1];
    hex(prev, DJS_HASH_LEN, h);
    ck_assert_str_eq(h, fixture_v1_head);
    /* ... and today's encoder still writes exactly them */
    ck_assert_uint_eq(want.len, flen);
    ck_assert(memcmp(want.base, file, flen) == 0);
    ck_assert_mem_eq(want_head, prev, DJS_HASH_LEN);
    free(file);
    djs_buf_dispose(&want);
}
END_TEST

static Suite *event_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, roundtrip_every_type);
    tcase_add_test(tc, empty_body_and_actor);
    tcase_add_test(tc, chain_of_100);
    tcase_add_test(tc, tamper_every_byte_detected);
    tcase_add_test(tc, type_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("refusals");
    tcase_add_test(tc, crafted_control_matches_encoder);
    tcase_add_test(tc, decode_rejects_version);
    tcase_add_test(tc, decode_rejects_field_count);
    tcase_add_test(tc, decode_rejects_unknown_type);
    tcase_add_test(tc, decode_rejects_bad_fields);
    tcase_add_test(tc, decode_rejects_oversize);
    tcase_add_test(tc, decode_rejects_empty_and_truncated);
    tcase_add_test(tc, encode_refuses);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_test(tc, golden_fixture_v1);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(event_suite)

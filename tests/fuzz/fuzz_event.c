/* libFuzzer target: the event decoder and the bounded MessagePack reader on
 * arbitrary bytes. Besides "no crash, no read outside the input" (ASan), it
 * checks invariants and traps on any violation:
 *
 * - a decoded event has a known type, actor <= DJS_EVENT_MAX_ACTOR, actor
 *   and body inside the input, a body that is one valid map, and the hash
 *   in the last 32 bytes;
 * - re-encoding the decoded fields succeeds and decodes to the same fields;
 *   the encoder writes the smallest form of every header, so the result is
 *   never longer than the input (equal when the input is in that form, as
 *   everything our encoder writes is), and encoding is a fixed point:
 *   encode(decode(encode(x))) == encode(x);
 * - djs_mp_validate on the whole input agrees with djs_mp_skip;
 * - djs_mp_skip, stepping through the input object by object, always moves
 *   forward on success and never moves on failure; each typed reader at each
 *   of those positions either fails without moving or, for a scalar, ends
 *   exactly where djs_mp_skip ends.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/event.h"
#include "core/mp.h"

#define CHECK(cond)                                                                                                                \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            __builtin_trap();                                                                                                      \
    } while (0)

static int known_error(int rc)
{
    return rc == DJS_ETRUNCATED || rc == DJS_ETOOBIG || rc == DJS_EBADTYPE || rc == DJS_ERANGE || rc == DJS_EVERSION ||
           rc == DJS_ECORRUPT;
}

static int same_fields(const djs_event_t *a, const djs_event_t *b)
{
    return a->version == b->version && a->seq == b->seq && a->type == b->type && a->ts_ns == b->ts_ns &&
           a->actor_len == b->actor_len && (a->actor_len == 0 || memcmp(a->actor, b->actor, a->actor_len) == 0) &&
           memcmp(a->entity.b, b->entity.b, 16) == 0 && a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0;
}

static void fields_of(const djs_event_t *ev, djs_event_t *out)
{
    memset(out, 0, sizeof(*out));
    out->seq = ev->seq;
    out->type = ev->type;
    out->ts_ns = ev->ts_ns;
    out->actor = ev->actor;
    out->actor_len = ev->actor_len;
    out->entity = ev->entity;
    out->body = ev->body;
    out->body_len = ev->body_len;
}

static void check_decoded(const uint8_t *data, size_t size, const djs_event_t *ev)
{
    const uint8_t *end = data + size;
    CHECK(ev->version == DJS_EVENT_VERSION);
    CHECK(djs_event_type_valid(ev->type));
    CHECK(ev->actor_len <= DJS_EVENT_MAX_ACTOR);
    CHECK(ev->actor != NULL && (const uint8_t *)ev->actor >= data && (size_t)(end - (const uint8_t *)ev->actor) >= ev->actor_len);
    CHECK(ev->body != NULL && ev->body >= data && ev->body_len >= 1 && (size_t)(end - ev->body) >= ev->body_len);
    CHECK(ev->body_len <= DJS_EVENT_MAX_BODY);
    CHECK(djs_mp_validate(ev->body, ev->body_len, DJS_EVENT_MAX_DEPTH) == 0);
    uint8_t tag = ev->body[0];
    CHECK((tag >= 0x80 && tag <= 0x8f) || tag == 0xde || tag == 0xdf);
    CHECK(size > DJS_HASH_LEN && memcmp(ev->hash, end - DJS_HASH_LEN, DJS_HASH_LEN) == 0);
    /* the record is one well-formed array: the body is nested one level down */
    CHECK(djs_mp_validate(data, size, DJS_EVENT_MAX_DEPTH + 1) == 0);

    /* chain the input to a predecessor taken from it (any 32 bytes will do) */
    uint8_t prev[DJS_HASH_LEN], h[DJS_HASH_LEN];
    memcpy(prev, ev->hash, DJS_HASH_LEN);
    djs_event_chain(prev, data, size, h);

    /* re-encode the decoded fields */
    djs_event_t re, back, re2;
    djs_buf_t out, out2;
    djs_buf_init(&out);
    djs_buf_init(&out2);
    fields_of(ev, &re);
    CHECK(djs_event_encode(&re, prev, &out) == 0);
    CHECK(out.len <= size);
    CHECK(djs_event_decode(out.base, out.len, &back) == 0);
    CHECK(same_fields(&back, ev));
    CHECK(memcmp(back.hash, re.hash, DJS_HASH_LEN) == 0);
    djs_event_chain(prev, out.base, out.len, h);
    CHECK(memcmp(h, back.hash, DJS_HASH_LEN) == 0);
    /* fixed point: what the encoder wrote, it writes again byte for byte */
    fields_of(&back, &re2);
    CHECK(djs_event_encode(&re2, prev, &out2) == 0);
    CHECK(out2.len == out.len && memcmp(out2.base, out.base, out.len) == 0);
    djs_buf_dispose(&out);
    djs_buf_dispose(&out2);
}

/* Every typed reader at r: fails without moving, or succeeds inside the
 * input; a scalar read ends where skip ends (skip_end, NULL if skip failed). */
static void check_readers(const djs_mp_reader_t *at, const uint8_t *skip_end)
{
    djs_mp_reader_t r;
    uint64_t u;
    int64_t i;
    int b;
    double d;
    const char *s;
    const uint8_t *bp;
    size_t n;
    uint32_t cnt;
    int rc;

#define SCALAR(call)                                                                                                               \
    do {                                                                                                                           \
        r = *at;                                                                                                                   \
        rc = (call);                                                                                                               \
        if (rc != 0) {                                                                                                             \
            CHECK(known_error(rc) && r.p == at->p);                                                                                \
        } else {                                                                                                                   \
            CHECK(skip_end != NULL && r.p == skip_end);                                                                            \
        }                                                                                                                          \
    } while (0)
    SCALAR(djs_mp_read_uint(&r, &u));
    SCALAR(djs_mp_read_int(&r, &i));
    SCALAR(djs_mp_read_bool(&r, &b));
    SCALAR(djs_mp_read_nil(&r));
    SCALAR(djs_mp_read_double(&r, &d));
    SCALAR(djs_mp_read_str(&r, &s, &n));
    if (rc == 0)
        CHECK((const uint8_t *)s + n == r.p);
    SCALAR(djs_mp_read_bin(&r, &bp, &n));
    if (rc == 0)
        CHECK(bp + n == r.p);
#undef SCALAR
    for (int m = 0; m < 2; m++) {
        r = *at;
        rc = m ? djs_mp_read_map(&r, &cnt) : djs_mp_read_array(&r, &cnt);
        if (rc != 0) {
            CHECK(known_error(rc) && r.p == at->p);
        } else {
            CHECK(r.p > at->p && r.p <= r.end);
            CHECK((uint64_t)cnt * (m ? 2u : 1u) <= (uint64_t)(r.end - r.p));
        }
    }
    uint8_t tag;
    rc = djs_mp_peek(at, &tag);
    CHECK(rc == 0 ? tag == *at->p : (rc == DJS_ETRUNCATED && at->p == at->end));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    djs_event_t ev;
    int rc = djs_event_decode(data, size, &ev);
    if (rc == 0)
        check_decoded(data, size, &ev);
    else
        CHECK(known_error(rc));

    int v = djs_mp_validate(data, size, DJS_MP_MAX_DEPTH);
    CHECK(v == 0 || known_error(v));

    djs_mp_reader_t r;
    djs_mp_reader_init(&r, data, size);
    for (int first = 1;; first = 0) {
        const uint8_t *before = r.p;
        djs_mp_reader_t at = r;
        int src = djs_mp_skip(&r, DJS_MP_MAX_DEPTH);
        if (first) /* validate is exactly "skip one, then nothing left" */
            CHECK(src != 0 ? v == src : v == (r.p == r.end ? 0 : DJS_ECORRUPT));
        check_readers(&at, src == 0 ? r.p : NULL);
        if (src != 0) {
            CHECK(known_error(src) && r.p == before);
            break;
        }
        CHECK(r.p > before && r.p <= r.end);
        if (r.p == r.end)
            break;
    }
    return 0;
}

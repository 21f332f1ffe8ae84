#include "core/event.h"

#include <msgpack.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mp.h"

static const int all_types[] = {
#define DJS__EV_NUM(name, num, wire) num,
    DJS_EVENT_TYPE_MAP(DJS__EV_NUM)
#undef DJS__EV_NUM
};

const char *djs_event_type_name(int type)
{
    switch (type) {
#define DJS__EV_NAME(name, num, wire)                                                                                              \
    case num:                                                                                                                      \
        return wire;
        DJS_EVENT_TYPE_MAP(DJS__EV_NAME)
#undef DJS__EV_NAME
    }
    return NULL;
}

int djs_event_type_valid(int type)
{
    return djs_event_type_name(type) != NULL;
}

int djs_event_type_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++) {
        const char *w = djs_event_type_name(all_types[i]);
        if (strlen(w) == len && memcmp(w, name, len) == 0)
            return all_types[i];
    }
    return DJS_EINVAL;
}

size_t djs_event_types(const int **types)
{
    *types = all_types;
    return sizeof(all_types) / sizeof(all_types[0]);
}

static int buf_write(void *data, const char *p, size_t n)
{
    djs_buf_append((djs_buf_t *)data, p, n);
    return 0;
}

/* SHA-256 through EVP (the low-level SHA256_* calls are deprecated in
 * OpenSSL 3). The digest is fetched once and the context reused per thread:
 * EVP_sha256() would do an implicit, locked provider fetch on every init.
 * A thread-specific key frees both when a hashing thread exits. */
typedef struct sha_state {
    EVP_MD_CTX *ctx;
    EVP_MD *md;
} sha_state_t;

static pthread_key_t sha_key;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static _Thread_local sha_state_t *sha;

static void sha_free(void *p)
{
    sha_state_t *s = p;
    EVP_MD_CTX_free(s->ctx);
    EVP_MD_free(s->md);
    free(s);
}

static void sha_key_create(void)
{
    if (pthread_key_create(&sha_key, sha_free) != 0)
        abort();
}

static sha_state_t *sha_get(void)
{
    if (sha == NULL) {
        pthread_once(&sha_once, sha_key_create);
        sha = malloc(sizeof(*sha));
        if (sha == NULL || (sha->ctx = EVP_MD_CTX_new()) == NULL || (sha->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
            abort(); /* only on OOM or a broken OpenSSL install */
        pthread_setspecific(sha_key, sha);
    }
    return sha;
}

void djs_event_chain(const uint8_t prev_hash[DJS_HASH_LEN], const uint8_t *rec, size_t len, uint8_t out[DJS_HASH_LEN])
{
    sha_state_t *s = sha_get();
    unsigned int n = 0;
    if (EVP_DigestInit_ex(s->ctx, s->md, NULL) != 1 || EVP_DigestUpdate(s->ctx, prev_hash, DJS_HASH_LEN) != 1 ||
        EVP_DigestUpdate(s->ctx, rec, len - DJS_HASH_LEN) != 1 || EVP_DigestFinal_ex(s->ctx, out, &n) != 1)
        abort();
}

void djs_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[DJS_HASH_LEN])
{
    sha_state_t *s = sha_get();
    unsigned int n = 0;
    if (EVP_DigestInit_ex(s->ctx, s->md, NULL) != 1 || (alen > 0 && EVP_DigestUpdate(s->ctx, a, alen) != 1) ||
        (blen > 0 && EVP_DigestUpdate(s->ctx, b, blen) != 1) || EVP_DigestFinal_ex(s->ctx, out, &n) != 1)
        abort();
}

int djs_event_encode(djs_event_t *ev, const uint8_t prev_hash[DJS_HASH_LEN], djs_buf_t *out)
{
    static const uint8_t empty_map = 0x80;
    const uint8_t *body = ev->body_len ? ev->body : &empty_map;
    size_t body_len = ev->body_len ? ev->body_len : 1;

    if (!djs_event_type_valid(ev->type))
        return DJS_EINVAL;
    if (ev->actor_len > DJS_EVENT_MAX_ACTOR || body_len > DJS_EVENT_MAX_BODY)
        return DJS_ETOOBIG;
    if (body[0] < 0x80 || (body[0] > 0x8f && body[0] != 0xde && body[0] != 0xdf))
        return DJS_EINVAL;
    /* The body comes from our own engine, but a malformed one would make
     * the whole log undecodable: check it before it is written. */
    if (djs_mp_validate(body, body_len, DJS_EVENT_MAX_DEPTH) != 0)
        return DJS_EINVAL;

    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_uint32(&pk, DJS_EVENT_VERSION);
    msgpack_pack_uint64(&pk, ev->seq);
    msgpack_pack_uint16(&pk, ev->type);
    msgpack_pack_uint64(&pk, ev->ts_ns);
    msgpack_pack_str(&pk, ev->actor_len);
    msgpack_pack_str_body(&pk, ev->actor, ev->actor_len);
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, ev->entity.b, 16);
    djs_buf_append(out, body, body_len);
    msgpack_pack_bin(&pk, DJS_HASH_LEN);
    uint8_t *h = djs_buf_reserve(out, DJS_HASH_LEN);
    out->len += DJS_HASH_LEN;
    djs_event_chain(prev_hash, out->base + start, out->len - start, h);
    memcpy(ev->hash, h, DJS_HASH_LEN);
    ev->version = DJS_EVENT_VERSION;
    return 0;
}

static int decode_v1(djs_mp_reader_t *r, uint32_t nfields, djs_event_t *ev)
{
    uint64_t u;
    const uint8_t *b;
    size_t n;
    int rc;

    if (nfields != 8)
        return DJS_ECORRUPT;
    if ((rc = djs_mp_read_uint(r, &ev->seq)) != 0)
        return rc;
    if ((rc = djs_mp_read_uint(r, &u)) != 0)
        return rc;
    if (!djs_event_type_valid((int)(u & 0xffff)) || u > 0xffff)
        return DJS_EBADTYPE;
    ev->type = (uint16_t)u;
    if ((rc = djs_mp_read_uint(r, &ev->ts_ns)) != 0)
        return rc;
    if ((rc = djs_mp_read_str(r, &ev->actor, &ev->actor_len)) != 0)
        return rc;
    if (ev->actor_len > DJS_EVENT_MAX_ACTOR)
        return DJS_ETOOBIG;
    if ((rc = djs_mp_read_bin(r, &b, &n)) != 0)
        return rc;
    if (n != 16)
        return DJS_EBADTYPE;
    memcpy(ev->entity.b, b, 16);
    uint8_t tag;
    if ((rc = djs_mp_peek(r, &tag)) != 0)
        return rc;
    if (!((tag >= 0x80 && tag <= 0x8f) || tag == 0xde || tag == 0xdf))
        return DJS_EBADTYPE;
    ev->body = r->p;
    if ((rc = djs_mp_skip(r, DJS_EVENT_MAX_DEPTH)) != 0)
        return rc;
    ev->body_len = (size_t)(r->p - ev->body);
    if (ev->body_len > DJS_EVENT_MAX_BODY)
        return DJS_ETOOBIG;
    if ((rc = djs_mp_read_bin(r, &b, &n)) != 0)
        return rc;
    if (n != DJS_HASH_LEN)
        return DJS_EBADTYPE;
    memcpy(ev->hash, b, DJS_HASH_LEN);
    return r->p == r->end ? 0 : DJS_ECORRUPT;
}

int djs_event_decode(const uint8_t *rec, size_t len, djs_event_t *ev)
{
    djs_mp_reader_t r;
    uint32_t nfields;
    uint64_t version;
    int rc;

    if (rec == NULL || len == 0)
        return DJS_ETRUNCATED;
    if (len > DJS_EVENT_MAX_RECORD)
        return DJS_ETOOBIG;
    memset(ev, 0, sizeof(*ev));
    djs_mp_reader_init(&r, rec, len);
    if ((rc = djs_mp_read_array(&r, &nfields)) != 0)
        return rc;
    if (nfields < 1)
        return DJS_ECORRUPT;
    if ((rc = djs_mp_read_uint(&r, &version)) != 0)
        return rc;
    ev->version = (uint32_t)version;
    switch (version) {
    case 1:
        return decode_v1(&r, nfields, ev);
    }
    return DJS_EVERSION;
}

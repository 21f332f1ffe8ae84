#include "core/mp.h"

#include <string.h>

#include "core/error.h"

static inline size_t left(const djs_mp_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Consume a tag byte plus an n-byte big-endian argument. */
static int take(djs_mp_reader_t *r, int n, uint64_t *v)
{
    if (left(r) < (size_t)n + 1)
        return DJS_ETRUNCATED;
    *v = be(r->p + 1, n);
    r->p += 1 + n;
    return 0;
}

int djs_mp_peek(const djs_mp_reader_t *r, uint8_t *byte)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    *byte = *r->p;
    return 0;
}

int djs_mp_read_uint(djs_mp_reader_t *r, uint64_t *v)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    uint8_t c = *r->p;
    if (c <= 0x7f) {
        *v = c;
        r->p++;
        return 0;
    }
    switch (c) {
    case 0xcc:
        return take(r, 1, v);
    case 0xcd:
        return take(r, 2, v);
    case 0xce:
        return take(r, 4, v);
    case 0xcf:
        return take(r, 8, v);
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        int64_t s;
        const uint8_t *save = r->p;
        int rc = djs_mp_read_int(r, &s);
        if (rc != 0)
            return rc; /* s is unset: leave *v alone */
        if (s < 0) {
            r->p = save;
            return DJS_ERANGE;
        }
        *v = (uint64_t)s;
        return 0;
    }
    }
    if (c >= 0xe0)
        return DJS_ERANGE; /* negative fixint */
    return DJS_EBADTYPE;
}

int djs_mp_read_int(djs_mp_reader_t *r, int64_t *v)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    uint8_t c = *r->p;
    uint64_t u;
    int rc;
    if (c >= 0xe0) {
        *v = (int8_t)c;
        r->p++;
        return 0;
    }
    switch (c) {
    case 0xd0:
        if ((rc = take(r, 1, &u)) == 0)
            *v = (int8_t)u;
        return rc;
    case 0xd1:
        if ((rc = take(r, 2, &u)) == 0)
            *v = (int16_t)u;
        return rc;
    case 0xd2:
        if ((rc = take(r, 4, &u)) == 0)
            *v = (int32_t)u;
        return rc;
    case 0xd3:
        if ((rc = take(r, 8, &u)) == 0)
            *v = (int64_t)u;
        return rc;
    }
    const uint8_t *save = r->p;
    if ((rc = djs_mp_read_uint(r, &u)) != 0)
        return rc;
    if (u > (uint64_t)INT64_MAX) {
        r->p = save;
        return DJS_ERANGE;
    }
    *v = (int64_t)u;
    return 0;
}

int djs_mp_read_bool(djs_mp_reader_t *r, int *v)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return DJS_EBADTYPE;
    *v = *r->p == 0xc3;
    r->p++;
    return 0;
}

int djs_mp_read_nil(djs_mp_reader_t *r)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    if (*r->p != 0xc0)
        return DJS_EBADTYPE;
    r->p++;
    return 0;
}

int djs_mp_read_double(djs_mp_reader_t *r, double *v)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    uint8_t c = *r->p;
    uint64_t u;
    int rc;
    if (c == 0xca) {
        if ((rc = take(r, 4, &u)) == 0) {
            uint32_t b = (uint32_t)u;
            float f;
            memcpy(&f, &b, 4);
            *v = f;
        }
        return rc;
    }
    if (c == 0xcb) {
        if ((rc = take(r, 8, &u)) == 0)
            memcpy(v, &u, 8);
        return rc;
    }
    int64_t i;
    if ((rc = djs_mp_read_int(r, &i)) == 0) {
        *v = (double)i;
        return 0;
    }
    if (rc == DJS_ERANGE && (rc = djs_mp_read_uint(r, &u)) == 0)
        *v = (double)u;
    return rc;
}

/* Length-prefixed byte objects (str, bin, ext share this shape). */
static int read_bytes(djs_mp_reader_t *r, int lenbytes, const uint8_t **b, size_t *len)
{
    uint64_t n;
    int rc = take(r, lenbytes, &n);
    if (rc != 0)
        return rc;
    if (n > left(r)) {
        r->p -= 1 + lenbytes;
        return DJS_ETRUNCATED;
    }
    *b = r->p;
    *len = (size_t)n;
    r->p += n;
    return 0;
}

int djs_mp_read_str(djs_mp_reader_t *r, const char **s, size_t *len)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    uint8_t c = *r->p;
    const uint8_t *b;
    int rc;
    if (c >= 0xa0 && c <= 0xbf) {
        size_t n = c & 0x1f;
        if (n + 1 > left(r))
            return DJS_ETRUNCATED;
        *s = (const char *)r->p + 1;
        *len = n;
        r->p += 1 + n;
        return 0;
    }
    if (c == 0xd9)
        rc = read_bytes(r, 1, &b, len);
    else if (c == 0xda)
        rc = read_bytes(r, 2, &b, len);
    else if (c == 0xdb)
        rc = read_bytes(r, 4, &b, len);
    else
        return DJS_EBADTYPE;
    if (rc == 0)
        *s = (const char *)b;
    return rc;
}

int djs_mp_read_bin(djs_mp_reader_t *r, const uint8_t **b, size_t *len)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    switch (*r->p) {
    case 0xc4:
        return read_bytes(r, 1, b, len);
    case 0xc5:
        return read_bytes(r, 2, b, len);
    case 0xc6:
        return read_bytes(r, 4, b, len);
    }
    return DJS_EBADTYPE;
}

/* Container header; `per` is the minimum bytes one entry takes (1 for an
 * array element, 2 for a map pair), used to refuse impossible counts. */
static int read_container(djs_mp_reader_t *r, uint8_t fix_lo, uint8_t fix_hi, uint8_t t16, uint8_t t32, int per, uint32_t *n)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    uint8_t c = *r->p;
    uint64_t v;
    int rc = 0;
    const uint8_t *save = r->p;
    if (c >= fix_lo && c <= fix_hi) {
        v = c & 0x0f;
        r->p++;
    } else if (c == t16) {
        rc = take(r, 2, &v);
    } else if (c == t32) {
        rc = take(r, 4, &v);
    } else {
        return DJS_EBADTYPE;
    }
    if (rc != 0)
        return rc;
    if (v * (uint64_t)per > left(r)) {
        r->p = save;
        return DJS_ETOOBIG;
    }
    *n = (uint32_t)v;
    return 0;
}

int djs_mp_read_array(djs_mp_reader_t *r, uint32_t *n)
{
    return read_container(r, 0x90, 0x9f, 0xdc, 0xdd, 1, n);
}

int djs_mp_read_map(djs_mp_reader_t *r, uint32_t *n)
{
    return read_container(r, 0x80, 0x8f, 0xde, 0xdf, 2, n);
}

int djs_mp_skip(djs_mp_reader_t *r, int max_depth)
{
    if (left(r) == 0)
        return DJS_ETRUNCATED;
    uint8_t c = *r->p;
    const uint8_t *b;
    size_t len;
    uint64_t u;
    uint32_t n;
    int rc;

    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        r->p++;
        return 0;
    }
    if ((c >= 0xa0 && c <= 0xbf) || c == 0xd9 || c == 0xda || c == 0xdb) {
        const char *s;
        return djs_mp_read_str(r, &s, &len);
    }
    if ((c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd || (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf) {
        int is_map = (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
        if (max_depth <= 0)
            return DJS_ETOOBIG;
        const uint8_t *save = r->p;
        rc = is_map ? djs_mp_read_map(r, &n) : djs_mp_read_array(r, &n);
        if (rc != 0)
            return rc;
        uint64_t items = is_map ? 2ULL * n : n;
        for (uint64_t i = 0; i < items; i++) {
            if ((rc = djs_mp_skip(r, max_depth - 1)) != 0) {
                r->p = save;
                return rc;
            }
        }
        return 0;
    }
    switch (c) {
    case 0xc4:
    case 0xc5:
    case 0xc6:
        return djs_mp_read_bin(r, &b, &len);
    case 0xc7: /* ext 8/16/32: length, type byte, data */
    case 0xc8:
    case 0xc9: {
        int lb = c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4;
        if ((rc = take(r, lb, &u)) != 0)
            return rc;
        if (u + 1 > left(r)) {
            r->p -= 1 + lb;
            return DJS_ETRUNCATED;
        }
        r->p += u + 1;
        return 0;
    }
    case 0xca:
    case 0xcb:
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        static const int width[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
        return take(r, width[c - 0xca], &u);
    }
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8: { /* fixext 1..16: type byte + data */
        size_t sz = (size_t)1 << (c - 0xd4);
        if (left(r) < 2 + sz)
            return DJS_ETRUNCATED;
        r->p += 2 + sz;
        return 0;
    }
    }
    return DJS_EBADTYPE; /* 0xc1 is never used */
}

int djs_mp_validate(const void *data, size_t len, int max_depth)
{
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, data, len);
    int rc = djs_mp_skip(&r, max_depth);
    if (rc != 0)
        return rc;
    return r.p == r.end ? 0 : DJS_ECORRUPT;
}

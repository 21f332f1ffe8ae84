/* core/mp.h: the bounded MessagePack reader. Valid input of every width
 * (packed with msgpack-c, the reference the engine writes with), every
 * truncation, hostile container counts, nesting, reserved bytes, ranges.
 *
 * Convention checked throughout: a reader that fails leaves the reader's
 * position where it was (the callers rely on it to try another type). */
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mp.h"
#include "testutil.h"

/* Every passing ck_assert_* records a "last point" (a write to Check's
 * message file); loops over hundreds of thousands of cases use this, which
 * only reports a failure. */
#define EXPECT(cond)                                                                                                               \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #cond);                                                         \
    } while (0)

/* ---- helpers ----------------------------------------------------------- */

typedef struct pk {
    msgpack_sbuffer sb;
    msgpack_packer p;
} pk_t;

static void pk_init(pk_t *k)
{
    msgpack_sbuffer_init(&k->sb);
    msgpack_packer_init(&k->p, &k->sb, msgpack_sbuffer_write);
}

static void pk_clear(pk_t *k)
{
    msgpack_sbuffer_clear(&k->sb);
}

static void pk_free(pk_t *k)
{
    msgpack_sbuffer_destroy(&k->sb);
}

static const uint8_t *pk_data(const pk_t *k)
{
    return (const uint8_t *)k->sb.data;
}

static void pack_cstr(msgpack_packer *p, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(p, n);
    msgpack_pack_str_body(p, s, n);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* A buffer of exactly n bytes on the heap, so ASan catches any read past
 * the end (the sbuffer has slack after its data). */
static uint8_t *exact_copy(const void *data, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    if (n)
        memcpy(b, data, n);
    return b;
}

/* Position of the reader after a successful djs_mp_skip from r, or NULL. */
static const uint8_t *skip_end(const djs_mp_reader_t *r, int depth)
{
    djs_mp_reader_t c = *r;
    return djs_mp_skip(&c, depth) == 0 ? c.p : NULL;
}

/* Every typed reader on the object at r refuses it with `want` and does not
 * move. `except` is a bitmask of readers not to try (the ones that accept). */
enum { R_UINT = 1, R_INT = 2, R_BOOL = 4, R_NIL = 8, R_DOUBLE = 16, R_STR = 32, R_BIN = 64, R_ARRAY = 128, R_MAP = 256 };

static void expect_readers_refuse(const uint8_t *data, size_t len, int except, int want)
{
    djs_mp_reader_t r;
    uint64_t u = 0;
    int64_t i = 0;
    int b = 0;
    double d = 0;
    const char *s = NULL;
    const uint8_t *bp = NULL;
    size_t n = 0;
    uint32_t cnt = 0;

    djs_mp_reader_init(&r, data, len);
    if (!(except & R_UINT)) {
        EXPECT(djs_mp_read_uint(&r, &u) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_INT)) {
        EXPECT(djs_mp_read_int(&r, &i) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_BOOL)) {
        EXPECT(djs_mp_read_bool(&r, &b) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_NIL)) {
        EXPECT(djs_mp_read_nil(&r) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_DOUBLE)) {
        EXPECT(djs_mp_read_double(&r, &d) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_STR)) {
        EXPECT(djs_mp_read_str(&r, &s, &n) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_BIN)) {
        EXPECT(djs_mp_read_bin(&r, &bp, &n) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_ARRAY)) {
        EXPECT(djs_mp_read_array(&r, &cnt) == want);
        EXPECT(r.p == data);
    }
    if (!(except & R_MAP)) {
        EXPECT(djs_mp_read_map(&r, &cnt) == want);
        EXPECT(r.p == data);
    }
}

/* ---- integers ---------------------------------------------------------- */

typedef enum { F_MIN, F_U8, F_U16, F_U32, F_U64, F_I8, F_I16, F_I32, F_I64 } packfn_t;

static void pack_with(msgpack_packer *p, packfn_t f, int64_t sv, uint64_t uv)
{
    switch (f) {
    case F_MIN:
        msgpack_pack_uint64(p, uv);
        break;
    case F_U8:
        msgpack_pack_fix_uint8(p, (uint8_t)uv);
        break;
    case F_U16:
        msgpack_pack_fix_uint16(p, (uint16_t)uv);
        break;
    case F_U32:
        msgpack_pack_fix_uint32(p, (uint32_t)uv);
        break;
    case F_U64:
        msgpack_pack_fix_uint64(p, uv);
        break;
    case F_I8:
        msgpack_pack_fix_int8(p, (int8_t)sv);
        break;
    case F_I16:
        msgpack_pack_fix_int16(p, (int16_t)sv);
        break;
    case F_I32:
        msgpack_pack_fix_int32(p, (int32_t)sv);
        break;
    case F_I64:
        msgpack_pack_fix_int64(p, sv);
        break;
    }
}

START_TEST(uint_every_width)
{
    static const struct {
        packfn_t f;
        uint64_t v;
        uint8_t tag; /* first byte; 0xff means "the value itself" (fixint) */
        size_t len;
    } cases[] = {
        {F_MIN, 0, 0xff, 1},
        {F_MIN, 1, 0xff, 1},
        {F_MIN, 127, 0xff, 1},
        {F_MIN, 128, 0xcc, 2},
        {F_U8, 0, 0xcc, 2},
        {F_U8, 255, 0xcc, 2},
        {F_U16, 0, 0xcd, 3},
        {F_U16, 256, 0xcd, 3},
        {F_U16, 65535, 0xcd, 3},
        {F_U32, 0, 0xce, 5},
        {F_U32, 65536, 0xce, 5},
        {F_U32, 0xffffffffu, 0xce, 5},
        {F_U64, 0, 0xcf, 9},
        {F_U64, 0x100000000ULL, 0xcf, 9},
        {F_U64, (uint64_t)INT64_MAX, 0xcf, 9},
        {F_U64, (uint64_t)INT64_MAX + 1, 0xcf, 9},
        {F_U64, UINT64_MAX, 0xcf, 9},
        {F_MIN, UINT64_MAX - 1, 0xcf, 9},
        /* signed encodings of non-negative values are uints too */
        {F_I8, 0, 0xd0, 2},
        {F_I8, 127, 0xd0, 2},
        {F_I16, 32767, 0xd1, 3},
        {F_I32, 2147483647, 0xd2, 5},
        {F_I64, INT64_MAX, 0xd3, 9},
    };
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        pk_clear(&k);
        pack_with(&k.p, cases[c].f, (int64_t)cases[c].v, cases[c].v);
        ck_assert_uint_eq(k.sb.size, cases[c].len);
        ck_assert_uint_eq(pk_data(&k)[0], cases[c].tag == 0xff ? cases[c].v : cases[c].tag);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        uint64_t u = 12345;
        int64_t i = 12345;
        double d = -1;
        uint8_t tag;

        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_peek(&r, &tag), 0);
        ck_assert_uint_eq(tag, b[0]);
        ck_assert_ptr_eq(r.p, b);
        ck_assert_int_eq(djs_mp_read_uint(&r, &u), 0);
        ck_assert_uint_eq(u, cases[c].v);
        ck_assert_ptr_eq(r.p, b + cases[c].len);
        ck_assert_int_eq(djs_mp_peek(&r, &tag), DJS_ETRUNCATED);

        djs_mp_reader_init(&r, b, k.sb.size);
        if (cases[c].v <= (uint64_t)INT64_MAX) {
            ck_assert_int_eq(djs_mp_read_int(&r, &i), 0);
            ck_assert_int_eq(i, (int64_t)cases[c].v);
            ck_assert_ptr_eq(r.p, b + cases[c].len);
        } else {
            ck_assert_int_eq(djs_mp_read_int(&r, &i), DJS_ERANGE);
            ck_assert_int_eq(i, 12345);
            ck_assert_ptr_eq(r.p, b);
        }

        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
        ck_assert(d == (double)cases[c].v);
        ck_assert_ptr_eq(r.p, b + cases[c].len);

        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_skip(&r, 0), 0);
        ck_assert_ptr_eq(r.p, b + cases[c].len);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), 0);
        expect_readers_refuse(b, k.sb.size, R_UINT | R_INT | R_DOUBLE, DJS_EBADTYPE);
        free(b);
    }
    pk_free(&k);
}
END_TEST

START_TEST(int_every_width)
{
    static const struct {
        packfn_t f; /* F_MIN: msgpack_pack_int64 (smallest form) */
        int64_t v;
        uint8_t tag; /* 0 means negative fixint: the byte is the value */
        size_t len;
    } cases[] = {
        {F_MIN, -1, 0, 1},
        {F_MIN, -32, 0, 1},
        {F_MIN, -33, 0xd0, 2},
        {F_MIN, -128, 0xd0, 2},
        {F_MIN, -129, 0xd1, 3},
        {F_MIN, -32768, 0xd1, 3},
        {F_MIN, -32769, 0xd2, 5},
        {F_MIN, INT32_MIN, 0xd2, 5},
        {F_MIN, (int64_t)INT32_MIN - 1, 0xd3, 9},
        {F_MIN, INT64_MIN, 0xd3, 9},
        {F_I8, -1, 0xd0, 2},
        {F_I16, -1, 0xd1, 3},
        {F_I32, -1, 0xd2, 5},
        {F_I64, -1, 0xd3, 9},
        {F_I16, INT16_MIN, 0xd1, 3},
        {F_I64, INT64_MIN + 1, 0xd3, 9},
    };
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        pk_clear(&k);
        if (cases[c].f == F_MIN)
            msgpack_pack_int64(&k.p, cases[c].v);
        else
            pack_with(&k.p, cases[c].f, cases[c].v, 0);
        ck_assert_uint_eq(k.sb.size, cases[c].len);
        if (cases[c].tag == 0)
            ck_assert_uint_eq(pk_data(&k)[0], (uint8_t)cases[c].v);
        else
            ck_assert_uint_eq(pk_data(&k)[0], cases[c].tag);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        int64_t i = 0;
        uint64_t u = 777;
        double d = 0;

        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_int(&r, &i), 0);
        ck_assert_int_eq(i, cases[c].v);
        ck_assert_ptr_eq(r.p, b + cases[c].len);

        /* a negative value is out of range for read_uint, which does not move */
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_uint(&r, &u), DJS_ERANGE);
        ck_assert_ptr_eq(r.p, b);
        ck_assert_uint_eq(u, 777);

        ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
        ck_assert(d == (double)cases[c].v);
        ck_assert_ptr_eq(r.p, b + cases[c].len);

        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), 0);
        expect_readers_refuse(b, k.sb.size, R_UINT | R_INT | R_DOUBLE, DJS_EBADTYPE);
        free(b);
    }
    pk_free(&k);
}
END_TEST

START_TEST(int_range_errors)
{
    /* uint64 above INT64_MAX: read_int refuses, read_uint and read_double take it */
    static const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t max[] = {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t neg8[] = {0xd0, 0xff};
    static const uint8_t neg64[] = {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t negfix[] = {0xff};
    djs_mp_reader_t r;
    int64_t i;
    uint64_t u;
    double d;

    djs_mp_reader_init(&r, big, sizeof(big));
    ck_assert_int_eq(djs_mp_read_int(&r, &i), DJS_ERANGE);
    ck_assert_ptr_eq(r.p, big);
    ck_assert_int_eq(djs_mp_read_uint(&r, &u), 0);
    ck_assert_uint_eq(u, 1ULL << 63);
    djs_mp_reader_init(&r, big, sizeof(big));
    ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
    ck_assert(d == 9223372036854775808.0);

    djs_mp_reader_init(&r, max, sizeof(max));
    ck_assert_int_eq(djs_mp_read_int(&r, &i), 0);
    ck_assert_int_eq(i, INT64_MAX);

    const uint8_t *negs[] = {neg8, neg64, negfix};
    const size_t neglen[] = {sizeof(neg8), sizeof(neg64), sizeof(negfix)};
    for (int n = 0; n < 3; n++) {
        djs_mp_reader_init(&r, negs[n], neglen[n]);
        ck_assert_int_eq(djs_mp_read_uint(&r, &u), DJS_ERANGE);
        ck_assert_ptr_eq(r.p, negs[n]);
        ck_assert_int_eq(djs_mp_read_int(&r, &i), 0);
        ck_assert_int_lt(i, 0);
        ck_assert_ptr_eq(r.p, negs[n] + neglen[n]);
    }
}
END_TEST

/* 200k integers of random widths through msgpack-c's smallest-form packer. */
START_TEST(int_random_crosscheck)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    pk_t k;
    pk_init(&k);
    enum { N = 200000 };
    int64_t *want = malloc(N * sizeof(*want));
    uint64_t *wantu = malloc(N * sizeof(*wantu));
    int *neg = malloc(N * sizeof(*neg));
    for (int n = 0; n < N; n++) {
        uint64_t x = rnd(&s);
        int bits = (int)(rnd(&s) % 65);
        x = bits == 64 ? x : x & ((1ULL << bits) - 1);
        neg[n] = (rnd(&s) & 1) && x <= (uint64_t)INT64_MAX + 1 && x > 0;
        if (neg[n]) {
            want[n] = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
            msgpack_pack_int64(&k.p, want[n]);
        } else {
            wantu[n] = x;
            msgpack_pack_uint64(&k.p, x);
        }
    }
    uint8_t *b = exact_copy(k.sb.data, k.sb.size);
    djs_mp_reader_t r, sk;
    djs_mp_reader_init(&r, b, k.sb.size);
    djs_mp_reader_init(&sk, b, k.sb.size);
    for (int n = 0; n < N; n++) {
        EXPECT(djs_mp_skip(&sk, 0) == 0);
        if (neg[n]) {
            int64_t i;
            EXPECT(djs_mp_read_int(&r, &i) == 0);
            EXPECT(i == want[n]);
        } else {
            uint64_t u;
            EXPECT(djs_mp_read_uint(&r, &u) == 0);
            EXPECT(u == wantu[n]);
        }
        EXPECT(r.p == sk.p);
    }
    ck_assert_ptr_eq(r.p, r.end);
    free(b);
    free(want);
    free(wantu);
    free(neg);
    pk_free(&k);
}
END_TEST

/* ---- floats, nil, bool ------------------------------------------------- */

START_TEST(floats)
{
    static const float fs[] = {0.0f, -0.0f, 1.5f, -0.1f, 3.4028235e38f, 1.17549435e-38f, 1e-45f};
    static const double ds[] = {0.0, -0.0, 3.141592653589793, -2.5e-300, 1.7976931348623157e308, 4.9e-324};
    pk_t k;
    pk_init(&k);
    for (size_t n = 0; n < sizeof(fs) / sizeof(fs[0]); n++) {
        pk_clear(&k);
        msgpack_pack_float(&k.p, fs[n]);
        ck_assert_uint_eq(k.sb.size, 5);
        ck_assert_uint_eq(pk_data(&k)[0], 0xca);
        djs_mp_reader_t r;
        double d = 99;
        djs_mp_reader_init(&r, k.sb.data, k.sb.size);
        ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
        ck_assert(d == (double)fs[n]);
        ck_assert_int_eq(signbit(d) != 0, signbit(fs[n]) != 0);
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(k.sb.data, k.sb.size, 0), 0);
        expect_readers_refuse(pk_data(&k), k.sb.size, R_DOUBLE, DJS_EBADTYPE);
    }
    for (size_t n = 0; n < sizeof(ds) / sizeof(ds[0]); n++) {
        pk_clear(&k);
        msgpack_pack_double(&k.p, ds[n]);
        ck_assert_uint_eq(k.sb.size, 9);
        ck_assert_uint_eq(pk_data(&k)[0], 0xcb);
        djs_mp_reader_t r;
        double d = 99;
        djs_mp_reader_init(&r, k.sb.data, k.sb.size);
        ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
        ck_assert(memcmp(&d, &ds[n], sizeof(d)) == 0); /* bit-exact, sign of zero included */
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(k.sb.data, k.sb.size, 0), 0);
        expect_readers_refuse(pk_data(&k), k.sb.size, R_DOUBLE, DJS_EBADTYPE);
    }
    /* non-finite values pass through */
    pk_clear(&k);
    msgpack_pack_double(&k.p, INFINITY);
    msgpack_pack_float(&k.p, -INFINITY);
    msgpack_pack_double(&k.p, NAN);
    msgpack_pack_float(&k.p, NAN);
    djs_mp_reader_t r;
    double d;
    djs_mp_reader_init(&r, k.sb.data, k.sb.size);
    ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
    ck_assert(isinf(d) && d > 0);
    ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
    ck_assert(isinf(d) && d < 0);
    ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
    ck_assert(isnan(d));
    ck_assert_int_eq(djs_mp_read_double(&r, &d), 0);
    ck_assert(isnan(d));
    ck_assert_ptr_eq(r.p, r.end);
    pk_free(&k);
}
END_TEST

START_TEST(nil_and_bool)
{
    pk_t k;
    pk_init(&k);
    msgpack_pack_nil(&k.p);
    msgpack_pack_true(&k.p);
    msgpack_pack_false(&k.p);
    ck_assert_uint_eq(k.sb.size, 3);
    ck_assert_mem_eq(k.sb.data, "\xc0\xc3\xc2", 3);
    djs_mp_reader_t r;
    int v = 7;
    djs_mp_reader_init(&r, k.sb.data, k.sb.size);
    ck_assert_int_eq(djs_mp_read_bool(&r, &v), DJS_EBADTYPE); /* nil is not false */
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(djs_mp_read_nil(&r), 0);
    ck_assert_int_eq(djs_mp_read_nil(&r), DJS_EBADTYPE); /* true is not nil */
    ck_assert_int_eq(djs_mp_read_bool(&r, &v), 0);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(djs_mp_read_bool(&r, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(djs_mp_read_bool(&r, &v), DJS_ETRUNCATED);
    ck_assert_int_eq(djs_mp_read_nil(&r), DJS_ETRUNCATED);
    ck_assert_ptr_eq(r.p, r.end);
    expect_readers_refuse(pk_data(&k), 1, R_NIL, DJS_EBADTYPE);
    expect_readers_refuse(pk_data(&k) + 1, 1, R_BOOL, DJS_EBADTYPE);
    expect_readers_refuse(pk_data(&k) + 2, 1, R_BOOL, DJS_EBADTYPE);
    pk_free(&k);
}
END_TEST

/* ---- str, bin ---------------------------------------------------------- */

static const struct {
    size_t len;
    uint8_t tag;
    size_t hdr;
} str_widths[] =
    {
        {0, 0xa0, 1},   {1, 0xa1, 1},   {31, 0xbf, 1},    {32, 0xd9, 2},
        {255, 0xd9, 2}, {256, 0xda, 3}, {65535, 0xda, 3}, {65536, 0xdb, 5},
},
  bin_widths[] = {
      {0, 0xc4, 2}, {1, 0xc4, 2}, {255, 0xc4, 2}, {256, 0xc5, 3}, {65535, 0xc5, 3}, {65536, 0xc6, 5}, {70000, 0xc6, 5},
};

static char *pattern(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + (i * 7) % 26);
    s[n] = 0;
    return s;
}

START_TEST(str_every_width)
{
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(str_widths) / sizeof(str_widths[0]); c++) {
        size_t len = str_widths[c].len;
        char *body = pattern(len);
        pk_clear(&k);
        msgpack_pack_str(&k.p, len);
        msgpack_pack_str_body(&k.p, body, len);
        ck_assert_uint_eq(k.sb.size, str_widths[c].hdr + len);
        ck_assert_uint_eq(pk_data(&k)[0], str_widths[c].tag);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        const char *s = NULL;
        size_t n = 99;
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_str(&r, &s, &n), 0);
        ck_assert_uint_eq(n, len);
        ck_assert_ptr_eq(s, (const char *)b + str_widths[c].hdr); /* zero copy */
        ck_assert(memcmp(s, body, len) == 0);
        ck_assert_ptr_eq(r.p, r.end);
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_skip(&r, 0), 0);
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), 0);
        expect_readers_refuse(b, k.sb.size, R_STR, DJS_EBADTYPE);
        free(b);
        free(body);
    }
    /* non-smallest headers are still strings */
    static const uint8_t str8_short[] = {0xd9, 0x02, 'h', 'i'};
    static const uint8_t str32_short[] = {0xdb, 0, 0, 0, 0x01, 'x'};
    djs_mp_reader_t r;
    const char *s;
    size_t n;
    djs_mp_reader_init(&r, str8_short, sizeof(str8_short));
    ck_assert_int_eq(djs_mp_read_str(&r, &s, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert(memcmp(s, "hi", 2) == 0);
    djs_mp_reader_init(&r, str32_short, sizeof(str32_short));
    ck_assert_int_eq(djs_mp_read_str(&r, &s, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(s[0], 'x');
    pk_free(&k);
}
END_TEST

START_TEST(bin_every_width)
{
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(bin_widths) / sizeof(bin_widths[0]); c++) {
        size_t len = bin_widths[c].len;
        uint8_t *body = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            body[i] = (uint8_t)(i * 131 + 7);
        pk_clear(&k);
        msgpack_pack_bin(&k.p, len);
        msgpack_pack_bin_body(&k.p, body, len);
        ck_assert_uint_eq(k.sb.size, bin_widths[c].hdr + len);
        ck_assert_uint_eq(pk_data(&k)[0], bin_widths[c].tag);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        const uint8_t *bp = NULL;
        size_t n = 99;
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_bin(&r, &bp, &n), 0);
        ck_assert_uint_eq(n, len);
        ck_assert_ptr_eq(bp, b + bin_widths[c].hdr);
        ck_assert(memcmp(bp, body, len) == 0);
        ck_assert_ptr_eq(r.p, r.end);
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_skip(&r, 0), 0);
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), 0);
        expect_readers_refuse(b, k.sb.size, R_BIN, DJS_EBADTYPE);
        free(b);
        free(body);
    }
    pk_free(&k);
}
END_TEST

/* ---- arrays, maps ------------------------------------------------------ */

START_TEST(array_every_width)
{
    static const struct {
        uint32_t n;
        uint8_t tag;
        size_t hdr;
    } cases[] = {{0, 0x90, 1}, {1, 0x91, 1}, {15, 0x9f, 1}, {16, 0xdc, 3}, {65535, 0xdc, 3}, {65536, 0xdd, 5}, {70001, 0xdd, 5}};
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        pk_clear(&k);
        msgpack_pack_array(&k.p, cases[c].n);
        for (uint32_t i = 0; i < cases[c].n; i++)
            msgpack_pack_uint32(&k.p, i % 200); /* fixint and uint8 elements */
        ck_assert_uint_eq(pk_data(&k)[0], cases[c].tag);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        uint32_t n = 0;
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_array(&r, &n), 0);
        ck_assert_uint_eq(n, cases[c].n);
        ck_assert_ptr_eq(r.p, b + cases[c].hdr);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t u;
            EXPECT(djs_mp_read_uint(&r, &u) == 0);
            EXPECT(u == i % 200);
        }
        ck_assert_ptr_eq(r.p, r.end);
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_skip(&r, 1), 0);
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 1), 0);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), DJS_ETOOBIG); /* a container is one level */
        expect_readers_refuse(b, k.sb.size, R_ARRAY, DJS_EBADTYPE);
        free(b);
    }
    pk_free(&k);
}
END_TEST

START_TEST(map_every_width)
{
    static const struct {
        uint32_t n;
        uint8_t tag;
        size_t hdr;
    } cases[] = {{0, 0x80, 1}, {1, 0x81, 1}, {15, 0x8f, 1}, {16, 0xde, 3}, {65535, 0xde, 3}, {65536, 0xdf, 5}, {70001, 0xdf, 5}};
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        pk_clear(&k);
        msgpack_pack_map(&k.p, cases[c].n);
        for (uint32_t i = 0; i < cases[c].n; i++) {
            msgpack_pack_uint32(&k.p, i);
            msgpack_pack_int32(&k.p, -(int32_t)(i % 100));
        }
        ck_assert_uint_eq(pk_data(&k)[0], cases[c].tag);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        uint32_t n = 0;
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_read_map(&r, &n), 0);
        ck_assert_uint_eq(n, cases[c].n);
        ck_assert_ptr_eq(r.p, b + cases[c].hdr);
        for (uint32_t i = 0; i < n; i++) {
            uint64_t key;
            int64_t val;
            EXPECT(djs_mp_read_uint(&r, &key) == 0);
            EXPECT(key == i);
            EXPECT(djs_mp_read_int(&r, &val) == 0);
            EXPECT(val == -(int64_t)(i % 100));
        }
        ck_assert_ptr_eq(r.p, r.end);
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_skip(&r, 1), 0);
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 1), 0);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), DJS_ETOOBIG);
        expect_readers_refuse(b, k.sb.size, R_MAP, DJS_EBADTYPE);
        free(b);
    }
    pk_free(&k);
}
END_TEST

/* ---- ext (skip only) --------------------------------------------------- */

START_TEST(ext_skip_every_width)
{
    static const struct {
        size_t len;
        uint8_t tag;
        size_t hdr;
    } cases[] = {
        {1, 0xd4, 2}, {2, 0xd5, 2},  {4, 0xd6, 2},   {8, 0xd7, 2},   {16, 0xd8, 2},    {0, 0xc7, 3},
        {3, 0xc7, 3}, {17, 0xc7, 3}, {255, 0xc7, 3}, {256, 0xc8, 4}, {65535, 0xc8, 4}, {65536, 0xc9, 6},
    };
    pk_t k;
    pk_init(&k);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        size_t len = cases[c].len;
        char *body = pattern(len);
        pk_clear(&k);
        msgpack_pack_ext(&k.p, len, (int8_t)(c % 2 ? -5 : 42));
        msgpack_pack_ext_body(&k.p, body, len);
        ck_assert_uint_eq(pk_data(&k)[0], cases[c].tag);
        ck_assert_uint_eq(k.sb.size, cases[c].hdr + len);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, b, k.sb.size);
        ck_assert_int_eq(djs_mp_skip(&r, 0), 0);
        ck_assert_ptr_eq(r.p, r.end);
        ck_assert_int_eq(djs_mp_validate(b, k.sb.size, 0), 0);
        /* an ext is none of the typed values */
        expect_readers_refuse(b, k.sb.size, 0, DJS_EBADTYPE);
        /* and it steps cleanly inside a container */
        pk_t a;
        pk_init(&a);
        msgpack_pack_array(&a.p, 3);
        msgpack_pack_ext(&a.p, len, 1);
        msgpack_pack_ext_body(&a.p, body, len);
        msgpack_pack_nil(&a.p);
        msgpack_pack_ext(&a.p, len, 2);
        msgpack_pack_ext_body(&a.p, body, len);
        ck_assert_int_eq(djs_mp_validate(a.sb.data, a.sb.size, 1), 0);
        pk_free(&a);
        free(b);
        free(body);
    }
    pk_free(&k);
}
END_TEST

/* ---- every single byte -------------------------------------------------- */

/* Each possible first byte alone, as a whole input: the expected verdict of
 * djs_mp_skip follows the spec's format table. */
START_TEST(every_lone_byte)
{
    for (int c = 0; c < 256; c++) {
        uint8_t *b = exact_copy(&(uint8_t){(uint8_t)c}, 1);
        int want;
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3 || c == 0xa0 || c == 0x90 || c == 0x80)
            want = 0; /* complete one-byte objects, including "", [] and {} */
        else if (c == 0xc1)
            want = DJS_EBADTYPE;
        else if ((c > 0x90 && c <= 0x9f) || (c > 0x80 && c <= 0x8f))
            want = DJS_ETOOBIG; /* fixarray/fixmap claiming elements, none left */
        else
            want = DJS_ETRUNCATED;
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, b, 1);
        int rc = djs_mp_skip(&r, 1);
        ck_assert_msg(rc == want, "byte 0x%02x: skip gave %d, want %d", c, rc, want);
        ck_assert_ptr_eq(r.p, want == 0 ? b + 1 : b);
        ck_assert_int_eq(djs_mp_validate(b, 1, 1), want);
        free(b);
    }
}
END_TEST

START_TEST(reserved_c1)
{
    static const uint8_t c1[] = {0xc1};
    static const uint8_t in_array[] = {0x93, 0x01, 0xc1, 0x02};
    static const uint8_t in_map_key[] = {0x81, 0xc1, 0x02};
    static const uint8_t in_map_val[] = {0x82, 0x01, 0x02, 0x03, 0xc1};
    expect_readers_refuse(c1, 1, 0, DJS_EBADTYPE);
    uint8_t tag = 0;
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, c1, 1);
    ck_assert_int_eq(djs_mp_peek(&r, &tag), 0); /* peek only reports the byte */
    ck_assert_uint_eq(tag, 0xc1);
    ck_assert_int_eq(djs_mp_skip(&r, 4), DJS_EBADTYPE);
    ck_assert_ptr_eq(r.p, c1);

    const uint8_t *bad[] = {in_array, in_map_key, in_map_val};
    const size_t len[] = {sizeof(in_array), sizeof(in_map_key), sizeof(in_map_val)};
    for (int i = 0; i < 3; i++) {
        djs_mp_reader_init(&r, bad[i], len[i]);
        ck_assert_int_eq(djs_mp_skip(&r, 4), DJS_EBADTYPE);
        ck_assert_ptr_eq(r.p, bad[i]); /* the whole container is refused */
        ck_assert_int_eq(djs_mp_validate(bad[i], len[i], 4), DJS_EBADTYPE);
    }
}
END_TEST

/* ---- truncation --------------------------------------------------------- */

/* Every proper prefix of a scalar object is DJS_ETRUNCATED for skip,
 * validate and the matching typed reader, and nothing moves. */
static void check_scalar_prefixes(const uint8_t *obj, size_t len, int reader)
{
    /* Each prefix is placed at the very end of one heap block, so that a
     * read past the cut lands in ASan's redzone. */
    uint8_t *block = malloc(len);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *b = block + (len - cut);
        memcpy(b, obj, cut);
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, b, cut);
        int rc = djs_mp_skip(&r, 4);
        if (rc != DJS_ETRUNCATED)
            ck_abort_msg("tag 0x%02x cut at %zu of %zu: skip gave %d", obj[0], cut, len, rc);
        EXPECT(r.p == b);
        EXPECT(djs_mp_validate(b, cut, 4) == DJS_ETRUNCATED);
        /* the typed reader for this object must also say "truncated" */
        expect_readers_refuse(b, cut, ~reader, DJS_ETRUNCATED);
    }
    free(block);
    /* control: the whole object is accepted */
    EXPECT(djs_mp_validate(obj, len, 4) == 0);
}

START_TEST(truncation_scalars)
{
    pk_t k;
    pk_init(&k);
    char *big = pattern(70000);
#define CHECK(pack_stmt, reader)                                                                                                   \
    do {                                                                                                                           \
        pk_clear(&k);                                                                                                              \
        pack_stmt;                                                                                                                 \
        check_scalar_prefixes(pk_data(&k), k.sb.size, reader);                                                                     \
    } while (0)
    CHECK(msgpack_pack_fix_uint8(&k.p, 200), R_UINT);
    CHECK(msgpack_pack_fix_uint16(&k.p, 65000), R_UINT);
    CHECK(msgpack_pack_fix_uint32(&k.p, 4000000000u), R_UINT);
    CHECK(msgpack_pack_fix_uint64(&k.p, UINT64_MAX), R_UINT);
    CHECK(msgpack_pack_fix_int8(&k.p, -100), R_INT);
    CHECK(msgpack_pack_fix_int16(&k.p, -30000), R_INT);
    CHECK(msgpack_pack_fix_int32(&k.p, -2000000000), R_INT);
    CHECK(msgpack_pack_fix_int64(&k.p, INT64_MIN), R_INT);
    CHECK(msgpack_pack_fix_int8(&k.p, 5), R_UINT); /* positive int8 through read_uint */
    CHECK(msgpack_pack_fix_int64(&k.p, 5), R_UINT);
    CHECK(msgpack_pack_float(&k.p, 1.25f), R_DOUBLE);
    CHECK(msgpack_pack_double(&k.p, -1e300), R_DOUBLE);
    CHECK((msgpack_pack_str(&k.p, 5), msgpack_pack_str_body(&k.p, "hello", 5)), R_STR);
    CHECK((msgpack_pack_str(&k.p, 40), msgpack_pack_str_body(&k.p, big, 40)), R_STR);
    CHECK((msgpack_pack_str(&k.p, 300), msgpack_pack_str_body(&k.p, big, 300)), R_STR);
    CHECK((msgpack_pack_str(&k.p, 70000), msgpack_pack_str_body(&k.p, big, 70000)), R_STR);
    CHECK((msgpack_pack_bin(&k.p, 3), msgpack_pack_bin_body(&k.p, "abc", 3)), R_BIN);
    CHECK((msgpack_pack_bin(&k.p, 300), msgpack_pack_bin_body(&k.p, big, 300)), R_BIN);
    CHECK((msgpack_pack_bin(&k.p, 66000), msgpack_pack_bin_body(&k.p, big, 66000)), R_BIN);
    /* ext: skip only, so pass a reader bit no typed reader accepts */
    CHECK((msgpack_pack_ext(&k.p, 16, 3), msgpack_pack_ext_body(&k.p, big, 16)), 0);
    CHECK((msgpack_pack_ext(&k.p, 1, 3), msgpack_pack_ext_body(&k.p, big, 1)), 0);
    CHECK((msgpack_pack_ext(&k.p, 5, 3), msgpack_pack_ext_body(&k.p, big, 5)), 0);
    CHECK((msgpack_pack_ext(&k.p, 1000, 3), msgpack_pack_ext_body(&k.p, big, 1000)), 0);
    CHECK((msgpack_pack_ext(&k.p, 65536, 3), msgpack_pack_ext_body(&k.p, big, 65536)), 0);
#undef CHECK
    free(big);
    pk_free(&k);
}
END_TEST

/* Containers: a cut leaves either an object ending early (DJS_ETRUNCATED) or
 * a header claiming more elements than bytes remain (DJS_ETOOBIG); never
 * success, never a read outside the buffer (ASan), never a move. */
START_TEST(truncation_containers)
{
    pk_t k;
    pk_init(&k);
    msgpack_pack_map(&k.p, 4);
    pack_cstr(&k.p, "name");
    pack_cstr(&k.p, "a job with a longer name than thirty-one bytes");
    pack_cstr(&k.p, "args");
    msgpack_pack_array(&k.p, 17);
    for (int i = 0; i < 17; i++)
        msgpack_pack_int64(&k.p, -1000 * i);
    pack_cstr(&k.p, "env");
    msgpack_pack_map(&k.p, 1);
    pack_cstr(&k.p, "K");
    msgpack_pack_bin(&k.p, 4);
    msgpack_pack_bin_body(&k.p, "\0\1\2\3", 4);
    pack_cstr(&k.p, "f");
    msgpack_pack_double(&k.p, 0.5);
    size_t len = k.sb.size;
    ck_assert_int_eq(djs_mp_validate(k.sb.data, len, 3), 0);
    int seen_trunc = 0, seen_toobig = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *b = exact_copy(k.sb.data, cut);
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, b, cut);
        int rc = djs_mp_skip(&r, 3);
        ck_assert_msg(rc == DJS_ETRUNCATED || rc == DJS_ETOOBIG, "cut %zu: %d", cut, rc);
        seen_trunc += rc == DJS_ETRUNCATED;
        seen_toobig += rc == DJS_ETOOBIG;
        ck_assert_ptr_eq(r.p, b);
        ck_assert_int_eq(djs_mp_validate(b, cut, 3), rc);
        free(b);
    }
    ck_assert_int_gt(seen_trunc, 0);
    ck_assert_int_gt(seen_toobig, 0);

    /* exact verdicts for a few hand-picked cuts */
    static const uint8_t strs[] = {0x92, 0xa3, 'a', 'b', 'c', 0xa3, 'd', 'e', 'f'};
    static const uint8_t ints[] = {0x93, 0x01, 0x02, 0x03};
    static const uint8_t a16[] = {0xdc, 0x00, 0x01, 0x05};
    ck_assert_int_eq(djs_mp_validate(strs, 8, 2), DJS_ETRUNCATED); /* inside "def" */
    ck_assert_int_eq(djs_mp_validate(strs, 3, 2), DJS_ETRUNCATED); /* 2 elements, 2 bytes: header fine, "abc" cut */
    ck_assert_int_eq(djs_mp_validate(strs, 2, 2), DJS_ETOOBIG);    /* 2 elements, 1 byte */
    ck_assert_int_eq(djs_mp_validate(strs, 1, 2), DJS_ETOOBIG);    /* 2 elements, 0 bytes */
    ck_assert_int_eq(djs_mp_validate(ints, 3, 2), DJS_ETOOBIG);    /* 3 elements, 2 bytes */
    ck_assert_int_eq(djs_mp_validate(a16, 2, 2), DJS_ETRUNCATED);  /* inside the array16 header */
    ck_assert_int_eq(djs_mp_validate(a16, 3, 2), DJS_ETOOBIG);
    ck_assert_int_eq(djs_mp_validate(a16, 4, 2), 0);
    pk_free(&k);
}
END_TEST

/* ---- hostile counts ---------------------------------------------------- */

START_TEST(containers_claiming_too_much)
{
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    static const uint8_t map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
    static const uint8_t arr16[] = {0xdc, 0x00, 0x04, 1, 2, 3};                   /* 4 claimed, 3 bytes */
    static const uint8_t map16[] = {0xde, 0x00, 0x05, 1, 2, 3, 4, 5, 6, 7, 8, 9}; /* 5 pairs need 10 bytes */
    static const uint8_t fixmap[] = {0x82, 1, 2, 3, 4};                           /* 2 pairs need 4: exactly fits */
    static const uint8_t fixmap_trailing[] = {0x82, 1, 2, 3, 4, 0};               /* fits, then trailing */
    const uint8_t *cases[] = {arr32, map32, arr16, map16};
    const size_t len[] = {sizeof(arr32), sizeof(map32), sizeof(arr16), sizeof(map16)};
    for (int i = 0; i < 4; i++) {
        uint8_t *b = exact_copy(cases[i], len[i]);
        djs_mp_reader_t r;
        uint32_t n = 4242;
        djs_mp_reader_init(&r, b, len[i]);
        int is_map = b[0] == 0xdf || b[0] == 0xde;
        ck_assert_int_eq(is_map ? djs_mp_read_map(&r, &n) : djs_mp_read_array(&r, &n), DJS_ETOOBIG);
        ck_assert_uint_eq(n, 4242);
        ck_assert_ptr_eq(r.p, b);
        ck_assert_int_eq(djs_mp_skip(&r, 8), DJS_ETOOBIG);
        ck_assert_ptr_eq(r.p, b);
        ck_assert_int_eq(djs_mp_validate(b, len[i], 8), DJS_ETOOBIG);
        free(b);
    }
    djs_mp_reader_t r;
    uint32_t n;
    djs_mp_reader_init(&r, fixmap, sizeof(fixmap));
    ck_assert_int_eq(djs_mp_read_map(&r, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(djs_mp_validate(fixmap, sizeof(fixmap), 1), 0);
    ck_assert_int_eq(djs_mp_validate(fixmap_trailing, sizeof(fixmap_trailing), 1), DJS_ECORRUPT);
    /* one byte less than the minimum is refused at the header */
    ck_assert_int_eq(djs_mp_validate(fixmap, 4, 1), DJS_ETOOBIG);
    /* str/bin lengths beyond the input are truncation, not allocation */
    static const uint8_t str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const uint8_t ext32[] = {0xc9, 0xff, 0xff, 0xff, 0xff, 1, 'a'};
    ck_assert_int_eq(djs_mp_validate(str32, sizeof(str32), 1), DJS_ETRUNCATED);
    ck_assert_int_eq(djs_mp_validate(bin32, sizeof(bin32), 1), DJS_ETRUNCATED);
    ck_assert_int_eq(djs_mp_validate(ext32, sizeof(ext32), 1), DJS_ETRUNCATED);
}
END_TEST

/* ---- depth -------------------------------------------------------------- */

static uint8_t *nested(int depth, int maps, size_t *len)
{
    pk_t k;
    pk_init(&k);
    for (int i = 0; i < depth; i++) {
        if (maps) {
            msgpack_pack_map(&k.p, 1);
            pack_cstr(&k.p, "k");
        } else {
            msgpack_pack_array(&k.p, 2);
            msgpack_pack_int64(&k.p, -i);
        }
    }
    msgpack_pack_nil(&k.p); /* the innermost value */
    *len = k.sb.size;
    uint8_t *b = exact_copy(k.sb.data, k.sb.size);
    pk_free(&k);
    return b;
}

START_TEST(depth_limit)
{
    for (int maps = 0; maps <= 1; maps++) {
        size_t len;
        uint8_t *b = nested(DJS_MP_MAX_DEPTH, maps, &len);
        ck_assert_int_eq(djs_mp_validate(b, len, DJS_MP_MAX_DEPTH), 0);
        ck_assert_int_eq(djs_mp_validate(b, len, DJS_MP_MAX_DEPTH - 1), DJS_ETOOBIG);
        free(b);
        b = nested(DJS_MP_MAX_DEPTH + 1, maps, &len);
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, b, len);
        ck_assert_int_eq(djs_mp_skip(&r, DJS_MP_MAX_DEPTH), DJS_ETOOBIG);
        ck_assert_ptr_eq(r.p, b);
        ck_assert_int_eq(djs_mp_validate(b, len, DJS_MP_MAX_DEPTH + 1), 0);
        free(b);
    }
    /* scalars are depth 0; any container needs at least 1 */
    ck_assert_int_eq(djs_mp_validate("\x01", 1, 0), 0);
    ck_assert_int_eq(djs_mp_validate("\x90", 1, 0), DJS_ETOOBIG);
    ck_assert_int_eq(djs_mp_validate("\x80", 1, 1), 0);
    /* far deeper than the limit: refused without recursing that far */
    size_t len;
    uint8_t *b = nested(200000, 0, &len);
    ck_assert_int_eq(djs_mp_validate(b, len, DJS_MP_MAX_DEPTH), DJS_ETOOBIG);
    free(b);
    /* depth is per path, not a count of containers: many siblings are fine */
    pk_t k;
    pk_init(&k);
    msgpack_pack_array(&k.p, 1000);
    for (int i = 0; i < 1000; i++) {
        msgpack_pack_array(&k.p, 1);
        msgpack_pack_map(&k.p, 0);
    }
    ck_assert_int_eq(djs_mp_validate(k.sb.data, k.sb.size, 3), 0);
    ck_assert_int_eq(djs_mp_validate(k.sb.data, k.sb.size, 2), DJS_ETOOBIG);
    pk_free(&k);
}
END_TEST

/* ---- validate ----------------------------------------------------------- */

START_TEST(validate_whole_input)
{
    ck_assert_int_eq(djs_mp_validate("", 0, 4), DJS_ETRUNCATED);
    ck_assert_int_eq(djs_mp_validate("\x01\x02", 2, 4), DJS_ECORRUPT);
    ck_assert_int_eq(djs_mp_validate("\x90\xc0", 2, 4), DJS_ECORRUPT);
    ck_assert_int_eq(djs_mp_validate("\x91\xc0", 2, 4), 0);
    ck_assert_int_eq(djs_mp_validate("\x91\xc0\xc1", 3, 4), DJS_ECORRUPT); /* trailing garbage is not parsed */
    ck_assert_int_eq(djs_mp_validate("\xa1x\x00", 3, 4), DJS_ECORRUPT);
    /* a sequence of objects: skip walks them one by one */
    static const uint8_t seq[] = {0x01, 0xa2, 'h', 'i', 0x91, 0xc3, 0xc0};
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, seq, sizeof(seq));
    const size_t ends[] = {1, 4, 6, 7};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(djs_mp_skip(&r, 1), 0);
        ck_assert_ptr_eq(r.p, seq + ends[i]);
    }
    ck_assert_int_eq(djs_mp_skip(&r, 1), DJS_ETRUNCATED);
    ck_assert_ptr_eq(r.p, r.end);
}
END_TEST

/* Outputs are written only on success. */
START_TEST(outputs_untouched_on_error)
{
    static const uint8_t trunc[][2] = {{0xd0}, {0xd1, 0x01}, {0xcc}, {0xcd, 0x01}};
    for (int i = 0; i < 4; i++) {
        size_t len = trunc[i][0] == 0xd0 || trunc[i][0] == 0xcc ? 1 : 2;
        djs_mp_reader_t r;
        uint64_t u = 0x5a5a5a5a5a5a5a5aULL;
        int64_t s = 0x1234;
        double d = 0.25;
        djs_mp_reader_init(&r, trunc[i], len);
        ck_assert_int_eq(djs_mp_read_uint(&r, &u), DJS_ETRUNCATED);
        ck_assert_uint_eq(u, 0x5a5a5a5a5a5a5a5aULL);
        ck_assert_int_eq(djs_mp_read_int(&r, &s), DJS_ETRUNCATED);
        ck_assert_int_eq(s, 0x1234);
        ck_assert_int_eq(djs_mp_read_double(&r, &d), DJS_ETRUNCATED);
        ck_assert(d == 0.25);
        ck_assert_ptr_eq(r.p, trunc[i]);
    }
    const char *s = "keep";
    size_t n = 4;
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, "\xa5hi", 3);
    ck_assert_int_eq(djs_mp_read_str(&r, &s, &n), DJS_ETRUNCATED);
    ck_assert_str_eq(s, "keep");
    ck_assert_uint_eq(n, 4);
}
END_TEST

/* ---- cross-check with msgpack-c's unpacker on random documents --------- */

static void pack_random(msgpack_packer *p, uint64_t *s, int depth, const char *blob)
{
    int kinds = depth > 0 ? 13 : 10;
    switch (rnd(s) % (uint64_t)kinds) {
    case 0:
        msgpack_pack_nil(p);
        break;
    case 1:
        if (rnd(s) & 1)
            msgpack_pack_true(p);
        else
            msgpack_pack_false(p);
        break;
    case 2: {
        int bits = (int)(rnd(s) % 65);
        uint64_t v = rnd(s);
        msgpack_pack_uint64(p, bits == 64 ? v : v & ((1ULL << bits) - 1));
        break;
    }
    case 3: {
        int bits = (int)(rnd(s) % 64);
        int64_t v = -(int64_t)(rnd(s) & ((1ULL << bits) - 1)) - 1;
        msgpack_pack_int64(p, v);
        break;
    }
    case 4:
        msgpack_pack_float(p, (float)(rnd(s) % 100000) / 7.0f);
        break;
    case 5:
        msgpack_pack_double(p, (double)(int64_t)rnd(s) / 3.0);
        break;
    case 6:
    case 7: {
        size_t n = rnd(s) % 50 == 0 ? 256 + rnd(s) % 2000 : rnd(s) % 60;
        msgpack_pack_str(p, n);
        msgpack_pack_str_body(p, blob, n);
        break;
    }
    case 8: {
        size_t n = rnd(s) % 50 == 0 ? 256 + rnd(s) % 2000 : rnd(s) % 40;
        msgpack_pack_bin(p, n);
        msgpack_pack_bin_body(p, blob, n);
        break;
    }
    case 9: {
        size_t n = rnd(s) % 20;
        msgpack_pack_ext(p, n, (int8_t)(rnd(s) & 0xff));
        msgpack_pack_ext_body(p, blob, n);
        break;
    }
    case 10:
    case 11: {
        uint32_t n = (uint32_t)(rnd(s) % 20);
        msgpack_pack_array(p, n);
        for (uint32_t i = 0; i < n; i++)
            pack_random(p, s, depth - 1, blob);
        break;
    }
    default: {
        uint32_t n = (uint32_t)(rnd(s) % 20);
        msgpack_pack_map(p, n);
        for (uint32_t i = 0; i < 2 * n; i++)
            pack_random(p, s, depth - 1, blob);
        break;
    }
    }
}

/* Read the object at r with the typed readers, comparing against msgpack-c's
 * unpacked object; the reader must end where djs_mp_skip ends. */
static void walk_compare(djs_mp_reader_t *r, const msgpack_object *o)
{
    const uint8_t *after = skip_end(r, DJS_MP_MAX_DEPTH);
    ck_assert_ptr_nonnull(after);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        EXPECT(djs_mp_read_nil(r) == 0);
        break;
    case MSGPACK_OBJECT_BOOLEAN: {
        int v;
        EXPECT(djs_mp_read_bool(r, &v) == 0);
        EXPECT(v == o->via.boolean);
        break;
    }
    case MSGPACK_OBJECT_POSITIVE_INTEGER: {
        djs_mp_reader_t c = *r;
        int64_t i;
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            EXPECT(djs_mp_read_int(&c, &i) == DJS_ERANGE);
        } else {
            EXPECT(djs_mp_read_int(&c, &i) == 0);
            EXPECT(i == (int64_t)o->via.u64);
        }
        uint64_t u;
        EXPECT(djs_mp_read_uint(r, &u) == 0);
        EXPECT(u == o->via.u64);
        break;
    }
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        djs_mp_reader_t c = *r;
        uint64_t u;
        EXPECT(djs_mp_read_uint(&c, &u) == DJS_ERANGE);
        int64_t i;
        EXPECT(djs_mp_read_int(r, &i) == 0);
        EXPECT(i == o->via.i64);
        break;
    }
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        double d;
        EXPECT(djs_mp_read_double(r, &d) == 0);
        EXPECT(d == o->via.f64);
        break;
    }
    case MSGPACK_OBJECT_STR: {
        const char *s;
        size_t n;
        EXPECT(djs_mp_read_str(r, &s, &n) == 0);
        EXPECT(n == o->via.str.size);
        if (n > 0)
            EXPECT(s == o->via.str.ptr); /* both point into the input */
        break;
    }
    case MSGPACK_OBJECT_BIN: {
        const uint8_t *b;
        size_t n;
        EXPECT(djs_mp_read_bin(r, &b, &n) == 0);
        EXPECT(n == o->via.bin.size);
        if (n > 0)
            EXPECT((const char *)b == o->via.bin.ptr);
        break;
    }
    case MSGPACK_OBJECT_EXT:
        EXPECT(djs_mp_skip(r, 0) == 0);
        EXPECT((const char *)r->p == o->via.ext.ptr + o->via.ext.size);
        break;
    case MSGPACK_OBJECT_ARRAY: {
        uint32_t n;
        EXPECT(djs_mp_read_array(r, &n) == 0);
        EXPECT(n == o->via.array.size);
        for (uint32_t i = 0; i < n; i++)
            walk_compare(r, &o->via.array.ptr[i]);
        break;
    }
    case MSGPACK_OBJECT_MAP: {
        uint32_t n;
        EXPECT(djs_mp_read_map(r, &n) == 0);
        EXPECT(n == o->via.map.size);
        for (uint32_t i = 0; i < n; i++) {
            walk_compare(r, &o->via.map.ptr[i].key);
            walk_compare(r, &o->via.map.ptr[i].val);
        }
        break;
    }
    default:
        ck_abort_msg("unexpected msgpack object type %d", (int)o->type);
    }
    EXPECT(r->p == after);
}

START_TEST(crosscheck_random_documents)
{
    char *blob = pattern(4096);
    uint64_t s = 0xd1b54a32d192ed03ULL;
    for (int doc = 0; doc < 300; doc++) {
        pk_t k;
        pk_init(&k);
        int nobj = 1 + (int)(rnd(&s) % 5);
        for (int i = 0; i < nobj; i++)
            pack_random(&k.p, &s, 1 + (int)(rnd(&s) % 6), blob);
        uint8_t *b = exact_copy(k.sb.data, k.sb.size);
        size_t len = k.sb.size;
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, b, len);
        size_t off = 0;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        for (int i = 0; i < nobj; i++) {
            size_t start = off;
            ck_assert_int_eq(msgpack_unpack_next(&u, (const char *)b, len, &off), MSGPACK_UNPACK_SUCCESS);
            ck_assert_ptr_eq(r.p, b + start);
            ck_assert_int_eq(djs_mp_validate(b + start, off - start, DJS_MP_MAX_DEPTH), 0);
            walk_compare(&r, &u.data);
            ck_assert_ptr_eq(r.p, b + off);
        }
        ck_assert_uint_eq(off, len);
        ck_assert_int_eq(djs_mp_skip(&r, DJS_MP_MAX_DEPTH), DJS_ETRUNCATED);
        msgpack_unpacked_destroy(&u);
        free(b);
        pk_free(&k);
    }
    free(blob);
}
END_TEST

static Suite *mp_suite(void)
{
    Suite *s = suite_create("mp");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, uint_every_width);
    tcase_add_test(tc, int_every_width);
    tcase_add_test(tc, int_range_errors);
    tcase_add_test(tc, int_random_crosscheck);
    tcase_add_test(tc, floats);
    tcase_add_test(tc, nil_and_bool);
    tcase_add_test(tc, str_every_width);
    tcase_add_test(tc, bin_every_width);
    tcase_add_test(tc, array_every_width);
    tcase_add_test(tc, map_every_width);
    tcase_add_test(tc, ext_skip_every_width);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_add_test(tc, every_lone_byte);
    tcase_add_test(tc, reserved_c1);
    tcase_add_test(tc, truncation_scalars);
    tcase_add_test(tc, truncation_containers);
    tcase_add_test(tc, containers_claiming_too_much);
    tcase_add_test(tc, depth_limit);
    tcase_add_test(tc, validate_whole_input);
    tcase_add_test(tc, outputs_untouched_on_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("msgpack-c");
    tcase_add_test(tc, crosscheck_random_documents);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(mp_suite)

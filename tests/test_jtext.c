/* core/jtext: JSON written without jansson must be byte for byte what
 * jansson writes for the same value (djs_mp_to_json, djs_event_json). Fixed
 * cases for each rule, then random MessagePack values, whole and mutated. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jtext.h"
#include "api/render.h"
#include "core/buf.h"
#include "core/error.h"
#include "testutil.h"

/* ---- a tiny MessagePack writer for test values ---- */

static void put(djs_buf_t *b, const void *p, size_t n)
{
    djs_buf_append(b, p, n);
}

static void put_be(djs_buf_t *b, uint8_t tag, uint64_t v, int bytes)
{
    uint8_t t[9];
    t[0] = tag;
    for (int i = 0; i < bytes; i++)
        t[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    put(b, t, (size_t)bytes + 1);
}

static void mp_str(djs_buf_t *b, const char *s, size_t n)
{
    if (n < 32) {
        uint8_t t = (uint8_t)(0xa0 | n);
        put(b, &t, 1);
    } else {
        put_be(b, 0xd9, n, 1);
    }
    put(b, s, n);
}

static void mp_cstr(djs_buf_t *b, const char *s)
{
    mp_str(b, s, strlen(s));
}

static void mp_map(djs_buf_t *b, uint32_t n)
{
    uint8_t t = (uint8_t)(0x80 | n);
    put(b, &t, 1);
}

static void mp_arr(djs_buf_t *b, uint32_t n)
{
    uint8_t t = (uint8_t)(0x90 | n);
    put(b, &t, 1);
}

static void mp_int(djs_buf_t *b, int64_t v)
{
    if (v >= 0 && v < 128) {
        uint8_t t = (uint8_t)v;
        put(b, &t, 1);
    } else if (v < 0 && v >= -32) {
        uint8_t t = (uint8_t)(int8_t)v;
        put(b, &t, 1);
    } else {
        put_be(b, 0xd3, (uint64_t)v, 8);
    }
}

static void mp_double(djs_buf_t *b, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_be(b, 0xcb, u, 8);
}

static void mp_bin(djs_buf_t *b, const uint8_t *p, size_t n)
{
    put_be(b, 0xc4, n, 1);
    put(b, p, n);
}

/* ---- the comparison ---- */

/* 1 if jtext agrees with jansson on data, else prints both. */
static int same_value(const uint8_t *data, size_t len)
{
    djs_mp_reader_t r1, r2;
    djs_mp_reader_init(&r1, data, len);
    djs_mp_reader_init(&r2, data, len);
    json_t *j = djs_mp_to_json(&r1, 0);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_buf_append(&b, "x", 1); /* a mark: errors must leave it alone */
    int rc = djs_jt_mp(&b, &r2, 0), ok;
    if (j == NULL) {
        ok = rc == DJS_EINVAL && b.len == 1;
    } else {
        char *t = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        ok = rc == 0 && t != NULL && strlen(t) == b.len - 1 && memcmp(t, b.base + 1, b.len - 1) == 0 && r1.p == r2.p;
        if (!ok)
            fprintf(stderr, "jansson: %s\njtext:   %.*s (rc %d)\n", t, (int)b.len - 1, (const char *)b.base + 1, rc);
        free(t);
    }
    json_decref(j);
    djs_buf_dispose(&b);
    return ok;
}

static int same_event(const djs_event_t *ev)
{
    json_t *j = djs_event_json(ev);
    char *t = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    djs_buf_t b;
    djs_buf_init(&b);
    int rc = djs_jt_event(&b, ev);
    int ok = rc == 0 && strlen(t) == b.len && memcmp(t, b.base, b.len) == 0;
    if (!ok)
        fprintf(stderr, "jansson: %s\njtext:   %.*s (rc %d)\n", t, (int)b.len, (const char *)b.base, rc);
    free(t);
    djs_buf_dispose(&b);
    return ok;
}

START_TEST(strings_and_escapes)
{
    static const char *const cases[] = {"",
                                        "plain",
                                        "quote \" back \\ slash /",
                                        "\b\f\n\r\t",
                                        "\x01\x1f\x7f",
                                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                        "bad \xff byte",
                                        "cut \xe2\x82",
                                        "overlong \xc0\xaf",
                                        "surrogate \xed\xa0\x80",
                                        "\xf4\x90\x80\x80 over max",
                                        "nul\0inside"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        djs_buf_t b;
        djs_buf_init(&b);
        size_t n = i == sizeof(cases) / sizeof(cases[0]) - 1 ? 10 : strlen(cases[i]);
        mp_str(&b, cases[i], n);
        ck_assert_msg(same_value(b.base, b.len), "string case %zu", i);
        djs_buf_dispose(&b);
    }
    /* strict strings refuse what is not UTF-8, and write nothing */
    djs_buf_t b;
    djs_buf_init(&b);
    ck_assert_int_eq(djs_jt_str(&b, "a\xff", 2), DJS_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(djs_jt_str(&b, "a\n", 2), 0);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_int_eq(memcmp(b.base, "\"a\\n\"", 5), 0);
    djs_buf_dispose(&b);
}
END_TEST

START_TEST(numbers_bins_and_containers)
{
    djs_buf_t b;
    djs_buf_init(&b);
    int64_t ints[] = {0, 1, 127, 128, -1, -32, -33, 65535, INT64_MAX, INT64_MIN, -4611686018427387904LL};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        djs_buf_reset(&b);
        mp_int(&b, ints[i]);
        ck_assert_msg(same_value(b.base, b.len), "int %zu", i);
    }
    double ds[] = {0.0, -0.0, 0.5, 1.0, 1e300, -2.5e-300, 3.141592653589793, 1e21, 123456789012345680.0};
    for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
        djs_buf_reset(&b);
        mp_double(&b, ds[i]);
        ck_assert_msg(same_value(b.base, b.len), "double %zu", i);
    }
    djs_buf_reset(&b);
    put_be(&b, 0xcf, UINT64_MAX, 8); /* over INT64_MAX: a real */
    ck_assert(same_value(b.base, b.len));
    uint8_t bytes[20];
    for (int i = 0; i < 20; i++)
        bytes[i] = (uint8_t)(i * 37);
    for (size_t n = 0; n <= 20; n += 4) { /* 16 bytes: an id */
        djs_buf_reset(&b);
        mp_bin(&b, bytes, n);
        ck_assert_msg(same_value(b.base, b.len), "bin %zu", n);
    }
    djs_buf_reset(&b); /* {"a":[1,{"b":null,"c":true}],"d":false,"e":{}} */
    mp_map(&b, 4);
    mp_cstr(&b, "a");
    mp_arr(&b, 2);
    mp_int(&b, 1);
    mp_map(&b, 2);
    mp_cstr(&b, "b");
    put(&b, "\xc0", 1);
    mp_cstr(&b, "c");
    put(&b, "\xc3", 1);
    mp_cstr(&b, "d");
    put(&b, "\xc2", 1);
    mp_cstr(&b, "e");
    mp_map(&b, 0);
    ck_assert(same_value(b.base, b.len));
    /* repeated keys: jansson keeps the first place and the last value; so does jtext */
    djs_buf_reset(&b);
    mp_map(&b, 4);
    mp_cstr(&b, "k");
    mp_int(&b, 1);
    mp_cstr(&b, "j");
    mp_int(&b, 5);
    mp_cstr(&b, "k");
    mp_int(&b, 2);
    mp_cstr(&b, "a\xff");
    mp_int(&b, 3);
    ck_assert(same_value(b.base, b.len));
    djs_mp_reader_t r;
    djs_mp_reader_init(&r, b.base, b.len);
    djs_buf_t out;
    djs_buf_init(&out);
    ck_assert_int_eq(djs_jt_mp(&out, &r, 0), 0);
    ck_assert_uint_eq(out.len, strlen("{\"k\":2,\"j\":5,\"a\xef\xbf\xbd\":3}"));
    ck_assert_int_eq(memcmp(out.base, "{\"k\":2,\"j\":5,\"a\xef\xbf\xbd\":3}", out.len), 0);
    djs_buf_dispose(&out);
    /* two keys that are one once mended */
    djs_buf_reset(&b);
    mp_map(&b, 2);
    mp_cstr(&b, "x\xfe");
    mp_int(&b, 1);
    mp_cstr(&b, "x\xff");
    mp_int(&b, 2);
    ck_assert(same_value(b.base, b.len));
    /* more keys than the fast path tracks for repeats, with a repeat */
    djs_buf_reset(&b);
    put_be(&b, 0xde, 70, 2);
    for (int i = 0; i < 70; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", i == 69 ? 3 : i);
        mp_cstr(&b, k);
        mp_int(&b, i);
    }
    ck_assert(same_value(b.base, b.len));
    /* too deep: both refuse */
    djs_buf_reset(&b);
    for (int i = 0; i < DJS_RENDER_MAX_DEPTH + 10; i++)
        mp_arr(&b, 1);
    mp_int(&b, 7);
    ck_assert(same_value(b.base, b.len));
    djs_buf_dispose(&b);
}
END_TEST

/* A random value, up to depth levels of containers. */
static void random_value(djs_buf_t *b, unsigned *seed, int depth)
{
    int kind = rand_r(seed) % (depth > 0 ? 10 : 7);
    char s[40];
    size_t n = (size_t)(rand_r(seed) % 12);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(rand_r(seed) % 4 == 0 ? rand_r(seed) % 256 : 'a' + rand_r(seed) % 26);
    switch (kind) {
    case 0:
        mp_str(b, s, n);
        break;
    case 1:
        mp_int(b, (int64_t)((uint64_t)rand_r(seed) << 33 ^ (uint64_t)rand_r(seed)) * (rand_r(seed) % 2 ? 1 : -1));
        break;
    case 2:
        mp_double(b, (rand_r(seed) - RAND_MAX / 2) / 977.0);
        break;
    case 3:
        mp_bin(b, (const uint8_t *)s, rand_r(seed) % 3 == 0 ? 16 : n);
        break;
    case 4:
        put(b, rand_r(seed) % 2 ? "\xc2" : "\xc3", 1);
        break;
    case 5:
        put(b, "\xc0", 1);
        break;
    case 6:
        mp_int(b, rand_r(seed) % 200 - 100);
        break;
    case 7:
    case 8: {
        uint32_t m = (uint32_t)(rand_r(seed) % 5);
        mp_map(b, m);
        for (uint32_t i = 0; i < m; i++) {
            char k[4] = {(char)('a' + rand_r(seed) % 6), (char)('a' + rand_r(seed) % 6), 0, 0};
            mp_str(b, k, 2);
            random_value(b, seed, depth - 1);
        }
        break;
    }
    default: {
        uint32_t m = (uint32_t)(rand_r(seed) % 5);
        mp_arr(b, m);
        for (uint32_t i = 0; i < m; i++)
            random_value(b, seed, depth - 1);
    }
    }
}

START_TEST(random_values_whole_and_mutated)
{
    unsigned seed = 20261127;
    djs_buf_t b;
    djs_buf_init(&b);
    for (int i = 0; i < 20000; i++) {
        djs_buf_reset(&b);
        random_value(&b, &seed, 4);
        ck_assert_msg(same_value(b.base, b.len), "random value %d", i);
        if (b.len > 0) { /* one byte changed, or the value cut short */
            b.base[(size_t)rand_r(&seed) % b.len] = (uint8_t)rand_r(&seed);
            ck_assert_msg(same_value(b.base, b.len), "mutated value %d", i);
            ck_assert_msg(same_value(b.base, (size_t)rand_r(&seed) % b.len), "cut value %d", i);
        }
    }
    djs_buf_dispose(&b);
}
END_TEST

START_TEST(events_as_djs_event_json)
{
    unsigned seed = 7;
    djs_buf_t body;
    djs_buf_init(&body);
    for (int i = 0; i < 5000; i++) {
        djs_event_t ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = (uint16_t)(1 + rand_r(&seed) % DJS_EV_JOB_OUTPUT);
        ev.seq = (uint64_t)rand_r(&seed) * 1000;
        ev.ts_ns = i % 7 == 0 ? 0 : 1795000000000000000ULL + (uint64_t)rand_r(&seed) * 1000003ULL;
        ev.actor = i % 5 == 0 ? "bad\xff actor" : "admin";
        ev.actor_len = strlen(ev.actor);
        if (i % 3 != 0)
            for (int k = 0; k < 16; k++)
                ev.entity.b[k] = (uint8_t)rand_r(&seed);
        djs_buf_reset(&body);
        if (i % 4 == 0 && ev.type == DJS_EV_JOB_SUBMITTED) {
            mp_map(&body, 3);
            mp_cstr(&body, "name");
            mp_cstr(&body, "n");
            mp_cstr(&body, "deps");
            mp_bin(&body, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32);
            mp_cstr(&body, "prio");
            mp_int(&body, 2);
        } else {
            random_value(&body, &seed, 3);
        }
        if (i % 11 == 0 && body.len > 0)
            body.len--; /* a malformed body: {} */
        ev.body = body.base;
        ev.body_len = i % 13 == 0 ? 0 : body.len;
        ck_assert_msg(same_event(&ev), "event %d", i);
    }
    djs_buf_dispose(&body);
}
END_TEST

static Suite *jtext_suite(void)
{
    Suite *s = suite_create("jtext");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, strings_and_escapes);
    tcase_add_test(tc, numbers_bins_and_containers);
    tcase_add_test(tc, random_values_whole_and_mutated);
    tcase_add_test(tc, events_as_djs_event_json);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(jtext_suite)

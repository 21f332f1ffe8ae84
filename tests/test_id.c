#include <string.h>

#include "core/error.h"
#include "core/id.h"
#include "testutil.h"

START_TEST(format_parse_roundtrip)
{
    djs_idgen_t g;
    djs_idgen_init(&g, 1);
    for (int i = 0; i < 1000; i++) {
        djs_id_t id, back;
        char text[DJS_ID_TEXT_LEN + 1];
        djs_id_new(&g, 1700000000000ULL + (uint64_t)i, &id);
        djs_id_format(&id, text);
        ck_assert_uint_eq(strlen(text), 36);
        ck_assert(text[8] == '-' && text[13] == '-' && text[18] == '-' && text[23] == '-');
        ck_assert_int_eq(text[14], '7');             /* version nibble */
        ck_assert(strchr("89ab", text[19]) != NULL); /* variant 10xx */
        ck_assert_int_eq(djs_id_parse(text, 36, &back), 0);
        ck_assert_int_eq(djs_id_cmp(&id, &back), 0);
        ck_assert_uint_eq(djs_id_unix_ms(&id), 1700000000000ULL + (uint64_t)i);
    }
}
END_TEST

START_TEST(parse_rejects_bad_text)
{
    djs_id_t id;
    const char *good = "01890a5d-ac96-774b-bcce-b302099a8057";
    ck_assert_int_eq(djs_id_parse(good, 36, &id), 0);
    ck_assert_int_eq(djs_id_parse("01890A5D-AC96-774B-BCCE-B302099A8057", 36, &id), 0);
    ck_assert_int_eq(djs_id_parse(good, 35, &id), DJS_EINVAL);
    ck_assert_int_eq(djs_id_parse(NULL, 36, &id), DJS_EINVAL);
    ck_assert_int_eq(djs_id_parse("01890a5d-ac96-774b-bcce-b302099a805g", 36, &id), DJS_EINVAL);
    ck_assert_int_eq(djs_id_parse("01890a5dac96-774b-bcce-b302099a8057-", 36, &id), DJS_EINVAL);
    ck_assert_int_eq(djs_id_parse("01890a5d-ac96-774b-bcceb-302099a8057", 36, &id), DJS_EINVAL);
    ck_assert_int_eq(djs_id_parse("0189-a5d-ac96-774b-bcce-b302099a8057", 36, &id), DJS_EINVAL);
}
END_TEST

START_TEST(ids_are_strictly_increasing)
{
    djs_idgen_t g;
    djs_idgen_init(&g, 0);
    djs_id_t prev, id;
    djs_id_new(&g, 5000, &prev);
    /* same millisecond many times (counter), then the clock going back */
    for (int i = 0; i < 20000; i++) {
        uint64_t ms = i < 10000 ? 5000 : 4000;
        djs_id_new(&g, ms, &id);
        ck_assert_int_lt(djs_id_cmp(&prev, &id), 0);
        prev = id;
    }
}
END_TEST

START_TEST(seeded_generators_repeat)
{
    djs_idgen_t a, b;
    djs_idgen_init(&a, 77);
    djs_idgen_init(&b, 77);
    for (int i = 0; i < 100; i++) {
        djs_id_t x, y;
        djs_id_new(&a, 123456, &x);
        djs_id_new(&b, 123456, &y);
        ck_assert_int_eq(djs_id_cmp(&x, &y), 0);
    }
    djs_id_t nil = {{0}};
    ck_assert(djs_id_is_nil(&nil));
}
END_TEST

static Suite *id_suite(void)
{
    Suite *s = suite_create("id");
    TCase *tc = tcase_create("uuidv7");
    tcase_add_test(tc, format_parse_roundtrip);
    tcase_add_test(tc, parse_rejects_bad_text);
    tcase_add_test(tc, ids_are_strictly_increasing);
    tcase_add_test(tc, seeded_generators_repeat);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(id_suite)

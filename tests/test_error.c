#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "core/error.h"
#include "eventlog/log.h"
#include "testutil.h"

START_TEST(every_code_has_name_and_message)
{
    static const int codes[] = {
#define X(name, code, msg) code,
        DJS_ERRNO_MAP(X)
#undef X
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        ck_assert_int_lt(codes[i], 0);
        ck_assert_str_ne(djs_strerror(codes[i]), "unknown error");
        ck_assert_str_ne(djs_err_name(codes[i]), "DJS_E?");
        ck_assert(strncmp(djs_err_name(codes[i]), "DJS_E", 5) == 0);
        for (size_t j = 0; j < i; j++)
            ck_assert_int_ne(codes[i], codes[j]);
    }
    ck_assert_str_eq(djs_err_name(DJS_ENOTFOUND), "DJS_ENOTFOUND");
    ck_assert_str_eq(djs_strerror(0), "success");
    ck_assert_str_eq(djs_err_name(0), "OK");
    ck_assert_str_eq(djs_strerror(-9999), "unknown error");
    ck_assert_str_eq(djs_err_name(12345), "DJS_E?");
}
END_TEST

START_TEST(lmdb_errors_translate)
{
    ck_assert_int_eq(djs_err_from_mdb(0), 0);
    ck_assert_int_eq(djs_err_from_mdb(MDB_NOTFOUND), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_err_from_mdb(MDB_KEYEXIST), DJS_EEXISTS);
    ck_assert_int_eq(djs_err_from_mdb(MDB_MAP_FULL), DJS_EMAPFULL);
    ck_assert_int_eq(djs_err_from_mdb(MDB_CORRUPTED), DJS_ECORRUPT);
    ck_assert_int_eq(djs_err_from_mdb(ENOSPC), DJS_ESTORAGE);
    ck_assert_int_eq(djs_err_from_mdb(EIO), DJS_EIO);
    ck_assert_int_eq(djs_err_from_mdb(EACCES), DJS_EPERM);
}
END_TEST

START_TEST(uv_errors_translate)
{
    ck_assert_int_eq(djs_err_from_uv(0), 0);
    ck_assert_int_eq(djs_err_from_uv(5), 0);
    ck_assert_int_eq(djs_err_from_uv(UV_ENOENT), DJS_ENOTFOUND);
    ck_assert_int_eq(djs_err_from_uv(UV_EADDRINUSE), DJS_EEXISTS);
    ck_assert_int_eq(djs_err_from_uv(UV_ECONNREFUSED), DJS_EUNAVAILABLE);
    ck_assert_int_eq(djs_err_from_uv(UV_EPIPE), DJS_EIO);
}
END_TEST

typedef struct heard {
    int n;
    char last[400];
} heard_t;

static void hear(void *arg, const char *line)
{
    heard_t *h = arg;
    h->n++;
    snprintf(h->last, sizeof(h->last), "%s", line);
}

START_TEST(notes_are_formatted_and_bounded)
{
    heard_t h = {0, ""};
    djs_notef(NULL, &h, "nobody hears %d", 1); /* no callback: nothing, no crash */
    ck_assert_int_eq(h.n, 0);
    djs_notef(hear, &h, "snapshot at seq %d dropped: %s", 42, "wrong length");
    ck_assert_int_eq(h.n, 1);
    ck_assert_str_eq(h.last, "snapshot at seq 42 dropped: wrong length");
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    djs_notef(hear, &h, "%s", big);
    ck_assert_int_eq(h.n, 2);
    ck_assert_uint_eq(strlen(h.last), 319); /* cut, NUL-terminated */
}
END_TEST

static Suite *error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_code_has_name_and_message);
    tcase_add_test(tc, lmdb_errors_translate);
    tcase_add_test(tc, uv_errors_translate);
    tcase_add_test(tc, notes_are_formatted_and_bounded);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(error_suite)

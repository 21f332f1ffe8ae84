#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tools/cli/config.h"

static const char *const known[] = {"data", "listen", "http2", "rate-limit", NULL};
static char err[512];

static const char *file_with(const char *text)
{
    static char path[4200];
    snprintf(path, sizeof(path), "%s/djs.conf", tu_tmpdir());
    ck_assert_int_eq(tu_write_file(path, text, strlen(text)), 0);
    return path;
}

START_TEST(keys_values_comments)
{
    djs_cli_config_t c;
    const char *p = file_with("# djs serve settings\n\n  data = /var/lib/djs   # where the log lives\n"
                              "listen=127.0.0.1:9000\r\nhttp2 = \" yes \"\nrate-limit =\n");
    ck_assert_msg(djs_cli_config_load(&c, p, known, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(djs_cli_config_get(&c, "data"), "/var/lib/djs");
    ck_assert_str_eq(djs_cli_config_get(&c, "listen"), "127.0.0.1:9000");
    ck_assert_str_eq(djs_cli_config_get(&c, "http2"), " yes "); /* quotes keep inner blanks */
    ck_assert_str_eq(djs_cli_config_get(&c, "rate-limit"), "");
    ck_assert_int_eq(c.e[1].line, 4);
    ck_assert_ptr_null(djs_cli_config_get(&c, "tls-cert"));
    djs_cli_config_free(&c);
    ck_assert_ptr_null(c.text);
}
END_TEST

START_TEST(errors_name_the_line)
{
    djs_cli_config_t c;
    const char *p = file_with("data = a\n\nlisten 8080\n");
    ck_assert_int_eq(djs_cli_config_load(&c, p, known, err, sizeof(err)), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, ":3: expected 'key = value'"));
    p = file_with("data = a\nport = 1\n");
    ck_assert_int_eq(djs_cli_config_load(&c, p, known, err, sizeof(err)), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, ":2: unknown setting 'port'"));
    p = file_with("data = a\n# again\ndata = b\n");
    ck_assert_int_eq(djs_cli_config_load(&c, p, known, err, sizeof(err)), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, ":3: 'data' is already set on line 1"));
    ck_assert_ptr_null(c.text); /* freed on failure */
}
END_TEST

START_TEST(files_refused)
{
    djs_cli_config_t c;
    char path[4200];
    snprintf(path, sizeof(path), "%s/missing.conf", tu_tmpdir());
    ck_assert_int_eq(djs_cli_config_load(&c, path, known, err, sizeof(err)), DJS_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "No such file"));
    snprintf(path, sizeof(path), "%s/bin.conf", tu_tmpdir());
    ck_assert_int_eq(tu_write_file(path, "data = a\0b\n", 11), 0);
    ck_assert_int_eq(djs_cli_config_load(&c, path, known, err, sizeof(err)), DJS_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a text file"));
    size_t big = (1u << 20) + 1;
    char *text = malloc(big);
    memset(text, '#', big);
    ck_assert_int_eq(tu_write_file(path, text, big), 0);
    ck_assert_int_eq(djs_cli_config_load(&c, path, known, err, sizeof(err)), DJS_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err, "larger than 1 MiB"));
    ck_assert_int_eq(tu_write_file(path, text, big - 1), 0); /* exactly 1 MiB of comment: fine */
    ck_assert_msg(djs_cli_config_load(&c, path, known, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(c.n, 0);
    djs_cli_config_free(&c);
    free(text);
}
END_TEST

START_TEST(booleans)
{
    const char *t[] = {"true", "TRUE", "yes", "Yes", "1"}, *f[] = {"false", "No", "no", "0"}, *bad[] = {"", "on", "2", "truth"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(djs_cli_config_bool(t[i]), 1);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(djs_cli_config_bool(f[i]), 0);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(djs_cli_config_bool(bad[i]), DJS_EINVAL);
}
END_TEST

static Suite *cli_config_suite(void)
{
    Suite *s = suite_create("cli_config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, keys_values_comments);
    tcase_add_test(tc, errors_name_the_line);
    tcase_add_test(tc, files_refused);
    tcase_add_test(tc, booleans);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(cli_config_suite)

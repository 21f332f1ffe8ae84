#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tools/client/yamljson.h"

static char err[256];

static json_t *yj(const char *text)
{
    return djs_client_yamljson_parse(text, strlen(text), err, sizeof(err));
}

/* text converts to the JSON in want (compared as values) */
static void same(const char *text, const char *want)
{
    json_t *v = yj(text), *w = json_loads(want, JSON_DECODE_ANY, NULL);
    ck_assert_msg(v != NULL, "%s: %s", text, err);
    ck_assert_ptr_nonnull(w);
    char *got = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_msg(json_equal(v, w), "%s gave %s, want %s", text, got, want);
    free(got);
    json_decref(v);
    json_decref(w);
}

/* text is refused with a message containing why */
static void refused(const char *text, const char *why)
{
    json_t *v = yj(text);
    ck_assert_msg(v == NULL, "%s was accepted", text);
    ck_assert_msg(strstr(err, why) != NULL, "%s: '%s' does not say '%s'", text, err, why);
    ck_assert_msg(strncmp(err, "line ", 5) == 0, "%s: no position in '%s'", text, err);
}

START_TEST(core_schema_scalars)
{
    same("a: ~\nb: null\nc:\nd: true\ne: False\nf: 12\ng: -7\nh: 0x1f\ni: 0o17\nj: 1.5\nk: .5\nl: 1e3\nm: hello world\n",
         "{\"a\":null,\"b\":null,\"c\":null,\"d\":true,\"e\":false,\"f\":12,\"g\":-7,\"h\":31,\"i\":15,\"j\":1.5,\"k\":0.5,"
         "\"l\":1000.0,\"m\":\"hello world\"}");
    /* quoted and block scalars are strings, whatever they look like */
    same("a: \"12\"\nb: 'true'\nc: |\n  null\n", "{\"a\":\"12\",\"b\":\"true\",\"c\":\"null\\n\"}");
    /* YAML 1.1 words are strings in 1.2's core schema */
    same("a: yes\nb: on\nc: 0x\nd: 1e\ne: 08x\n", "{\"a\":\"yes\",\"b\":\"on\",\"c\":\"0x\",\"d\":\"1e\",\"e\":\"08x\"}");
    /* too big for an integer: it becomes a real */
    same("a: 99999999999999999999\n", "{\"a\":9.9999999999999999e19}");
}
END_TEST

START_TEST(workflow_document)
{
    same("jobs:\n  - key: a\n    name: build\n    payload: {kind: exec, command: make, args: [-j2]}\n"
         "  - key: b\n    dependsOn: [a]\n    maxRetries: 3\n",
         "{\"jobs\":[{\"key\":\"a\",\"name\":\"build\",\"payload\":{\"kind\":\"exec\",\"command\":\"make\",\"args\":[\"-j2\"]}},"
         "{\"key\":\"b\",\"dependsOn\":[\"a\"],\"maxRetries\":3}]}");
    same("[]", "[]");
    same("42", "42");
}
END_TEST

START_TEST(explicit_tags)
{
    same("a: !!str 12\nb: !!int \"7\"\nc: !!float 2\nd: !!bool true\ne: !!null ~\n",
         "{\"a\":\"12\",\"b\":7,\"c\":2.0,\"d\":true,\"e\":null}");
    refused("a: !!int twelve\n", "does not fit its tag");
    refused("a: !!bool yes\n", "does not fit its tag");
    refused("a: !custom x\n", "is not supported");
    refused("a: !!binary aGk=\n", "is not supported");
}
END_TEST

START_TEST(aliases_and_merges_refused)
{
    refused("base: &b {x: 1}\ncopy: *b\n", "aliases");
    refused("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\n", "aliases");
    /* the billion laughs never expands: the first alias stops it */
    refused("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", "aliases");
    /* an anchor alone names a node and changes nothing */
    same("a: &n 5\n", "{\"a\":5}");
}
END_TEST

START_TEST(structure_refused)
{
    refused("a: 1\na: 2\n", "duplicate key 'a'");
    refused("? [1, 2]\n: x\n", "mapping keys must be strings");
    refused("!!str a: 1\n", "mapping keys must be strings");
    refused("a: 1\n---\nb: 2\n", "only one YAML document");
    refused("", "empty");
    refused("a: [1, 2\n", "line");
    refused("a: \xc3\x28\n", "UTF-8"); /* bytes that are not UTF-8 */
}
END_TEST

START_TEST(depth_limit)
{
    char deep[4 * DJS_CLIENT_YAMLJSON_MAX_DEPTH + 8];
    size_t k = 0;
    for (int i = 0; i < DJS_CLIENT_YAMLJSON_MAX_DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i < DJS_CLIENT_YAMLJSON_MAX_DEPTH; i++)
        deep[k++] = ']';
    deep[k] = '\0';
    json_t *v = yj(deep); /* exactly the limit */
    ck_assert_msg(v != NULL, "%s", err);
    json_decref(v);
    k = 0;
    for (int i = 0; i <= DJS_CLIENT_YAMLJSON_MAX_DEPTH; i++)
        deep[k++] = '[';
    for (int i = 0; i <= DJS_CLIENT_YAMLJSON_MAX_DEPTH; i++)
        deep[k++] = ']';
    deep[k] = '\0';
    refused(deep, "nested more than 64 deep");
}
END_TEST

static Suite *client_yamljson_suite(void)
{
    Suite *s = suite_create("client_yamljson");
    TCase *tc = tcase_create("yamljson");
    tcase_add_test(tc, core_schema_scalars);
    tcase_add_test(tc, workflow_document);
    tcase_add_test(tc, explicit_tags);
    tcase_add_test(tc, aliases_and_merges_refused);
    tcase_add_test(tc, structure_refused);
    tcase_add_test(tc, depth_limit);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(client_yamljson_suite)

/* core/bodies.h: the event body codecs. Round trips of every job and worker
 * body, the exact keys each encoder writes per event type, unknown keys,
 * wrong types, ranges, limits and every truncation. Hand-made bodies are
 * packed with msgpack-c. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bodies.h"
#include "core/error.h"
#include "core/event.h"
#include "core/id.h"
#include "core/job.h"
#include "core/mp.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------------------- */

static djs_str_t S(const char *s)
{
    djs_str_t r = {s, strlen(s)};
    return r;
}

static djs_str_t SN(const char *s, size_t n)
{
    djs_str_t r = {s, n};
    return r;
}

#define ck_assert_djs_str_eq(got, want)                                                                                            \
    do {                                                                                                                           \
        djs_str_t g_ = (got), w_ = (want);                                                                                         \
        ck_assert_msg(g_.len == w_.len && (w_.len == 0 || memcmp(g_.p, w_.p, w_.len) == 0),                                        \
                      "%s: got \"%.*s\" (%zu), want \"%.*s\" (%zu)", #got, (int)(g_.len > 80 ? 80 : g_.len), g_.len ? g_.p : "",   \
                      g_.len, (int)(w_.len > 80 ? 80 : w_.len), w_.len ? w_.p : "", w_.len);                                       \
    } while (0)

static void ck_id_eq(const djs_id_t *a, const djs_id_t *b)
{
    ck_assert_int_eq(memcmp(a->b, b->b, 16), 0);
}

/* A hand-made body. */
typedef struct mk {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mk_t;

static void mk_init(mk_t *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mk_free(mk_t *m)
{
    msgpack_sbuffer_destroy(&m->sb);
}

static const uint8_t *mk_data(const mk_t *m)
{
    return (const uint8_t *)m->sb.data;
}

static void pstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* An encoded body is one well-formed MessagePack map. */
static void check_body(const uint8_t *b, size_t len)
{
    ck_assert_uint_gt(len, 0);
    ck_assert_int_eq(djs_mp_validate(b, len, DJS_EVENT_MAX_DEPTH), 0);
    djs_mp_reader_t r;
    uint32_t n;
    djs_mp_reader_init(&r, b, len);
    ck_assert_int_eq(djs_mp_read_map(&r, &n), 0);
}

/* The body's keys, sorted and joined with commas ("attempt,lease,worker");
 * checks there are no duplicates. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *keys_of(const uint8_t *b, size_t len)
{
    static char out[1024];
    char names[64][32];
    const char *ptrs[64];
    djs_mp_reader_t r;
    uint32_t n;
    djs_mp_reader_init(&r, b, len);
    ck_assert_int_eq(djs_mp_read_map(&r, &n), 0);
    ck_assert_uint_le(n, 64);
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        ck_assert_int_eq(djs_mp_read_str(&r, &k, &kl), 0);
        ck_assert_uint_lt(kl, 32);
        memcpy(names[i], k, kl);
        names[i][kl] = '\0';
        ptrs[i] = names[i];
        ck_assert_int_eq(djs_mp_skip(&r, DJS_EVENT_MAX_DEPTH), 0);
    }
    ck_assert(r.p == r.end);
    qsort(ptrs, n, sizeof(ptrs[0]), cmp_str);
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) {
            ck_assert_str_ne(ptrs[i], ptrs[i - 1]);
            strcat(out, ",");
        }
        strcat(out, ptrs[i]);
    }
    return out;
}

typedef int (*decode_fn)(const uint8_t *b, size_t len);

static int dec_spec(const uint8_t *b, size_t len)
{
    djs_job_spec_t s;
    return djs_body_read_job_spec(b, len, &s);
}

static int dec_change(const uint8_t *b, size_t len)
{
    djs_job_change_t c;
    return djs_body_read_job_change(b, len, &c);
}

static int dec_worker(const uint8_t *b, size_t len)
{
    djs_worker_info_t w;
    return djs_body_read_worker(b, len, &w);
}

/* Every proper prefix fails cleanly (in an exactly sized copy, so that
 * ASan sees any read past the end); the whole body decodes. */
static void check_truncations(const uint8_t *b, size_t len, decode_fn dec)
{
    for (size_t l = 0; l < len; l++) {
        uint8_t *copy = malloc(l ? l : 1);
        memcpy(copy, b, l);
        int rc = dec(copy, l);
        free(copy);
        if (rc != DJS_ETRUNCATED && rc != DJS_ETOOBIG)
            ck_abort_msg("prefix %zu of %zu: rc %d (%s)", l, len, rc, djs_err_name(rc));
    }
    uint8_t *copy = malloc(len);
    memcpy(copy, b, len);
    ck_assert_int_eq(dec(copy, len), 0);
    free(copy);
}

/* Iterate a string list and compare it with the expected strings. */
static void check_strlist(const djs_strlist_t *l, const djs_str_t *want, uint32_t n)
{
    ck_assert_uint_eq(l->n, n);
    size_t off = 0;
    djs_str_t s;
    for (uint32_t i = 0; i < n; i++) {
        ck_assert_msg(djs_strlist_next(l, &off, &s) == 1, "item %u missing", i);
        ck_assert_djs_str_eq(s, want[i]);
    }
    ck_assert_int_eq(djs_strlist_next(l, &off, &s), 0);
    ck_assert_int_eq(djs_strlist_next(l, &off, &s), 0); /* and stays done */
}

/* ---- job.submitted ------------------------------------------------------------------- */

static char cap_names[DJS_JOB_MAX_CAPS + 1][DJS_JOB_MAX_CAP_LEN + 2];

static void make_caps(djs_str_t *caps, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        snprintf(cap_names[i], sizeof(cap_names[i]), "cap-%u%s", i, i % 3 == 0 ? "-gpu" : "");
        caps[i] = S(cap_names[i]);
    }
}

static uint8_t *make_deps(uint32_t n, uint64_t seed)
{
    djs_idgen_t g;
    djs_idgen_init(&g, seed);
    uint8_t *d = malloc(n ? n * 16 : 1);
    for (uint32_t i = 0; i < n; i++) {
        djs_id_t id;
        djs_id_new(&g, 1700000000000ULL + i, &id);
        memcpy(d + 16 * i, id.b, 16);
    }
    return d;
}

/* {"cmd": "echo", "args": ["a", "b"], "env": {"K": "V"}, "n": -5, "f": 1.5,
 *  "raw": bin, "none": nil, "ok": true, "deep": [[[{"x": [1]}]]]} */
static void make_payload(mk_t *m)
{
    mk_init(m);
    msgpack_packer *pk = &m->pk;
    msgpack_pack_map(pk, 9);
    pstr(pk, "cmd");
    pstr(pk, "echo");
    pstr(pk, "args");
    msgpack_pack_array(pk, 2);
    pstr(pk, "a");
    pstr(pk, "b");
    pstr(pk, "env");
    msgpack_pack_map(pk, 1);
    pstr(pk, "K");
    pstr(pk, "V");
    pstr(pk, "n");
    msgpack_pack_int64(pk, -5);
    pstr(pk, "f");
    msgpack_pack_double(pk, 1.5);
    pstr(pk, "raw");
    msgpack_pack_bin_with_body(pk, "\x00\x01\xff", 3);
    pstr(pk, "none");
    msgpack_pack_nil(pk);
    pstr(pk, "ok");
    msgpack_pack_true(pk);
    pstr(pk, "deep");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 1);
    pstr(pk, "x");
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint8(pk, 1);
}

static void spec_roundtrip(uint32_t ndeps, uint32_t ncaps, int full, uint8_t prio)
{
    djs_str_t caps[DJS_JOB_MAX_CAPS];
    make_caps(caps, ncaps);
    uint8_t *deps = make_deps(ndeps, 1000 + ndeps);
    mk_t payload;
    make_payload(&payload);
    djs_idgen_t g;
    djs_idgen_init(&g, 5);

    djs_job_spec_t in;
    memset(&in, 0, sizeof(in));
    in.name = S("nightly-build");
    in.owner = S("alice@example");
    in.priority = prio;
    in.timeout_s = 3600;
    in.max_retries = 5;
    in.deps = ndeps ? deps : NULL;
    in.ndeps = ndeps;
    if (full) {
        in.description = S("builds everything, \xc3\xa9t\xc3\xa9 included");
        in.idem_key = S("idem-0001");
        in.wf_key = S("step-a");
        in.payload = mk_data(&payload);
        in.payload_len = payload.sb.size;
        in.scheduled_at = 1700000000123456789ULL;
        djs_id_new(&g, 1700000000000ULL, &in.workflow);
    }

    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_job_spec(&b, &in, caps, ncaps);
    check_body(b.base, b.len);

    /* the keys: always name, prio, timeout, retries, owner, v; the rest
     * when set */
    char want_keys[256] = "";
    const char *all[] = {"caps", "deps",    "desc",  "idem",    "name", "owner", "payload",
                         "prio", "retries", "sched", "timeout", "v",    "wf",    "wfkey"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *k = all[i];
        int present = 1;
        if (strcmp(k, "caps") == 0)
            present = ncaps > 0;
        else if (strcmp(k, "deps") == 0)
            present = ndeps > 0;
        else if (!strcmp(k, "desc") || !strcmp(k, "idem") || !strcmp(k, "payload") || !strcmp(k, "sched") || !strcmp(k, "wf") ||
                 !strcmp(k, "wfkey"))
            present = full;
        if (present) {
            if (want_keys[0])
                strcat(want_keys, ",");
            strcat(want_keys, k);
        }
    }
    ck_assert_str_eq(keys_of(b.base, b.len), want_keys);

    djs_job_spec_t out;
    memset(&out, 0xa5, sizeof(out)); /* the decoder zeroes it */
    ck_assert_int_eq(djs_body_read_job_spec(b.base, b.len, &out), 0);
    ck_assert_djs_str_eq(out.name, in.name);
    ck_assert_djs_str_eq(out.owner, in.owner);
    ck_assert_djs_str_eq(out.description, in.description);
    ck_assert_djs_str_eq(out.idem_key, in.idem_key);
    ck_assert_djs_str_eq(out.wf_key, in.wf_key);
    ck_assert_uint_eq(out.priority, prio);
    ck_assert_uint_eq(out.timeout_s, 3600);
    ck_assert_uint_eq(out.max_retries, 5);
    ck_assert_uint_eq(out.scheduled_at, in.scheduled_at);
    ck_id_eq(&out.workflow, &in.workflow);
    ck_assert_int_eq(djs_id_is_nil(&out.workflow), !full);
    /* zero copy: strings point into the body */
    ck_assert(out.name.p >= (const char *)b.base && out.name.p + out.name.len <= (const char *)b.base + b.len);
    /* payload: the same bytes, in place */
    ck_assert_uint_eq(out.payload_len, in.payload_len);
    if (full) {
        ck_assert_int_eq(memcmp(out.payload, in.payload, in.payload_len), 0);
        ck_assert(out.payload >= b.base && out.payload + out.payload_len <= b.base + b.len);
        ck_assert_int_eq(djs_mp_validate(out.payload, out.payload_len, DJS_EVENT_MAX_DEPTH), 0);
    } else {
        ck_assert_ptr_null(out.payload);
    }
    /* deps */
    ck_assert_uint_eq(out.ndeps, ndeps);
    if (ndeps > 0)
        ck_assert_int_eq(memcmp(out.deps, deps, (size_t)ndeps * 16), 0);
    else
        ck_assert_ptr_null(out.deps);
    /* caps */
    if (ncaps > 0)
        check_strlist(&out.caps, caps, ncaps);
    else {
        ck_assert_ptr_null(out.caps.mp);
        ck_assert_uint_eq(out.caps.n, 0);
        size_t off = 0;
        djs_str_t s;
        ck_assert_int_eq(djs_strlist_next(&out.caps, &off, &s), 0);
    }
    check_truncations(b.base, b.len, dec_spec);

    djs_buf_dispose(&b);
    mk_free(&payload);
    free(deps);
}

START_TEST(spec_roundtrip_minimal)
{
    spec_roundtrip(0, 0, 0, DJS_PRIO_NORMAL);
}
END_TEST

START_TEST(spec_roundtrip_full)
{
    spec_roundtrip(1, 3, 1, DJS_PRIO_HIGH);
}
END_TEST

START_TEST(spec_roundtrip_max_deps_and_caps)
{
    spec_roundtrip(DJS_JOB_MAX_DEPS, DJS_JOB_MAX_CAPS, 1, DJS_PRIO_LOW);
}
END_TEST

START_TEST(spec_roundtrip_variants)
{
    const uint32_t nd[] = {0, 1, 2, 17, 255, 256};
    const uint32_t nc[] = {0, 1, 2, 31, 32};
    for (size_t i = 0; i < sizeof(nd) / sizeof(nd[0]); i++)
        for (size_t j = 0; j < sizeof(nc) / sizeof(nc[0]); j++)
            spec_roundtrip(nd[i], nc[j], (int)((i + j) % 2), (uint8_t)((i + j) % 3));
}
END_TEST

/* Absent keys keep their defaults: priority NORMAL, everything else zero. */
START_TEST(spec_defaults)
{
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, "name");
    pstr(&m.pk, "x");
    djs_job_spec_t s;
    ck_assert_int_eq(djs_body_read_job_spec(mk_data(&m), m.sb.size, &s), 0);
    ck_assert_djs_str_eq(s.name, S("x"));
    ck_assert_uint_eq(s.priority, DJS_PRIO_NORMAL);
    ck_assert_uint_eq(s.owner.len, 0);
    ck_assert_uint_eq(s.timeout_s, 0);
    ck_assert_uint_eq(s.max_retries, 0);
    ck_assert_uint_eq(s.ndeps, 0);
    ck_assert_ptr_null(s.payload);
    ck_assert_ptr_null(s.caps.mp);
    ck_assert_uint_eq(s.scheduled_at, 0);
    ck_assert(djs_id_is_nil(&s.workflow));
    mk_free(&m);

    /* an empty map: all defaults */
    const uint8_t empty[] = {0x80};
    ck_assert_int_eq(djs_body_read_job_spec(empty, 1, &s), 0);
    ck_assert_uint_eq(s.priority, DJS_PRIO_NORMAL);
    ck_assert_uint_eq(s.name.len, 0);
}
END_TEST

/* ---- job changes ------------------------------------------------------------------- */

static void ck_change_eq(const djs_job_change_t *got, const djs_job_change_t *want)
{
    ck_assert_djs_str_eq(got->reason, want->reason);
    ck_id_eq(&got->worker, &want->worker);
    ck_id_eq(&got->upstream, &want->upstream);
    ck_assert_uint_eq(got->attempt, want->attempt);
    ck_assert_uint_eq(got->lease, want->lease);
    ck_assert_uint_eq(got->retry_at, want->retry_at);
    ck_assert_uint_eq(got->percent, want->percent);
    ck_assert_djs_str_eq(got->step, want->step);
    ck_assert_uint_eq(got->eta, want->eta);
    ck_assert_djs_str_eq(got->error, want->error);
    ck_assert_uint_eq(got->result_len, want->result_len);
    if (want->result_len > 0)
        ck_assert_int_eq(memcmp(got->result, want->result, want->result_len), 0);
    else
        ck_assert_ptr_null(got->result);
    ck_assert_int_eq(got->has_priority, want->has_priority);
    ck_assert_int_eq(got->has_max_retries, want->has_max_retries);
    ck_assert_int_eq(got->has_timeout, want->has_timeout);
    ck_assert_int_eq(got->has_name, want->has_name);
    ck_assert_int_eq(got->has_description, want->has_description);
    ck_assert_uint_eq(got->priority, want->priority);
    ck_assert_uint_eq(got->max_retries, want->max_retries);
    ck_assert_uint_eq(got->timeout_s, want->timeout_s);
    ck_assert_djs_str_eq(got->name, want->name);
    ck_assert_djs_str_eq(got->description, want->description);
    ck_assert_uint_eq(got->out_offset, want->out_offset);
    ck_assert_uint_eq(got->out_len, want->out_len);
    ck_assert_uint_eq(got->out_recv, want->out_recv);
    ck_assert_int_eq(got->out_truncated, want->out_truncated);
}

/* Encode `in` as `type`, check the keys written, decode, compare with
 * `want` (in minus what the type does not carry), check truncations. */
static void change_case(int type, const djs_job_change_t *in, const djs_job_change_t *want, const char *keys)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_job_change(&b, type, in);
    check_body(b.base, b.len);
    ck_assert_msg(strcmp(keys_of(b.base, b.len), keys) == 0, "%s: keys \"%s\", want \"%s\"", djs_event_type_name(type),
                  keys_of(b.base, b.len), keys);
    djs_job_change_t out;
    memset(&out, 0x5a, sizeof(out));
    ck_assert_int_eq(djs_body_read_job_change(b.base, b.len, &out), 0);
    ck_change_eq(&out, want);
    check_truncations(b.base, b.len, dec_change);
    djs_buf_dispose(&b);
}

START_TEST(change_every_job_type)
{
    djs_idgen_t g;
    djs_idgen_init(&g, 8);
    djs_id_t worker, upstream;
    djs_id_new(&g, 1700000000000ULL, &worker);
    djs_id_new(&g, 1700000000001ULL, &upstream);
    mk_t res;
    mk_init(&res);
    msgpack_pack_array(&res.pk, 3);
    msgpack_pack_uint8(&res.pk, 1);
    pstr(&res.pk, "two");
    msgpack_pack_map(&res.pk, 1);
    pstr(&res.pk, "three");
    msgpack_pack_double(&res.pk, 3.0);

    int covered[256] = {0};
    for (int variant = 0; variant < 2; variant++) {
        for (int type = DJS_EV_JOB_QUEUED; type <= DJS_EV_JOB_OUTPUT; type++) {
            djs_job_change_t want;
            memset(&want, 0, sizeof(want));
            const char *keys = NULL;
            /* what the type carries; variant 1 uses zero numbers where a
             * key is written regardless */
            uint32_t attempt = variant ? 0 : 3;
            switch (type) {
            case DJS_EV_JOB_QUEUED:
                want.reason = S("dependencies met");
                keys = "reason";
                break;
            case DJS_EV_JOB_SCHEDULED:
                want.worker = worker;
                want.attempt = attempt;
                want.lease = 1700000000999000000ULL;
                keys = "attempt,lease,worker";
                break;
            case DJS_EV_JOB_STARTED:
                want.worker = worker;
                want.attempt = attempt;
                keys = "attempt,worker";
                break;
            case DJS_EV_JOB_PROGRESS:
                want.attempt = attempt;
                want.percent = variant ? 0 : 42;
                if (!variant) {
                    want.step = S("compiling");
                    want.eta = 1700000001000000000ULL;
                }
                keys = variant ? "attempt,pct" : "attempt,eta,pct,step";
                break;
            case DJS_EV_JOB_SUCCEEDED:
                want.attempt = attempt;
                want.result = mk_data(&res);
                want.result_len = res.sb.size;
                keys = "attempt,result";
                break;
            case DJS_EV_JOB_FAILED:
                want.attempt = attempt;
                want.reason = S("error");
                want.error = S("exit status 2");
                want.retry_at = variant ? 0 : 1700000002000000000ULL; /* 0: fails for good */
                keys = "attempt,error,reason,retry_at";
                break;
            case DJS_EV_JOB_TIMED_OUT:
                want.attempt = attempt;
                want.retry_at = variant ? 0 : 1700000003000000000ULL;
                keys = "attempt,retry_at";
                break;
            case DJS_EV_JOB_CANCELLED:
                want.reason = S("no longer needed");
                keys = "reason";
                break;
            case DJS_EV_JOB_UPDATED:
                want.has_priority = want.has_max_retries = want.has_timeout = want.has_name = want.has_description = 1;
                want.priority = DJS_PRIO_LOW;
                want.max_retries = 9;
                want.timeout_s = 600;
                want.name = S("renamed");
                want.description = S("a new description");
                keys = "desc,name,prio,retries,timeout";
                break;
            case DJS_EV_JOB_DELETED:
            case DJS_EV_JOB_RETRIED:
                keys = "";
                break;
            case DJS_EV_JOB_UPSTREAM_FAILED:
                want.upstream = upstream;
                keys = "upstream";
                break;
            case DJS_EV_JOB_LEASE_EXPIRED:
                want.worker = worker;
                want.attempt = attempt;
                keys = "attempt,worker";
                break;
            case DJS_EV_JOB_OUTPUT:
                want.attempt = attempt;
                want.out_offset = variant ? 0 : 5000000000ULL; /* past 4 GiB: a u64 */
                want.out_len = variant ? 0 : 4096;
                want.out_recv = variant ? 0 : 70000;
                want.out_truncated = !variant;
                keys = variant ? "attempt,out_len,out_off,out_recv" : "attempt,out_len,out_off,out_recv,trunc";
                break;
            default:
                ck_abort_msg("unexpected job type %d", type);
            }
            /* the input also sets numbers the type does not carry: the
             * encoder leaves them out, so they decode as 0 */
            djs_job_change_t in = want;
            int carries_attempt = strstr(keys, "attempt") != NULL;
            if (!carries_attempt)
                in.attempt = 77;
            if (strstr(keys, "retry_at") == NULL)
                in.retry_at = 999;
            if (strstr(keys, "pct") == NULL)
                in.percent = 55;
            if (strstr(keys, "out_off") == NULL)
                in.out_offset = 1, in.out_len = 2, in.out_recv = 3, in.out_truncated = 1;
            change_case(type, &in, &want, keys);
            covered[type] = 1;
        }
    }
    /* every job.* type but job.submitted (its body is the spec) */
    const int *types;
    size_t nt = djs_event_types(&types);
    for (size_t i = 0; i < nt; i++) {
        const char *name = djs_event_type_name(types[i]);
        if (strncmp(name, "job.", 4) == 0 && types[i] != DJS_EV_JOB_SUBMITTED)
            ck_assert_msg(types[i] < 256 && covered[types[i]], "%s not covered", name);
    }
    mk_free(&res);
}
END_TEST

/* retry_at and pct are written only for the types that carry them. */
START_TEST(change_type_specific_numbers)
{
    djs_job_change_t in;
    memset(&in, 0, sizeof(in));
    in.retry_at = 123;
    in.percent = 50;
    for (int type = DJS_EV_JOB_QUEUED; type <= DJS_EV_JOB_OUTPUT; type++) {
        djs_buf_t b;
        djs_buf_init(&b);
        djs_body_job_change(&b, type, &in);
        check_body(b.base, b.len);
        djs_job_change_t out;
        ck_assert_int_eq(djs_body_read_job_change(b.base, b.len, &out), 0);
        int retry = type == DJS_EV_JOB_FAILED || type == DJS_EV_JOB_TIMED_OUT;
        ck_assert_uint_eq(out.retry_at, retry ? 123 : 0);
        ck_assert_uint_eq(out.percent, type == DJS_EV_JOB_PROGRESS ? 50 : 0);
        djs_buf_dispose(&b);
    }
}
END_TEST

/* job.updated: every subset of the has_* flags, with zero values too. */
START_TEST(change_updated_flags)
{
    for (int mask = 0; mask < 32; mask++) {
        for (int zeros = 0; zeros < 2; zeros++) {
            djs_job_change_t want;
            memset(&want, 0, sizeof(want));
            char keys[128] = "";
#define ADDKEY(k)                                                                                                                  \
    do {                                                                                                                           \
        if (keys[0])                                                                                                               \
            strcat(keys, ",");                                                                                                     \
        strcat(keys, k);                                                                                                           \
    } while (0)
            /* alphabetical: desc, name, prio, retries, timeout */
            if (mask & 16) {
                want.has_description = 1;
                want.description = zeros ? S("") : S("d");
                ADDKEY("desc");
            }
            if (mask & 8) {
                want.has_name = 1;
                want.name = zeros ? S("") : S("n");
                ADDKEY("name");
            }
            if (mask & 1) {
                want.has_priority = 1;
                want.priority = zeros ? DJS_PRIO_HIGH : DJS_PRIO_LOW;
                ADDKEY("prio");
            }
            if (mask & 2) {
                want.has_max_retries = 1;
                want.max_retries = zeros ? 0 : 100;
                ADDKEY("retries");
            }
            if (mask & 4) {
                want.has_timeout = 1;
                want.timeout_s = zeros ? 0 : DJS_JOB_MAX_TIMEOUT_S;
                ADDKEY("timeout");
            }
#undef ADDKEY
            change_case(DJS_EV_JOB_UPDATED, &want, &want, keys);
        }
    }
}
END_TEST

/* The has_* flags are ints: any nonzero value means "changed", and the
 * body must stay a well-formed map (its count must not use the raw int). */
START_TEST(change_updated_truthy_flags)
{
    djs_job_change_t in;
    memset(&in, 0, sizeof(in));
    in.has_priority = 2;
    in.priority = DJS_PRIO_HIGH;
    in.has_name = -1;
    in.name = S("n");
    in.has_timeout = 7;
    in.timeout_s = 30;
    djs_job_change_t want = in;
    want.has_priority = want.has_name = want.has_timeout = 1;
    change_case(DJS_EV_JOB_UPDATED, &in, &want, "name,prio,timeout");
}
END_TEST

/* ---- workers ----------------------------------------------------------------------- */

static void ck_worker_eq(const djs_worker_info_t *got, const djs_worker_info_t *want, const djs_str_t *caps, uint32_t ncaps)
{
    ck_assert_djs_str_eq(got->name, want->name);
    ck_assert_djs_str_eq(got->host, want->host);
    ck_assert_int_eq(got->has_slots, want->has_slots);
    ck_assert_int_eq(got->has_caps, want->has_caps);
    ck_assert_int_eq(got->has_load, want->has_load);
    ck_assert_uint_eq(got->slots, want->slots);
    ck_assert_uint_eq(got->cpu_pm, want->cpu_pm);
    ck_assert_uint_eq(got->mem_pm, want->mem_pm);
    ck_assert_uint_eq(got->resp_ms, want->resp_ms);
    ck_assert_uint_eq(got->running, want->running);
    if (want->has_caps)
        check_strlist(&got->caps, caps, ncaps);
    else
        ck_assert_ptr_null(got->caps.mp);
    ck_assert_djs_str_eq(got->addr, want->addr);
    ck_assert_uint_eq(got->port, want->port);
    ck_assert_uint_eq(got->tags.n, want->tags.n);
    if (want->tags.n > 0) /* the same packed array */
        ck_assert(got->tags.mp_len == want->tags.mp_len && memcmp(got->tags.mp, want->tags.mp, want->tags.mp_len) == 0);
    else
        ck_assert_ptr_null(got->tags.mp);
}

static void worker_case(int type, const djs_worker_info_t *in, const djs_str_t *caps, uint32_t ncaps, const djs_worker_info_t *want,
                        const char *keys)
{
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_worker(&b, type, in, caps, ncaps);
    check_body(b.base, b.len);
    ck_assert_msg(strcmp(keys_of(b.base, b.len), keys) == 0, "%s: keys \"%s\", want \"%s\"", djs_event_type_name(type),
                  keys_of(b.base, b.len), keys);
    djs_worker_info_t out;
    memset(&out, 0x33, sizeof(out));
    ck_assert_int_eq(djs_body_read_worker(b.base, b.len, &out), 0);
    ck_worker_eq(&out, want, caps, ncaps);
    check_truncations(b.base, b.len, dec_worker);
    djs_buf_dispose(&b);
}

START_TEST(worker_registered)
{
    djs_str_t caps[DJS_JOB_MAX_CAPS];
    for (uint32_t ncaps = 0; ncaps <= DJS_JOB_MAX_CAPS; ncaps += (ncaps < 3 ? 1 : 29)) {
        make_caps(caps, ncaps);
        djs_worker_info_t in;
        memset(&in, 0, sizeof(in));
        in.name = S("worker-1");
        in.host = S("host-a.example");
        in.slots = 4;
        /* load figures without has_load are not written */
        in.cpu_pm = 500;
        in.running = 1;
        djs_worker_info_t want;
        memset(&want, 0, sizeof(want));
        want.name = in.name;
        want.host = in.host;
        want.slots = 4;
        want.has_slots = want.has_caps = 1;
        worker_case(DJS_EV_WORKER_REGISTERED, &in, caps, ncaps, &want, "caps,host,name,slots");

        /* registered with its first load figures */
        in.has_load = 1;
        in.mem_pm = 250;
        in.resp_ms = 12;
        want.has_load = 1;
        want.cpu_pm = 500;
        want.mem_pm = 250;
        want.resp_ms = 12;
        want.running = 1;
        worker_case(DJS_EV_WORKER_REGISTERED, &in, caps, ncaps, &want, "caps,cpu,host,mem,name,resp,running,slots");
    }
    /* slots 0 is still written for registered */
    djs_worker_info_t in, want;
    memset(&in, 0, sizeof(in));
    memset(&want, 0, sizeof(want));
    want.has_slots = want.has_caps = 1;
    worker_case(DJS_EV_WORKER_REGISTERED, &in, NULL, 0, &want, "caps,slots");
}
END_TEST

/* The original design's hostAddress, port and tags: written when given. */
START_TEST(worker_design_fields)
{
    const djs_str_t tags[] = {S("rack-7"), S(""), S("eu-west")};
    djs_buf_t tb;
    djs_buf_init(&tb);
    djs_body_strlist(&tb, tags, 3);
    djs_strlist_t tl = {(const uint8_t *)tb.base, tb.len, 3};
    check_strlist(&tl, tags, 3);
    for (int mask = 0; mask < 8; mask++) {
        djs_worker_info_t in;
        memset(&in, 0, sizeof(in));
        in.name = S("w");
        in.slots = 2;
        if (mask & 1)
            in.addr = S("10.0.0.7");
        if (mask & 2)
            in.port = mask == 7 ? DJS_WORKER_MAX_PORT : 8081;
        if (mask & 4)
            in.tags = tl;
        djs_worker_info_t want = in;
        want.has_slots = want.has_caps = 1;
        char keys[64];
        snprintf(keys, sizeof(keys), "%scaps,name,%sslots%s", mask & 1 ? "addr," : "", mask & 2 ? "port," : "",
                 mask & 4 ? ",tags" : "");
        worker_case(DJS_EV_WORKER_REGISTERED, &in, NULL, 0, &want, keys);
        if (mask & 4) {
            djs_worker_info_t out;
            djs_buf_t b;
            djs_buf_init(&b);
            djs_body_worker(&b, DJS_EV_WORKER_REGISTERED, &in, NULL, 0);
            ck_assert_int_eq(djs_body_read_worker(b.base, b.len, &out), 0);
            check_strlist(&out.tags, tags, 3);
            djs_buf_dispose(&b);
        }
    }
    /* an empty list is not written */
    djs_worker_info_t in, want;
    memset(&in, 0, sizeof(in));
    djs_buf_reset(&tb);
    djs_body_strlist(&tb, NULL, 0);
    in.tags = (djs_strlist_t){(const uint8_t *)tb.base, tb.len, 0};
    memset(&want, 0, sizeof(want));
    want.has_slots = want.has_caps = 1;
    worker_case(DJS_EV_WORKER_REGISTERED, &in, NULL, 0, &want, "caps,slots");
    djs_buf_dispose(&tb);
}
END_TEST

/* tags: at most DJS_WORKER_MAX_TAGS, each at most DJS_WORKER_MAX_TAG_LEN bytes. */
START_TEST(tags_limits)
{
    static char longtag[DJS_WORKER_MAX_TAG_LEN + 2];
    djs_str_t tags[DJS_WORKER_MAX_TAGS + 1];
    for (int trial = 0; trial < 4; trial++) {
        uint32_t n = trial < 2 ? DJS_WORKER_MAX_TAGS + (uint32_t)trial : 2;
        for (uint32_t i = 0; i < n; i++)
            tags[i] = S("t");
        if (trial >= 2) {
            size_t len = DJS_WORKER_MAX_TAG_LEN + (size_t)(trial - 2);
            memset(longtag, 't', len);
            longtag[len] = '\0';
            tags[1] = S(longtag);
        }
        djs_buf_t tb, b;
        djs_buf_init(&tb);
        djs_buf_init(&b);
        djs_body_strlist(&tb, tags, n);
        djs_worker_info_t in, out;
        memset(&in, 0, sizeof(in));
        in.tags = (djs_strlist_t){(const uint8_t *)tb.base, tb.len, n};
        djs_body_worker(&b, DJS_EV_WORKER_REGISTERED, &in, NULL, 0);
        check_body(b.base, b.len);
        int rc = djs_body_read_worker(b.base, b.len, &out), want = trial == 0 || trial == 2 ? 0 : DJS_ETOOBIG;
        ck_assert_msg(rc == want, "trial %d: rc %d, want %d", trial, rc, want);
        if (rc == 0)
            check_strlist(&out.tags, tags, n);
        djs_buf_dispose(&tb);
        djs_buf_dispose(&b);
    }
}
END_TEST

START_TEST(worker_heartbeat)
{
    for (int zero = 0; zero < 2; zero++) {
        djs_worker_info_t in;
        memset(&in, 0, sizeof(in));
        in.cpu_pm = zero ? 0 : 512;
        in.mem_pm = zero ? 0 : 1000;
        in.resp_ms = zero ? 0 : 35;
        in.running = zero ? 0 : 2;
        in.slots = 9; /* not flagged: not written */
        djs_worker_info_t want = in;
        want.slots = 0;
        want.has_load = 1;
        worker_case(DJS_EV_WORKER_HEARTBEAT, &in, NULL, 0, &want, "cpu,mem,resp,running");
    }
    /* big figures survive */
    djs_worker_info_t in;
    memset(&in, 0, sizeof(in));
    in.cpu_pm = UINT32_MAX;
    in.mem_pm = 70000;
    in.resp_ms = UINT32_MAX - 1;
    in.running = 1u << 31;
    in.name = S("w");
    djs_worker_info_t want = in;
    want.has_load = 1;
    worker_case(DJS_EV_WORKER_HEARTBEAT, &in, NULL, 0, &want, "cpu,mem,name,resp,running");
}
END_TEST

START_TEST(worker_updated_and_others)
{
    djs_str_t caps[3];
    make_caps(caps, 3);
    for (int mask = 0; mask < 4; mask++) {
        djs_worker_info_t in;
        memset(&in, 0, sizeof(in));
        in.has_slots = mask & 1;
        in.has_caps = (mask & 2) != 0;
        in.slots = 16;
        in.has_load = 1; /* load figures belong in heartbeats */
        in.cpu_pm = 700;
        djs_worker_info_t want;
        memset(&want, 0, sizeof(want));
        want.has_slots = in.has_slots;
        want.has_caps = in.has_caps;
        want.slots = in.has_slots ? 16 : 0;
        const char *keys = mask == 0 ? "" : mask == 1 ? "slots" : mask == 2 ? "caps" : "caps,slots";
        worker_case(DJS_EV_WORKER_UPDATED, &in, caps, 3, &want, keys);
    }
    /* has_caps with no caps: an empty list, which clears them */
    djs_worker_info_t in, want;
    memset(&in, 0, sizeof(in));
    in.has_caps = 1;
    want = in;
    worker_case(DJS_EV_WORKER_UPDATED, &in, NULL, 0, &want, "caps");
    /* draining, lost, deregistered: nothing unless set */
    const int types[] = {DJS_EV_WORKER_DRAINING, DJS_EV_WORKER_LOST, DJS_EV_WORKER_DEREGISTERED};
    for (int i = 0; i < 3; i++) {
        memset(&in, 0, sizeof(in));
        in.cpu_pm = 5;   /* not a heartbeat (or a registration): not written, */
        in.has_load = 1; /* even when flagged */
        memset(&want, 0, sizeof(want));
        worker_case(types[i], &in, NULL, 0, &want, "");
        in.name = S("gone");
        want.name = in.name;
        worker_case(types[i], &in, NULL, 0, &want, "name");
    }
}
END_TEST

/* ---- unknown keys ---------------------------------------------------------------- */

/* Values of every kind for an unknown key. */
static void pack_odd_value(msgpack_packer *pk, int kind)
{
    switch (kind) {
    case 0:
        msgpack_pack_map(pk, 2);
        pstr(pk, "a");
        msgpack_pack_array(pk, 2);
        msgpack_pack_nil(pk);
        msgpack_pack_map(pk, 0);
        pstr(pk, "b");
        msgpack_pack_int8(pk, -3);
        break;
    case 1:
        msgpack_pack_array(pk, 3);
        msgpack_pack_double(pk, 2.5);
        msgpack_pack_float(pk, 1.5f);
        msgpack_pack_false(pk);
        break;
    case 2:
        msgpack_pack_bin_with_body(pk, "\x01\x02\x03\x04", 4);
        break;
    case 3:
        msgpack_pack_ext_with_body(pk, "xyz", 3, 5);
        break;
    case 4:
        msgpack_pack_int64(pk, INT64_MIN);
        break;
    case 5:
        msgpack_pack_uint64(pk, UINT64_MAX);
        break;
    default:
        msgpack_pack_str_with_body(pk, "a long-ish string value to step over........................", 60);
        break;
    }
}

START_TEST(unknown_keys_ignored)
{
    for (int kind = 0; kind < 7; kind++) {
        /* spec: unknown keys before, between and after known ones,
         * including prefixes and extensions of known keys */
        mk_t m;
        mk_init(&m);
        msgpack_pack_map(&m.pk, 8);
        pstr(&m.pk, "nam");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "name");
        pstr(&m.pk, "real");
        pstr(&m.pk, "names");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "prio");
        msgpack_pack_uint8(&m.pk, 0);
        pstr(&m.pk, "");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "v");
        msgpack_pack_uint32(&m.pk, 99);
        pstr(&m.pk, "future_field");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "timeout");
        msgpack_pack_uint16(&m.pk, 300);
        djs_job_spec_t s;
        ck_assert_int_eq(djs_body_read_job_spec(mk_data(&m), m.sb.size, &s), 0);
        ck_assert_djs_str_eq(s.name, S("real"));
        ck_assert_uint_eq(s.priority, DJS_PRIO_HIGH);
        ck_assert_uint_eq(s.timeout_s, 300);
        mk_free(&m);

        /* change */
        mk_init(&m);
        msgpack_pack_map(&m.pk, 4);
        pstr(&m.pk, "attempts");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "attempt");
        msgpack_pack_uint8(&m.pk, 4);
        pstr(&m.pk, "x");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "pct");
        msgpack_pack_uint8(&m.pk, 100);
        djs_job_change_t c;
        ck_assert_int_eq(djs_body_read_job_change(mk_data(&m), m.sb.size, &c), 0);
        ck_assert_uint_eq(c.attempt, 4);
        ck_assert_uint_eq(c.percent, 100);
        ck_assert_int_eq(c.has_priority + c.has_name + c.has_timeout + c.has_max_retries + c.has_description, 0);
        mk_free(&m);

        /* worker */
        mk_init(&m);
        msgpack_pack_map(&m.pk, 3);
        pstr(&m.pk, "gpu_model");
        pack_odd_value(&m.pk, kind);
        pstr(&m.pk, "slots");
        msgpack_pack_uint8(&m.pk, 8);
        pstr(&m.pk, "CPU"); /* keys are case-sensitive */
        pack_odd_value(&m.pk, kind);
        djs_worker_info_t w;
        ck_assert_int_eq(djs_body_read_worker(mk_data(&m), m.sb.size, &w), 0);
        ck_assert_uint_eq(w.slots, 8);
        ck_assert_int_eq(w.has_slots, 1);
        ck_assert_int_eq(w.has_load, 0);
        mk_free(&m);
    }
}
END_TEST

/* An unknown key whose value nests deeper than the limit is refused, not
 * followed down. */
START_TEST(unknown_key_too_deep)
{
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, "x");
    for (int i = 0; i < 40; i++)
        msgpack_pack_array(&m.pk, 1);
    msgpack_pack_nil(&m.pk);
    ck_assert_int_eq(dec_spec(mk_data(&m), m.sb.size), DJS_ETOOBIG);
    ck_assert_int_eq(dec_change(mk_data(&m), m.sb.size), DJS_ETOOBIG);
    ck_assert_int_eq(dec_worker(mk_data(&m), m.sb.size), DJS_ETOOBIG);
    mk_free(&m);
}
END_TEST

/* ---- wrong types, ranges, limits ------------------------------------------------------- */

typedef void (*packval_fn)(msgpack_packer *pk);

static void v_uint(msgpack_packer *pk)
{
    msgpack_pack_uint8(pk, 5);
}
static void v_str(msgpack_packer *pk)
{
    pstr(pk, "5");
}
static void v_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void v_true(msgpack_packer *pk)
{
    msgpack_pack_true(pk);
}
static void v_double(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.0);
}
static void v_float(msgpack_packer *pk)
{
    msgpack_pack_float(pk, 2.0f);
}
static void v_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    pstr(pk, "a");
}
static void v_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void v_bin15(msgpack_packer *pk)
{
    msgpack_pack_bin_with_body(pk, "0123456789abcde", 15);
}
static void v_bin17(msgpack_packer *pk)
{
    msgpack_pack_bin_with_body(pk, "0123456789abcdefg", 17);
}
static void v_bin16(msgpack_packer *pk)
{
    msgpack_pack_bin_with_body(pk, "0123456789abcdef", 16);
}
static void v_str16(msgpack_packer *pk)
{
    pstr(pk, "0123456789abcdef"); /* an id as a string is still wrong */
}
static void v_ext(msgpack_packer *pk)
{
    msgpack_pack_ext_with_body(pk, "abcd", 4, 1);
}
static void v_array_of_uint(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pstr(pk, "ok");
    msgpack_pack_uint8(pk, 1);
}
static void v_array_of_bin(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_bin_with_body(pk, "gpu", 3);
}

enum { STR, U32, U64, ID, DEPS, CAPS };

static const packval_fn wrong_for[][8] = {
    [STR] = {v_uint, v_nil, v_true, v_double, v_array, v_map, v_bin16, v_ext},
    [U32] = {v_str, v_nil, v_true, v_double, v_float, v_array, v_map, v_bin16},
    [U64] = {v_str, v_nil, v_true, v_double, v_float, v_array, v_map, v_ext},
    [ID] = {v_str16, v_uint, v_nil, v_bin15, v_bin17, v_array, v_map, v_ext},
    [DEPS] = {v_str16, v_uint, v_nil, v_array, v_map, v_true, v_ext, v_bin15},
    [CAPS] = {v_str, v_uint, v_nil, v_map, v_bin16, v_array_of_uint, v_array_of_bin, v_true},
};

typedef struct field {
    const char *key;
    int kind;
} field_t;

static const field_t spec_fields[] = {
    {"name", STR},    {"desc", STR},    {"owner", STR}, {"idem", STR}, {"wfkey", STR}, {"prio", U32},
    {"timeout", U32}, {"retries", U32}, {"sched", U64}, {"wf", ID},    {"caps", CAPS}, {"deps", DEPS},
};
static const field_t change_fields[] = {
    {"reason", STR},   {"worker", ID},   {"upstream", ID}, {"attempt", U32}, {"lease", U64},
    {"retry_at", U64}, {"pct", U32},     {"step", STR},    {"eta", U64},     {"error", STR},
    {"prio", U32},     {"retries", U32}, {"timeout", U32}, {"name", STR},    {"desc", STR},
};
static const field_t worker_fields[] = {
    {"name", STR}, {"host", STR},    {"caps", CAPS}, {"slots", U32}, {"cpu", U32},   {"mem", U32},
    {"resp", U32}, {"running", U32}, {"addr", STR},  {"port", U32},  {"tags", CAPS},
};

/* {"aaa": 1, key: value} (after a harmless unknown key) or {key: value}. */
static int decode_one(decode_fn dec, const char *key, packval_fn val, int lead)
{
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, lead ? 2 : 1);
    if (lead) {
        pstr(&m.pk, "aaa");
        msgpack_pack_uint8(&m.pk, 1);
    }
    pstr(&m.pk, key);
    val(&m.pk);
    int rc = dec(mk_data(&m), m.sb.size);
    mk_free(&m);
    return rc;
}

static void check_wrong_types(decode_fn dec, const field_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 8; j++)
            for (int lead = 0; lead < 2; lead++) {
                int rc = decode_one(dec, f[i].key, wrong_for[f[i].kind][j], lead);
                ck_assert_msg(rc == DJS_EBADTYPE, "key %s, wrong value #%d: rc %d (%s)", f[i].key, j, rc, djs_err_name(rc));
            }
}

START_TEST(wrong_types_spec)
{
    check_wrong_types(dec_spec, spec_fields, sizeof(spec_fields) / sizeof(spec_fields[0]));
}
END_TEST

START_TEST(wrong_types_change)
{
    check_wrong_types(dec_change, change_fields, sizeof(change_fields) / sizeof(change_fields[0]));
}
END_TEST

START_TEST(wrong_types_worker)
{
    check_wrong_types(dec_worker, worker_fields, sizeof(worker_fields) / sizeof(worker_fields[0]));
}
END_TEST

/* The right type is accepted by the same harness (so the cases above fail
 * for the value, not for the harness). */
static void v_u32max(msgpack_packer *pk)
{
    msgpack_pack_uint32(pk, UINT32_MAX);
}
static void v_u64max(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, UINT64_MAX);
}
static void v_caps_ok(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    pstr(pk, "a");
    pstr(pk, "b");
}
static void v_deps_ok(msgpack_packer *pk)
{
    msgpack_pack_bin_with_body(pk, "0123456789abcdef0123456789abcdef", 32);
}
static void v_prio_ok(msgpack_packer *pk)
{
    msgpack_pack_uint8(pk, 2);
}
static void v_pct_ok(msgpack_packer *pk)
{
    msgpack_pack_uint8(pk, 100);
}

static void v_port_ok(msgpack_packer *pk)
{
    msgpack_pack_uint16(pk, DJS_WORKER_MAX_PORT);
}

static packval_fn right_for(const field_t *f)
{
    if (strcmp(f->key, "prio") == 0)
        return v_prio_ok;
    if (strcmp(f->key, "port") == 0)
        return v_port_ok;
    if (strcmp(f->key, "pct") == 0)
        return v_pct_ok;
    switch (f->kind) {
    case STR:
        return v_str;
    case U32:
        return v_u32max;
    case U64:
        return v_u64max;
    case ID:
        return v_bin16;
    case DEPS:
        return v_deps_ok;
    default:
        return v_caps_ok;
    }
}

START_TEST(right_types_accepted)
{
    for (size_t i = 0; i < sizeof(spec_fields) / sizeof(spec_fields[0]); i++)
        ck_assert_int_eq(decode_one(dec_spec, spec_fields[i].key, right_for(&spec_fields[i]), 1), 0);
    for (size_t i = 0; i < sizeof(change_fields) / sizeof(change_fields[0]); i++)
        ck_assert_int_eq(decode_one(dec_change, change_fields[i].key, right_for(&change_fields[i]), 1), 0);
    for (size_t i = 0; i < sizeof(worker_fields) / sizeof(worker_fields[0]); i++)
        ck_assert_int_eq(decode_one(dec_worker, worker_fields[i].key, right_for(&worker_fields[i]), 1), 0);
}
END_TEST

/* Not a map, or a key that is not a string. */
START_TEST(body_shape)
{
    const decode_fn decs[] = {dec_spec, dec_change, dec_worker};
    const uint8_t array[] = {0x91, 0x01};
    const uint8_t nil[] = {0xc0};
    const uint8_t intkey[] = {0x81, 0x01, 0x02};
    const uint8_t binkey[] = {0x81, 0xc4, 0x01, 'x', 0x02};
    const uint8_t reserved[] = {0xc1};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(decs[i](array, sizeof(array)), DJS_EBADTYPE);
        ck_assert_int_eq(decs[i](nil, sizeof(nil)), DJS_EBADTYPE);
        ck_assert_int_eq(decs[i](intkey, sizeof(intkey)), DJS_EBADTYPE);
        ck_assert_int_eq(decs[i](binkey, sizeof(binkey)), DJS_EBADTYPE);
        ck_assert_int_eq(decs[i](reserved, sizeof(reserved)), DJS_EBADTYPE);
        ck_assert_int_eq(decs[i](array, 0), DJS_ETRUNCATED);
    }
}
END_TEST

static void pack_uint_value(msgpack_packer *pk, uint64_t v)
{
    msgpack_pack_uint64(pk, v);
}

static int decode_uint(decode_fn dec, const char *key, uint64_t v)
{
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, key);
    pack_uint_value(&m.pk, v);
    int rc = dec(mk_data(&m), m.sb.size);
    mk_free(&m);
    return rc;
}

static int decode_int(decode_fn dec, const char *key, int64_t v)
{
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, key);
    msgpack_pack_int64(&m.pk, v);
    int rc = dec(mk_data(&m), m.sb.size);
    mk_free(&m);
    return rc;
}

START_TEST(ranges)
{
    /* priority: 0..2 */
    for (uint64_t p = 0; p < 3; p++) {
        ck_assert_int_eq(decode_uint(dec_spec, "prio", p), 0);
        ck_assert_int_eq(decode_uint(dec_change, "prio", p), 0);
    }
    const uint64_t badprio[] = {3, 4, 255, 256, 65536, UINT32_MAX, (uint64_t)UINT32_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(badprio) / sizeof(badprio[0]); i++) {
        ck_assert_int_eq(decode_uint(dec_spec, "prio", badprio[i]), DJS_ERANGE);
        ck_assert_int_eq(decode_uint(dec_change, "prio", badprio[i]), DJS_ERANGE);
    }
    /* the decoded priority is the one given */
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, "prio");
    msgpack_pack_uint8(&m.pk, 2);
    djs_job_spec_t s;
    ck_assert_int_eq(djs_body_read_job_spec(mk_data(&m), m.sb.size, &s), 0);
    ck_assert_uint_eq(s.priority, DJS_PRIO_LOW);
    mk_free(&m);

    /* percent: 0..100 */
    ck_assert_int_eq(decode_uint(dec_change, "pct", 0), 0);
    ck_assert_int_eq(decode_uint(dec_change, "pct", 100), 0);
    ck_assert_int_eq(decode_uint(dec_change, "pct", 101), DJS_ERANGE);
    ck_assert_int_eq(decode_uint(dec_change, "pct", 255), DJS_ERANGE);
    ck_assert_int_eq(decode_uint(dec_change, "pct", 1ULL << 33), DJS_ERANGE);

    /* u32 fields: 2^32 - 1 fits, 2^32 does not; negatives are out of range */
    const struct {
        decode_fn dec;
        const char *key;
    } u32s[] = {
        {dec_spec, "timeout"}, {dec_spec, "retries"}, {dec_change, "attempt"}, {dec_change, "retries"}, {dec_change, "timeout"},
        {dec_worker, "slots"}, {dec_worker, "cpu"},   {dec_worker, "mem"},     {dec_worker, "resp"},    {dec_worker, "running"},
    };
    for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) {
        ck_assert_int_eq(decode_uint(u32s[i].dec, u32s[i].key, UINT32_MAX), 0);
        ck_assert_int_eq(decode_uint(u32s[i].dec, u32s[i].key, (uint64_t)UINT32_MAX + 1), DJS_ERANGE);
        ck_assert_int_eq(decode_int(u32s[i].dec, u32s[i].key, -1), DJS_ERANGE);
    }
    /* u64 fields take the whole range; negatives are out of range */
    const struct {
        decode_fn dec;
        const char *key;
    } u64s[] = {{dec_spec, "sched"}, {dec_change, "lease"}, {dec_change, "retry_at"}, {dec_change, "eta"}};
    /* a worker's port is 0 (none) to 65535 */
    ck_assert_int_eq(decode_uint(dec_worker, "port", 0), 0);
    ck_assert_int_eq(decode_uint(dec_worker, "port", DJS_WORKER_MAX_PORT), 0);
    ck_assert_int_eq(decode_uint(dec_worker, "port", DJS_WORKER_MAX_PORT + 1), DJS_ERANGE);
    ck_assert_int_eq(decode_uint(dec_worker, "port", (uint64_t)UINT32_MAX + 1), DJS_ERANGE);
    ck_assert_int_eq(decode_int(dec_worker, "port", -1), DJS_ERANGE);
    for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++) {
        ck_assert_int_eq(decode_uint(u64s[i].dec, u64s[i].key, UINT64_MAX), 0);
        ck_assert_int_eq(decode_int(u64s[i].dec, u64s[i].key, -5), DJS_ERANGE);
    }
    ck_assert_int_eq(decode_int(dec_spec, "prio", -1), DJS_ERANGE);
    ck_assert_int_eq(decode_int(dec_change, "pct", -1), DJS_ERANGE);
}
END_TEST

/* deps: a bin whose length is a multiple of 16, at most DJS_JOB_MAX_DEPS ids. */
static int decode_deps_len(size_t len)
{
    uint8_t *raw = calloc(len ? len : 1, 1);
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, "deps");
    msgpack_pack_bin_with_body(&m.pk, raw, len);
    djs_job_spec_t s;
    int rc = djs_body_read_job_spec(mk_data(&m), m.sb.size, &s);
    if (rc == 0)
        ck_assert_uint_eq(s.ndeps, len / 16);
    mk_free(&m);
    free(raw);
    return rc;
}

START_TEST(deps_limits)
{
    const size_t odd[] = {1, 15, 17, 31, 33, 100, 16 * 256 - 1, 16 * 256 + 1, 16 * 300 + 8};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
        ck_assert_msg(decode_deps_len(odd[i]) == DJS_EBADTYPE, "deps of %zu bytes", odd[i]);
    ck_assert_int_eq(decode_deps_len(0), 0);
    ck_assert_int_eq(decode_deps_len(16), 0);
    ck_assert_int_eq(decode_deps_len(16 * DJS_JOB_MAX_DEPS), 0);
    ck_assert_int_eq(decode_deps_len(16 * (DJS_JOB_MAX_DEPS + 1)), DJS_ETOOBIG);
    ck_assert_int_eq(decode_deps_len(16 * 10000), DJS_ETOOBIG);

    /* through the encoder too */
    uint8_t *deps = make_deps(DJS_JOB_MAX_DEPS + 1, 3);
    djs_job_spec_t in;
    memset(&in, 0, sizeof(in));
    in.name = S("x");
    in.deps = deps;
    in.ndeps = DJS_JOB_MAX_DEPS + 1;
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_job_spec(&b, &in, NULL, 0);
    check_body(b.base, b.len);
    ck_assert_int_eq(dec_spec(b.base, b.len), DJS_ETOOBIG);
    djs_buf_dispose(&b);
    free(deps);
}
END_TEST

/* caps: at most DJS_JOB_MAX_CAPS, each at most DJS_JOB_MAX_CAP_LEN bytes;
 * the same for job specs and workers. */
START_TEST(caps_limits)
{
    static char longcap[DJS_JOB_MAX_CAP_LEN + 2];
    djs_str_t caps[DJS_JOB_MAX_CAPS + 1];
    for (int which = 0; which < 2; which++) {
        for (int trial = 0; trial < 4; trial++) {
            uint32_t n = trial < 2 ? DJS_JOB_MAX_CAPS + (uint32_t)trial : 2;
            make_caps(caps, n);
            if (trial >= 2) {
                size_t len = DJS_JOB_MAX_CAP_LEN + (size_t)(trial - 2);
                memset(longcap, 'c', len);
                longcap[len] = '\0';
                caps[1] = S(longcap);
            }
            int want = trial == 0 || trial == 2 ? 0 : DJS_ETOOBIG;
            djs_buf_t b;
            djs_buf_init(&b);
            int rc;
            if (which == 0) {
                djs_job_spec_t in;
                memset(&in, 0, sizeof(in));
                in.name = S("x");
                djs_body_job_spec(&b, &in, caps, n);
                check_body(b.base, b.len);
                djs_job_spec_t out;
                rc = djs_body_read_job_spec(b.base, b.len, &out);
                if (rc == 0)
                    check_strlist(&out.caps, caps, n);
            } else {
                djs_worker_info_t in;
                memset(&in, 0, sizeof(in));
                djs_body_worker(&b, DJS_EV_WORKER_REGISTERED, &in, caps, n);
                check_body(b.base, b.len);
                djs_worker_info_t out;
                rc = djs_body_read_worker(b.base, b.len, &out);
                if (rc == 0)
                    check_strlist(&out.caps, caps, n);
            }
            ck_assert_msg(rc == want, "%s, trial %d: rc %d, want %d", which ? "worker" : "spec", trial, rc, want);
            djs_buf_dispose(&b);
        }
    }
}
END_TEST

/* Strings at their limit decode; one byte more is DJS_ETOOBIG. */
static char big[DJS_JOB_MAX_DESCRIPTION + 2];

static int spec_with(const char *field, size_t len)
{
    memset(big, 'a', len);
    djs_job_spec_t in;
    memset(&in, 0, sizeof(in));
    in.name = S("x");
    djs_str_t v = SN(big, len);
    if (!strcmp(field, "name"))
        in.name = v;
    else if (!strcmp(field, "desc"))
        in.description = v;
    else if (!strcmp(field, "owner"))
        in.owner = v;
    else if (!strcmp(field, "idem"))
        in.idem_key = v;
    else if (!strcmp(field, "wfkey"))
        in.wf_key = v;
    else
        ck_abort_msg("field %s", field);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_job_spec(&b, &in, NULL, 0);
    check_body(b.base, b.len);
    djs_job_spec_t out;
    int rc = djs_body_read_job_spec(b.base, b.len, &out);
    djs_buf_dispose(&b);
    return rc;
}

static int change_with(const char *field, size_t len)
{
    memset(big, 'b', len);
    djs_job_change_t in;
    memset(&in, 0, sizeof(in));
    djs_str_t v = SN(big, len);
    int type = DJS_EV_JOB_FAILED;
    if (!strcmp(field, "reason"))
        in.reason = v;
    else if (!strcmp(field, "step"))
        in.step = v, type = DJS_EV_JOB_PROGRESS;
    else if (!strcmp(field, "error"))
        in.error = v;
    else if (!strcmp(field, "name"))
        in.has_name = 1, in.name = v, type = DJS_EV_JOB_UPDATED;
    else if (!strcmp(field, "desc"))
        in.has_description = 1, in.description = v, type = DJS_EV_JOB_UPDATED;
    else
        ck_abort_msg("field %s", field);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_job_change(&b, type, &in);
    check_body(b.base, b.len);
    djs_job_change_t out;
    int rc = djs_body_read_job_change(b.base, b.len, &out);
    djs_buf_dispose(&b);
    return rc;
}

static int worker_with(const char *field, size_t len)
{
    memset(big, 'w', len);
    djs_worker_info_t in;
    memset(&in, 0, sizeof(in));
    djs_str_t v = SN(big, len);
    if (!strcmp(field, "name"))
        in.name = v;
    else if (!strcmp(field, "host"))
        in.host = v;
    else if (!strcmp(field, "addr"))
        in.addr = v;
    else
        ck_abort_msg("field %s", field);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_body_worker(&b, DJS_EV_WORKER_REGISTERED, &in, NULL, 0);
    check_body(b.base, b.len);
    djs_worker_info_t out;
    int rc = djs_body_read_worker(b.base, b.len, &out);
    djs_buf_dispose(&b);
    return rc;
}

START_TEST(string_limits)
{
    const struct {
        int (*with)(const char *, size_t);
        const char *field;
        size_t max;
    } cases[] = {
        {spec_with, "name", DJS_JOB_MAX_NAME},      {spec_with, "desc", DJS_JOB_MAX_DESCRIPTION},
        {spec_with, "owner", DJS_EVENT_MAX_ACTOR},  {spec_with, "idem", DJS_JOB_MAX_IDEM_KEY},
        {spec_with, "wfkey", DJS_JOB_MAX_NAME},     {change_with, "reason", 256},
        {change_with, "step", DJS_JOB_MAX_NAME},    {change_with, "error", DJS_JOB_MAX_DESCRIPTION},
        {change_with, "name", DJS_JOB_MAX_NAME},    {change_with, "desc", DJS_JOB_MAX_DESCRIPTION},
        {worker_with, "name", DJS_JOB_MAX_NAME},    {worker_with, "host", DJS_JOB_MAX_NAME},
        {worker_with, "addr", DJS_WORKER_MAX_ADDR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(cases[i].with(cases[i].field, cases[i].max) == 0, "%s at %zu refused", cases[i].field, cases[i].max);
        ck_assert_msg(cases[i].with(cases[i].field, cases[i].max + 1) == DJS_ETOOBIG, "%s at %zu accepted", cases[i].field,
                      cases[i].max + 1);
    }
}
END_TEST

/* A list iterator over hand-made bytes, including empty strings. */
START_TEST(strlist_iteration)
{
    mk_t m;
    mk_init(&m);
    msgpack_pack_map(&m.pk, 1);
    pstr(&m.pk, "caps");
    msgpack_pack_array(&m.pk, 4);
    pstr(&m.pk, "");
    pstr(&m.pk, "linux");
    msgpack_pack_str_with_body(&m.pk, "a\0b", 3);
    pstr(&m.pk, "");
    djs_worker_info_t w;
    ck_assert_int_eq(djs_body_read_worker(mk_data(&m), m.sb.size, &w), 0);
    ck_assert_int_eq(w.has_caps, 1);
    const djs_str_t want[] = {S(""), S("linux"), SN("a\0b", 3), S("")};
    check_strlist(&w.caps, want, 4);
    /* the list's bytes are exactly the array */
    ck_assert_int_eq(djs_mp_validate(w.caps.mp, w.caps.mp_len, 1), 0);
    mk_free(&m);

    djs_strlist_t none = {0};
    size_t off = 0;
    djs_str_t s;
    ck_assert_int_eq(djs_strlist_next(&none, &off, &s), 0);
}
END_TEST

static Suite *bodies_suite(void)
{
    Suite *s = suite_create("bodies");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_test(tc, spec_roundtrip_minimal);
    tcase_add_test(tc, spec_roundtrip_full);
    tcase_add_test(tc, spec_roundtrip_max_deps_and_caps);
    tcase_add_test(tc, spec_roundtrip_variants);
    tcase_add_test(tc, spec_defaults);
    tcase_add_test(tc, change_every_job_type);
    tcase_add_test(tc, change_type_specific_numbers);
    tcase_add_test(tc, change_updated_flags);
    tcase_add_test(tc, change_updated_truthy_flags);
    tcase_add_test(tc, worker_registered);
    tcase_add_test(tc, worker_design_fields);
    tcase_add_test(tc, worker_heartbeat);
    tcase_add_test(tc, worker_updated_and_others);
    tcase_add_test(tc, strlist_iteration);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_test(tc, unknown_keys_ignored);
    tcase_add_test(tc, unknown_key_too_deep);
    tcase_add_test(tc, wrong_types_spec);
    tcase_add_test(tc, wrong_types_change);
    tcase_add_test(tc, wrong_types_worker);
    tcase_add_test(tc, right_types_accepted);
    tcase_add_test(tc, body_shape);
    tcase_add_test(tc, ranges);
    tcase_add_test(tc, deps_limits);
    tcase_add_test(tc, caps_limits);
    tcase_add_test(tc, tags_limits);
    tcase_add_test(tc, string_limits);
    suite_add_tcase(s, tc);
    return s;
}

DJS_TEST_MAIN(bodies_suite)

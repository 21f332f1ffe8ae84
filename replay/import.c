#include "replay/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/bodies.h"
#include "core/error.h"
#include "core/jtext.h"
#include "core/mp.h"
#include "eventlog/log.h"
#include "projections/rebuild.h"
#include "projections/snapshot.h"
#include "replay/verify.h"

#define MAX_LINE (64u << 20) /* a record line: a 4 MiB body rendered (hex, escapes) and its base64 */
#define MAX_ITEM (DJS_EVENT_MAX_RECORD + 2 * DJS_LOG_MAX_OUTPUT_CHUNK + 4096)
#define READ_STEP (1u << 20)
#define SYNC_EVERY 65536 /* records staged before waiting for them: bounds the writer's queue */

enum { K_HEADER = 1, K_RECORD, K_OUTPUT, K_TRAILER };

/* One item of either encoding, with the fields its kind has. */
typedef struct item {
    int kind;
    const char *format, *encoding, *type;
    size_t format_len, encoding_len, type_len;
    uint64_t version, first_seq, last_seq, log_first;
    int complete, has_base, has_prev;
    uint8_t prev[DJS_HASH_LEN];
    const uint8_t *rec; /* record */
    size_t rec_len;
    int claims; /* jsonl: seq, type and hash of the line */
    uint64_t seq;
    uint8_t hash[DJS_HASH_LEN];
    int has_hash;
    uint64_t out_seq, offset; /* output */
    djs_id_t job;
    int has_job;
    const uint8_t *data;
    size_t data_len;
    uint64_t events, chunks, output_bytes; /* trailer (and last_seq) */
    uint8_t head[DJS_HASH_LEN];
    int has_head;
    unsigned have; /* which of the numbers came (HAVE_...) */
} item_t;

#define HAVE(f) (1u << (f))
enum { F_VERSION, F_FIRST, F_LAST, F_LOGFIRST, F_SEQ, F_OUTSEQ, F_OFFSET, F_EVENTS, F_CHUNKS, F_OBYTES, F_COMPLETE };

typedef struct imp {
    FILE *in;
    const djs_import_options_t *o;
    djs_import_report_t *rep;
    djs_log_t *log;
    djs_buf_t line, mbuf, rec, data, render;
    size_t mpos;
    uint64_t consumed; /* msgpack: bytes of the file before mbuf */
    int eof;
    json_t *json;
    uint64_t n_item, at_byte;
    int seen_header, seen_trailer;
    uint64_t header_last, staged;
    int want_output; /* the last record was a job.output whose bytes come next */
    uint64_t want_seq, want_off;
    uint32_t want_len;
    djs_id_t want_job;
    uint64_t total, next_report;
} imp_t;

__attribute__((format(printf, 4, 5))) static int bad(imp_t *m, uint64_t seq, int err, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    m->rep->item = m->n_item;
    m->rep->bad_seq = seq;
    if (m->n_item == 0)
        snprintf(m->rep->detail, sizeof(m->rep->detail), "%s", what);
    else if (m->rep->format == DJS_EXPORT_MSGPACK)
        snprintf(m->rep->detail, sizeof(m->rep->detail), "item %" PRIu64 " (byte %" PRIu64 "): %s", m->n_item, m->at_byte, what);
    else
        snprintf(m->rep->detail, sizeof(m->rep->detail), "line %" PRIu64 ": %s", m->n_item, what);
    return err;
}

/* ---- reading jsonl ------------------------------------------------------ */

static int hex32(const char *s, size_t n, uint8_t out[DJS_HASH_LEN])
{
    if (n != 2 * DJS_HASH_LEN)
        return DJS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return DJS_EINVAL;
        out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return 0;
}

static int j_u64(json_t *o, const char *k, uint64_t *v, unsigned *have, int f)
{
    json_t *x = json_object_get(o, k);
    if (x == NULL)
        return 0;
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return DJS_EINVAL;
    *v = (uint64_t)json_integer_value(x);
    *have |= HAVE(f);
    return 0;
}

static int j_str(json_t *o, const char *k, const char **s, size_t *n)
{
    json_t *x = json_object_get(o, k);
    if (x == NULL)
        return 0;
    if (!json_is_string(x))
        return DJS_EINVAL;
    *s = json_string_value(x);
    *n = json_string_length(x);
    return 0;
}

static int j_hash(json_t *o, const char *k, uint8_t out[DJS_HASH_LEN], int *has)
{
    const char *s = NULL;
    size_t n = 0;
    if (j_str(o, k, &s, &n) != 0 || (s != NULL && hex32(s, n, out) != 0))
        return DJS_EINVAL;
    *has = s != NULL;
    return 0;
}

static int j_b64(json_t *o, const char *k, djs_buf_t *out, const uint8_t **p, size_t *n)
{
    const char *s = NULL;
    size_t len = 0;
    djs_buf_reset(out);
    if (j_str(o, k, &s, &len) != 0 || s == NULL || djs_base64_decode(s, len, out) != 0)
        return DJS_EINVAL;
    *p = out->base, *n = out->len;
    return 0;
}

static int jsonl_header(imp_t *m, json_t *o, item_t *it)
{
    json_t *base = json_object_get(o, "base"), *complete = json_object_get(o, "complete");
    it->kind = K_HEADER;
    if (j_str(o, "format", &it->format, &it->format_len) != 0 || j_str(o, "encoding", &it->encoding, &it->encoding_len) != 0 ||
        j_u64(o, "version", &it->version, &it->have, F_VERSION) != 0 ||
        j_u64(o, "first_seq", &it->first_seq, &it->have, F_FIRST) != 0 ||
        j_u64(o, "last_seq", &it->last_seq, &it->have, F_LAST) != 0 ||
        j_u64(o, "log_first_seq", &it->log_first, &it->have, F_LOGFIRST) != 0 ||
        j_hash(o, "prev_hash", it->prev, &it->has_prev) != 0 || (complete != NULL && !json_is_boolean(complete)))
        return bad(m, 0, DJS_EINVAL, "the header has a field of the wrong type");
    it->has_base = base != NULL && !json_is_null(base);
    if (complete != NULL)
        it->complete = json_is_true(complete), it->have |= HAVE(F_COMPLETE);
    return 0;
}

static int jsonl_record(imp_t *m, json_t *o, item_t *it)
{
    it->kind = K_RECORD;
    it->claims = 1;
    if (j_b64(o, "rec", &m->rec, &it->rec, &it->rec_len) != 0)
        return bad(m, 0, DJS_EINVAL, "\"rec\" is not base64");
    if (j_u64(o, "seq", &it->seq, &it->have, F_SEQ) != 0 || j_str(o, "type", &it->type, &it->type_len) != 0 ||
        j_hash(o, "hash", it->hash, &it->has_hash) != 0 || !(it->have & HAVE(F_SEQ)) || it->type == NULL || !it->has_hash)
        return bad(m, 0, DJS_EINVAL, "a record line needs seq, type and hash (hex) beside rec");
    return 0;
}

static int jsonl_output(imp_t *m, json_t *o, item_t *it)
{
    const char *job = NULL;
    size_t jn = 0;
    it->kind = K_OUTPUT;
    if (j_u64(o, "output", &it->out_seq, &it->have, F_OUTSEQ) != 0 || j_u64(o, "offset", &it->offset, &it->have, F_OFFSET) != 0 ||
        j_str(o, "job", &job, &jn) != 0 || job == NULL || djs_id_parse(job, jn, &it->job) != 0 ||
        j_b64(o, "data", &m->data, &it->data, &it->data_len) != 0 || !(it->have & HAVE(F_OFFSET)))
        return bad(m, 0, DJS_EINVAL, "an output line needs output (seq), job (id), offset and data (base64)");
    it->has_job = 1;
    return 0;
}

static int jsonl_trailer(imp_t *m, json_t *o, item_t *it)
{
    it->kind = K_TRAILER;
    if (j_u64(o, "events", &it->events, &it->have, F_EVENTS) != 0 || j_u64(o, "chunks", &it->chunks, &it->have, F_CHUNKS) != 0 ||
        j_u64(o, "output_bytes", &it->output_bytes, &it->have, F_OBYTES) != 0 ||
        j_u64(o, "last_seq", &it->last_seq, &it->have, F_LAST) != 0 || j_hash(o, "head", it->head, &it->has_head) != 0)
        return bad(m, 0, DJS_EINVAL, "the trailer has a field of the wrong type");
    return 0;
}

/* The next line into m->line (without its '\n'), at most MAX_LINE bytes.
 * 1 at the end of the file. */
static int read_line(imp_t *m)
{
    djs_buf_reset(&m->line);
    for (;;) {
        char *p = (char *)djs_buf_reserve(&m->line, 65536);
        if (fgets(p, 65536, m->in) == NULL) {
            if (ferror(m->in))
                return bad(m, 0, DJS_EIO, "reading the export failed: %s", strerror(errno));
            if (m->line.len == 0)
                return 1;
            m->n_item++;
            return bad(m, 0, DJS_ETRUNCATED, "the line is cut short (the file ends without a newline): the export is incomplete");
        }
        size_t n = strlen(p); /* a NUL inside a line: the JSON parser refuses what follows */
        m->line.len += n;
        if (n > 0 && p[n - 1] == '\n') {
            m->line.len--;
            m->n_item++;
            return 0;
        }
        if (m->line.len > MAX_LINE) {
            m->n_item++;
            return bad(m, 0, DJS_ETOOBIG, "the line is over %u bytes", MAX_LINE);
        }
    }
}

/* A record line exactly as this build's export writes it: the rendering
 * of its rec, then ,"hash":"<hex>","rec":"<base64>"}. Then everything the
 * line says is what rec says, byte for byte, and no JSON parse is needed.
 * 1 if so (it is filled in), 0 to parse the line (another renderer's
 * text, or a damaged line: the parse names the problem). */
static int jsonl_fast(imp_t *m, item_t *it)
{
    const char *l = (const char *)m->line.base;
    size_t n = m->line.len;
    const size_t hlen = 9 + 2 * DJS_HASH_LEN + 1; /* ,"hash":"...." */
    if (n < 7 + hlen + 9 || memcmp(l, "{\"seq\":", 7) != 0 || l[n - 1] != '}' || l[n - 2] != '"')
        return 0;
    const char *q = memrchr(l, '"', n - 2); /* the quote opening rec's base64 */
    if (q == NULL || (size_t)(q - l) < 7 + hlen + 7 || memcmp(q - 7, ",\"rec\":", 7) != 0)
        return 0;
    const char *h = q - 7 - hlen;
    uint8_t hash[DJS_HASH_LEN];
    if (memcmp(h, ",\"hash\":\"", 9) != 0 || h[hlen - 1] != '"' || hex32(h + 9, 2 * DJS_HASH_LEN, hash) != 0)
        return 0;
    djs_event_t ev;
    djs_buf_reset(&m->rec);
    if (djs_base64_decode(q + 1, (size_t)(l + n - 2 - (q + 1)), &m->rec) != 0 ||
        djs_event_decode(m->rec.base, m->rec.len, &ev) != 0 || memcmp(hash, ev.hash, DJS_HASH_LEN) != 0)
        return 0;
    djs_buf_reset(&m->render);
    djs_jt_event(&m->render, &ev);
    if (m->render.len - 1 != (size_t)(h - l) || memcmp(m->render.base, l, m->render.len - 1) != 0)
        return 0;
    it->kind = K_RECORD;
    it->rec = m->rec.base, it->rec_len = m->rec.len;
    return 1;
}

static int next_jsonl(imp_t *m, item_t *it)
{
    int rc = read_line(m);
    if (rc != 0)
        return rc;
    if (jsonl_fast(m, it))
        return 0;
    json_error_t err;
    json_decref(m->json);
    m->json = json_loadb((const char *)m->line.base, m->line.len, JSON_REJECT_DUPLICATES, &err);
    if (m->json == NULL || !json_is_object(m->json))
        return bad(m, 0, DJS_EINVAL, "not a JSON object (%s, column %d)", m->json ? "another value" : err.text, err.column);
    json_t *o = m->json;
    if (json_object_get(o, "rec") != NULL)
        return jsonl_record(m, o, it);
    if (json_object_get(o, "output") != NULL)
        return jsonl_output(m, o, it);
    if (json_object_get(o, "end") != NULL)
        return jsonl_trailer(m, o, it);
    if (json_object_get(o, "format") != NULL)
        return jsonl_header(m, o, it);
    return bad(m, 0, DJS_EINVAL, "not an export item (no rec, output, end or format)");
}

/* ---- reading msgpack ------------------------------------------------------ */

static int mp_hash(djs_mp_reader_t *r, uint8_t out[DJS_HASH_LEN], int *has)
{
    const uint8_t *b;
    size_t n;
    if (djs_mp_read_bin(r, &b, &n) != 0 || n != DJS_HASH_LEN)
        return DJS_EINVAL;
    memcpy(out, b, DJS_HASH_LEN);
    *has = 1;
    return 0;
}

static int key_is(const char *k, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(k, want, n) == 0;
}

static int mp_u64(djs_mp_reader_t *r, uint64_t *v, unsigned *have, int f)
{
    if (djs_mp_read_uint(r, v) != 0)
        return DJS_EINVAL;
    *have |= HAVE(f);
    return 0;
}

/* One value of a header, output or trailer map, by its key. */
static int mp_field(djs_mp_reader_t *r, const char *k, size_t kn, item_t *it)
{
    const uint8_t *b;
    size_t n;
    if (key_is(k, kn, "format"))
        return djs_mp_read_str(r, &it->format, &it->format_len);
    if (key_is(k, kn, "encoding"))
        return djs_mp_read_str(r, &it->encoding, &it->encoding_len);
    if (key_is(k, kn, "version"))
        return mp_u64(r, &it->version, &it->have, F_VERSION);
    if (key_is(k, kn, "first_seq"))
        return mp_u64(r, &it->first_seq, &it->have, F_FIRST);
    if (key_is(k, kn, "last_seq"))
        return mp_u64(r, &it->last_seq, &it->have, F_LAST);
    if (key_is(k, kn, "log_first_seq"))
        return mp_u64(r, &it->log_first, &it->have, F_LOGFIRST);
    if (key_is(k, kn, "prev_hash"))
        return mp_hash(r, it->prev, &it->has_prev);
    if (key_is(k, kn, "base")) {
        it->has_base = djs_mp_read_nil(r) != 0;
        return it->has_base ? djs_mp_skip(r, DJS_MP_MAX_DEPTH) : 0;
    }
    if (key_is(k, kn, "complete")) {
        it->have |= HAVE(F_COMPLETE);
        return djs_mp_read_bool(r, &it->complete);
    }
    if (key_is(k, kn, "output"))
        return mp_u64(r, &it->out_seq, &it->have, F_OUTSEQ);
    if (key_is(k, kn, "offset"))
        return mp_u64(r, &it->offset, &it->have, F_OFFSET);
    if (key_is(k, kn, "job")) {
        if (djs_mp_read_bin(r, &b, &n) != 0 || n != 16)
            return DJS_EINVAL;
        memcpy(it->job.b, b, 16);
        it->has_job = 1;
        return 0;
    }
    if (key_is(k, kn, "data"))
        return djs_mp_read_bin(r, &it->data, &it->data_len);
    if (key_is(k, kn, "events"))
        return mp_u64(r, &it->events, &it->have, F_EVENTS);
    if (key_is(k, kn, "chunks"))
        return mp_u64(r, &it->chunks, &it->have, F_CHUNKS);
    if (key_is(k, kn, "output_bytes"))
        return mp_u64(r, &it->output_bytes, &it->have, F_OBYTES);
    if (key_is(k, kn, "head"))
        return mp_hash(r, it->head, &it->has_head);
    return djs_mp_skip(r, DJS_MP_MAX_DEPTH); /* "end", "types", "entity", and keys of later versions */
}

static int mp_item(imp_t *m, const uint8_t *p, size_t len, item_t *it)
{
    djs_mp_reader_t r;
    uint8_t tag;
    uint32_t n;
    djs_mp_reader_init(&r, p, len);
    if (djs_mp_peek(&r, &tag) == 0 && ((tag >= 0x90 && tag <= 0x9f) || tag == 0xdc || tag == 0xdd)) {
        it->kind = K_RECORD;
        it->rec = p, it->rec_len = len;
        return 0;
    }
    if (djs_mp_read_map(&r, &n) != 0)
        return bad(m, 0, DJS_EINVAL, "neither a record (array) nor an export item (map)");
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t kn;
        if (djs_mp_read_str(&r, &k, &kn) != 0)
            return bad(m, 0, DJS_EINVAL, "a map key is not a string");
        if (i == 0)
            it->kind = key_is(k, kn, "format")   ? K_HEADER
                       : key_is(k, kn, "output") ? K_OUTPUT
                       : key_is(k, kn, "end")    ? K_TRAILER
                                                 : 0;
        if (it->kind == 0)
            return bad(m, 0, DJS_EINVAL, "not an export item (its first key is not format, output or end)");
        if (mp_field(&r, k, kn, it) != 0)
            return bad(m, 0, DJS_EINVAL, "field \"%.*s\" has the wrong type", (int)(kn < 40 ? kn : 40), k);
    }
    return 0;
}

static int next_msgpack(imp_t *m, item_t *it)
{
    djs_buf_reserve(&m->mbuf, READ_STEP); /* base is set from here on */
    for (;;) {
        size_t avail = m->mbuf.len - m->mpos;
        djs_mp_reader_t r;
        djs_mp_reader_init(&r, m->mbuf.base + m->mpos, avail);
        int rc = avail > 0 ? djs_mp_skip(&r, 2 * DJS_MP_MAX_DEPTH) : DJS_ETRUNCATED;
        if (rc == 0) {
            const uint8_t *p = m->mbuf.base + m->mpos;
            size_t len = (size_t)(r.p - p);
            m->n_item++;
            m->at_byte = m->consumed + m->mpos;
            m->mpos += len;
            return mp_item(m, p, len, it);
        }
        if ((rc == DJS_ETRUNCATED || rc == DJS_ETOOBIG) && !m->eof && avail < MAX_ITEM) {
            if (avail > 0) /* keep the item's start, read more */
                memmove(m->mbuf.base, m->mbuf.base + m->mpos, avail);
            m->consumed += m->mpos;
            m->mbuf.len = avail;
            m->mpos = 0;
            size_t got = fread(djs_buf_reserve(&m->mbuf, READ_STEP), 1, READ_STEP, m->in);
            m->mbuf.len += got;
            if (got == 0 && ferror(m->in))
                return bad(m, 0, DJS_EIO, "reading the export failed: %s", strerror(errno));
            m->eof = got == 0;
            continue;
        }
        if (avail == 0)
            return 1;
        m->n_item++;
        m->at_byte = m->consumed + m->mpos;
        if (rc == DJS_ETRUNCATED || (rc == DJS_ETOOBIG && m->eof))
            return bad(m, 0, DJS_ETRUNCATED, "cut short: the file ends inside this item (the export is incomplete)");
        if (rc == DJS_ETOOBIG)
            return bad(m, 0, DJS_ETOOBIG, "the item is over %u bytes", (unsigned)MAX_ITEM);
        return bad(m, 0, DJS_EINVAL, "not MessagePack (%s)", djs_strerror(rc));
    }
}

/* ---- the new log -------------------------------------------------------- */

static int check_newdir(imp_t *m, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? 0 : bad(m, 0, djs_err_from_errno(errno), "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bad(m, 0, DJS_EEXISTS, "%s exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (d == NULL)
        return bad(m, 0, djs_err_from_errno(errno), "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int entries = 0, log = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        entries++;
        log |= strcmp(e->d_name, "data.mdb") == 0;
    }
    int rc = log       ? bad(m, 0, DJS_EEXISTS, "%s already holds a log: import into a new directory", dir)
             : entries ? bad(m, 0, DJS_EEXISTS, "%s is not empty: import into a new directory", dir)
                       : 0;
    closedir(d);
    return rc;
}

/* Remove the half-built log directory (its files, then itself). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void sync_parent(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s", dir);
    char *slash = strrchr(p, '/');
    if (slash == p)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(p, sizeof(p), ".");
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- the items in order --------------------------------------------------- */

static int on_header(imp_t *m, const item_t *it, const char *tmp)
{
    static const uint8_t zero[DJS_HASH_LEN];
    const char *enc = m->rep->format == DJS_EXPORT_MSGPACK ? "msgpack" : "jsonl";
    if (m->seen_header)
        return bad(m, 0, DJS_EINVAL, "a second header");
    if (it->format == NULL || !key_is(it->format, it->format_len, "djs-export"))
        return bad(m, 0, DJS_EINVAL, "not a djs export (format is not \"djs-export\")");
    if (!(it->have & HAVE(F_VERSION)) || it->version != DJS_EXPORT_VERSION)
        return bad(m, 0, DJS_EVERSION, "export version %" PRIu64 ": this build reads version %d", it->version, DJS_EXPORT_VERSION);
    if (it->encoding == NULL || !key_is(it->encoding, it->encoding_len, enc))
        return bad(m, 0, DJS_EINVAL, "the header's encoding is not %s", enc);
    if (!(it->have & HAVE(F_FIRST)) || !(it->have & HAVE(F_LAST)) || !(it->have & HAVE(F_COMPLETE)) || !it->has_prev)
        return bad(m, 0, DJS_EINVAL, "the header needs first_seq, last_seq, complete and prev_hash");
    if (it->has_base)
        return bad(m, 0, DJS_EINVAL,
                   "an export of an archived log (it starts after an archive base): import needs a log from seq 1");
    if (!it->complete)
        return bad(m, 0, DJS_EINVAL,
                   "a filtered export (--from past the first seq, --types or --entity) is for reading: import needs a complete "
                   "export");
    if (it->first_seq != 1 || memcmp(it->prev, zero, DJS_HASH_LEN) != 0 || it->last_seq + 1 < it->first_seq)
        return bad(m, 0, DJS_EINVAL, "a complete export starts at seq 1 from the all-zero hash");
    m->seen_header = 1;
    m->header_last = it->last_seq;
    m->total = it->last_seq;
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.max_batch = SYNC_EVERY; /* one commit (one fsync) per SYNC_EVERY records */
    int rc = djs_log_open(&m->log, tmp, &lo);
    if (rc != 0)
        return bad(m, 0, rc, "cannot create the log in %s: %s", tmp, djs_strerror(rc));
    return 0;
}

static int check_claims(imp_t *m, const item_t *it, const djs_event_t *ev)
{
    const char *name = djs_event_type_name(ev->type);
    if (it->seq != ev->seq)
        return bad(m, ev->seq, DJS_ECORRUPT, "the line says seq %" PRIu64 " but its rec is record %" PRIu64, it->seq, ev->seq);
    if (!key_is(it->type, it->type_len, name))
        return bad(m, ev->seq, DJS_ECORRUPT, "record %" PRIu64 ": the line says type \"%.*s\" but its rec is a %s", ev->seq,
                   (int)(it->type_len < 40 ? it->type_len : 40), it->type, name);
    if (memcmp(it->hash, ev->hash, DJS_HASH_LEN) != 0)
        return bad(m, ev->seq, DJS_ECORRUPT, "record %" PRIu64 ": the line's hash is not the hash its rec carries", ev->seq);
    return 0;
}

static int on_record(imp_t *m, const item_t *it)
{
    djs_event_t ev;
    djs_job_change_t c;
    uint64_t expect = m->rep->last_seq + 1;
    if (m->want_output)
        return bad(m, m->want_seq, DJS_EINVAL, "the output of record %" PRIu64 " is missing (a record came first)", m->want_seq);
    int rc = djs_event_decode(it->rec, it->rec_len, &ev);
    if (rc != 0)
        return bad(m, 0, rc, "the record does not decode: %s", djs_strerror(rc));
    if (it->claims && (rc = check_claims(m, it, &ev)) != 0)
        return rc;
    if (ev.seq != expect)
        return bad(m, ev.seq, DJS_ESEQGAP, "record %" PRIu64 " where %" PRIu64 " was expected", ev.seq, expect);
    if (ev.seq > m->header_last)
        return bad(m, ev.seq, DJS_EINVAL, "record %" PRIu64 " is past the header's last seq %" PRIu64, ev.seq, m->header_last);
    if ((rc = djs_log_append_record(m->log, it->rec, it->rec_len)) != 0) {
        if (rc == DJS_ECHAIN)
            return bad(m, ev.seq, rc, "record %" PRIu64 ": hash chain broken (this record was altered, or one before it)", ev.seq);
        if (rc == DJS_ESEQGAP)
            return bad(m, ev.seq, rc, "record %" PRIu64 ": its timestamp does not increase", ev.seq);
        return bad(m, ev.seq, rc, "record %" PRIu64 " cannot be appended: %s", ev.seq, djs_strerror(rc));
    }
    if (ev.type == DJS_EV_JOB_OUTPUT) {
        if (djs_body_read_job_change(ev.body, ev.body_len, &c) != 0)
            return bad(m, ev.seq, DJS_ECORRUPT, "record %" PRIu64 ": its job.output body does not decode", ev.seq);
        m->want_output = c.out_len > 0;
        m->want_seq = ev.seq, m->want_off = c.out_offset, m->want_len = c.out_len, m->want_job = ev.entity;
    }
    memcpy(m->rep->head, ev.hash, DJS_HASH_LEN);
    m->rep->last_seq = ev.seq;
    m->rep->events++;
    if (++m->staged >= SYNC_EVERY) {
        m->staged = 0;
        if ((rc = djs_log_sync(m->log)) != 0)
            return bad(m, ev.seq, rc, "writing the new log failed: %s", djs_strerror(rc));
    }
    if (m->o->progress != NULL && m->rep->events >= m->next_report) {
        m->o->progress(m->o->progress_arg, m->rep->events, m->total);
        m->next_report = m->rep->events + m->total / 100 + 1;
    }
    return 0;
}

static int on_output(imp_t *m, const item_t *it)
{
    if (!(it->have & HAVE(F_OUTSEQ)) || !(it->have & HAVE(F_OFFSET)) || !it->has_job || it->data == NULL)
        return bad(m, 0, DJS_EINVAL, "an output item needs output (seq), job, offset and data");
    if (!m->want_output || it->out_seq != m->want_seq)
        return bad(m, it->out_seq, DJS_EINVAL, "output of record %" PRIu64 " out of place (it follows its job.output record)",
                   it->out_seq);
    if (djs_id_cmp(&it->job, &m->want_job) != 0 || it->offset != m->want_off || it->data_len != m->want_len)
        return bad(m, it->out_seq, DJS_ECORRUPT,
                   "output of record %" PRIu64 ": %zu bytes at offset %" PRIu64 ", but the record says %u bytes at %" PRIu64
                   " (or another job)",
                   it->out_seq, it->data_len, it->offset, m->want_len, m->want_off);
    for (size_t done = 0; done < it->data_len;) { /* the record's bytes may span a chunk and the truncation marker */
        size_t n = it->data_len - done > DJS_LOG_MAX_OUTPUT_CHUNK ? DJS_LOG_MAX_OUTPUT_CHUNK : it->data_len - done;
        int rc = djs_log_put_output(m->log, &it->job, it->offset + done, it->data + done, n);
        if (rc != 0)
            return bad(m, it->out_seq, rc, "storing the output of record %" PRIu64 " failed: %s", it->out_seq, djs_strerror(rc));
        done += n;
    }
    m->want_output = 0;
    m->rep->chunks++;
    m->rep->output_bytes += it->data_len;
    return 0;
}

static int on_trailer(imp_t *m, const item_t *it)
{
    const djs_import_report_t *r = m->rep;
    if (m->want_output)
        return bad(m, m->want_seq, DJS_EINVAL, "the output of record %" PRIu64 " is missing", m->want_seq);
    unsigned need = HAVE(F_EVENTS) | HAVE(F_CHUNKS) | HAVE(F_OBYTES) | HAVE(F_LAST);
    if ((it->have & need) != need || !it->has_head)
        return bad(m, 0, DJS_EINVAL, "the trailer needs events, chunks, output_bytes, last_seq and head");
    if (it->events != r->events || it->chunks != r->chunks || it->output_bytes != r->output_bytes)
        return bad(m, 0, DJS_ECORRUPT,
                   "the trailer counts %" PRIu64 " records, %" PRIu64 " output chunks, %" PRIu64 " bytes; the file held %" PRIu64
                   ", %" PRIu64 ", %" PRIu64,
                   it->events, it->chunks, it->output_bytes, r->events, r->chunks, r->output_bytes);
    if (it->last_seq != r->last_seq || it->last_seq != m->header_last)
        return bad(m, 0, DJS_ECORRUPT, "the trailer ends at seq %" PRIu64 ", the header at %" PRIu64 ", the records at %" PRIu64,
                   it->last_seq, m->header_last, r->last_seq);
    if (memcmp(it->head, r->head, DJS_HASH_LEN) != 0)
        return bad(m, 0, DJS_ECORRUPT, "the trailer's chain head is not the last record's hash");
    m->seen_trailer = 1;
    return 0;
}

static int on_item(imp_t *m, const item_t *it, const char *tmp)
{
    if (!m->seen_header && it->kind != K_HEADER)
        return bad(m, 0, DJS_EINVAL, "not a djs export: it does not start with its header");
    if (m->seen_trailer)
        return bad(m, 0, DJS_EINVAL, "data after the trailer");
    switch (it->kind) {
    case K_HEADER:
        return on_header(m, it, tmp);
    case K_RECORD:
        return on_record(m, it);
    case K_OUTPUT:
        return on_output(m, it);
    default:
        return on_trailer(m, it);
    }
}

/* Verify the new log (recording verified checkpoints), rebuild its state,
 * store a snapshot. */
static int finish(imp_t *m)
{
    djs_import_report_t *r = m->rep;
    djs_verify_report_t vr;
    djs_rebuild_report_t rr;
    djs_state_t *st = NULL;
    djs_buf_t snap;
    int rc = djs_log_sync(m->log);
    m->n_item = 0; /* what follows is about the whole log */
    if (rc != 0)
        return bad(m, 0, rc, "writing the new log failed: %s", djs_strerror(rc));
    djs_verify_options_t vo;
    djs_verify_options_init(&vo);
    vo.replay = 0;                 /* the rebuild below replays it */
    vo.checkpoint_every = 1000000; /* as the server does: a restart on the new log checks from there */
    if ((rc = djs_verify_run(m->log, &vo, &vr)) != 0)
        return bad(m, vr.bad_seq, DJS_ECORRUPT, "the new log does not verify: %s", vr.detail);
    if (vr.records != r->events || memcmp(vr.head_hash, r->head, DJS_HASH_LEN) != 0)
        return bad(m, 0, DJS_ECORRUPT, "the new log's chain head is not the export's");
    if (r->last_seq == 0)
        return 0;
    if ((rc = djs_state_rebuild(m->log, m->o->state, r->last_seq, &st, &rr)) != 0)
        return bad(m, rr.bad_seq, rc,
                   "the records chain, but the state does not rebuild from them: record %" PRIu64 " does not apply (%s)",
                   rr.bad_seq, djs_strerror(rr.bad_err ? rr.bad_err : rc));
    djs_state_digest(st, r->digest);
    djs_buf_init(&snap);
    djs_state_snapshot(st, &snap);
    djs_state_free(st);
    rc = djs_log_store_snapshot(m->log, r->last_seq, snap.base, snap.len);
    djs_buf_dispose(&snap);
    if (rc != 0)
        return bad(m, 0, rc, "storing the snapshot failed: %s", djs_strerror(rc));
    return 0;
}

static int run(imp_t *m, const char *tmp)
{
    int c = fgetc(m->in), rc;
    if (c == EOF)
        return bad(m, 0, ferror(m->in) ? DJS_EIO : DJS_EINVAL, "the export is empty");
    ungetc(c, m->in);
    m->rep->format = c == '{' ? DJS_EXPORT_JSONL : DJS_EXPORT_MSGPACK;
    for (;;) {
        item_t it;
        memset(&it, 0, sizeof(it));
        rc = m->rep->format == DJS_EXPORT_JSONL ? next_jsonl(m, &it) : next_msgpack(m, &it);
        if (rc == 1)
            break;
        if (rc != 0 || (rc = on_item(m, &it, tmp)) != 0)
            return rc;
    }
    if (!m->seen_trailer)
        return bad(m, 0, DJS_ETRUNCATED,
                   "the export ends after %s %" PRIu64 " (seq %" PRIu64 ") without its trailer: the file was cut short",
                   m->rep->format == DJS_EXPORT_JSONL ? "line" : "item", m->n_item, m->rep->last_seq);
    if ((rc = finish(m)) != 0)
        return rc;
    if (m->o->progress != NULL)
        m->o->progress(m->o->progress_arg, m->rep->events, m->total);
    return 0;
}

int djs_import(FILE *in, const char *newdir, const djs_import_options_t *o, djs_import_report_t *rep)
{
    static const djs_import_options_t defaults;
    imp_t m = {.in = in, .o = o != NULL ? o : &defaults, .rep = rep};
    char tmp[4096];
    memset(rep, 0, sizeof(*rep));
    djs_buf_init(&m.line);
    djs_buf_init(&m.mbuf);
    djs_buf_init(&m.rec);
    djs_buf_init(&m.data);
    djs_buf_init(&m.render);
    size_t n = strlen(newdir);
    while (n > 1 && newdir[n - 1] == '/')
        n--;
    int rc = check_newdir(&m, newdir);
    if (rc != 0)
        goto done;
    snprintf(tmp, sizeof(tmp), "%.*s.tmp-XXXXXX", (int)n, newdir);
    if (mkdtemp(tmp) == NULL) {
        rc = bad(&m, 0, djs_err_from_errno(errno), "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    rc = run(&m, tmp);
    if (m.log != NULL)
        djs_log_close(m.log);
    if (rc == 0 && rename(tmp, newdir) != 0)
        rc = bad(&m, 0, djs_err_from_errno(errno), "cannot rename %s to %s: %s", tmp, newdir, strerror(errno));
    if (rc != 0)
        remove_dir(tmp);
    else
        sync_parent(newdir);
done:
    json_decref(m.json);
    djs_buf_dispose(&m.line);
    djs_buf_dispose(&m.mbuf);
    djs_buf_dispose(&m.rec);
    djs_buf_dispose(&m.data);
    djs_buf_dispose(&m.render);
    return rc;
}

int djs_import_fd(int fd, const char *newdir, const djs_import_options_t *o, djs_import_report_t *rep)
{
    int dfd = dup(fd);
    FILE *f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
    if (f == NULL) {
        int rc = djs_err_from_errno(errno);
        if (dfd >= 0)
            close(dfd);
        memset(rep, 0, sizeof(*rep));
        snprintf(rep->detail, sizeof(rep->detail), "cannot read fd %d: %s", fd, djs_strerror(rc));
        return rc;
    }
    int rc = djs_import(f, newdir, o, rep);
    fclose(f);
    return rc;
}

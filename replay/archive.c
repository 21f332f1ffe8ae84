#include "replay/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/bodies.h"
#include "core/error.h"
#include "eventlog/log.h"
#include "projections/rebuild.h"
#include "projections/snapshot.h"
#include "projections/state.h"
#include "replay/export.h"

__attribute__((format(printf, 4, 5))) static int say(char *detail, size_t n, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, n, fmt, ap);
    va_end(ap);
    return rc;
}
#define SAY(rep, rc, ...) say((rep)->detail, sizeof((rep)->detail), (rc), __VA_ARGS__)

/* ---- reading an archive back ------------------------------------------------------------- */

static const msgpack_object *field(const msgpack_object *m, const char *key)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && memcmp(k->via.str.ptr, key, kl) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

static int get_u64(const msgpack_object *m, const char *key, uint64_t *v)
{
    const msgpack_object *f = field(m, key);
    if (f == NULL || f->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *v = f->via.u64;
    return 0;
}

static int get_bin(const msgpack_object *m, const char *key, const uint8_t **p, size_t want)
{
    const msgpack_object *f = field(m, key);
    if (f == NULL || f->type != MSGPACK_OBJECT_BIN || (want > 0 && f->via.bin.size != want))
        return -1;
    *p = (const uint8_t *)f->via.bin.ptr;
    return 0;
}

/* Jobs whose output the archive holds, with their bytes (for pruning). */
typedef struct job_bytes {
    djs_id_t id;
    uint64_t bytes;
} job_bytes_t;

typedef struct jobs {
    job_bytes_t *j;
    size_t n, cap;
} jobs_t;

static void jobs_add(jobs_t *j, const djs_id_t *id, uint64_t bytes)
{
    if (j == NULL)
        return;
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 1024;
        j->j = djs_realloc(j->j, j->cap * sizeof(*j->j));
    }
    j->j[j->n].id = *id;
    j->j[j->n++].bytes = bytes;
}

static int cmp_job(const void *a, const void *b)
{
    return djs_id_cmp(&((const job_bytes_t *)a)->id, &((const job_bytes_t *)b)->id);
}

/* Sort by id and sum the chunks of each job into one entry. */
static void jobs_fold(jobs_t *j)
{
    if (j->n == 0)
        return;
    qsort(j->j, j->n, sizeof(*j->j), cmp_job);
    size_t w = 0;
    for (size_t i = 1; i < j->n; i++) {
        if (djs_id_cmp(&j->j[i].id, &j->j[w].id) == 0)
            j->j[w].bytes += j->j[i].bytes;
        else
            j->j[++w] = j->j[i];
    }
    j->n = w + 1;
}

static int check(const uint8_t *buf, size_t len, djs_archive_check_report_t *rep, jobs_t *jobs)
{
    msgpack_unpacked u;
    size_t off = 0, start;
    int rc = 0, state = 0; /* 0: header next, 1: items, 2: after the trailer */
    uint64_t expect = 0, last_ts = 0, item = 0;
    int want_output = 0;
    djs_job_change_t oc;
    djs_id_t ojob;
    msgpack_unpacked_init(&u);
    while (rc == 0) {
        start = off;
        msgpack_unpack_return r = msgpack_unpack_next(&u, (const char *)buf, len, &off);
        if (r == MSGPACK_UNPACK_CONTINUE || (r == MSGPACK_UNPACK_PARSE_ERROR && start == len)) {
            if (state != 2)
                rc =
                    SAY(rep, DJS_ETRUNCATED, "the archive ends after item %" PRIu64 " without its trailer: it was cut short", item);
            break;
        }
        if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) {
            rc = SAY(rep, DJS_ECORRUPT, "item %" PRIu64 " (byte %zu) is not MessagePack", item + 1, start);
            break;
        }
        item++;
        const msgpack_object *o = &u.data;
        const uint8_t *p;
        if (state == 2) {
            rc = SAY(rep, DJS_ECORRUPT, "item %" PRIu64 " follows the trailer", item);
        } else if (state == 0) {
            const msgpack_object *f = field(o, "format"), *e = field(o, "encoding");
            if (f == NULL || f->type != MSGPACK_OBJECT_STR || f->via.str.size != 10 || memcmp(f->via.str.ptr, "djs-export", 10) ||
                e == NULL || e->type != MSGPACK_OBJECT_STR || e->via.str.size != 7 || memcmp(e->via.str.ptr, "msgpack", 7)) {
                rc = SAY(rep, DJS_EINVAL, "not a djs archive (a msgpack export): its first item is no export header");
            } else if (get_u64(o, "first_seq", &rep->first_seq) != 0 || get_bin(o, "prev_hash", &p, DJS_HASH_LEN) != 0) {
                rc = SAY(rep, DJS_ECORRUPT, "the archive header lacks first_seq or prev_hash");
            } else {
                memcpy(rep->prev, p, DJS_HASH_LEN);
                memcpy(rep->head, p, DJS_HASH_LEN);
                expect = rep->first_seq;
                state = 1;
            }
        } else if (o->type == MSGPACK_OBJECT_ARRAY) { /* a record, byte for byte */
            djs_event_t ev;
            uint8_t h[DJS_HASH_LEN];
            if (want_output) {
                rc = SAY(rep, DJS_ECORRUPT, "record at item %" PRIu64 ": the output of job.output %" PRIu64 " is missing", item,
                         expect - 1);
            } else if ((rc = djs_event_decode(buf + start, off - start, &ev)) != 0) {
                rc = SAY(rep, rc, "item %" PRIu64 ": the record does not decode: %s", item, djs_strerror(rc));
            } else if (ev.seq != expect) {
                rc = SAY(rep, DJS_ESEQGAP, "item %" PRIu64 ": record %" PRIu64 " where %" PRIu64 " was due", item, ev.seq, expect);
            } else if (ev.ts_ns <= last_ts) {
                rc = SAY(rep, DJS_ECORRUPT, "record %" PRIu64 ": its time goes back", ev.seq);
            } else {
                djs_event_chain(rep->head, buf + start, off - start, h);
                if (memcmp(h, ev.hash, DJS_HASH_LEN) != 0) {
                    rc = SAY(rep, DJS_ECHAIN, "record %" PRIu64 ": the hash chain is broken (the archive was altered)", ev.seq);
                } else {
                    memcpy(rep->head, h, DJS_HASH_LEN);
                    last_ts = ev.ts_ns;
                    rep->last_seq = ev.seq;
                    rep->events++;
                    expect++;
                    if (ev.type == DJS_EV_JOB_OUTPUT && djs_body_read_job_change(ev.body, ev.body_len, &oc) == 0 &&
                        oc.out_len > 0) {
                        want_output = 1;
                        ojob = ev.entity;
                    }
                }
            }
        } else if (field(o, "output") != NULL) {
            uint64_t seq = 0, at = 0;
            const msgpack_object *d = field(o, "data");
            if (!want_output || get_u64(o, "output", &seq) != 0 || seq != expect - 1 || get_u64(o, "offset", &at) != 0 ||
                at != oc.out_offset || get_bin(o, "job", &p, 16) != 0 || memcmp(p, ojob.b, 16) != 0 || d == NULL ||
                d->type != MSGPACK_OBJECT_BIN || d->via.bin.size != oc.out_len) {
                rc = SAY(rep, DJS_ECORRUPT, "item %" PRIu64 ": output that does not belong to the record before it", item);
            } else {
                uint8_t h[DJS_HASH_LEN];
                djs_sha256_2(d->via.bin.ptr, d->via.bin.size, NULL, 0, h);
                if (oc.has_out_sha && memcmp(h, oc.out_sha, DJS_HASH_LEN) != 0)
                    rc = SAY(rep, DJS_ECORRUPT, "job.output %" PRIu64 ": its bytes do not match the event's SHA-256", seq);
                want_output = 0;
                rep->chunks++;
                jobs_add(jobs, &ojob, d->via.bin.size);
            }
        } else if (field(o, "end") != NULL) {
            uint64_t n = 0, ls = 0;
            if (want_output)
                rc = SAY(rep, DJS_ECORRUPT, "the output of job.output %" PRIu64 " is missing", expect - 1);
            else if (get_u64(o, "events", &n) != 0 || n != rep->events || get_u64(o, "last_seq", &ls) != 0 ||
                     (rep->events > 0 && ls != rep->last_seq) || get_bin(o, "head", &p, DJS_HASH_LEN) != 0 ||
                     memcmp(p, rep->head, DJS_HASH_LEN) != 0)
                rc = SAY(rep, DJS_ECORRUPT, "the trailer disagrees with the records (count, last seq or chain head)");
            state = 2;
        } else {
            rc = SAY(rep, DJS_ECORRUPT, "item %" PRIu64 " is neither a record, output nor the trailer", item);
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int check_fd(int fd, djs_archive_check_report_t *rep, jobs_t *jobs)
{
    struct stat st;
    memset(rep, 0, sizeof(*rep));
    if (fstat(fd, &st) != 0)
        return SAY(rep, djs_err_from_errno(errno), "cannot stat the archive: %s", strerror(errno));
    if (st.st_size == 0)
        return SAY(rep, DJS_ETRUNCATED, "the archive is empty");
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return SAY(rep, djs_err_from_errno(errno), "cannot map the archive: %s", strerror(errno));
    madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    int rc = check(m, (size_t)st.st_size, rep, jobs);
    munmap(m, (size_t)st.st_size);
    return rc;
}

int djs_archive_check(FILE *in, djs_archive_check_report_t *rep)
{
    fflush(in);
    return check_fd(fileno(in), rep, NULL);
}

/* ---- archiving --------------------------------------------------------------------------------- */

static int any_event(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)arg, (void)seq, (void)rec, (void)len;
    return 1;
}

static void export_progress(void *arg, uint64_t done, uint64_t total)
{
    const djs_archive_options_t *o = arg;
    o->progress(o->arg, "export", done, total);
}

static void cut_progress(void *arg, uint64_t done, uint64_t total)
{
    const djs_archive_options_t *o = arg;
    o->progress(o->arg, "cut", done, total);
}

/* The retention the server runs with, as its newest snapshot recorded it. */
static void server_retention(djs_log_t *log, djs_state_config_t *c)
{
    djs_buf_t b;
    uint64_t seq;
    djs_snapshot_meta_t m;
    djs_state_config_init(c);
    djs_buf_init(&b);
    if (djs_log_get_snapshot(log, UINT64_MAX, &seq, &b) == 0 && djs_state_snapshot_meta(b.base, b.len, &m) == 0 && m.has_digest) {
        c->max_terminal = m.max_terminal;
        c->max_terminal_age = m.max_terminal_age;
    }
    djs_buf_dispose(&b);
}

int djs_archive(const char *dir, const char *dest, const djs_archive_options_t *o, djs_archive_report_t *rep)
{
    char tmp[4200];
    djs_log_t *log = NULL;
    djs_state_t *st = NULL;
    djs_buf_t snap;
    jobs_t jobs = {0};
    FILE *f = NULL;
    struct stat sb;
    int rc;
    memset(rep, 0, sizeof(*rep));
    djs_buf_init(&snap);
    tmp[0] = 0;
    if (stat(dest, &sb) == 0)
        return SAY(rep, DJS_EEXISTS, "%s exists: an archive is never overwritten", dest);
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.tool = 1;
    if ((rc = djs_log_open(&log, dir, &lo)) != 0)
        return SAY(rep, rc, "cannot open the log in %s: %s", dir, djs_strerror(rc));

    /* 1. the point */
    uint64_t first = djs_log_first_seq(log), last = djs_log_last_seq(log), base = 0, at;
    if (o->before_seq > 0) {
        base = o->before_seq - 1;
    } else if ((rc = djs_log_seq_at_time(log, o->before_ns, &at)) == 0) {
        base = at - 1;
    } else if (rc == DJS_ENOTFOUND) {
        base = last; /* everything is older: all but the last record, below */
    } else {
        SAY(rep, rc, "cannot find the point in the log: %s", djs_strerror(rc));
        goto out;
    }
    if (base >= last)
        base = last - 1; /* the log keeps at least its last record: its tail seeds the chain */
    if (base < first || last == 0) {
        rc = SAY(rep, base + 1 < first && first > 1 ? DJS_EARCHIVED : DJS_EINVAL,
                 "nothing to archive: the log's records %" PRIu64 "..%" PRIu64 " are all at or after that point", first, last);
        goto out;
    }
    rep->first_seq = first;
    rep->base_seq = base;

    /* 2. the archive, written aside, read back, checked */
    snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", dest);
    int fd = mkstemp(tmp);
    if (fd < 0 || (f = fdopen(fd, "w+")) == NULL) {
        rc = SAY(rep, djs_err_from_errno(errno), "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        tmp[0] = 0;
        goto out;
    }
    djs_export_options_t eo;
    djs_export_report_t er;
    djs_export_options_init(&eo);
    eo.format = DJS_EXPORT_MSGPACK;
    eo.from_seq = first;
    eo.to_seq = base;
    if (o->progress != NULL) {
        eo.progress = export_progress;
        eo.progress_arg = (void *)o;
    }
    if ((rc = djs_export(log, &eo, f, &er)) != 0) {
        SAY(rep, rc, "export failed%s: %s", er.bad_seq ? " at a record" : "", er.detail);
        goto out;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = SAY(rep, djs_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (o->progress != NULL)
        o->progress(o->arg, "check", 0, er.events);
    djs_archive_check_report_t cr;
    if ((rc = check_fd(fileno(f), &cr, &jobs)) != 0) {
        SAY(rep, DJS_ECORRUPT, "the archive did not check out, the log is untouched: %s", cr.detail);
        rc = DJS_ECORRUPT;
        goto out;
    }
    uint8_t want[DJS_HASH_LEN];
    if ((rc = djs_log_hash_at(log, base, want)) != 0 || cr.last_seq != base || memcmp(cr.head, want, DJS_HASH_LEN) != 0) {
        rc = SAY(rep, DJS_ECORRUPT, "the archive does not end at record %" PRIu64 "'s hash: the log is untouched", base);
        goto out;
    }
    rep->events = cr.events;
    rep->chunks = cr.chunks;
    rep->output_bytes = er.output_bytes;
    rep->file_bytes = er.bytes;
    memcpy(rep->head, want, DJS_HASH_LEN);
    fclose(f);
    f = NULL;
    if (rename(tmp, dest) != 0) {
        rc = SAY(rep, djs_err_from_errno(errno), "cannot rename %s to %s: %s", tmp, dest, strerror(errno));
        goto out;
    }
    tmp[0] = 0;

    /* 3. the checkpoint: the state at base, then the cut */
    if (o->progress != NULL)
        o->progress(o->arg, "snapshot", 0, 1);
    djs_state_config_t sc;
    djs_rebuild_report_t rr;
    server_retention(log, &sc);
    if ((rc = djs_state_rebuild(log, &sc, base, &st, &rr)) != 0) {
        SAY(rep, rc, "cannot build the state at seq %" PRIu64 ": %s", base, djs_strerror(rc));
        goto out;
    }
    djs_state_digest(st, rep->digest);
    djs_state_snapshot(st, &snap);
    if ((rc = djs_log_store_snapshot(log, base, snap.base, snap.len)) != 0) {
        SAY(rep, rc, "cannot store the snapshot at seq %" PRIu64 ": %s", base, djs_strerror(rc));
        goto out;
    }
    if ((rc = djs_log_archive_cut(log, base, o->progress != NULL ? cut_progress : NULL, (void *)o)) != 0) {
        SAY(rep, rc, "the cut failed (the archive %s is complete; run the archive again to finish): %s", dest, djs_strerror(rc));
        goto out;
    }

    /* 4. output of jobs archived whole */
    if (o->prune_output) {
        jobs_fold(&jobs);
        for (size_t i = 0; i < jobs.n; i++) {
            if (djs_log_scan_entity(log, &jobs.j[i].id, base + 1, UINT64_MAX, any_event, NULL) != 0)
                continue; /* it goes on after the base: keep its output */
            if ((rc = djs_log_drop_output(log, &jobs.j[i].id, 0)) != 0) {
                SAY(rep, rc, "removing archived output failed: %s", djs_strerror(rc));
                goto out;
            }
            rep->jobs_pruned++;
            rep->pruned_bytes += jobs.j[i].bytes;
        }
    }
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    if (tmp[0])
        unlink(tmp);
    djs_state_free(st);
    djs_buf_dispose(&snap);
    djs_free(jobs.j);
    if (log != NULL)
        djs_log_close(log);
    return rc;
}

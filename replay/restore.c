/* djs restore: check, copy into a temporary directory, cut, verify, rename
 * (replay/restore.h). */
#include "replay/restore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/bodies.h"
#include "core/clock.h"
#include "core/error.h"
#include "projections/rebuild.h"
#include "projections/state.h"
#include "replay/backup_internal.h"
#include "replay/point.h"
#include "replay/verify.h"

#define COPY_BUF (1u << 20)

void djs_restore_options_init(djs_restore_options_t *o)
{
    memset(o, 0, sizeof(*o));
}

static void say(djs_restore_report_t *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(djs_restore_report_t *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->detail, sizeof(rep->detail), fmt, ap);
    va_end(ap);
}

/* Copy data.mdb, hashing as it goes: the bytes written are the bytes
 * checked against the manifest. */
static int copy_log(const char *from, const char *to, const djs_backup_file_t *f, djs_restore_report_t *rep)
{
    int rc = 0, in = -1, out = -1;
    uint8_t *buf = djs_malloc(COPY_BUF), sha[32];
    uint64_t size = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = DJS_ECRYPTO;
        goto fail;
    }
    if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0 || (out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = djs_err_from_errno(errno);
        say(rep, "cannot copy %s to %s: %s", from, to, strerror(errno));
        goto fail;
    }
    for (;;) {
        ssize_t n = read(in, buf, COPY_BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;
        if (n < 0) {
            rc = djs_err_from_errno(errno);
            say(rep, "cannot read %s: %s", from, strerror(errno));
            goto fail;
        }
        EVP_DigestUpdate(ctx, buf, (size_t)n);
        size += (uint64_t)n;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = djs_err_from_errno(errno);
                say(rep, "cannot write %s: %s", to, strerror(errno));
                goto fail;
            }
            done += w;
        }
    }
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, sha, &len);
    if (size != f->size || memcmp(sha, f->sha256, 32) != 0) {
        char got[65], want[65];
        djs_hex(sha, 32, got);
        djs_hex(f->sha256, 32, want);
        say(rep, "%s (the log) does not match the manifest: %llu bytes with SHA-256 %s, the manifest says %llu bytes with %s", from,
            (unsigned long long)size, got, (unsigned long long)f->size, want);
        rc = DJS_ECORRUPT;
        goto fail;
    }
    if (fsync(out) != 0) {
        rc = djs_err_from_errno(errno);
        say(rep, "cannot sync %s: %s", to, strerror(errno));
    }
    rep->bytes += size;
fail:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    EVP_MD_CTX_free(ctx);
    djs_free(buf);
    return rc;
}

/* Check the manifest and the small files (the log is checked as it is
 * copied). */
static int check_backup(const char *backup, djs_restore_report_t *rep)
{
    djs_backup_manifest_t *m = &rep->manifest;
    int rc = djs__backup_check(backup, m, 0, rep->detail, sizeof(rep->detail)); /* the log: hashed as it is copied */
    if (rc != 0)
        return rc;
    const djs_backup_file_t *sf = djs_backup_file(m, "secret");
    rep->has_secret = sf != NULL;
    return 0;
}

static int check_dir(const char *dir, djs_restore_report_t *rep)
{
    struct stat st;
    char path[PATH_MAX + 64];
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        int rc = djs_err_from_errno(errno);
        say(rep, "cannot use %s: %s", dir, strerror(errno));
        return rc;
    }
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) == 0) {
        say(rep, "%s already holds a log (%s): restore into a new directory, or move it away first", dir, path);
        return DJS_EEXISTS;
    }
    int e = djs__backup_dir_empty(dir);
    if (e == 0) {
        say(rep, "%s is not empty: restore into a new or empty directory", dir);
        return DJS_EEXISTS;
    }
    if (e < 0) {
        say(rep, "%s is not a directory", dir);
        return e;
    }
    return 0;
}

static void rmtree_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        char path[PATH_MAX + 300];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- the cut ---------------------------------------------------------------- */

typedef struct out_cut {
    djs_id_t job;
    uint64_t off;
} out_cut_t;

typedef struct cut_scan {
    out_cut_t *v;
    size_t n, cap;
    int err;
} cut_scan_t;

static int on_after_point(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)seq;
    cut_scan_t *cs = arg;
    djs_event_t ev;
    djs_job_change_t c;
    int rc = djs_event_decode(rec, len, &ev);
    if (rc == 0 && ev.type != DJS_EV_JOB_OUTPUT)
        return 0;
    if (rc == 0)
        rc = djs_body_read_job_change(ev.body, ev.body_len, &c);
    if (rc != 0) {
        cs->err = rc;
        return 1;
    }
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 256;
        cs->v = djs_realloc(cs->v, cap * sizeof(*cs->v));
        cs->cap = cap;
    }
    cs->v[cs->n++] = (out_cut_t){ev.entity, c.out_offset};
    return 0;
}

static int cmp_cut(const void *a, const void *b)
{
    const out_cut_t *x = a, *y = b;
    int c = memcmp(x->job.b, y->job.b, 16);
    return c != 0 ? c : x->off < y->off ? -1 : x->off > y->off;
}

/* Cut the log in dir after n and the output recorded above n. */
static int cut_log(djs_log_t *log, uint64_t n, djs_restore_report_t *rep)
{
    cut_scan_t cs = {0};
    uint64_t last = djs_log_last_seq(log);
    int rc = djs_log_scan(log, n + 1, last, on_after_point, &cs);
    if (rc != 0) {
        rc = cs.err ? cs.err : rc;
        say(rep, "reading the records after seq %llu failed: %s", (unsigned long long)n, djs_strerror(rc));
        goto fail;
    }
    if ((rc = djs_log_truncate(log, n)) != 0) {
        say(rep, "cutting the log after seq %llu failed: %s", (unsigned long long)n, djs_strerror(rc));
        goto fail;
    }
    if (cs.n > 1)
        qsort(cs.v, cs.n, sizeof(*cs.v), cmp_cut);
    for (size_t i = 0; i < cs.n; i++) {
        if (i > 0 && memcmp(cs.v[i].job.b, cs.v[i - 1].job.b, 16) == 0)
            continue; /* the job's first output above n has the lowest offset */
        if ((rc = djs_log_drop_output(log, &cs.v[i].job, cs.v[i].off)) != 0) {
            say(rep, "removing output written after seq %llu failed: %s", (unsigned long long)n, djs_strerror(rc));
            goto fail;
        }
        rep->output_jobs_dropped++;
    }
    rep->cut = 1;
    rep->records_dropped = last - n;
fail:
    djs_free(cs.v);
    return rc;
}

/* The point to cut at (0: none), checked against the log. */
static int resolve_point(djs_log_t *log, const djs_restore_options_t *o, uint64_t *n, djs_restore_report_t *rep)
{
    uint64_t first = djs_log_first_seq(log), last = djs_log_last_seq(log);
    *n = 0;
    if (o->has_to_time) {
        int rc = djs_replay_point_to(log, o->to_time_ns, n);
        if (rc != 0) {
            say(rep, "finding the point in time failed: %s", djs_strerror(rc));
            return rc;
        }
        if (*n < first || *n == 0) {
            say(rep, "no record at or before that time: the backup's log starts later (or is empty)");
            return DJS_ERANGE;
        }
        return 0;
    }
    if (o->to_seq == 0)
        return 0;
    if (o->to_seq > last) {
        say(rep, "seq %llu is beyond the backup, which ends at seq %llu", (unsigned long long)o->to_seq, (unsigned long long)last);
        return DJS_ERANGE;
    }
    if (o->to_seq < first) {
        say(rep, "seq %llu is before the log's first record (seq %llu: older records were archived)", (unsigned long long)o->to_seq,
            (unsigned long long)first);
        return first > 1 ? DJS_EARCHIVED : DJS_ERANGE;
    }
    *n = o->to_seq;
    return 0;
}

/* Open the copy in tmp, cut it if asked, verify, digest, checkpoint. */
static int finish_log(const char *tmp, const djs_restore_options_t *o, djs_restore_report_t *rep)
{
    djs_log_t *log = NULL;
    djs_state_t *st = NULL;
    djs_buf_t rec;
    djs_buf_init(&rec);
    djs_log_options_t lo;
    djs_log_options_init(&lo);
    lo.tool = 1;
    int rc = djs_log_open(&log, tmp, &lo);
    if (rc != 0) {
        say(rep, "the restored log does not open: %s", djs_strerror(rc));
        return rc;
    }
    uint64_t n = 0;
    if ((rc = resolve_point(log, o, &n, rep)) != 0)
        goto fail;
    if (n != 0 && n < djs_log_last_seq(log) && (rc = cut_log(log, n, rep)) != 0)
        goto fail;
    djs_verify_report_t vr;
    if ((rc = djs__backup_verify_copy(log, &vr)) != 0) {
        say(rep, "the restored log does not verify: first bad seq %llu: %s", (unsigned long long)vr.bad_seq, vr.detail);
        goto fail;
    }
    rep->seq = vr.last_seq;
    memcpy(rep->head, vr.head_hash, DJS_HASH_LEN);
    djs_event_t ev;
    if (rep->seq > 0 && ((rc = djs_log_get(log, rep->seq, &rec)) != 0 || (rc = djs_event_decode(rec.base, rec.len, &ev)) != 0)) {
        say(rep, "the restored log's last record %llu does not read: %s", (unsigned long long)rep->seq, djs_strerror(rc));
        goto fail;
    }
    rep->ts_ns = rep->seq > 0 ? ev.ts_ns : 0;
    djs_rebuild_report_t rr;
    if ((rc = djs_state_rebuild(log, NULL, rep->seq, &st, &rr)) != 0) {
        say(rep, "the restored state does not rebuild (event %llu: %s)", (unsigned long long)rr.bad_seq,
            djs_err_name(rr.bad_err ? rr.bad_err : rc));
        goto fail;
    }
    djs_state_digest(st, rep->digest);
    if (!rep->cut && (rep->seq != rep->manifest.seq || memcmp(rep->head, rep->manifest.head, DJS_HASH_LEN) != 0 ||
                      memcmp(rep->digest, rep->manifest.digest, 32) != 0)) {
        say(rep, "the restored log (seq %llu) does not match the manifest (seq %llu): chain head or state digest differs",
            (unsigned long long)rep->seq, (unsigned long long)rep->manifest.seq);
        rc = DJS_ECORRUPT;
        goto fail;
    }
    if (rep->seq > 0 && (rc = djs_log_put_verified(log, rep->seq, rep->head)) != 0)
        say(rep, "recording the verified checkpoint failed: %s", djs_strerror(rc));
fail:
    djs_state_free(st);
    djs_buf_dispose(&rec);
    djs_log_close(log);
    return rc;
}

/* Copy the backup's files into tmp. */
static int copy_files(const char *backup, const char *tmp, const djs_restore_options_t *o, djs_restore_report_t *rep)
{
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    const djs_backup_manifest_t *m = &rep->manifest;
    snprintf(from, sizeof(from), "%s/%s", backup, DJS_BACKUP_DATA);
    snprintf(to, sizeof(to), "%s/%s", tmp, DJS_BACKUP_DATA);
    int rc = copy_log(from, to, djs_backup_file(m, "log"), rep);
    if (rc != 0)
        return rc;
    const djs_backup_file_t *sf = djs_backup_file(m, "secret");
    if (sf != NULL) {
        snprintf(from, sizeof(from), "%s/%s", backup, sf->name);
        snprintf(to, sizeof(to), "%s/%s", tmp, rep->secret_name);
        if ((rc = djs__backup_copy_small(from, to, 0600)) != 0) {
            say(rep, "cannot restore the token secret %s: %s", from, djs_strerror(rc));
            return rc;
        }
        rep->bytes += sf->size;
    }
    const djs_backup_file_t *cf = djs_backup_file(m, "config");
    if (cf != NULL && o->config_dest == NULL) {
        snprintf(from, sizeof(from), "%s/%s", backup, cf->name);
        snprintf(to, sizeof(to), "%s/%s", tmp, DJS_BACKUP_CONFIG);
        if ((rc = djs__backup_copy_small(from, to, 0600)) != 0) {
            say(rep, "cannot restore the config file %s: %s", from, djs_strerror(rc));
            return rc;
        }
        rep->bytes += cf->size;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return djs_err_from_errno(errno);
    int rc = fsync(fd) == 0 ? 0 : djs_err_from_errno(errno);
    close(fd);
    return rc;
}

/* The config outside DIR, once DIR is in place. */
static int place_config(const char *backup, const char *dir, const djs_restore_options_t *o, djs_restore_report_t *rep)
{
    const djs_backup_file_t *cf = djs_backup_file(&rep->manifest, "config");
    if (cf == NULL)
        return 0;
    if (o->config_dest == NULL) {
        snprintf(rep->config_path, sizeof(rep->config_path), "%s/%s", dir, DJS_BACKUP_CONFIG);
        return 0;
    }
    char from[PATH_MAX + 64];
    snprintf(from, sizeof(from), "%s/%s", backup, cf->name);
    int rc = djs__backup_copy_small(from, o->config_dest, 0600);
    if (rc != 0) {
        say(rep, "%s is restored, but the config could not be written to %s: %s", dir, o->config_dest, djs_strerror(rc));
        return rc;
    }
    snprintf(rep->config_path, sizeof(rep->config_path), "%s", o->config_dest);
    rep->bytes += cf->size;
    return 0;
}

/* DIR exists (empty): maybe a mount point of a new disk, where a
 * directory cannot be renamed over it. Its files are moved in one by one
 * from the temporary directory inside it, the log last: until data.mdb is
 * there DIR holds no log (and is not empty, so a second restore refuses it
 * rather than mixing two). */
static int move_files_in(const char *tmp, const char *dir, djs_restore_report_t *rep)
{
    static const char *const order[] = {DJS_BACKUP_CONFIG, NULL /* the secret */, DJS_BACKUP_DATA};
    const djs_backup_file_t *sf = djs_backup_file(&rep->manifest, "secret");
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    for (int i = 0; i < 3; i++) {
        const char *name = i == 1 ? rep->secret_name : order[i];
        if (name == NULL || (i == 1 && sf == NULL))
            continue;
        snprintf(from, sizeof(from), "%s/%s", tmp, name);
        snprintf(to, sizeof(to), "%s/%s", dir, name);
        if (access(from, F_OK) != 0)
            continue;
        if (rename(from, to) != 0) {
            int rc = djs_err_from_errno(errno);
            say(rep, "cannot move %s into %s: %s", from, dir, strerror(errno));
            return rc;
        }
    }
    rmdir(tmp);
    return fsync_dir(dir);
}

/* The temporary directory: beside DIR when DIR does not exist (renamed
 * into place at the end), inside it when it is an existing empty
 * directory. *inside says which. */
static int make_tmp(const char *dir, char *tmp, size_t cap, char *parent, const char **pdir, int *inside, djs_restore_report_t *rep)
{
    char base[PATH_MAX];
    struct stat st;
    snprintf(parent, PATH_MAX, "%s", dir);
    snprintf(base, sizeof(base), "%s", dir);
    *pdir = dirname(parent);
    *inside = stat(dir, &st) == 0;
    if (*inside)
        snprintf(tmp, cap, "%s/.restore-XXXXXX", dir);
    else
        snprintf(tmp, cap, "%s/.%s.restore-XXXXXX", *pdir, basename(base));
    if (mkdtemp(tmp) == NULL) {
        int rc = djs_err_from_errno(errno);
        say(rep, "cannot create a temporary directory %s %s: %s", *inside ? "in" : "beside", dir, strerror(errno));
        return rc;
    }
    return 0;
}

/* --config-to-source: the path the manifest says the config came from. */
static int config_source(djs_restore_options_t *o, djs_restore_report_t *rep)
{
    const djs_backup_file_t *cf = djs_backup_file(&rep->manifest, "config");
    if (cf == NULL)
        return 0; /* no config in the backup: nothing to place */
    if (cf->source[0] != '/') {
        say(rep, "the manifest names no absolute path the config came from");
        return DJS_EINVAL;
    }
    o->config_dest = cf->source;
    return 0;
}

int djs_restore(const char *backup, const char *dir, const djs_restore_options_t *o, djs_restore_report_t *rep)
{
    djs_restore_options_t opt;
    char parent[PATH_MAX], tmp[PATH_MAX + 64], lock[PATH_MAX + 80];
    const char *pdir;
    int inside;
    struct stat st;
    if (rep == NULL)
        return DJS_EINVAL;
    memset(rep, 0, sizeof(*rep));
    if (backup == NULL || dir == NULL || *backup == '\0' || *dir == '\0' || strlen(dir) >= sizeof(parent)) {
        say(rep, "a backup directory and a target directory are needed");
        return DJS_EINVAL;
    }
    if (o != NULL)
        opt = *o;
    else
        djs_restore_options_init(&opt);
    o = &opt;
    if (o->to_seq != 0 && o->has_to_time) {
        say(rep, "give a seq or a time to restore to, not both");
        return DJS_EINVAL;
    }
    uint64_t t0 = djs_monotonic_ns();
    int rc = check_dir(dir, rep);
    if (rc == 0)
        rc = check_backup(backup, rep);
    if (rc == 0 && o->to_seq > rep->manifest.seq) { /* before copying anything */
        say(rep, "seq %llu is beyond the backup, which ends at seq %llu", (unsigned long long)o->to_seq,
            (unsigned long long)rep->manifest.seq);
        rc = DJS_ERANGE;
    }
    if (rc == 0 && o->to_seq != 0 && o->to_seq < rep->manifest.first_seq) {
        say(rep, "seq %llu is before the log's first record (seq %llu: older records were archived)", (unsigned long long)o->to_seq,
            (unsigned long long)rep->manifest.first_seq);
        rc = rep->manifest.first_seq > 1 ? DJS_EARCHIVED : DJS_ERANGE;
    }
    if (rc == 0 && opt.config_to_source)
        rc = config_source(&opt, rep);
    if (rc == 0 && o->config_dest != NULL && stat(o->config_dest, &st) == 0) {
        say(rep, "%s already exists: the config is not written over", o->config_dest);
        rc = DJS_EEXISTS;
    }
    if (rc == 0)
        rc = make_tmp(dir, tmp, sizeof(tmp), parent, &pdir, &inside, rep);
    if (rc != 0)
        return rc;
    const djs_backup_file_t *sf = djs_backup_file(&rep->manifest, "secret");
    snprintf(rep->secret_name, sizeof(rep->secret_name), "%s",
             o->secret_name != NULL ? o->secret_name
             : sf != NULL           ? sf->name
                                    : "");
    if ((rc = copy_files(backup, tmp, o, rep)) != 0 || (rc = finish_log(tmp, o, rep)) != 0)
        goto fail;
    snprintf(lock, sizeof(lock), "%s/lock.mdb", tmp);
    unlink(lock);
    if ((rc = fsync_dir(tmp)) != 0)
        goto fail;
    if (inside) {
        rc = move_files_in(tmp, dir, rep);
    } else if (rename(tmp, dir) != 0) {
        rc = djs_err_from_errno(errno);
        say(rep, "cannot move the restored directory %s into place as %s: %s", tmp, dir, strerror(errno));
    }
    if (rc != 0)
        goto fail;
    fsync_dir(pdir);
    rep->in_place = 1;
    rc = place_config(backup, dir, o, rep);
    rep->total_ns = djs_monotonic_ns() - t0;
    return rc;
fail:
    rmtree_flat(tmp);
    return rc;
}

/* djs backup: copy, verify, digest, manifest last (replay/backup.h). */
#include "replay/backup.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "projections/rebuild.h"
#include "projections/state.h"
#include "replay/backup_internal.h"
#include "replay/verify.h"

#define MAX_MANIFEST (1u << 20)

void djs_backup_options_init(djs_backup_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->nice = 10;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    if (s == NULL || strlen(s) != 2 * n)
        return DJS_ECORRUPT;
    for (size_t i = 0; i < 2 * n; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (v < 0)
            return DJS_ECORRUPT;
        out[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : out[i / 2] | v);
    }
    return 0;
}

static void say(char *detail, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *detail, size_t len, const char *fmt, ...)
{
    if (detail == NULL || len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, len, fmt, ap);
    va_end(ap);
}

int djs_backup_sha256_file(const char *path, uint8_t out[32], uint64_t *size)
{
    int rc = 0;
    uint8_t *buf = NULL;
    EVP_MD_CTX *ctx = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return djs_err_from_errno(errno);
    *size = 0;
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = DJS_ECRYPTO;
        goto fail;
    }
    /* A regular file is hashed straight from its pages (mapped, read
     * ahead): no copy into a buffer, which cost as much as the hash. */
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            if (EVP_DigestUpdate(ctx, m, (size_t)st.st_size) != 1)
                rc = DJS_ECRYPTO;
            *size = (uint64_t)st.st_size;
            munmap(m, (size_t)st.st_size);
            goto final;
        }
    }
    buf = djs_malloc(1u << 17); /* fits the L2 cache: the copy stays cheap */
    for (;;) {
        ssize_t n = read(fd, buf, 1u << 17);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = djs_err_from_errno(errno);
            goto fail;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1) {
            rc = DJS_ECRYPTO;
            goto fail;
        }
        *size += (uint64_t)n;
    }
final:
    if (rc == 0) {
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
            rc = DJS_ECRYPTO;
    }
fail:
    EVP_MD_CTX_free(ctx);
    djs_free(buf);
    close(fd);
    return rc;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return djs_err_from_errno(errno);
    int rc = fsync(fd) == 0 ? 0 : djs_err_from_errno(errno);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return djs_err_from_errno(errno);
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Read a whole small file (at most max bytes) into a djs_malloc'd buffer. */
static int read_small(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return djs_err_from_errno(errno);
    if (fstat(fd, &st) != 0) {
        rc = djs_err_from_errno(errno);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = DJS_EINVAL;
        goto fail;
    }
    if ((uint64_t)st.st_size > max) {
        rc = DJS_ETOOBIG;
        goto fail;
    }
    buf = djs_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? djs_err_from_errno(errno) : DJS_EIO;
            goto fail;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    buf = NULL;
fail:
    djs_free(buf);
    close(fd);
    return rc;
}

/* Write a new file (it must not exist) with mode, fsynced. */
static int write_new(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return djs_err_from_errno(errno);
    int rc = fchmod(fd, mode) == 0 ? write_all(fd, data, len) : djs_err_from_errno(errno);
    if (rc == 0 && fsync(fd) != 0)
        rc = djs_err_from_errno(errno);
    close(fd);
    if (rc != 0)
        unlink(path);
    return rc;
}

int djs__backup_copy_small(const char *from, const char *to, mode_t mode)
{
    char *data = NULL;
    size_t len = 0;
    int rc = read_small(from, DJS_BACKUP_MAX_FILE, &data, &len);
    if (rc == 0)
        rc = write_new(to, data, len, mode);
    if (data != NULL)
        explicit_bzero(data, len);
    djs_free(data);
    return rc;
}

int djs__backup_verify_copy(djs_log_t *log, djs_verify_report_t *vr)
{
    djs_verify_options_t vo;
    djs_verify_options_init(&vo);
    vo.replay = 0;
    return djs_verify_run(log, &vo, vr);
}

int djs__backup_dir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOTDIR ? DJS_EINVAL : djs_err_from_errno(errno);
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

static int prepare_dest(const char *dest, djs_backup_report_t *rep)
{
    struct stat st;
    if (stat(dest, &st) != 0) {
        if (errno != ENOENT || mkdir(dest, 0700) != 0) {
            int rc = djs_err_from_errno(errno);
            say(rep->detail, sizeof(rep->detail), "cannot create %s: %s", dest, strerror(errno));
            return rc;
        }
        return 0;
    }
    int e = djs__backup_dir_empty(dest);
    if (e == 1)
        return 0;
    if (e == 0) {
        say(rep->detail, sizeof(rep->detail), "%s is not empty: a backup goes into a new or empty directory", dest);
        return DJS_EEXISTS;
    }
    say(rep->detail, sizeof(rep->detail), "%s is not a directory", dest);
    return e;
}

/* Open the copy read-only: verify it, read its last record, rebuild its
 * state there for the digest. */
static int check_copy(const char *dest, djs_backup_report_t *rep)
{
    djs_log_t *log = NULL;
    djs_state_t *st = NULL;
    djs_buf_t rec;
    djs_buf_init(&rec);
    djs_log_options_t o;
    djs_log_options_init(&o);
    o.readonly = 1;
    int rc = djs_log_open(&log, dest, &o);
    if (rc != 0) {
        say(rep->detail, sizeof(rep->detail), "the copy in %s does not open: %s", dest, djs_strerror(rc));
        return rc;
    }
    djs_verify_report_t vr;
    if ((rc = djs__backup_verify_copy(log, &vr)) != 0) {
        say(rep->detail, sizeof(rep->detail), "the copy does not verify: first bad seq %llu: %s", (unsigned long long)vr.bad_seq,
            vr.detail);
        goto fail;
    }
    rep->seq = vr.last_seq;
    rep->first_seq = djs_log_first_seq(log);
    memcpy(rep->head, vr.head_hash, DJS_HASH_LEN);
    if (rep->seq > 0) {
        djs_event_t ev;
        if ((rc = djs_log_get(log, rep->seq, &rec)) != 0 || (rc = djs_event_decode(rec.base, rec.len, &ev)) != 0) {
            say(rep->detail, sizeof(rep->detail), "the copy's last record %llu does not read: %s", (unsigned long long)rep->seq,
                djs_strerror(rc));
            goto fail;
        }
        rep->ts_ns = ev.ts_ns;
    }
    djs_rebuild_report_t rr;
    if ((rc = djs_state_rebuild(log, NULL, rep->seq, &st, &rr)) != 0) {
        say(rep->detail, sizeof(rep->detail), "the copy's state does not rebuild (event %llu: %s)", (unsigned long long)rr.bad_seq,
            djs_err_name(rr.bad_err ? rr.bad_err : rc));
        goto fail;
    }
    djs_state_digest(st, rep->digest);
fail:
    djs_state_free(st);
    djs_buf_dispose(&rec);
    djs_log_close(log);
    return rc;
}

/* A precomputed SHA-256 of a file (the log's, hashed while it was verified). */
typedef struct hashed {
    uint8_t sha[32];
    uint64_t size;
    int rc;
} hashed_t;

static json_t *file_entry(const char *dir, const char *name, const char *role, const char *source, djs_backup_report_t *rep,
                          int *rc, const hashed_t *pre)
{
    char path[PATH_MAX + 64];
    uint8_t sha[32];
    char hex[65];
    uint64_t size = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (pre != NULL) {
        memcpy(sha, pre->sha, 32);
        size = pre->size;
        *rc = pre->rc;
    } else {
        *rc = djs_backup_sha256_file(path, sha, &size);
    }
    if (*rc != 0) {
        say(rep->detail, sizeof(rep->detail), "cannot hash %s: %s", path, djs_strerror(*rc));
        return NULL;
    }
    djs_hex(sha, 32, hex);
    rep->bytes += size;
    json_t *f = json_pack("{s:s, s:s, s:I, s:s}", "name", name, "role", role, "size", (json_int_t)size, "sha256", hex);
    if (source != NULL)
        json_object_set_new(f, "source", json_string(source));
    return f;
}

static int write_manifest(const char *dest, const char *source, const djs_backup_options_t *o, djs_backup_report_t *rep,
                          const hashed_t *data_hash)
{
    int rc = 0;
    char head[65], digest[65], created[40], last[40], path[PATH_MAX + 64], tmp[PATH_MAX + 64], cfg_abs[PATH_MAX];
    uint64_t now = djs_wall_ns();
    djs_hex(rep->head, DJS_HASH_LEN, head);
    djs_hex(rep->digest, 32, digest);
    djs_rfc3339_ns(now, created);
    djs_rfc3339_ns(rep->ts_ns, last);
    json_t *files = json_array(), *f;
    rep->bytes = 0;
    if ((f = file_entry(dest, DJS_BACKUP_DATA, "log", NULL, rep, &rc, data_hash)) == NULL)
        goto fail;
    rep->data_bytes = rep->bytes;
    json_array_append_new(files, f);
    if (rep->has_secret) {
        if ((f = file_entry(dest, o->secret_name, "secret", NULL, rep, &rc, NULL)) == NULL)
            goto fail;
        json_array_append_new(files, f);
    }
    if (rep->has_config) {
        const char *src = realpath(o->config_path, cfg_abs) != NULL ? cfg_abs : o->config_path;
        if ((f = file_entry(dest, DJS_BACKUP_CONFIG, "config", src, rep, &rc, NULL)) == NULL)
            goto fail;
        json_array_append_new(files, f);
    }
    json_t *m = json_pack("{s:s, s:i, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:o}", "format", DJS_BACKUP_FORMAT, "version",
                          DJS_BACKUP_VERSION, "created", created, "created_ns", (json_int_t)now, "source", source, "first_seq",
                          (json_int_t)rep->first_seq, "seq", (json_int_t)rep->seq, "ts_ns", (json_int_t)rep->ts_ns, "time", last,
                          "chain_head", head, "state_digest", digest, "files", files);
    files = NULL;
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    snprintf(path, sizeof(path), "%s/%s", dest, DJS_BACKUP_MANIFEST);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dest, DJS_BACKUP_MANIFEST);
    unlink(tmp);
    rc = text == NULL ? DJS_ENOMEM : write_new(tmp, text, strlen(text), 0600);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = djs_err_from_errno(errno);
    if (rc == 0)
        rc = fsync_path(dest);
    if (rc != 0) {
        unlink(tmp);
        say(rep->detail, sizeof(rep->detail), "cannot write %s: %s", path, djs_strerror(rc));
    }
    free(text); /* jansson's */
fail:
    json_decref(files);
    return rc;
}

static int copy_extras(const char *src, const char *dest, const djs_backup_options_t *o, djs_backup_report_t *rep)
{
    char from[PATH_MAX + 64], to[PATH_MAX + 64];
    int rc = 0;
    if (o->secret_name != NULL) {
        snprintf(from, sizeof(from), "%s/%s", src, o->secret_name);
        snprintf(to, sizeof(to), "%s/%s", dest, o->secret_name);
        rc = djs__backup_copy_small(from, to, 0600);
        if (rc == DJS_ENOTFOUND) {
            rc = 0; /* no auth on this directory: nothing to carry */
        } else if (rc != 0) {
            say(rep->detail, sizeof(rep->detail), "cannot copy the token secret %s: %s", from, djs_strerror(rc));
            return rc;
        } else {
            rep->has_secret = 1;
        }
    }
    if (o->config_path != NULL) {
        snprintf(to, sizeof(to), "%s/%s", dest, DJS_BACKUP_CONFIG);
        if ((rc = djs__backup_copy_small(o->config_path, to, 0600)) != 0) {
            say(rep->detail, sizeof(rep->detail), "cannot copy the config file %s: %s", o->config_path, djs_strerror(rc));
            return rc;
        }
        rep->has_config = 1;
    }
    return 0;
}

typedef struct hash_job {
    const char *path;
    hashed_t h;
} hash_job_t;

static void *hash_main(void *arg)
{
    hash_job_t *j = arg;
    j->h.rc = djs_backup_sha256_file(j->path, j->h.sha, &j->h.size);
    return NULL;
}

static int backup_body(djs_log_t *log, const char *dest, const djs_backup_options_t *o, djs_backup_report_t *rep);

typedef struct body_job {
    djs_log_t *log;
    const char *dest;
    const djs_backup_options_t *o;
    djs_backup_report_t *rep;
    int rc;
} body_job_t;

static void *body_main(void *arg)
{
    body_job_t *j = arg;
    /* Linux: nice is per thread and threads started from here inherit it */
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, (id_t)tid);
    if (errno == 0)
        setpriority(PRIO_PROCESS, (id_t)tid, cur + j->o->nice > 19 ? 19 : cur + j->o->nice);
    j->rc = backup_body(j->log, j->dest, j->o, j->rep);
    return NULL;
}

int djs_backup_run(djs_log_t *log, const char *dest, const djs_backup_options_t *o, djs_backup_report_t *rep)
{
    djs_backup_options_t defaults;
    if (rep != NULL)
        memset(rep, 0, sizeof(*rep));
    if (log == NULL || dest == NULL || rep == NULL || *dest == '\0')
        return DJS_EINVAL;
    if (o == NULL) {
        djs_backup_options_init(&defaults);
        o = &defaults;
    }
    if (o->nice <= 0)
        return backup_body(log, dest, o, rep);
    body_job_t j = {.log = log, .dest = dest, .o = o, .rep = rep};
    pthread_t th;
    if (pthread_create(&th, NULL, body_main, &j) != 0)
        return backup_body(log, dest, o, rep);
    pthread_join(th, NULL);
    return j.rc;
}

static int backup_body(djs_log_t *log, const char *dest, const djs_backup_options_t *o, djs_backup_report_t *rep)
{
    uint64_t t0 = djs_monotonic_ns();
    char src[PATH_MAX], path[PATH_MAX + 64];
    if (realpath(djs_log_dir(log), src) == NULL)
        snprintf(src, sizeof(src), "%s", djs_log_dir(log));
    int rc = prepare_dest(dest, rep);
    if (rc != 0)
        return rc;
    if ((rc = djs_log_backup(log, dest)) != 0) {
        say(rep->detail, sizeof(rep->detail), "copying the log %s into %s failed: %s", src, dest, djs_strerror(rc));
        return rc;
    }
    snprintf(path, sizeof(path), "%s/%s", dest, DJS_BACKUP_DATA);
    if (chmod(path, 0600) != 0 || (rc = fsync_path(path)) != 0) {
        rc = rc != 0 ? rc : djs_err_from_errno(errno);
        say(rep->detail, sizeof(rep->detail), "cannot sync %s: %s", path, djs_strerror(rc));
        return rc;
    }
    rep->copy_ns = djs_monotonic_ns() - t0;
    if ((rc = copy_extras(src, dest, o, rep)) != 0)
        return rc;
    /* The copy was written with O_DIRECT (LMDB's copy), so it is not in
     * the page cache: hashing it reads it from the disk sequentially, at
     * the disk's speed, on a thread of its own, and the verify beside it
     * then finds its pages cached instead of faulting them in one by one. */
    hash_job_t hj = {.path = path};
    pthread_t th;
    int hashing = pthread_create(&th, NULL, hash_main, &hj) == 0;
    rc = check_copy(dest, rep);
    if (hashing)
        pthread_join(th, NULL);
    char lock[PATH_MAX + 64];
    snprintf(lock, sizeof(lock), "%s/lock.mdb", dest);
    unlink(lock); /* made by the read-only open: not part of the backup */
    if (rc != 0)
        return rc;
    if ((rc = write_manifest(dest, src, o, rep, hashing ? &hj.h : NULL)) != 0)
        return rc;
    rep->total_ns = djs_monotonic_ns() - t0;
    return 0;
}

/* ---- reading ---------------------------------------------------------------- */

const djs_backup_file_t *djs_backup_file(const djs_backup_manifest_t *m, const char *role)
{
    for (int i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i].role, role) == 0)
            return &m->files[i];
    return NULL;
}

static int get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return DJS_ECORRUPT;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int get_str(json_t *o, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return DJS_ECORRUPT;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A file name in a manifest is a plain name: no directory part. */
static int plain_name(const char *s)
{
    return *s != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

static int parse_file(json_t *f, djs_backup_file_t *out, char *detail, size_t dlen, size_t i)
{
    char hex[65];
    memset(out, 0, sizeof(*out));
    if (!json_is_object(f) || get_str(f, "name", out->name, sizeof(out->name)) != 0 ||
        get_str(f, "role", out->role, sizeof(out->role)) != 0 || get_u64(f, "size", &out->size) != 0 ||
        get_str(f, "sha256", hex, sizeof(hex)) != 0 || unhex(hex, out->sha256, 32) != 0 || !plain_name(out->name)) {
        say(detail, dlen, "manifest: files[%zu] needs a plain name, a role, a size and a sha256 of 64 hex digits", i);
        return DJS_ECORRUPT;
    }
    json_t *src = json_object_get(f, "source");
    if (json_is_string(src))
        snprintf(out->source, sizeof(out->source), "%s", json_string_value(src));
    return 0;
}

static int parse_manifest(json_t *j, djs_backup_manifest_t *m, char *detail, size_t dlen)
{
    char fmt[32], head[65], digest[65];
    uint64_t version = 0;
    if (!json_is_object(j) || get_str(j, "format", fmt, sizeof(fmt)) != 0 || strcmp(fmt, DJS_BACKUP_FORMAT) != 0) {
        say(detail, dlen, "manifest: not a djs backup manifest (format is not \"%s\")", DJS_BACKUP_FORMAT);
        return DJS_EVERSION;
    }
    if (get_u64(j, "version", &version) != 0 || version != DJS_BACKUP_VERSION) {
        say(detail, dlen, "manifest: version %llu is not one this djs reads (%d)", (unsigned long long)version, DJS_BACKUP_VERSION);
        return DJS_EVERSION;
    }
    m->version = (int)version;
    static const char *const keys[] = {"created_ns", "seq", "ts_ns", "source", "chain_head", "state_digest", "files"};
    int bad = -1;
    if (get_u64(j, "created_ns", &m->created_ns) != 0)
        bad = 0;
    else if (get_u64(j, "seq", &m->seq) != 0)
        bad = 1;
    else if (get_u64(j, "ts_ns", &m->ts_ns) != 0)
        bad = 2;
    else if (get_str(j, "source", m->source, sizeof(m->source)) != 0)
        bad = 3;
    else if (get_str(j, "chain_head", head, sizeof(head)) != 0 || unhex(head, m->head, DJS_HASH_LEN) != 0)
        bad = 4;
    else if (get_str(j, "state_digest", digest, sizeof(digest)) != 0 || unhex(digest, m->digest, 32) != 0)
        bad = 5;
    else if (!json_is_array(json_object_get(j, "files")))
        bad = 6;
    if (bad >= 0) {
        say(detail, dlen, "manifest: key \"%s\" is missing or not of its type", keys[bad]);
        return DJS_ECORRUPT;
    }
    m->first_seq = 1; /* optional: absent, the log starts at seq 1 */
    if (json_object_get(j, "first_seq") != NULL && (get_u64(j, "first_seq", &m->first_seq) != 0 || m->first_seq == 0)) {
        say(detail, dlen, "manifest: key \"first_seq\" is not a seq");
        return DJS_ECORRUPT;
    }
    json_t *files = json_object_get(j, "files");
    if (json_array_size(files) > DJS_BACKUP_MAX_FILES) {
        say(detail, dlen, "manifest: %zu files listed, at most %d", json_array_size(files), DJS_BACKUP_MAX_FILES);
        return DJS_ETOOBIG;
    }
    for (size_t i = 0; i < json_array_size(files); i++) {
        int rc = parse_file(json_array_get(files, i), &m->files[i], detail, dlen, i);
        if (rc != 0)
            return rc;
        m->nfiles++;
    }
    const djs_backup_file_t *lf = djs_backup_file(m, "log");
    if (lf == NULL || strcmp(lf->name, DJS_BACKUP_DATA) != 0) {
        say(detail, dlen, "manifest: no log file (%s) listed", DJS_BACKUP_DATA);
        return DJS_ECORRUPT;
    }
    return 0;
}

static int check_file(const char *backup, const djs_backup_file_t *f, int hash, char *detail, size_t dlen)
{
    char path[PATH_MAX + 64];
    uint8_t sha[32];
    uint64_t size = 0;
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", backup, f->name);
    if (stat(path, &st) != 0) {
        int rc = djs_err_from_errno(errno);
        say(detail, dlen, "%s (the %s) is listed in the manifest but cannot be read: %s", path, f->role, strerror(errno));
        return rc;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size) {
        say(detail, dlen, "%s (the %s) has %llu bytes, the manifest says %llu", path, f->role, (unsigned long long)st.st_size,
            (unsigned long long)f->size);
        return DJS_ECORRUPT;
    }
    if (!hash)
        return 0;
    int rc = djs_backup_sha256_file(path, sha, &size);
    if (rc != 0) {
        say(detail, dlen, "cannot hash %s: %s", path, djs_strerror(rc));
        return rc;
    }
    if (size != f->size || memcmp(sha, f->sha256, 32) != 0) {
        char want[65], got[65];
        djs_hex(f->sha256, 32, want);
        djs_hex(sha, 32, got);
        say(detail, dlen, "%s (the %s) does not match the manifest: SHA-256 %s, the manifest says %s", path, f->role, got, want);
        return DJS_ECORRUPT;
    }
    return 0;
}

int djs__backup_check(const char *backup, djs_backup_manifest_t *m, int hash_log, char *detail, size_t dlen)
{
    char path[PATH_MAX + 64], *text = NULL;
    size_t len = 0;
    json_error_t je;
    memset(m, 0, sizeof(*m));
    say(detail, dlen, "%s", "");
    snprintf(path, sizeof(path), "%s/%s", backup, DJS_BACKUP_MANIFEST);
    int rc = read_small(path, MAX_MANIFEST, &text, &len);
    if (rc != 0) {
        if (rc == DJS_ENOTFOUND)
            say(detail, dlen, "%s has no %s: an incomplete backup (interrupted, or its copy did not verify)", backup,
                DJS_BACKUP_MANIFEST);
        else
            say(detail, dlen, "cannot read %s: %s", path, djs_strerror(rc));
        return rc;
    }
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    djs_free(text);
    if (j == NULL) {
        say(detail, dlen, "%s is not valid JSON: line %d: %s", path, je.line, je.text);
        return DJS_ECORRUPT;
    }
    rc = parse_manifest(j, m, detail, dlen);
    json_decref(j);
    for (int i = 0; rc == 0 && i < m->nfiles; i++)
        rc = check_file(backup, &m->files[i], hash_log || strcmp(m->files[i].role, "log") != 0, detail, dlen);
    return rc;
}

int djs_backup_check(const char *backup, djs_backup_manifest_t *m, char *detail, size_t dlen)
{
    return djs__backup_check(backup, m, 1, detail, dlen);
}

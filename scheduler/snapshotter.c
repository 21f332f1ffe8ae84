#include "scheduler/snapshotter.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "projections/snapshot.h"

#define REAP_RETRY_MS 2

struct djs_snapshotter {
    uv_loop_t *loop;
    djs_log_t *log;
    uint32_t kept;
    djs_note_cb note;
    void *note_arg;
    int handles; /* open libuv handles: freed when the last one closes after close */
    int closing;
    pid_t pid; /* 0: none in flight */
    uint64_t seq;
    int fd;          /* memfd the child writes the snapshot into */
    uv_pipe_t pipe;  /* the child's report: its length (8 bytes), then EOF */
    uv_timer_t reap; /* waitpid retries once the report has ended */
    int pipe_open;
    /* the pipe's uv_close is pending: a new child must wait, since
     * uv_pipe_init on a handle still in libuv's closing queue clears its
     * closing flag (libuv then aborts in uv__finish_close) */
    int pipe_closing;
    uint8_t report[16]; /* 8 expected: room to notice more */
    size_t got;
};

static void on_closed(uv_handle_t *h)
{
    djs_snapshotter_t *s = h->data;
    if (--s->handles == 0 && s->closing)
        djs_free(s);
}

static void on_pipe_closed(uv_handle_t *h)
{
    ((djs_snapshotter_t *)h->data)->pipe_closing = 0;
    on_closed(h);
}

djs_snapshotter_t *djs_snapshotter_new(uv_loop_t *loop, djs_log_t *log, uint32_t kept, djs_note_cb note_cb, void *note_arg)
{
    djs_snapshotter_t *s = djs_calloc(1, sizeof(*s));
    s->loop = loop;
    s->log = log;
    s->kept = kept;
    s->note = note_cb;
    s->note_arg = note_arg;
    s->fd = -1;
    uv_timer_init(loop, &s->reap);
    s->reap.data = s;
    s->handles = 1;
    return s;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Keep only stdio and our two descriptors: a client socket the parent
 * closes must not stay open here until the child exits. */
static void close_others(int fd, int out)
{
    unsigned lo = (unsigned)(fd < out ? fd : out), hi = (unsigned)(fd < out ? out : fd);
    if (lo > 3)
        close_range(3, lo - 1, 0);
    if (hi > lo + 1)
        close_range(lo + 1, hi - 1, 0);
    close_range(hi + 1, ~0u, 0);
}

/* The forked child: serialize the (copy-on-write) projection into fd,
 * report its length on out, exit. Memory work and two write calls only:
 * no libuv, no LMDB, no exit handlers. */
static void snapshot_child(const djs_state_t *st, int fd, int out)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL); /* the parent's libuv handlers would write to its signal pipe */
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* a background job: on a small machine the loop and the writer come first */
    if (nice(10) == -1)
        errno = 0;
    close_others(fd, out);
    djs_buf_t b;
    djs_buf_init(&b);
    djs_state_snapshot(st, &b);
    uint64_t len = b.len;
    int ok = write_all(fd, b.base, b.len) == 0 && write_all(out, (const uint8_t *)&len, sizeof(len)) == 0;
    _exit(ok ? 0 : 1);
}

/* Why the child's snapshot cannot be used, or NULL if it can. */
static const char *check_child(djs_snapshotter_t *s, int status, uint64_t *len)
{
    uint8_t head[DJS_STATE_SNAPSHOT_HEAD];
    struct stat sb;
    uint64_t seq = 0;
    memcpy(len, s->report, sizeof(*len));
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return "the child failed";
    if (s->got != sizeof(*len) || fstat(s->fd, &sb) != 0 || (uint64_t)sb.st_size != *len || *len < sizeof(head))
        return "wrong length";
    if (pread(s->fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) || djs_state_snapshot_seq(head, sizeof(head), &seq) != 0 ||
        seq != s->seq)
        return "wrong header";
    return NULL;
}

/* The child is reaped (status from waitpid, or -1 if it could not be):
 * hand a sound snapshot to the log, drop anything else. */
static void snapshot_done(djs_snapshotter_t *s, int status)
{
    uint64_t len = 0;
    const char *why = check_child(s, status, &len);
    if (why != NULL) {
        djs_notef(s->note, s->note_arg, "snapshot at seq %" PRIu64 " dropped: %s", s->seq, why);
        close(s->fd);
    } else if (djs_log_put_snapshot_fd(s->log, s->seq, s->fd, (size_t)len, s->kept) != 0) {
        djs_notef(s->note, s->note_arg, "could not store a snapshot at seq %" PRIu64, s->seq); /* fd closed by the log */
    }
    s->fd = -1;
    s->pid = 0;
    if (s->pipe_open) {
        s->pipe_open = 0;
        s->pipe_closing = 1;
        uv_close((uv_handle_t *)&s->pipe, on_pipe_closed);
    }
}

static void try_reap(djs_snapshotter_t *s);

static void on_reap(uv_timer_t *h)
{
    try_reap(h->data);
}

/* The report ended: the child is exiting (tearing down its copy of the
 * address space can take a few ms), so poll rather than block. */
static void try_reap(djs_snapshotter_t *s)
{
    int status = 0;
    pid_t r = waitpid(s->pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
        uv_timer_start(&s->reap, on_reap, REAP_RETRY_MS, 0);
        return;
    }
    snapshot_done(s, r == s->pid ? status : -1);
}

static void on_report_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    djs_snapshotter_t *s = h->data;
    size_t at = s->got < sizeof(s->report) ? s->got : 0; /* a report too long only counts */
    (void)hint;
    *buf = uv_buf_init((char *)s->report + at, (unsigned)(sizeof(s->report) - at));
}

static void on_report_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    djs_snapshotter_t *s = st->data;
    (void)buf;
    if (n > 0) {
        s->got += (size_t)n;
        return;
    }
    if (n == 0)
        return;
    uv_read_stop(st); /* EOF or an error: either way the child is done with the pipe */
    try_reap(s);
}

/* The child runs: watch its report pipe (read end p0). */
static void watch_child(djs_snapshotter_t *s, pid_t pid, int fd, int p0, uint64_t seq)
{
    uv_pipe_init(s->loop, &s->pipe, 0);
    s->pipe.data = s;
    s->handles++;
    s->pipe_open = 1;
    s->pid = pid;
    s->seq = seq;
    s->fd = fd;
    s->got = 0;
    int rc = uv_pipe_open(&s->pipe, p0);
    if (rc != 0)
        close(p0); /* not adopted by the handle */
    if (rc != 0 || uv_read_start((uv_stream_t *)&s->pipe, on_report_alloc, on_report_read) != 0) {
        kill(pid, SIGKILL);
        try_reap(s);
    }
}

int djs_snapshotter_start(djs_snapshotter_t *s, const djs_state_t *st, uint64_t seq)
{
    if (s->pid != 0 || s->pipe_closing)
        return DJS_EBUSY;
    int p[2] = {-1, -1}, fd = memfd_create("djs-snapshot", MFD_CLOEXEC);
    if (fd < 0 || pipe2(p, O_CLOEXEC) != 0)
        goto fail;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        snapshot_child(st, fd, p[1]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        goto fail;
    close(p[1]);
    watch_child(s, pid, fd, p[0], seq);
    return 0;
fail:
    djs_notef(s->note, s->note_arg, "no snapshot at seq %" PRIu64 ": %s", seq, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    return DJS_EIO;
}

int djs_snapshotter_busy(const djs_snapshotter_t *s)
{
    return s->pid != 0 || s->pipe_closing;
}

void djs_snapshotter_close(djs_snapshotter_t *s)
{
    if (s == NULL)
        return;
    if (s->pid != 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->pipe_open) {
        s->pipe_open = 0;
        uv_close((uv_handle_t *)&s->pipe, on_closed);
    }
    s->closing = 1;
    uv_close((uv_handle_t *)&s->reap, on_closed);
}

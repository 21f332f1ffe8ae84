/* The replicated log on libraft (cluster/cluster.h). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <raft.h>
#include <raft/uv.h>

#include "cluster/cluster.h"
#include "core/alloc.h"
#include "core/bodies.h"

#define SNAP_MAGIC "DJR1"
#define SNAP_LEN (4 + 8 + DJS_HASH_LEN)

typedef struct peer {
    uint64_t id;
    char addr[DJS_CLUSTER_MAX_ADDR];
} peer_t;

struct djs_cluster {
    djs_cluster_config_t cfg;
    char *dir, *url;
    peer_t peers[DJS_CLUSTER_MAX_NODES];
    uint32_t npeers;
    const char *self_addr;

    uv_loop_t *loop;
    djs_log_t *log;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    uv_check_t check;
    struct raft_barrier barrier;
    int raft_inited, io_inited, transport_inited, check_inited;

    int was_leader; /* Raft says leader (as of the last check) */
    int leading;    /* ... and the barrier is done: the log takes appends */
    int barrier_pending;
    int failed;
    int closing;
    uint64_t elections_won, entries;
    struct change *transfer; /* a lead transfer under way */

    /* the latest cluster.leader seen (applied here, or found at start-up) */
    uint64_t lead_node;
    char lead_url[DJS_CLUSTER_MAX_URL + 1];
};

void djs_cluster_config_init(djs_cluster_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->election_ms = 1000;
    c->heartbeat_ms = 0; /* election_ms / 20 */
    c->snapshot_threshold = 2048;
    c->snapshot_trailing = 8192;
}

static int parse_peers(djs_cluster_t *c, const char *text, char *err, size_t errlen)
{
    const char *p = text;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq == NULL || eq == p || (size_t)(eq - p) > 19 || n - (size_t)(eq - p) - 1 == 0 ||
            n - (size_t)(eq - p) - 1 >= DJS_CLUSTER_MAX_ADDR) {
            snprintf(err, errlen, "--peers: '%.*s' is not ID=HOST:PORT", (int)n, p);
            return DJS_EINVAL;
        }
        char idtext[20];
        memcpy(idtext, p, (size_t)(eq - p));
        idtext[eq - p] = '\0';
        char *e;
        unsigned long long id = strtoull(idtext, &e, 10);
        const char *addr = eq + 1;
        size_t alen = n - (size_t)(eq - p) - 1;
        const char *colon = memrchr(addr, ':', alen);
        if (*e != '\0' || id == 0 || colon == NULL || colon == addr || colon == addr + alen - 1) {
            snprintf(err, errlen, "--peers: '%.*s' is not ID=HOST:PORT (ID 1 or more)", (int)n, p);
            return DJS_EINVAL;
        }
        if (c->npeers == DJS_CLUSTER_MAX_NODES) {
            snprintf(err, errlen, "--peers: at most %d nodes", DJS_CLUSTER_MAX_NODES);
            return DJS_EINVAL;
        }
        for (uint32_t i = 0; i < c->npeers; i++)
            if (c->peers[i].id == id) {
                snprintf(err, errlen, "--peers: node %llu is listed twice", id);
                return DJS_EINVAL;
            }
        peer_t *pe = &c->peers[c->npeers++];
        pe->id = id;
        memcpy(pe->addr, addr, alen);
        pe->addr[alen] = '\0';
        if (end == NULL)
            break;
        p = end + 1;
    }
    if (c->npeers == 0) {
        snprintf(err, errlen, "--peers: no node listed");
        return DJS_EINVAL;
    }
    for (uint32_t i = 0; i < c->npeers; i++)
        if (c->peers[i].id == c->cfg.node_id)
            c->self_addr = c->peers[i].addr;
    if (c->self_addr == NULL) {
        snprintf(err, errlen, "--peers does not list this node (--node-id %" PRIu64 ")", c->cfg.node_id);
        return DJS_EINVAL;
    }
    return 0;
}

int djs_cluster_new(djs_cluster_t **out, const djs_cluster_config_t *cfg, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->node_id == 0 || cfg->peers == NULL || cfg->dir == NULL || cfg->url == NULL) {
        snprintf(err, errlen, "a cluster node needs --node-id (1 or more) and --peers");
        return DJS_EINVAL;
    }
    if (strlen(cfg->url) > DJS_CLUSTER_MAX_URL) {
        snprintf(err, errlen, "the advertised URL is longer than %d bytes", DJS_CLUSTER_MAX_URL);
        return DJS_EINVAL;
    }
    djs_cluster_t *c = djs_calloc(1, sizeof(*c));
    c->cfg = *cfg;
    c->cfg.peers = NULL;
    if (c->cfg.election_ms == 0)
        c->cfg.election_ms = 1000;
    if (c->cfg.heartbeat_ms == 0) /* followers learn the commit index from the next message: keep it short */
        c->cfg.heartbeat_ms = c->cfg.election_ms / 20 > 10 ? c->cfg.election_ms / 20 : 10;
    if (c->cfg.snapshot_threshold == 0)
        c->cfg.snapshot_threshold = 2048;
    if (c->cfg.snapshot_trailing == 0)
        c->cfg.snapshot_trailing = 8192;
    int rc = parse_peers(c, cfg->peers, err, errlen);
    if (rc != 0) {
        djs_free(c);
        return rc;
    }
    c->dir = djs_strndup(cfg->dir, strlen(cfg->dir));
    c->url = djs_strndup(cfg->url, strlen(cfg->url));
    c->cfg.dir = c->dir;
    c->cfg.url = c->url;
    *out = c;
    return 0;
}

/* ---- failure ---------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void fail(djs_cluster_t *c, int err, const char *fmt, ...)
{
    if (c->failed || c->closing)
        return;
    c->failed = 1;
    c->leading = 0;
    djs_log_set_leader(c->log, 0);
    char why[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (c->cfg.on_fail != NULL)
        c->cfg.on_fail(c->cfg.arg, err, why);
}

/* ---- what leads ---------------------------------------------------------------------------- */

/* The latest cluster.leader event (applied here, or found at start-up):
 * who leads and at which URL. */
static void learn(djs_cluster_t *c, const djs_event_t *ev)
{
    djs_cluster_leader_t l;
    if (ev->type != DJS_EV_CLUSTER_LEADER || djs_body_read_cluster_leader(ev->body, ev->body_len, &l) != 0)
        return;
    c->lead_node = l.node;
    size_t n = l.url.len < DJS_CLUSTER_MAX_URL ? l.url.len : DJS_CLUSTER_MAX_URL;
    memcpy(c->lead_url, l.url.p, n);
    c->lead_url[n] = '\0';
}

static int learn_visit(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    (void)seq;
    djs_event_t ev;
    if (djs_event_decode(rec, len, &ev) == 0)
        learn(arg, &ev);
    return 0;
}

int djs_cluster_leading(const djs_cluster_t *c)
{
    return c != NULL && c->leading;
}

const char *djs_cluster_leader_url(const djs_cluster_t *c)
{
    if (c == NULL || c->raft_inited == 0)
        return NULL;
    if (c->leading)
        return c->url;
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader((struct raft *)&c->raft, &id, &addr);
    if (id == 0 || id == c->cfg.node_id || id != c->lead_node || c->lead_url[0] == '\0')
        return NULL;
    return c->lead_url;
}

/* ---- the FSM -------------------------------------------------------------------------------- */

static int on_new_event(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
    djs_cluster_t *c = arg;
    learn_visit(c, seq, rec, len);
    return c->cfg.on_event != NULL ? c->cfg.on_event(c->cfg.arg, seq, rec, len) : 0;
}

/* Never returns an error to Raft (the library does not survive one): a
 * node that cannot apply a committed entry fail-stops instead. */
static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    djs_cluster_t *c = fsm->data;
    *result = NULL;
    if (c->failed)
        return 0;
    int rc = djs_log_commit_entry(c->log, buf->base, buf->len, on_new_event, c);
    if (rc == DJS_ENOTLEADER)
        fail(c, rc, "another leader's entry was committed where this node's uncommitted batch would be");
    else if (rc != 0)
        fail(c, rc, "a committed entry does not follow this node's log (%s, at seq %" PRIu64 ")", djs_err_name(rc),
             djs_log_last_seq(c->log));
    else
        c->entries++;
    return 0;
}

/* {seq, chain head} of this node's LMDB log once that seq is durable there:
 * Raft then drops the entries before it, which LMDB holds. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    djs_cluster_t *c = fsm->data;
    uint64_t seq = djs_log_committed_seq(c->log);
    if (djs_log_wait_durable(c->log, seq) != 0)
        return RAFT_IOERR;
    uint8_t *b = raft_malloc(SNAP_LEN);
    struct raft_buffer *v = raft_malloc(sizeof(*v));
    if (b == NULL || v == NULL) {
        raft_free(b);
        raft_free(v);
        return RAFT_NOMEM;
    }
    memcpy(b, SNAP_MAGIC, 4);
    for (int i = 0; i < 8; i++)
        b[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
    memset(b + 12, 0, DJS_HASH_LEN);
    if (seq > 0)
        (void)djs_log_hash_at(c->log, seq, b + 12); /* archived: zeros, not checked */
    v->base = b;
    v->len = SNAP_LEN;
    *bufs = v;
    *n_bufs = 1;
    return 0;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    djs_cluster_t *c = fsm->data;
    const uint8_t *b = buf->base;
    if (buf->len != SNAP_LEN || memcmp(b, SNAP_MAGIC, 4) != 0) {
        raft_free(buf->base);
        fail(c, DJS_ECORRUPT, "a Raft snapshot that is not djs's");
        return 0;
    }
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = seq << 8 | b[4 + i];
    uint8_t want[DJS_HASH_LEN], have[DJS_HASH_LEN], zero[DJS_HASH_LEN] = {0};
    memcpy(want, b + 12, DJS_HASH_LEN);
    raft_free(buf->base);
    uint64_t last = djs_log_last_seq(c->log);
    if (seq > last) {
        fail(c, DJS_ESEQGAP,
             "this node's log ends at seq %" PRIu64 ", behind the cluster's snapshot at seq %" PRIu64
             ": seed its data directory from a backup of a current node (docs/operations.md, \"Replacing a node\")",
             last, seq);
        return 0;
    }
    if (seq > 0 && memcmp(want, zero, DJS_HASH_LEN) != 0 && djs_log_hash_at(c->log, seq, have) == 0 &&
        memcmp(want, have, DJS_HASH_LEN) != 0)
        fail(c, DJS_ECHAIN, "the cluster's snapshot at seq %" PRIu64 " does not match this node's chain head there", seq);
    return 0;
}

/* ---- roles ------------------------------------------------------------------------------------ */

static void on_barrier(struct raft_barrier *req, int status)
{
    djs_cluster_t *c = req->data;
    c->barrier_pending = 0;
    if (c->closing || c->failed)
        return;
    if (status != 0 || raft_state(&c->raft) != RAFT_LEADER) {
        /* lost the lead before it began (nothing appended, nothing to
         * undo); or the barrier failed while leading: the next check
         * asks for another */
        c->was_leader = 0;
        return;
    }
    c->leading = 1;
    c->elections_won++;
    djs_log_set_leader(c->log, 1);
    djs_notef(c->cfg.note, c->cfg.note_arg, "cluster: node %" PRIu64 " leads (term %llu)", c->cfg.node_id,
              (unsigned long long)raft_current_term(&c->raft));
    if (c->cfg.on_lead != NULL)
        c->cfg.on_lead(c->cfg.arg, raft_current_term(&c->raft));
}

static void answer_transfer(djs_cluster_t *c);

/* After every loop iteration: libraft has no role-change callback. */
static void on_check(uv_check_t *h)
{
    djs_cluster_t *c = h->data;
    if (c->closing || c->failed)
        return;
    int is_leader = raft_state(&c->raft) == RAFT_LEADER;
    if (is_leader && !c->was_leader) {
        c->was_leader = 1;
        c->barrier.data = c;
        if (!c->barrier_pending) {
            if (raft_barrier(&c->raft, &c->barrier, on_barrier) == 0)
                c->barrier_pending = 1;
            else
                c->was_leader = 0; /* ask again after the next iteration */
        }
    } else if (!is_leader && c->was_leader) {
        c->was_leader = 0;
        answer_transfer(c);
        if (c->leading) {
            c->leading = 0;
            djs_log_set_leader(c->log, 0);
            fail(c, DJS_ENOTLEADER, "lost the lead (term %llu, now %s)", (unsigned long long)raft_current_term(&c->raft),
                 raft_state_name(raft_state(&c->raft)));
        }
    }
}

static void on_apply_done(struct raft_apply *req, int status, void *result)
{
    djs_cluster_t *c = req->data;
    (void)result;
    djs_free(req);
    if (status != 0 && !c->closing)
        fail(c, DJS_ENOTLEADER, "a batch was not committed (%s): the lead was lost", raft_strerror(status));
}

int djs_cluster_replicate(void *arg, const void *entry, size_t len, uint64_t last_seq)
{
    djs_cluster_t *c = arg;
    (void)last_seq;
    if (!c->leading || c->failed || c->closing)
        return DJS_ENOTLEADER;
    struct raft_apply *req = djs_malloc(sizeof(*req));
    size_t padded = (len + 7) & ~(size_t)7; /* libraft wants entries in whole 8-byte words */
    struct raft_buffer buf = {raft_malloc(padded), padded};
    if (buf.base == NULL) {
        djs_free(req);
        return DJS_ENOMEM;
    }
    memcpy(buf.base, entry, len);
    memset((uint8_t *)buf.base + len, 0, padded - len);
    req->data = c;
    int rv = raft_apply(&c->raft, req, &buf, 1, on_apply_done);
    if (rv != 0) { /* libraft 0.22 has released buf.base on this path */
        djs_free(req);
        djs_notef(c->cfg.note, c->cfg.note_arg, "cluster: raft_apply: %s (%s)", raft_strerror(rv), raft_errmsg(&c->raft));
        return DJS_ENOTLEADER;
    }
    return 0;
}

/* ---- start / stop ------------------------------------------------------------------------------ */

int djs_cluster_start(djs_cluster_t *c, uv_loop_t *loop, djs_log_t *log, char *err, size_t errlen)
{
    int rv;
    c->loop = loop;
    c->log = log;
    if (mkdir(c->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", c->dir, strerror(errno));
        return DJS_EIO;
    }
    (void)djs_log_scan_entity(log, &djs_cluster_entity, 0, UINT64_MAX, learn_visit, c);
    c->transport.version = 1;
    c->transport.data = NULL;
    if ((rv = raft_uv_tcp_init(&c->transport, loop)) != 0)
        goto fail_raft;
    c->transport_inited = 1;
    if ((rv = raft_uv_init(&c->io, loop, c->dir, &c->transport)) != 0)
        goto fail_raft;
    c->io_inited = 1;
    c->fsm.version = 1;
    c->fsm.data = c;
    c->fsm.apply = fsm_apply;
    c->fsm.snapshot = fsm_snapshot;
    c->fsm.restore = fsm_restore;
    if ((rv = raft_init(&c->raft, &c->io, &c->fsm, c->cfg.node_id, c->self_addr)) != 0)
        goto fail_raft;
    c->raft_inited = 1;
    raft_set_election_timeout(&c->raft, c->cfg.election_ms);
    raft_set_heartbeat_timeout(&c->raft, c->cfg.heartbeat_ms);
    raft_set_pre_vote(&c->raft, true);
    raft_set_snapshot_threshold(&c->raft, c->cfg.snapshot_threshold);
    raft_set_snapshot_trailing(&c->raft, c->cfg.snapshot_trailing);
    raft_set_max_inflight_entries(&c->raft, 256);

    struct raft_configuration conf;
    raft_configuration_init(&conf);
    for (uint32_t i = 0; i < c->npeers; i++)
        if ((rv = raft_configuration_add(&conf, c->peers[i].id, c->peers[i].addr, RAFT_VOTER)) != 0) {
            raft_configuration_close(&conf);
            goto fail_raft;
        }
    /* only on a data directory without Raft state; a joining node waits for
     * the leader to add it */
    rv = c->cfg.join ? RAFT_CANTBOOTSTRAP : raft_bootstrap(&c->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == 0)
        djs_notef(c->cfg.note, c->cfg.note_arg, "cluster: bootstrapped a new cluster of %u voters in %s", c->npeers, c->dir);
    else if (rv != RAFT_CANTBOOTSTRAP)
        goto fail_raft;
    if ((rv = raft_start(&c->raft)) != 0)
        goto fail_raft;
    if (c->failed) {
        snprintf(err, errlen, "this node cannot follow the cluster's log (see above)");
        return DJS_ECORRUPT;
    }
    uv_check_init(loop, &c->check);
    c->check.data = c;
    uv_check_start(&c->check, on_check);
    uv_unref((uv_handle_t *)&c->check);
    c->check_inited = 1;
    return 0;
fail_raft:
    snprintf(err, errlen, "raft: %s%s%s", raft_strerror(rv), c->raft_inited ? ": " : "",
             c->raft_inited ? raft_errmsg(&c->raft) : "");
    return DJS_EIO;
}

static void on_check_closed(uv_handle_t *h)
{
    djs_cluster_t *c = h->data;
    djs_free(c->dir);
    djs_free(c->url);
    djs_free(c);
}

static void on_raft_closed(struct raft *r)
{
    djs_cluster_t *c = r->data;
    raft_uv_close(&c->io);
    raft_uv_tcp_close(&c->transport);
    if (c->check_inited)
        uv_close((uv_handle_t *)&c->check, on_check_closed);
    else
        on_check_closed((uv_handle_t *)&c->check);
}

void djs_cluster_close(djs_cluster_t *c)
{
    if (c == NULL)
        return;
    c->closing = 1;
    c->leading = 0;
    c->check.data = c;
    if (c->raft_inited) {
        c->raft.data = c;
        raft_close(&c->raft, on_raft_closed);
        return;
    }
    if (c->io_inited)
        raft_uv_close(&c->io);
    if (c->transport_inited)
        raft_uv_tcp_close(&c->transport);
    on_check_closed((uv_handle_t *)&c->check);
}

/* ---- membership ------------------------------------------------------------------------------------ */

typedef struct change {
    struct raft_change req;
    struct raft_transfer tr;
    djs_cluster_t *c;
    djs_cluster_done_cb cb;
    void *arg;
    uint64_t id;
    int role_after; /* add: the role to assign once added; -1 none */
    int answered;   /* transfer: answered already (the lead was seen lost first) */
} change_t;

/* A transfer's lead went away: answer it before the restart (the change
 * it asked for has happened). */
static void answer_transfer(djs_cluster_t *c)
{
    change_t *ch = c->transfer;
    if (ch != NULL && !ch->answered) {
        ch->answered = 1;
        ch->cb(ch->arg, 0, "");
    }
}

static int role_of(const char *role)
{
    if (role == NULL || strcmp(role, "voter") == 0)
        return RAFT_VOTER;
    if (strcmp(role, "standby") == 0)
        return RAFT_STANDBY;
    if (strcmp(role, "spare") == 0)
        return RAFT_SPARE;
    return -1;
}

static int raft_to_djs(int rv)
{
    switch (rv) {
    case 0:
        return 0;
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST:
        return DJS_ENOTLEADER;
    case RAFT_CANTCHANGE:
    case RAFT_BUSY:
        return DJS_EBUSY;
    case RAFT_NOTFOUND:
        return DJS_ENOTFOUND;
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
        return DJS_EEXISTS;
    case RAFT_BADID:
    case RAFT_BADROLE:
    case RAFT_INVALID:
        return DJS_EINVAL;
    default:
        return DJS_EIO;
    }
}

static void change_done(change_t *ch, int rv)
{
    ch->cb(ch->arg, raft_to_djs(rv), rv != 0 ? raft_strerror(rv) : "");
    djs_free(ch);
}

static void on_assigned(struct raft_change *req, int status)
{
    change_done(req->data, status);
}

static void on_added(struct raft_change *req, int status)
{
    change_t *ch = req->data;
    if (status != 0 || ch->role_after < 0 || ch->c->closing) {
        change_done(ch, status);
        return;
    }
    int rv = raft_assign(&ch->c->raft, &ch->req, ch->id, ch->role_after, on_assigned);
    if (rv != 0)
        change_done(ch, rv);
}

static change_t *change_new(djs_cluster_t *c, uint64_t id, djs_cluster_done_cb cb, void *arg)
{
    change_t *ch = djs_calloc(1, sizeof(*ch));
    ch->c = c;
    ch->cb = cb;
    ch->arg = arg;
    ch->id = id;
    ch->role_after = -1;
    ch->req.data = ch;
    ch->tr.data = ch;
    return ch;
}

int djs_cluster_add(djs_cluster_t *c, uint64_t id, const char *addr, const char *role, djs_cluster_done_cb cb, void *arg)
{
    int r = role_of(role);
    if (id == 0 || addr == NULL || strchr(addr, ':') == NULL || strlen(addr) >= DJS_CLUSTER_MAX_ADDR || r < 0)
        return DJS_EINVAL;
    if (!c->leading)
        return DJS_ENOTLEADER;
    change_t *ch = change_new(c, id, cb, arg);
    ch->role_after = r == RAFT_SPARE ? -1 : r;
    int rv = raft_add(&c->raft, &ch->req, id, addr, on_added);
    if (rv != 0) {
        djs_free(ch);
        return raft_to_djs(rv);
    }
    return 0;
}

int djs_cluster_assign(djs_cluster_t *c, uint64_t id, const char *role, djs_cluster_done_cb cb, void *arg)
{
    int r = role_of(role);
    if (id == 0 || r < 0)
        return DJS_EINVAL;
    if (!c->leading)
        return DJS_ENOTLEADER;
    change_t *ch = change_new(c, id, cb, arg);
    int rv = raft_assign(&c->raft, &ch->req, id, r, on_assigned);
    if (rv != 0) {
        djs_free(ch);
        return raft_to_djs(rv);
    }
    return 0;
}

int djs_cluster_remove(djs_cluster_t *c, uint64_t id, djs_cluster_done_cb cb, void *arg)
{
    if (id == 0)
        return DJS_EINVAL;
    if (!c->leading)
        return DJS_ENOTLEADER;
    if (id == c->cfg.node_id)
        return DJS_EINVAL; /* transfer the lead first */
    change_t *ch = change_new(c, id, cb, arg);
    int rv = raft_remove(&c->raft, &ch->req, id, on_assigned);
    if (rv != 0) {
        djs_free(ch);
        return raft_to_djs(rv);
    }
    return 0;
}

static void on_transferred(struct raft_transfer *req)
{
    change_t *ch = req->data;
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&ch->c->raft, &id, &addr);
    ch->c->transfer = NULL;
    if (ch->answered)
        ;
    else if (id != 0 && id != ch->c->cfg.node_id)
        ch->cb(ch->arg, 0, "");
    else
        ch->cb(ch->arg, DJS_EUNAVAILABLE, "no other node took the lead within an election timeout");
    djs_free(ch);
}

int djs_cluster_transfer(djs_cluster_t *c, uint64_t to, djs_cluster_done_cb cb, void *arg)
{
    if (!c->leading)
        return DJS_ENOTLEADER;
    if (to == c->cfg.node_id)
        return DJS_EINVAL;
    if (c->transfer != NULL)
        return DJS_EBUSY;
    change_t *ch = change_new(c, to, cb, arg);
    int rv = raft_transfer(&c->raft, &ch->tr, to, on_transferred);
    if (rv != 0) {
        djs_free(ch);
        return raft_to_djs(rv);
    }
    c->transfer = ch;
    return 0;
}

/* ---- recovery (offline) ------------------------------------------------------------------------------ */

static int noop_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    (void)fsm, (void)buf;
    *result = NULL;
    return 0;
}

typedef struct recover {
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
} recover_t;

static void on_recover_closed(struct raft *r)
{
    recover_t *rc = r->data;
    raft_uv_close(&rc->io);
    raft_uv_tcp_close(&rc->transport);
}

int djs_cluster_recover(const char *dir, uint64_t node_id, const char *peers, char *err, size_t errlen)
{
    djs_cluster_config_t cfg;
    djs_cluster_config_init(&cfg);
    cfg.node_id = node_id;
    cfg.peers = peers;
    cfg.dir = dir;
    cfg.url = "";
    djs_cluster_t *c;
    int rc = djs_cluster_new(&c, &cfg, err, errlen);
    if (rc != 0)
        return rc;
    uv_loop_t loop;
    uv_loop_init(&loop);
    recover_t *r = djs_calloc(1, sizeof(*r));
    r->transport.version = 1;
    r->fsm.version = 1;
    r->fsm.apply = noop_apply;
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = raft_uv_tcp_init(&r->transport, &loop);
    if (rv == 0 && (rv = raft_uv_init(&r->io, &loop, dir, &r->transport)) != 0)
        raft_uv_tcp_close(&r->transport);
    if (rv == 0 && (rv = raft_init(&r->raft, &r->io, &r->fsm, node_id, c->self_addr)) != 0) {
        raft_uv_close(&r->io);
        raft_uv_tcp_close(&r->transport);
    }
    if (rv == 0) {
        r->raft.data = r;
        for (uint32_t i = 0; i < c->npeers && rv == 0; i++)
            rv = raft_configuration_add(&conf, c->peers[i].id, c->peers[i].addr, RAFT_VOTER);
        if (rv == 0)
            rv = raft_recover(&r->raft, &conf);
        if (rv != 0)
            snprintf(err, errlen, "raft_recover: %s: %s", raft_strerror(rv), raft_errmsg(&r->raft));
        raft_close(&r->raft, on_recover_closed);
    } else {
        snprintf(err, errlen, "cannot open the Raft files in %s: %s", dir, raft_strerror(rv));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    raft_configuration_close(&conf);
    djs_free(r);
    djs_free(c->dir);
    djs_free(c->url);
    djs_free(c);
    return rv == 0 ? 0 : DJS_EIO;
}

/* ---- status --------------------------------------------------------------------------------------- */

void djs_cluster_get_status(djs_cluster_t *c, djs_cluster_status_t *st)
{
    memset(st, 0, sizeof(*st));
    st->node_id = c->cfg.node_id;
    st->applied_seq = djs_log_committed_seq(c->log);
    st->entries_applied = c->entries;
    st->elections_won = c->elections_won;
    st->leading = c->leading;
    if (!c->raft_inited || c->failed) {
        st->state = "unavailable";
        return;
    }
    st->state = raft_state_name(raft_state(&c->raft));
    st->term = raft_current_term(&c->raft);
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&c->raft, &id, &addr);
    st->leader_id = id;
    st->leader_url = djs_cluster_leader_url(c);
    st->commit_index = raft_commit_index(&c->raft);
    st->last_applied = raft_last_applied(&c->raft);
    st->last_index = raft_last_index(&c->raft);
    const struct raft_configuration *conf = &c->raft.configuration;
    for (unsigned i = 0; i < conf->n && st->n < DJS_CLUSTER_MAX_NODES; i++) {
        djs_cluster_node_t *n = &st->nodes[st->n++];
        n->id = conf->servers[i].id;
        snprintf(n->addr, sizeof(n->addr), "%s", conf->servers[i].address);
        n->role = conf->servers[i].role == RAFT_VOTER ? "voter" : conf->servers[i].role == RAFT_STANDBY ? "standby" : "spare";
        n->leader = n->id == id;
    }
}

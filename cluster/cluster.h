/* The replicated log: one Raft group (libraft 0.22, on the server's own
 * libuv loop) whose entries are the event log's batches.
 *
 * Data path on the leader: the engine appends as on a single server; the
 * log seals one loop iteration's events into a batch and hands its
 * replicated form to djs_cluster_replicate, which proposes it as one Raft
 * entry (raft_apply). Once Raft has committed the entry (durable in the
 * Raft logs of a majority) every node's FSM gets it in log order and hands
 * it to djs_log_commit_entry: the leader's own batch goes to its LMDB
 * writer, a follower checks the seq continuity and the hash chain, stores
 * the records in its own LMDB log and applies them to its projection
 * through on_event. A client's 2xx waits for djs_log_when_durable, which
 * now means "committed, and stored in this node's LMDB".
 *
 * Roles. Only the leader decides (the engine refuses commands elsewhere:
 * the log answers DJS_ENOTLEADER). A node that becomes leader waits for a
 * barrier (every earlier entry applied here), then on_lead runs, and its
 * first event is cluster.leader. A leader that loses the lead may hold
 * uncommitted events in its projection: on_fail runs (fail-stop; the
 * owner restarts and replays the committed log).
 *
 * Raft snapshots are {seq, chain head} of this node's LMDB log, taken once
 * that seq is durable there, so Raft drops entries only once LMDB has
 * them. A node that is behind a peer's snapshot cannot fetch the missing
 * range yet: it fail-stops and must be seeded from a backup.
 *
 * The Raft transport (raft_uv_tcp) has no authentication or encryption:
 * the peer addresses must be on a private network (docs/operations.md).
 *
 * Threading: the loop thread. Ownership: the cluster borrows the log, which
 * must outlive it.
 */
#ifndef DJS_CLUSTER_CLUSTER_H
#define DJS_CLUSTER_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/error.h"
#include "core/event.h"
#include "eventlog/log.h"

#define DJS_CLUSTER_MAX_NODES 9
#define DJS_CLUSTER_MAX_ADDR 128

typedef struct djs_cluster djs_cluster_t;

typedef struct djs_cluster_config {
    uint64_t node_id;            /* this node, 1.. */
    const char *peers;           /* "ID=HOST:PORT,...": the voters, this node among them */
    const char *dir;             /* Raft's own files (created 0700) */
    const char *url;             /* this node's HTTP base URL, recorded in its cluster.leader */
    uint32_t election_ms;        /* default 1000 */
    uint32_t heartbeat_ms;       /* default election_ms / 20 (a follower applies at the next message) */
    uint32_t snapshot_threshold; /* entries between Raft snapshots; default 2048 */
    uint32_t snapshot_trailing;  /* entries kept behind a snapshot for slow followers; default 8192 */
    int join;                    /* never bootstrap: a node added to a running cluster (djs_cluster_add on its leader) */
    /* a committed event of another leader, stored (staged) here: apply it */
    djs_log_visit_cb on_event;
    /* this node leads now (term): the log takes appends; record cluster.leader */
    void (*on_lead)(void *arg, uint64_t term);
    /* this node cannot go on (lost the lead with uncommitted work, a chain
     * mismatch, behind a snapshot...): fail-stop. err: DJS_ENOTLEADER (a
     * restart replays and rejoins), else a damaged or stale node. */
    void (*on_fail)(void *arg, int err, const char *why);
    void *arg;
    djs_note_cb note; /* operator lines (elections, snapshots); NULL: silent */
    void *note_arg;
} djs_cluster_config_t;

void djs_cluster_config_init(djs_cluster_config_t *c);

/* Parse the configuration (strings are copied). Errors: DJS_EINVAL with a
 * one-line reason in err (bad peer list, node_id not in it). */
int djs_cluster_new(djs_cluster_t **out, const djs_cluster_config_t *c, char *err, size_t errlen);

/* The log option: pass as djs_log_options_t.replicate with the cluster as
 * replicate_arg. Proposes one entry; DJS_ENOTLEADER when Raft refuses. */
int djs_cluster_replicate(void *cluster, const void *entry, size_t len, uint64_t last_seq);

/* Start Raft on loop over log (opened with djs_cluster_replicate): a data
 * directory without Raft state bootstraps the peers as a new cluster.
 * Errors: DJS_EIO with the reason in err (Raft's own), DJS_EINVAL. */
int djs_cluster_start(djs_cluster_t *c, uv_loop_t *loop, djs_log_t *log, char *err, size_t errlen);

/* Stop Raft and free the cluster from close callbacks (let the loop run).
 * NULL is a no-op. */
void djs_cluster_close(djs_cluster_t *c);

/* ---- membership (on the leader; one change at a time, as Raft allows) ----
 * cb(arg, status, detail) runs on the loop when the change is committed
 * (status 0) or refused (a djs code; detail: Raft's reason). The call
 * itself returns 0 (under way), DJS_ENOTLEADER, DJS_EINVAL (a bad id,
 * address or role), DJS_EBUSY (another change is under way), DJS_ENOTFOUND
 * (remove/transfer: no such node). */
typedef void (*djs_cluster_done_cb)(void *arg, int status, const char *detail);
/* Add node id at addr ("HOST:PORT") as a spare, then give it role
 * ("spare", "standby" or "voter"; a voter is caught up first). */
int djs_cluster_add(djs_cluster_t *c, uint64_t id, const char *addr, const char *role, djs_cluster_done_cb cb, void *arg);
/* Give node id a new role. */
int djs_cluster_assign(djs_cluster_t *c, uint64_t id, const char *role, djs_cluster_done_cb cb, void *arg);
int djs_cluster_remove(djs_cluster_t *c, uint64_t id, djs_cluster_done_cb cb, void *arg);
/* Hand the lead to node to (0: the most caught-up voter), for maintenance:
 * status 0 once another node leads. */
int djs_cluster_transfer(djs_cluster_t *c, uint64_t to, djs_cluster_done_cb cb, void *arg);

/* Recovery after losing quorum, offline (no node of the cluster running):
 * force the configuration peers ("ID=HOST:PORT,...") into the Raft files
 * of dir (a node's DATA/raft), as raft_recover does. Run it once, on the
 * surviving node with the longest log, then copy its data directory to the
 * other survivors (docs/operations.md). DJS_EINVAL/DJS_EIO with err. */
int djs_cluster_recover(const char *dir, uint64_t node_id, const char *peers, char *err, size_t errlen);

/* This node leads and takes writes (barrier done). */
int djs_cluster_leading(const djs_cluster_t *c);
/* The URL of the leader, when Raft knows one and its cluster.leader event
 * is applied here; NULL otherwise (an election, or its first event not yet
 * committed). Valid until the next loop iteration. */
const char *djs_cluster_leader_url(const djs_cluster_t *c);

typedef struct djs_cluster_node {
    uint64_t id;
    char addr[DJS_CLUSTER_MAX_ADDR];
    const char *role; /* "voter", "standby", "spare" */
    int leader;
} djs_cluster_node_t;

typedef struct djs_cluster_status {
    uint64_t node_id;
    const char *state; /* "leader", "follower", "candidate", "unavailable" */
    int leading;       /* leader with its barrier done */
    uint64_t term;
    uint64_t leader_id; /* 0: none known */
    const char *leader_url;
    uint64_t commit_index, last_applied, last_index;
    uint64_t applied_seq; /* the last committed event handed to this node's LMDB writer */
    uint64_t entries_applied;
    uint64_t elections_won; /* times this process became leader */
    uint32_t n;
    djs_cluster_node_t nodes[DJS_CLUSTER_MAX_NODES];
} djs_cluster_status_t;
void djs_cluster_get_status(djs_cluster_t *c, djs_cluster_status_t *st);

#endif

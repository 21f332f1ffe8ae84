/* Snapshots of the projection: a cache of the state at one seq, never the
 * truth (DESIGN.md invariant 1): a snapshot that fails any check is skipped
 * and the log replayed instead.
 *
 * Format (versioned, described in snapshot.c): a MessagePack array of a
 * magic string, the format version, the seq, every table of the state, and
 * a SHA-256 of all the bytes before it. Any change to the layout bumps
 * SNAP_VERSION in snapshot.c; an old snapshot is then refused
 * (DJS_EVERSION) and the log replayed instead, which is always correct.
 *
 * Threads: djs_state_snapshot only reads the state and allocates, so the
 * engine's snapshotter runs it in a forked child (scheduler/snapshotter.h).
 */
#ifndef DJS_PROJECTIONS_SNAPSHOT_H
#define DJS_PROJECTIONS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "projections/state.h"

/* Serialize the whole state (MessagePack, versioned) into out. Pure memory
 * work (it only reads st, allocates through djs_malloc and hashes with
 * OpenSSL): the engine runs it in a forked child. Cannot fail (out of
 * memory aborts). */
void djs_state_snapshot(const djs_state_t *st, djs_buf_t *out);
/* The seq a snapshot was taken at, read from its first bytes (head, len >=
 * DJS_STATE_SNAPSHOT_HEAD or the whole snapshot), without the checksum:
 * a cheap check of what a child wrote. Errors: DJS_ECORRUPT (not a
 * snapshot), DJS_EVERSION (a format this build does not read). */
#define DJS_STATE_SNAPSHOT_HEAD 32
int djs_state_snapshot_seq(const uint8_t *head, size_t len, uint64_t *seq);
/* Rebuild a state from a snapshot; *out is the caller's (djs_state_free).
 * Errors: DJS_EVERSION, DJS_ECORRUPT (bad checksum or structure, or, from
 * version 5, a restored state that does not reproduce the digest it was
 * written with); the caller then replays the log from the start. */
int djs_state_restore(const uint8_t *snap, size_t len, const djs_state_config_t *c, djs_state_t **out);

/* What a snapshot says about itself, after checking its frame and
 * checksum (not its tables): seq, format version and, from version 5, the
 * digest of the state it was taken from and the retention (max_terminal,
 * max_terminal_age) that state ran with. Errors: DJS_ECORRUPT, DJS_EVERSION. */
typedef struct djs_snapshot_meta {
    uint64_t seq;
    uint32_t version;
    int has_digest; /* version >= 5 */
    uint8_t digest[32];
    uint64_t max_terminal, max_terminal_age;
} djs_snapshot_meta_t;
int djs_state_snapshot_meta(const uint8_t *snap, size_t len, djs_snapshot_meta_t *m);

#endif

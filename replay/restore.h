/* Restore from a backup, optionally to a point in time: `djs restore`.
 *
 * djs_restore checks the backup (replay/backup.h: the manifest and every
 * file's size and SHA-256; the log's is checked while it is copied), then
 * builds the new data directory in a temporary directory beside it
 * (PARENT/.NAME.restore-XXXXXX, 0700) and renames it into place at the end:
 * DIR is never half restored. When DIR already exists as an empty
 * directory (the mount point of a new disk, where nothing can be renamed
 * over it) the temporary directory is DIR/.restore-XXXXXX and its files
 * are moved into DIR at the end, the log last. On any error the temporary
 * directory is removed and DIR is left as it was.
 *
 * Point in time. With to_seq N (or to_time T: N is the last record with
 * ts <= T) the log is cut after N (djs_log_truncate: records, index
 * entries, snapshots and checkpoints above N) and each job's output chunks
 * recorded by job.output events above N are removed (djs_log_drop_output
 * from the out_offset of the job's first such event; the events are read
 * before the cut). The result is a log that `djs replay verify` accepts and
 * whose state is the state at N: the one djs_state_rebuild to N gives on
 * the original.
 *
 * Then the restored log is verified (djs_verify_log), its state rebuilt to
 * its last record for the digest (without a cut it must equal the
 * manifest's state_digest: DJS_ECORRUPT otherwise), and a verified
 * checkpoint is recorded at its last seq (djs_log_put_verified) so the
 * server's start-up check does not rehash what was just checked.
 *
 * Threads: blocks; any thread. Nobody may use DIR meanwhile (it is
 * created). Never prints.
 */
#ifndef DJS_REPLAY_RESTORE_H
#define DJS_REPLAY_RESTORE_H

#include <stdint.h>

#include "core/event.h"
#include "replay/backup.h"

typedef struct djs_restore_options {
    uint64_t to_seq; /* 0 = no cut by seq */
    int has_to_time; /* cut at the last record with ts <= to_time_ns (replay/point.h's djs_replay_point_to) */
    uint64_t to_time_ns;
    /* Where the backup's config file goes: NULL = DIR/djs.conf (inside the
     * rename), else this path, which must not exist (written after DIR is
     * in place). */
    const char *config_dest;
    /* Instead: write it back where it was copied from (the manifest's
     * source for it; must not exist either). */
    int config_to_source;
    /* The secret's file name in DIR (api/auth.h's DJS_AUTH_SECRET_FILE,
     * passed by the tool): the backup's secret file is restored under it
     * (0600). NULL = the name the manifest lists. */
    const char *secret_name;
} djs_restore_options_t;

void djs_restore_options_init(djs_restore_options_t *o);

typedef struct djs_restore_report {
    djs_backup_manifest_t manifest; /* as read from the backup */
    uint64_t seq, ts_ns;            /* the last record of the restored log */
    uint8_t head[DJS_HASH_LEN];     /* its hash */
    uint8_t digest[32];             /* state digest at seq (djs_state_rebuild, default config) */
    int cut;                        /* 1 if the log was cut (seq < manifest.seq) */
    uint64_t records_dropped;       /* records removed by the cut */
    uint64_t output_jobs_dropped;   /* jobs whose output was cut back */
    int has_secret;                 /* the token secret was restored ... */
    char secret_name[64];           /* ... as DIR/secret_name */
    char config_path[4200];         /* where the config went; "" if the backup had none */
    uint64_t bytes;                 /* bytes copied */
    uint64_t total_ns;
    int in_place;      /* 1 once DIR holds the restored data (an error after it is about config_dest only) */
    char detail[1024]; /* on error: the first problem, with its path or seq */
} djs_restore_report_t;

/* Restore backup into dir (which must not exist, or be an empty
 * directory; its parent must exist). o may be NULL (whole backup).
 * Errors (rep->detail says more): DJS_EINVAL (NULL or empty arguments,
 * both to_seq and to_time), the errors of djs_backup_check (DJS_ENOTFOUND
 * for a backup without manifest or a listed file missing, DJS_ECORRUPT for
 * a bad manifest or a file that does not match it, DJS_EVERSION),
 * DJS_EEXISTS (dir holds a log or anything else, or the config's
 * destination exists), DJS_EINVAL (config_to_source and the manifest names
 * no absolute source),
 * DJS_ERANGE (to_seq beyond the backup's last seq or before its first; no
 * record at or before to_time), DJS_EARCHIVED (the point is before the
 * log's archived start), the restored log's verification errors
 * (DJS_ECHAIN, DJS_ECORRUPT, DJS_ESEQGAP...), DJS_ECORRUPT (state digest
 * differs from the manifest's), the log's and file calls' errors
 * (DJS_ESTORAGE for a full disk, DJS_EPERM, DJS_EIO). */
int djs_restore(const char *backup, const char *dir, const djs_restore_options_t *o, djs_restore_report_t *rep);

#endif

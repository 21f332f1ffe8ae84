/* Complete backups of a data directory: `djs backup`.
 *
 * A backup is a directory holding:
 *   data.mdb       a compacted copy of the LMDB environment (djs_log_backup:
 *                  mdb_env_copy2 with MDB_CP_COMPACT, consistent as of the
 *                  start of its read transaction, taken beside a running
 *                  server)
 *   jwt.secret     the token key of the data directory, mode 0600 (when the
 *                  directory has one: a server started with auth has)
 *   djs.conf       the server's config file, when one was given
 *   manifest.json  written last, once the copy verified (see below)
 *
 * Manifest, format "djs-backup" version 1 (a JSON object):
 *   format "djs-backup", version 1, created (RFC 3339) and created_ns,
 *   source (the data directory, absolute), first_seq (the first record in
 *   the copy: 1, or the one after its archive base), seq and ts_ns of the last record
 *   in the copy (time: the same as RFC 3339), chain_head (hex of that
 *   record's hash), state_digest (hex of djs_state_digest after
 *   djs_state_rebuild of the copy to seq, default state config), and files:
 *   [{name, role ("log", "secret" or "config"), size, sha256 (hex)}, ...],
 *   a config entry also carrying source (the path it was copied from).
 * VERSIONING RULE: a reader refuses a version it does not know
 * (DJS_EVERSION). Adding a key is not a version change (readers ignore
 * unknown keys); removing, renaming or retyping one is: bump
 * DJS_BACKUP_VERSION and keep reading the older versions.
 *
 * A directory without manifest.json is an incomplete backup (interrupted,
 * or its copy did not verify): djs_restore refuses it.
 *
 * Threads: djs_backup_run blocks (copy, hashing, verify, rebuild); call it
 * from a tool or its own thread, never from a thread that holds a read
 * transaction on the log (DJS_EBUSY, eventlog/log.h). Never prints.
 */
#ifndef DJS_REPLAY_BACKUP_H
#define DJS_REPLAY_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "eventlog/log.h"

#define DJS_BACKUP_FORMAT "djs-backup"
#define DJS_BACKUP_VERSION 1
#define DJS_BACKUP_MANIFEST "manifest.json"
#define DJS_BACKUP_DATA "data.mdb"
#define DJS_BACKUP_CONFIG "djs.conf"
#define DJS_BACKUP_MAX_FILE (1u << 20) /* secret and config files: larger ones are refused */

typedef struct djs_backup_options {
    /* The token key's file name inside the data directory (the tool passes
     * api/auth.h's DJS_AUTH_SECRET_FILE; replay/ does not include api/).
     * NULL: no secret is carried. A missing file is not an error (a server
     * without auth has none): the report says so (has_secret 0). */
    const char *secret_name;
    /* A config file to carry (copied as DJS_BACKUP_CONFIG), or NULL. */
    const char *config_path;
    /* The backup runs on a thread of its own at this nice value above the
     * caller's (default 10; 0: the caller's priority), as do the threads it
     * starts (LMDB's copy, the hash, the verify): on a machine where a
     * server keeps appending, its commits keep their CPU. */
    int nice;
} djs_backup_options_t;

void djs_backup_options_init(djs_backup_options_t *o);

typedef struct djs_backup_report {
    uint64_t first_seq;         /* the copy's first seq (1, or after its archive base) */
    uint64_t seq, ts_ns;        /* the last record in the copy (0, 0 for an empty log) */
    uint8_t head[DJS_HASH_LEN]; /* its hash (zeros for an empty log) */
    uint8_t digest[32];         /* state digest at seq */
    uint64_t bytes;             /* bytes of every file in the backup (manifest excluded) */
    uint64_t data_bytes;        /* of data.mdb */
    uint64_t copy_ns;           /* time of the LMDB copy alone */
    uint64_t total_ns;          /* time of the whole backup, verification and manifest included */
    int has_secret, has_config; /* what travelled with the data */
    char detail[512];           /* on error: what failed, with the path */
} djs_backup_report_t;

/* Back up the log's directory (djs_log_dir(log)) into dest: dest is created
 * (0700) if missing and must otherwise be an empty directory. log may be
 * read-only (a tool beside a server) or the writer's own handle (a
 * benchmark timing the copy while it appends). Copies data, secret and
 * config, fsyncs them, opens the copy read-only, verifies it
 * (djs_verify_log), rebuilds its state to its last record for the digest,
 * hashes every file and writes manifest.json last (atomically: a temporary
 * file renamed). rep is filled (detail says what went wrong). Errors:
 * DJS_EINVAL (NULL arguments, dest not a directory), DJS_EEXISTS (dest not
 * empty), DJS_ETOOBIG (secret or config over DJS_BACKUP_MAX_FILE), the
 * errno translations of file calls (DJS_ENOTFOUND for a missing config
 * file, DJS_EPERM, DJS_ESTORAGE for a full disk, DJS_EIO), the copy's
 * errors (djs_log_backup), the copy's verification error (DJS_ECHAIN,
 * DJS_ECORRUPT, DJS_ESEQGAP...: the copy is left without a manifest),
 * djs_state_rebuild's errors. */
int djs_backup_run(djs_log_t *log, const char *dest, const djs_backup_options_t *o, djs_backup_report_t *rep);

/* ---- reading a backup (restore and tests) --------------------------------- */

#define DJS_BACKUP_MAX_FILES 8

typedef struct djs_backup_file {
    char name[64];     /* a plain name inside the backup directory */
    char role[16];     /* "log", "secret", "config" */
    char source[4096]; /* config: the path it was copied from; "" otherwise */
    uint64_t size;
    uint8_t sha256[32];
} djs_backup_file_t;

typedef struct djs_backup_manifest {
    int version;
    uint64_t created_ns;
    char source[4096];
    uint64_t first_seq; /* 1 when the manifest does not say */
    uint64_t seq, ts_ns;
    uint8_t head[DJS_HASH_LEN];
    uint8_t digest[32];
    djs_backup_file_t files[DJS_BACKUP_MAX_FILES];
    int nfiles;
} djs_backup_manifest_t;

/* Read backup/manifest.json into *m and check every file it lists: present,
 * a regular file of its size and SHA-256, and the log among them. detail
 * (detail_len bytes, may be NULL) names the first problem. Errors:
 * DJS_ENOTFOUND (no manifest: an incomplete backup; or a listed file
 * missing), DJS_ECORRUPT (manifest not JSON or missing a key or a key of
 * the wrong type, a file of another size or SHA-256, no log listed),
 * DJS_EVERSION (another format or an unknown version), DJS_ETOOBIG (a
 * manifest over 1 MiB, more than DJS_BACKUP_MAX_FILES files), errno
 * translations of reading. */
int djs_backup_check(const char *backup, djs_backup_manifest_t *m, char *detail, size_t detail_len);

/* The file of role in m, or NULL. */
const djs_backup_file_t *djs_backup_file(const djs_backup_manifest_t *m, const char *role);

/* SHA-256 of a whole file (streamed). *size gets its size. Errors: errno
 * translations, DJS_ECRYPTO. */
int djs_backup_sha256_file(const char *path, uint8_t out[32], uint64_t *size);

#endif

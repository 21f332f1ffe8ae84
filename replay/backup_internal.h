/* Private to replay/: what backup.c shares with restore.c. */
#ifndef DJS_REPLAY_BACKUP_INTERNAL_H
#define DJS_REPLAY_BACKUP_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "replay/backup.h"
#include "replay/verify.h"

/* Copy a small file (secret, config: at most DJS_BACKUP_MAX_FILE bytes, a
 * regular file) into a new file (O_EXCL) with mode, fsynced; the bytes read
 * are wiped from memory. Errors: errno translations, DJS_EINVAL (not a
 * regular file), DJS_ETOOBIG. */
int djs__backup_copy_small(const char *from, const char *to, mode_t mode);
/* 1 if dir is an empty directory, 0 if it holds anything, else an error
 * (DJS_EINVAL: not a directory; errno translations). */
int djs__backup_dir_empty(const char *dir);
/* The copy's records, chain, output and index (djs replay verify
 * --no-replay, the chain split over two threads): the LMDB copy is
 * byte-faithful, so what a backup or a restore must prove is that the log
 * it carries checks out. Snapshots are a cache whose digests every server
 * start checks on restore; the full replay belongs in the verify schedule
 * (docs/operations.md, the runbook). Returns as djs_verify_run. */
int djs__backup_verify_copy(djs_log_t *log, djs_verify_report_t *vr);
/* djs_backup_check, the log's SHA-256 checked only with hash_log (restore
 * hashes the log while copying it: one read of the largest file; its size
 * is checked either way). */
int djs__backup_check(const char *backup, djs_backup_manifest_t *m, int hash_log, char *detail, size_t dlen);

#endif

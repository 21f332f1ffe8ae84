/* IANA time zones from the system tz database.
 *
 * A djs_tz_t is one zone read from a TZif file under /usr/share/zoneinfo
 * (RFC 8536; Debian's tzdata package). The version 2+ 64-bit section is
 * used when present (version 1 files fall back to the 32-bit one); the
 * footer's POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3", with the Mm.w.d,
 * Jn and n rule forms and the version 3 extended hours) gives the offset
 * after the last transition. Leap-second records are skipped: djs counts
 * POSIX (unix) seconds. Pure computation after djs_tz_open, which reads one
 * file of at most 1 MiB with every count checked against its size.
 *
 * Ownership: djs_tz_open returns a zone the caller owns and frees with
 * djs_tz_close. A zone is immutable: share it between threads freely.
 */
#ifndef DJS_CORE_TZ_H
#define DJS_CORE_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct djs_tz djs_tz_t;

#define DJS_TZ_DIR "/usr/share/zoneinfo"
#define DJS_TZ_NAME_MAX 128
#define DJS_TZ_FILE_MAX (1024 * 1024)

/* Load zone `name` ("Europe/Paris", "UTC": [A-Za-z0-9/_+-.], no "..", no
 * leading '/', 1..128 bytes, need not be NUL-terminated) from DJS_TZ_DIR.
 * "UTC" works without tzdata (a built-in zone when the file is missing).
 * Errors: DJS_EINVAL (bad name), DJS_ENOTFOUND (no such zone, or not a
 * regular file), DJS_ECORRUPT (not a valid TZif file, over 1 MiB, or a
 * footer that is not a POSIX TZ string), DJS_EIO (the file exists but
 * cannot be read). Caller frees *out with djs_tz_close. */
int djs_tz_open(const char *name, size_t len, djs_tz_t **out);
/* The same, from directory `dir` instead of DJS_TZ_DIR (tests); no built-in
 * "UTC" fallback. Same errors. */
int djs_tz_open_dir(const char *dir, const char *name, size_t len, djs_tz_t **out);
/* Parse a TZif image already in memory (fuzzing, tests). `name` is copied
 * (1..128 bytes, not checked against the file system). Errors: DJS_EINVAL,
 * DJS_ECORRUPT. */
int djs_tz_from_tzif(const char *name, size_t namelen, const uint8_t *buf, size_t len, djs_tz_t **out);
/* NULL is a no-op. */
void djs_tz_close(djs_tz_t *tz);

/* UTC offset in seconds at instant t (unix seconds): local = t + offset.
 * tz NULL is UTC (0). Before the first transition: the file's first time
 * type (RFC 8536); after the last: the footer rule, else the last type. */
int32_t djs_tz_offset(const djs_tz_t *tz, int64_t t);
/* The zone's name as given to djs_tz_open; owned by tz. */
const char *djs_tz_name(const djs_tz_t *tz);

/* Offset changes (for core/cron): the first instant > t where the offset
 * differs from the one just before it, INT64_MAX when there is none; and
 * the last such instant <= t, INT64_MIN when none. Instants whose
 * transitions only change the abbreviation or isdst are skipped. tz NULL
 * has none. */
int64_t djs_tz_next_change(const djs_tz_t *tz, int64_t t);
int64_t djs_tz_prev_change(const djs_tz_t *tz, int64_t t);

/* Civil calendar helpers (proleptic Gregorian, shared with core/cron).
 * days: days since 1970-01-01; month 1..12; day 1..31. */
int64_t djs__days_from_civil(int64_t y, int m, int d);
void djs__civil_from_days(int64_t days, int64_t *y, int *m, int *d);
int djs__days_in_month(int64_t y, int m);

#endif

/* THROWAWAY STUB of the cron/tz module's interface (/work/wt/prompts/cron_iface.md),
 * written by the schedules branch until the real core/tz.c lands: it
 * knows only "UTC" (and "Etc/UTC"); every other zone is DJS_ENOTFOUND.
 * The lead replaces this file and core/tz.c with the cron engineer's.
 *
 * core/tz.h: an IANA time zone from the system tz database (TZif files
 * under /usr/share/zoneinfo, RFC 8536). */
#ifndef DJS_CORE_TZ_H
#define DJS_CORE_TZ_H

#include <stddef.h>
#include <stdint.h>

typedef struct djs_tz djs_tz_t;
/* Load zone `name` ("Europe/Paris", "UTC"; no "..", no leading '/', at most
 * 128 bytes). DJS_EINVAL (bad name), DJS_ENOTFOUND (no such zone),
 * DJS_ECORRUPT (not a TZif file). Caller frees with djs_tz_close. */
int djs_tz_open(const char *name, size_t len, djs_tz_t **out);
int djs_tz_open_dir(const char *dir, const char *name, size_t len, djs_tz_t **out); /* tests */
void djs_tz_close(djs_tz_t *tz);
/* UTC offset in seconds at instant t (unix seconds). */
int32_t djs_tz_offset(const djs_tz_t *tz, int64_t t);
const char *djs_tz_name(const djs_tz_t *tz);

#endif

/* JSON text written straight into a buffer, without jansson objects: the
 * rendering of events shared by the streams (api/) and the export of a
 * log (replay/export.h), which may not depend on api/.
 *
 * The renderings are byte for byte what json_dumps(..., JSON_COMPACT)
 * gives for the jansson value api/render.h builds (djs_mp_to_json,
 * djs_event_json): insertion order, jansson's escapes and number formats
 * ("%.17g" and its clean-ups), and for a map that repeats a key (or whose
 * keys repeat once mended to UTF-8) jansson's rule: the key's first place,
 * its last value. Sanitizer builds of the API cross-check every stream
 * event with jansson (api/stream_render.c) and tests/test_jtext.c compares
 * random values. Pure: libc and core/mp only. The buffer is the caller's;
 * functions append to it. Any thread. */
#ifndef DJS_CORE_JTEXT_H
#define DJS_CORE_JTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/event.h"
#include "core/id.h"
#include "core/mp.h"

/* Sanitizer builds (the tests) compare these renderings with jansson's. */
#if defined(__SANITIZE_ADDRESS__)
#define DJS_CHECK_RENDER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DJS_CHECK_RENDER 1
#endif
#endif

#define DJS_RENDER_MAX_DEPTH 32

/* "2026-11-27T10:02:00.123Z" into out (25 bytes with the NUL; cut to n). */
void djs_render_iso8601(char *out, size_t n, uint64_t ns);
/* 1 if s[0..n) is valid UTF-8, else 0. */
int djs_utf8_valid(const char *s, size_t n);
/* Length of the valid UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF) starting at p (n > 0 bytes left), or 0 if
 * it is not one. */
size_t djs_utf8_seq(const uint8_t *p, size_t n);

void djs_jt_lit(djs_buf_t *b, const char *lit); /* raw text, no quoting */
/* A JSON string of p. Errors: DJS_EINVAL (nothing written) if p is not
 * valid UTF-8. */
int djs_jt_str(djs_buf_t *b, const char *p, size_t n);
/* A JSON string of p with each byte that is not valid UTF-8 replaced by
 * U+FFFD, as djs_json_str_lossy does. */
void djs_jt_str_lossy(djs_buf_t *b, const char *p, size_t n);
void djs_jt_int(djs_buf_t *b, int64_t x);
void djs_jt_real(djs_buf_t *b, double d); /* jansson's "%.17g" and its clean-ups; null when not finite */
void djs_jt_id(djs_buf_t *b, const djs_id_t *id);
void djs_jt_time(djs_buf_t *b, uint64_t ns); /* RFC 3339 string, null for 0 */
/* One MessagePack value as djs_mp_to_json renders it (bin 16 as an id,
 * other bin as hex, uint above INT64_MAX as a real). Errors: DJS_EINVAL
 * when it is malformed or nested too deep (djs_mp_to_json gives NULL); b
 * is left as it was. (DJS_ECONFLICT, which callers still handle by falling
 * back on jansson, is no longer returned: repeated keys are rendered.) */
int djs_jt_mp(djs_buf_t *b, djs_mp_reader_t *r, int depth);
/* The event as djs_event_json renders it, {seq,type,at,actor,entity,body}
 * (a malformed body as {}; job.submitted without its binary "deps").
 * Returns 0. */
int djs_jt_event(djs_buf_t *b, const djs_event_t *ev);

#endif

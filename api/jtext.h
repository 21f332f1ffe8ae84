/* JSON text written straight into a buffer, without jansson objects.
 *
 * The hot renderings (a job, an event for the streams) are byte for byte
 * what json_dumps(..., JSON_COMPACT) gives for the same jansson value
 * (insertion order, jansson's escapes and number formats); building and
 * freeing a jansson value per field was most of their cost. Private to
 * api/. The buffer is the caller's; functions append to it. */
#ifndef DJS_API_JTEXT_H
#define DJS_API_JTEXT_H

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

void djs_jt_lit(djs_buf_t *b, const char *lit); /* raw text, no quoting */
/* A JSON string of p. Errors: DJS_EINVAL (nothing written) if p is not
 * valid UTF-8. */
int djs_jt_str(djs_buf_t *b, const char *p, size_t n);
/* A JSON string of p with each byte that is not valid UTF-8 replaced by
 * U+FFFD, as djs_json_str_lossy does. */
void djs_jt_str_lossy(djs_buf_t *b, const char *p, size_t n);
void djs_jt_int(djs_buf_t *b, int64_t x);
void djs_jt_real(djs_buf_t *b, double d); /* jansson's "%.17g" and its clean-ups */
void djs_jt_id(djs_buf_t *b, const djs_id_t *id);
void djs_jt_time(djs_buf_t *b, uint64_t ns); /* RFC 3339 string, null for 0 */
/* One MessagePack value as djs_mp_to_json renders it. Errors: DJS_EINVAL
 * when it is malformed or nested too deep (djs_mp_to_json gives NULL);
 * DJS_ECONFLICT when a map repeats a key or has a key that is not UTF-8
 * (jansson would merge or mend them): render it with djs_mp_to_json. b is
 * left as it was on error. */
int djs_jt_mp(djs_buf_t *b, djs_mp_reader_t *r, int depth);
/* The event as djs_event_json renders it, {seq,type,at,actor,entity,body}
 * (a malformed body as {}). Errors: DJS_ECONFLICT as djs_jt_mp (b left as
 * it was): then use djs_event_json. */
int djs_jt_event(djs_buf_t *b, const djs_event_t *ev);

#endif

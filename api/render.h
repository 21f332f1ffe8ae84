/* JSON renderings and request helpers shared by the REST handlers and the
 * streams (private to api/). Every json_t function returns a new jansson
 * reference (the caller decrefs). */
#ifndef DJS_API_RENDER_H
#define DJS_API_RENDER_H

#include <h2o.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/event.h"
#include "core/id.h"
#include "core/jtext.h"
#include "core/mp.h"

/* djs_render_iso8601, djs_utf8_valid and djs_utf8_seq: core/jtext.h. */
/* The time as an RFC 3339 string, or null for 0. */
json_t *djs_json_time(uint64_t ns);
json_t *djs_json_id(const djs_id_t *id);
/* A JSON string of s: as is when valid UTF-8, else with each bad byte
 * replaced by U+FFFD, so text from clients or the log always renders. */
json_t *djs_json_str_lossy(const char *s, size_t n);
/* One MessagePack value as JSON (bin 16 as an id, other bin as hex); NULL
 * when malformed or nested deeper than DJS_RENDER_MAX_DEPTH. */
json_t *djs_mp_to_json(djs_mp_reader_t *r, int depth);
/* An event record as the API shows it: {seq, type, at, actor, entity, body}. */
json_t *djs_event_json(const djs_event_t *ev);

/* The raw (not percent-decoded) value of query parameter name: 1 and
 * val and len if present, else 0. */
int djs_query_str(h2o_req_t *req, const char *name, const char **val, size_t *len);

#endif

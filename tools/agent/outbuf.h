/* A job's output waiting in the agent to be shipped (POST
 * /jobs/{id}/output?offset=N), in chunks. Pure: bytes in, chunks out; the
 * agent owns the timing and the requests.
 *
 * At most DJS_AGENT_OUT_BUF_CAP bytes wait; what does not fit is dropped and
 * counted, and a marker line "[djs agent: N bytes of output dropped]"
 * takes its place once room comes back (at least 256 bytes), or at the
 * end of the run (djs_agent_outbuf_end). Chunks are at most DJS_AGENT_OUT_CHUNK
 * bytes. Embedded struct: djs_agent_outbuf_init, djs_agent_outbuf_dispose. */
#ifndef DJS_TOOLS_AGENT_OUTBUF_H
#define DJS_TOOLS_AGENT_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define DJS_AGENT_OUT_CHUNK (64u << 10)  /* bytes per output request */
#define DJS_AGENT_OUT_BUF_CAP (1u << 20) /* output waiting in the agent, per job */
#define DJS_AGENT_OUT_PERIOD_MS 250      /* at most one chunk per period, unless a full one waits */

typedef struct djs_agent_outbuf {
    djs_buf_t buf;    /* buf.base[0] is byte off of this attempt's output */
    uint64_t off;     /* the output offset of buf.base[0] (bytes the server has) */
    uint64_t dropped; /* bytes dropped since the last marker */
    int dead;         /* refused for good: everything is dropped silently */
} djs_agent_outbuf_t;

void djs_agent_outbuf_init(djs_agent_outbuf_t *o);
void djs_agent_outbuf_dispose(djs_agent_outbuf_t *o);
/* Take len bytes of output (stdout or stderr, in the order they came). */
void djs_agent_outbuf_append(djs_agent_outbuf_t *o, const char *p, size_t len);
/* The run ended: the marker for what was dropped since the last one. */
void djs_agent_outbuf_end(djs_agent_outbuf_t *o);
/* The next chunk: the first n bytes of o->buf (n = min(waiting,
 * DJS_AGENT_OUT_CHUNK)), or 0 when nothing waits or the output is dead. */
size_t djs_agent_outbuf_chunk(const djs_agent_outbuf_t *o);
/* Whether a chunk is due now: something waits and the output is alive,
 * and the run ended (flushing), or a full chunk waits, or ms_since_last
 * (since the last chunk was sent) reached DJS_AGENT_OUT_PERIOD_MS. */
int djs_agent_outbuf_due(const djs_agent_outbuf_t *o, int running, uint64_t ms_since_last);
/* The server has received bytes [0, received) of the output: drop them
 * from the buffer. 0, or DJS_ERANGE (nothing changed) when received is
 * behind off. */
int djs_agent_outbuf_ack(djs_agent_outbuf_t *o, uint64_t received);
/* Refused for good: drop what waits and whatever comes. */
void djs_agent_outbuf_kill(djs_agent_outbuf_t *o);

#endif

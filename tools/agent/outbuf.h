/* A job's output waiting in the agent to be shipped (POST
 * /jobs/{id}/output?offset=N), in chunks. Pure: bytes in, chunks out; the
 * agent owns the timing and the requests.
 *
 * At most AGENT_OUT_BUF_CAP bytes wait; what does not fit is dropped and
 * counted, and a marker line "[djs agent: N bytes of output dropped]"
 * takes its place once room comes back (at least 256 bytes), or at the
 * end of the run (agent_outbuf_end). Chunks are at most AGENT_OUT_CHUNK
 * bytes. Embedded struct: agent_outbuf_init, agent_outbuf_dispose. */
#ifndef DJS_TOOLS_AGENT_OUTBUF_H
#define DJS_TOOLS_AGENT_OUTBUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define AGENT_OUT_CHUNK (64u << 10)  /* bytes per output request */
#define AGENT_OUT_BUF_CAP (1u << 20) /* output waiting in the agent, per job */
#define AGENT_OUT_PERIOD_MS 250      /* at most one chunk per period, unless a full one waits */

typedef struct agent_outbuf {
    djs_buf_t buf;    /* buf.base[0] is byte off of this attempt's output */
    uint64_t off;     /* the output offset of buf.base[0] (bytes the server has) */
    uint64_t dropped; /* bytes dropped since the last marker */
    int dead;         /* refused for good: everything is dropped silently */
} agent_outbuf_t;

void agent_outbuf_init(agent_outbuf_t *o);
void agent_outbuf_dispose(agent_outbuf_t *o);
/* Take len bytes of output (stdout or stderr, in the order they came). */
void agent_outbuf_append(agent_outbuf_t *o, const char *p, size_t len);
/* The run ended: the marker for what was dropped since the last one. */
void agent_outbuf_end(agent_outbuf_t *o);
/* The next chunk: the first n bytes of o->buf (n = min(waiting,
 * AGENT_OUT_CHUNK)), or 0 when nothing waits or the output is dead. */
size_t agent_outbuf_chunk(const agent_outbuf_t *o);
/* Whether a chunk is due now: something waits and the output is alive,
 * and the run ended (flushing), or a full chunk waits, or ms_since_last
 * (since the last chunk was sent) reached AGENT_OUT_PERIOD_MS. */
int agent_outbuf_due(const agent_outbuf_t *o, int running, uint64_t ms_since_last);
/* The server has received bytes [0, received) of the output: drop them
 * from the buffer. 0, or -1 (nothing changed) when received is behind off. */
int agent_outbuf_ack(agent_outbuf_t *o, uint64_t received);
/* Refused for good: drop what waits and whatever comes. */
void agent_outbuf_kill(agent_outbuf_t *o);

#endif

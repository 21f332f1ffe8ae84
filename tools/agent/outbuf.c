#include "tools/agent/outbuf.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void djs_agent_outbuf_init(djs_agent_outbuf_t *o)
{
    memset(o, 0, sizeof(*o));
    djs_buf_init(&o->buf);
}

void djs_agent_outbuf_dispose(djs_agent_outbuf_t *o)
{
    djs_buf_dispose(&o->buf);
}

static void marker(djs_agent_outbuf_t *o)
{
    char m[96];
    int k = snprintf(m, sizeof(m), "\n[djs agent: %" PRIu64 " bytes of output dropped]\n", o->dropped);
    djs_buf_append(&o->buf, m, (size_t)k);
    o->dropped = 0;
}

static size_t room(const djs_agent_outbuf_t *o)
{
    return o->buf.len < DJS_AGENT_OUT_BUF_CAP ? DJS_AGENT_OUT_BUF_CAP - o->buf.len : 0;
}

void djs_agent_outbuf_append(djs_agent_outbuf_t *o, const char *p, size_t len)
{
    if (o->dead)
        return;
    if (o->dropped > 0) {
        if (room(o) < 256) {
            o->dropped += len;
            return;
        }
        marker(o);
    }
    size_t r = room(o), take = len < r ? len : r;
    djs_buf_append(&o->buf, p, take);
    o->dropped += len - take;
}

void djs_agent_outbuf_end(djs_agent_outbuf_t *o)
{
    if (o->dropped > 0 && !o->dead)
        marker(o);
}

size_t djs_agent_outbuf_chunk(const djs_agent_outbuf_t *o)
{
    if (o->dead)
        return 0;
    return o->buf.len < DJS_AGENT_OUT_CHUNK ? o->buf.len : DJS_AGENT_OUT_CHUNK;
}

int djs_agent_outbuf_due(const djs_agent_outbuf_t *o, int running, uint64_t ms_since_last)
{
    if (o->dead || o->buf.len == 0)
        return 0;
    return !running || o->buf.len >= DJS_AGENT_OUT_CHUNK || ms_since_last >= DJS_AGENT_OUT_PERIOD_MS;
}

int djs_agent_outbuf_ack(djs_agent_outbuf_t *o, uint64_t received)
{
    if (received < o->off)
        return DJS_ERANGE;
    uint64_t ack = received - o->off;
    if (ack > o->buf.len)
        ack = o->buf.len;
    memmove(o->buf.base, o->buf.base + ack, o->buf.len - (size_t)ack);
    o->buf.len -= (size_t)ack;
    o->off = received;
    return 0;
}

void djs_agent_outbuf_kill(djs_agent_outbuf_t *o)
{
    o->dead = 1;
    o->buf.len = 0;
}

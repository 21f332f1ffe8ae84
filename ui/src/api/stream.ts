// Live streams over WebSocket (docs/streams.md). One connection per
// openStream; the server's first frame (hello) is consumed here. Messages
// are buffered and handed over at most once per animation frame, in seq
// order. After a drop the stream reconnects with a capped exponential
// backoff and resumes at the last seq it received + 1, so a consumer never
// sees a gap or the same seq twice (system-metrics carries the durable seq,
// not a cursor: it is never deduplicated, and simply restarts live).
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { notifyUnreachable, wsUrl, type Query } from './client';

export type StreamStatus = 'connecting' | 'live' | 'down';

export interface StreamMessage {
  seq: number;
  type: string;
  [k: string]: unknown;
}

export interface StreamOptions {
  path: '/ws/events' | '/ws/job-updates' | '/ws/worker-status' | '/ws/system-metrics';
  /** filters (types, entity, status, owner, interval_ms); not from_seq */
  query?: Query;
  /** first seq wanted; undefined = live from now */
  fromSeq?: number;
  /** at most once per animation frame, in seq order, never a gap or a seq twice (system-metrics: every sample, no dedup) */
  onMessages(batch: StreamMessage[]): void;
  onStatus?(s: StreamStatus): void;
}

export interface StreamHandle {
  close(): void;
}

export const BACKOFF_MIN_MS = 250;
export const BACKOFF_MAX_MS = 5_000;
/** a hidden tab runs no animation frames: deliver by timer then */
const FRAME_FALLBACK_MS = 250;

/** Delay before reconnect attempt n (0-based): 250 ms doubling to 5 s, with jitter in [d/2, d], never under 250 ms. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const d = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.max(BACKOFF_MIN_MS, Math.round(d / 2 + (random() * d) / 2));
}

interface Hello {
  type: 'hello';
  fromSeq?: number;
  durableSeq?: number;
}

function parse(data: unknown): StreamMessage | Hello | null {
  if (typeof data !== 'string') return null; // binary (msgpack) frames: not asked for
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const m = v as Record<string, unknown>;
  if (m.type === 'hello') return m as unknown as Hello;
  if (typeof m.seq !== 'number' || typeof m.type !== 'string') return null;
  return m as StreamMessage;
}

export function openStream(o: StreamOptions): StreamHandle {
  const dedup = o.path !== '/ws/system-metrics';
  let ws: WebSocket | null = null;
  let closed = false;
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let frame: number | null = null;
  let frameTimer: ReturnType<typeof setTimeout> | null = null;
  let status: StreamStatus | null = null;
  let buf: StreamMessage[] = [];
  /** the next seq to ask for on (re)connect; undefined: live from now */
  let next: number | undefined = dedup ? o.fromSeq : undefined;
  /** the last seq accepted into the buffer (deliveries are a prefix of these) */
  let last = next === undefined ? -1 : next - 1;

  const setStatus = (s: StreamStatus) => {
    if (s === status) return;
    status = s;
    o.onStatus?.(s);
  };

  const flush = () => {
    if (frame !== null && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(frame);
    if (frameTimer !== null) clearTimeout(frameTimer);
    frame = null;
    frameTimer = null;
    if (closed || buf.length === 0) return;
    const batch = buf;
    buf = [];
    if (dedup) batch.sort((a, b) => a.seq - b.seq);
    o.onMessages(batch);
  };

  const schedule = () => {
    if (frame !== null || frameTimer !== null) return;
    if (typeof requestAnimationFrame === 'function') frame = requestAnimationFrame(flush);
    frameTimer = setTimeout(flush, FRAME_FALLBACK_MS);
  };

  const onMessage = (ev: MessageEvent) => {
    const m = parse(ev.data);
    if (!m) return;
    if (m.type === 'hello') {
      const h = m as Hello;
      // live from now: pin the cursor to where the server started, so a
      // reconnect before the first message still has no gap
      if (dedup && next === undefined && typeof h.fromSeq === 'number') {
        next = h.fromSeq;
        last = h.fromSeq - 1;
      }
      attempt = 0;
      setStatus('live');
      return;
    }
    const msg = m as StreamMessage;
    if (dedup) {
      if (msg.seq <= last) return;
      last = msg.seq;
      next = msg.seq + 1;
    }
    buf.push(msg);
    schedule();
  };

  const connect = () => {
    retryTimer = null;
    if (closed) return;
    setStatus('connecting');
    const q: Query = { ...o.query };
    delete q.from_seq;
    if (next !== undefined) q.from_seq = next;
    let sock: WebSocket;
    try {
      sock = new WebSocket(wsUrl(o.path, q));
    } catch {
      retry();
      return;
    }
    ws = sock;
    sock.onmessage = onMessage;
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      retry();
    };
    sock.onerror = () => {
      // a close event follows; nothing else to do
    };
  };

  const retry = () => {
    if (closed || retryTimer !== null) return;
    // a dropped stream is often the server going away: let the shell check
    if (status === 'live') notifyUnreachable();
    setStatus('down');
    retryTimer = setTimeout(connect, backoffDelay(attempt));
    attempt++;
  };

  connect();

  return {
    close() {
      if (closed) return;
      closed = true;
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = null;
      if (frame !== null && typeof cancelAnimationFrame === 'function') cancelAnimationFrame(frame);
      if (frameTimer !== null) clearTimeout(frameTimer);
      frame = null;
      frameTimer = null;
      buf = [];
      const sock = ws;
      ws = null;
      if (sock) {
        sock.onmessage = null;
        sock.onclose = null;
        sock.onerror = null;
        try {
          sock.close(1000);
        } catch {
          // already closing
        }
      }
    },
  };
}

function depsKey(deps: unknown[]): string {
  return deps
    .map((d) => {
      if (d === null || d === undefined) return String(d);
      if (typeof d === 'object') {
        try {
          return JSON.stringify(d);
        } catch {
          return '[object]';
        }
      }
      return `${typeof d}:${String(d)}`;
    })
    .join('\u0001');
}

/**
 * A stream for the life of a component: opens on mount, reopens when deps
 * or the path or query change (compared by value), closes on unmount; null = closed ('down').
 * The callbacks may change from render to render (the latest are called).
 */
export function useStream(o: StreamOptions | null, deps: unknown[]): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const opts = useRef(o);
  useLayoutEffect(() => {
    opts.current = o;
  });
  const enabled = o !== null;
  const key = depsKey([o?.path, o?.query, ...deps]);
  useEffect(() => {
    const cur = opts.current;
    if (!enabled || !cur) return;
    const h = openStream({
      path: cur.path,
      query: cur.query,
      fromSeq: cur.fromSeq,
      onMessages: (b) => opts.current?.onMessages(b),
      onStatus: (s) => {
        setStatus(s);
        opts.current?.onStatus?.(s);
      },
    });
    return () => h.close();
  }, [enabled, key]);
  return enabled ? status : 'down';
}

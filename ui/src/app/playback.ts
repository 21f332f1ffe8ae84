// Play mode: replays history from the pinned seq, paced by the events'
// own timestamps at 1x to 100x. The events come over /ws/events from
// at + 1 (a user: /ws/job-updates, their own jobs' updates), queued as
// (seq, time) pairs only; a tick moves a virtual clock by the real time
// passed x the speed and the point to the last queued event at or before
// it. A quiet stretch longer than MAX_IDLE_MS of real time is skipped (an
// idle night replays in seconds), the point moves at most TICK_MS apart
// (each move re-reads the views), the queue is bounded (the stream is
// closed above HIGH_WATER and reopened from the last queued seq + 1 below
// LOW_WATER), and once the replay reaches the live head it goes live.
import { useCallback, useEffect, useRef, useState } from 'react';
import { openStream, type StreamHandle, type StreamMessage } from '../api/stream';

export const SPEEDS = [1, 2, 5, 10, 25, 50, 100] as const;
export type Speed = (typeof SPEEDS)[number];
export const TICK_MS = 500;
export const MAX_IDLE_MS = 2_000;
export const HIGH_WATER = 100_000;
export const LOW_WATER = 20_000;

/** The pacing, without timers or sockets (unit-tested). */
export class Pacer {
  private seqs: number[] = [];
  private times: number[] = [];
  private head = 0;
  /** the virtual clock (ms since the epoch); null until the first event */
  private clock: number | null = null;
  /** the last seq queued */
  lastQueued: number;
  /** the seq the replay shows */
  current: number;

  constructor(from: number) {
    this.lastQueued = from;
    this.current = from;
  }

  get queued(): number {
    return this.seqs.length - this.head;
  }

  push(seq: number, atMs: number): void {
    if (seq <= this.lastQueued) return; // a resent event: never twice
    const t = Number.isFinite(atMs) ? atMs : (this.times[this.times.length - 1] ?? 0);
    this.seqs.push(seq);
    this.times.push(t);
    this.lastQueued = seq;
  }

  /** Advance by realMs x speed; the new current seq, or null when it did not move. */
  tick(realMs: number, speed: number): number | null {
    if (this.queued === 0) return null;
    const next = this.times[this.head] ?? 0;
    let clock = this.clock;
    if (clock === null || next - clock > MAX_IDLE_MS * speed) clock = next;
    else clock += realMs * speed;
    this.clock = clock;
    let moved = false;
    while (this.head < this.seqs.length && (this.times[this.head] ?? 0) <= clock) {
      this.current = this.seqs[this.head] ?? this.current;
      this.head++;
      moved = true;
    }
    if (this.head > 4096 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return moved ? this.current : null;
  }
}

export interface PlaybackOptions {
  staff: boolean;
  at: number | undefined;
  speed: number;
  /** the live head: reaching it ends the replay */
  liveSeq: number | undefined;
  setPoint(at: number | undefined): void;
}

export interface Playback {
  playing: boolean;
  error: string | null;
  start(): void;
  stop(): void;
}

export function usePlayback(o: PlaybackOptions): Playback {
  const [playing, setPlaying] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const opts = useRef(o);
  useEffect(() => {
    opts.current = o;
  });
  /** the seq play started from (the effect below runs once per play) */
  const [from, setFrom] = useState<number | null>(null);

  useEffect(() => {
    if (!playing || from === null) return;
    const pacer = new Pacer(from);
    let handle: StreamHandle | null = null;
    const open = () => {
      handle = openStream({
        path: opts.current.staff ? '/ws/events' : '/ws/job-updates',
        fromSeq: pacer.lastQueued + 1,
        onMessages: (batch: StreamMessage[]) => {
          for (const m of batch) pacer.push(m.seq, typeof m.at === 'string' ? Date.parse(m.at) : NaN);
          if (pacer.queued > HIGH_WATER && handle) {
            handle.close();
            handle = null;
          }
        },
        onStatus: (s) => setError(s === 'down' ? 'Replay stream down; retrying' : null),
      });
    };
    open();
    let lastTick = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      const moved = pacer.tick(now - lastTick, opts.current.speed);
      lastTick = now;
      if (moved !== null) opts.current.setPoint(moved);
      if (!handle && pacer.queued < LOW_WATER) open();
      const live = opts.current.liveSeq;
      if (pacer.queued === 0 && live !== undefined && pacer.current >= live) {
        setPlaying(false);
        opts.current.setPoint(undefined);
      }
    }, TICK_MS);
    return () => {
      clearInterval(timer);
      if (handle) handle.close();
    };
  }, [playing, from]);

  const start = useCallback(() => {
    const at = opts.current.at;
    if (at === undefined) return;
    setError(null);
    setFrom(at);
    setPlaying(true);
  }, []);
  const stop = useCallback(() => {
    setPlaying(false);
    setError(null);
  }, []);
  return { playing, error, start, stop };
}

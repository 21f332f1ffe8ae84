// Helpers for views that read a snapshot and then follow a stream.
import { useEffect, useRef, useState } from 'react';

/**
 * The seq a stream should start from: the first snapshot's seq + 1, fixed
 * for as long as the view stays live (refetches do not reopen the stream);
 * undefined while pinned or before the first read.
 */
export function useStreamFrom(snapshotSeq: number | undefined, live: boolean): number | undefined {
  const [from, setFrom] = useState<number | undefined>(undefined);
  if (live && from === undefined && snapshotSeq !== undefined) setFrom(snapshotSeq + 1);
  if (!live && from !== undefined) setFrom(undefined);
  return live ? from : undefined;
}

/**
 * A function that calls fn at most once per `ms`: the first call runs at
 * once, calls during the quiet period fold into one at its end.
 */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  const state = useRef<{ last: number; timer: ReturnType<typeof setTimeout> | null }>({ last: 0, timer: null });
  useEffect(() => {
    const s = state.current;
    return () => {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
    };
  }, []);
  const [call] = useState(() => () => {
    const s = state.current;
    if (s.timer) return;
    const wait = s.last + ms - Date.now();
    const run = () => {
      s.timer = null;
      s.last = Date.now();
      latest.current();
    };
    if (wait <= 0) run();
    else s.timer = setTimeout(run, wait);
  });
  return call;
}

/** Date.now(), refreshed every `ms` (for "in 5m" and running bars). */
export function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

// Is the server reachable? Checked with GET /health: every 2 s while it is
// not, every 15 s while it is, and at once when any API call fails to
// reach it (client.ts onUnreachable). Views refetch when it comes back.
import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useRef, useState } from 'react';
import { onUnreachable } from '../api/client';

const DOWN_POLL_MS = 2_000;
const UP_POLL_MS = 15_000;
const TIMEOUT_MS = 4_000;

export async function checkHealth(timeoutMs = TIMEOUT_MS): Promise<boolean> {
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch('/health', { cache: 'no-store', signal: ctl.signal, credentials: 'same-origin' });
    return res.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(t);
  }
}

export interface Reachability {
  down: boolean;
  /** when the server was last seen down (ms), for the banner */
  since: number | null;
  lastTry: number | null;
  checkNow(): void;
}

export function useReachability(): Reachability {
  const qc = useQueryClient();
  const [down, setDown] = useState(false);
  const [since, setSince] = useState<number | null>(null);
  const [lastTry, setLastTry] = useState<number | null>(null);
  const checkRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let inFlight = false;
    let isDown = false;
    let stopped = false;
    const check = async () => {
      if (inFlight || stopped) return;
      inFlight = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const ok = await checkHealth();
      inFlight = false;
      if (stopped) return;
      setLastTry(Date.now());
      if (!ok && !isDown) {
        isDown = true;
        setDown(true);
        setSince(Date.now());
      } else if (ok && isDown) {
        isDown = false;
        setDown(false);
        setSince(null);
        void qc.invalidateQueries();
      }
      timer = setTimeout(() => void check(), ok ? UP_POLL_MS : DOWN_POLL_MS);
    };
    checkRef.current = () => void check();
    timer = setTimeout(() => void check(), UP_POLL_MS);
    const off = onUnreachable(() => void check());
    const onNet = () => void check();
    window.addEventListener('online', onNet);
    window.addEventListener('offline', onNet);
    return () => {
      stopped = true;
      off();
      window.removeEventListener('online', onNet);
      window.removeEventListener('offline', onNet);
      if (timer) clearTimeout(timer);
    };
  }, [qc]);

  const checkNow = useCallback(() => checkRef.current(), []);
  return { down, since, lastTry, checkNow };
}

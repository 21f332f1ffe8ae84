// The point in time every view renders: live, or the system as of one seq
// (the `at` search param, so links carry it). Reads pass `at_seq` when
// pinned; live views subscribe to the streams from the page's seq + 1.
import { useNavigate, useSearch } from '@tanstack/react-router';
import { useCallback } from 'react';
import { parsePoint } from '../router';

export interface Point {
  /** undefined: live */
  at: number | undefined;
  live: boolean;
}

export function usePoint(): Point {
  const search = useSearch({ strict: false });
  const { at } = parsePoint(search as Record<string, unknown>);
  return { at, live: at === undefined };
}

/** Query params for a read at the current point: {} live, {at_seq} pinned. */
export function pointQuery(p: Point): { at_seq?: number } {
  return p.at === undefined ? {} : { at_seq: p.at };
}

/** Move the whole dashboard to a seq (undefined: back to live), keeping the view and its filters. */
export function useSetPoint(): (at: number | undefined) => void {
  const navigate = useNavigate();
  return useCallback(
    (at: number | undefined) => {
      void navigate({ to: '.', search: (prev: Record<string, unknown>) => ({ ...prev, at }) as never, replace: true });
    },
    [navigate],
  );
}

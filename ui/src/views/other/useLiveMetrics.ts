// The Overview's live series: the last hour from GET /api/v1/metrics/history,
// then every /ws/system-metrics message. Messages that arrive while the
// history is still loading wait for it (a sample older than the newest one
// would be dropped by the series), then both go in in time order.
import { useEffect, useRef, useState } from 'react';
import { useStream, type StreamStatus } from '../../api/stream';
import { getHistory } from './api';
import { MetricsSeries, type MetricsSample } from './series';

export const HISTORY_SECONDS = 3600;

export interface LiveMetrics {
  series: MetricsSeries;
  /** moves whenever the series changed */
  version: number;
  /** the history read: still loading, done, or its error (e.g. 404 on an older server) */
  history: { state: 'loading' | 'ok' | 'error'; error?: unknown };
  status: StreamStatus;
}

export function useLiveMetrics(enabled: boolean): LiveMetrics {
  const [series] = useState(() => new MetricsSeries({ capacity: HISTORY_SECONDS }));
  const [version, setVersion] = useState(0);
  const [history, setHistory] = useState<LiveMetrics['history']>({ state: 'loading' });
  const gate = useRef<{ done: boolean; pending: MetricsSample[] }>({ done: false, pending: [] });

  useEffect(() => {
    if (!enabled) return;
    let cancelled = false;
    const g = { done: false, pending: [] as MetricsSample[] };
    gate.current = g;
    series.clear();
    const finish = () => {
      if (cancelled) return;
      g.done = true;
      series.pushAll(g.pending);
      g.pending = [];
      setVersion((v) => v + 1);
    };
    getHistory(HISTORY_SECONDS).then(
      (a) => {
        if (cancelled) return;
        series.pushAll(a.samples ?? []);
        setHistory({ state: 'ok' });
        finish();
      },
      (error: unknown) => {
        if (cancelled) return;
        setHistory({ state: 'error', error });
        finish();
      },
    );
    return () => {
      cancelled = true;
    };
  }, [enabled, series]);

  const status = useStream(
    enabled
      ? {
          path: '/ws/system-metrics',
          query: { interval_ms: 1000 },
          onMessages: (batch) => {
            const g = gate.current;
            const samples = batch as MetricsSample[];
            if (!g.done) {
              g.pending.push(...samples);
              if (g.pending.length > HISTORY_SECONDS) g.pending.splice(0, g.pending.length - HISTORY_SECONDS);
              return;
            }
            if (series.pushAll(samples) > 0) setVersion((v) => v + 1);
          },
        }
      : null,
    [enabled],
  );

  return { series, version, history, status };
}

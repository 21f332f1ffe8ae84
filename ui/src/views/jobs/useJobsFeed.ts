// The jobs table's data: a JobsStore read at one seq (GET /api/v1/state's
// applied_seq when live, the pinned `at` otherwise) and, when live, the
// job-updates stream from that seq + 1 applied to it.
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { useStream, type StreamStatus } from '../../api/stream';
import { currentSeq, jobsPageFetcher } from './api';
import { filtersFromKey, filtersKey, type JobFilters } from './filters';
import { JobsStore, type JobsSnapshot } from './store';

export interface JobsFeed {
  store: JobsStore;
  snap: JobsSnapshot;
  stream: StreamStatus | 'off';
}

export function useJobsFeed(filters: JobFilters, at: number | undefined, reload: number): JobsFeed {
  const fkey = filtersKey(filters);
  const store = useMemo(() => {
    const f = filtersFromKey(fkey);
    return new JobsStore(f, jobsPageFetcher(f));
  }, [fkey]);

  useEffect(() => {
    const ac = new AbortController();
    if (at !== undefined) store.start(at);
    else
      currentSeq(ac.signal).then(
        (seq) => {
          if (!ac.signal.aborted) store.start(seq);
        },
        (err: unknown) => {
          if (!ac.signal.aborted) store.fail(err);
        },
      );
    return () => {
      ac.abort();
      store.stop();
    };
  }, [store, at, reload]);

  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot);
  const base = snap.baseSeq;
  const owner = filters.owner;
  const live = at === undefined && base !== undefined;
  const stream = useStream(
    live
      ? {
          path: '/ws/job-updates',
          query: owner ? { owner } : {},
          fromSeq: base + 1,
          onMessages: (b) => store.applyBatch(b),
        }
      : null,
    // by value (useStream compares deps as JSON): never the store object itself
    [fkey, live, base, owner],
  );
  return { store, snap, stream: live ? stream : 'off' };
}

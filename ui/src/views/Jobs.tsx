// Jobs: every job in creation order, virtualized over cursor pages of
// GET /api/v1/jobs read at one seq, kept live by /ws/job-updates from that
// seq on (rows change in place; new jobs are appended once the end is
// loaded, else announced by a pill). Filters live in the URL.
import { useNavigate, useSearch } from '@tanstack/react-router';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { usePoint } from '../app/point';
import { isStaff, useSession } from '../app/session';
import { Empty, ErrorState, Loading } from '../app/states';
import { fmtNumber } from '../app/format';
import { BulkBar } from './jobs/BulkBar';
import { JobsTable } from './jobs/JobsTable';
import { JobsToolbar } from './jobs/JobsToolbar';
import { FILTER_KEYS, filtersFromKey, filtersKey, hasFilters, parseFilters, type FilterKey } from './jobs/filters';
import { useJobsFeed } from './jobs/useJobsFeed';
import './jobs.css';

function useNow(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export default function Jobs() {
  const search = useSearch({ strict: false }) as Record<string, unknown>;
  const navigate = useNavigate();
  const point = usePoint();
  const session = useSession();
  const fkey = filtersKey(parseFilters(search));
  // one object per distinct set of filters (stable for memoized children)
  const filters = useMemo(() => filtersFromKey(fkey), [fkey]);
  const [reload, setReload] = useState(0);
  const { store, snap, stream } = useJobsFeed(filters, point.at, reload);
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const now = useNow(1000);

  const setFilter = useCallback(
    (k: FilterKey, v: string) => {
      void navigate({ to: '.', search: ((prev: Record<string, unknown>) => ({ ...prev, [k]: v || undefined })) as never, replace: true });
    },
    [navigate],
  );
  const clear = useCallback(() => {
    void navigate({
      to: '.',
      search: ((prev: Record<string, unknown>) => {
        const drop: Record<string, undefined> = {};
        for (const k of FILTER_KEYS) drop[k] = undefined;
        return { ...prev, ...drop };
      }) as never,
      replace: true,
    });
  }, [navigate]);

  const bulk = isStaff(session) && point.live;
  const toggle = useCallback((id: string) => {
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  }, []);
  const toggleAll = useCallback((on: boolean) => setSelected(on ? new Set(store.getSnapshot().rows.map((r) => r.id)) : new Set()), [store]);
  const clearSelection = useCallback(() => setSelected(new Set()), []);
  const nearEnd = useCallback(() => store.loadMore(), [store]);
  const doReload = () => {
    setSelected(new Set());
    setReload((r) => r + 1);
  };

  let body;
  if (snap.phase === 'error') body = <ErrorState error={snap.error} retry={doReload} />;
  else if (snap.phase !== 'ready') body = <Loading label="Loading jobs…" />;
  else if (snap.rows.length === 0)
    body = hasFilters(filters) ? (
      <Empty title="No jobs match these filters" detail="Change or clear the filters to see more jobs." />
    ) : (
      <Empty title="No jobs yet" detail={point.live ? 'Jobs appear here as they are submitted (djs submit, or POST /api/v1/jobs).' : 'There were no jobs at this point.'} />
    );
  else
    body = (
      <JobsTable
        rows={snap.rows}
        at={point.at}
        now={now}
        selectable={bulk}
        selected={selected}
        toggle={toggle}
        toggleAll={toggleAll}
        nearEnd={nearEnd}
      />
    );

  return (
    <section data-testid="view-jobs" className="j-view">
      <div className="j-title">
        <h1>Jobs</h1>
        <span className={`j-live j-live-${stream}`} data-testid="jobs-stream">
          {stream === 'off'
            ? `as of seq ${fmtNumber(point.at)}`
            : stream === 'live'
              ? 'live'
              : stream === 'connecting'
                ? 'connecting…'
                : 'updates paused: reconnecting'}
        </span>
        {snap.newCount > 0 && (
          <button type="button" className="btn btn-sm btn-primary j-pill" onClick={doReload} data-testid="new-jobs">
            {fmtNumber(snap.newCount)} new job{snap.newCount === 1 ? '' : 's'} · reload
          </button>
        )}
      </div>
      <JobsToolbar filters={filters} setFilter={setFilter} clear={clear} />
      {bulk && snap.rows.length > 0 && <BulkBar selected={selected} clear={clearSelection} />}
      {body}
      {snap.phase === 'ready' && snap.rows.length > 0 && (
        <div className="j-foot" role="status" aria-live="polite">
          <span>
            {fmtNumber(snap.rows.length)} job{snap.rows.length === 1 ? '' : 's'} loaded
            {snap.allLoaded ? ' (all)' : ', more as you scroll'}
          </span>
          {snap.loadingMore && <span className="muted">Loading more…</span>}
          {snap.moreError !== null && (
            <span className="j-err">
              Could not load more.{' '}
              <button type="button" className="btn btn-sm" onClick={() => store.loadMore()}>
                Retry
              </button>
            </span>
          )}
          {snap.seq !== undefined && <span className="muted">seq {fmtNumber(snap.seq)}</span>}
        </div>
      )}
    </section>
  );
}

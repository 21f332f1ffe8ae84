// The Overview: the system's counters (queues by tier, running, workers,
// slots, throughput) and, when live, an hour of charts fed by
// /ws/system-metrics. Pinned to a seq, the counters are the state at that
// point (GET /api/v1/state and /stats with at_seq) and there are no charts.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { usePoint, pointQuery } from '../app/point';
import { ErrorState, Loading } from '../app/states';
import { fmtNumber, fmtTime } from '../app/format';
import { ApiError } from '../api/client';
import { getState, getStats, type StatsAnswer } from './other/api';
import { TIERS, type MetricsSample, type Tier } from './other/series';
import { useLiveMetrics } from './other/useLiveMetrics';
import { Charts } from './other/Charts';
import { Card, Meter } from './other/Card';
import './other.css';

interface Counters {
  queued: Record<Tier, number | null>;
  running: number | null;
  workersActive: number | null;
  workersBusy: number | null;
  slotsBusy: number | null;
  slotsTotal: number | null;
  /** per second when live; totals when pinned */
  submitted: number | null;
  completed: number | null;
  failed: number | null;
}

const n = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function countersOf(live: MetricsSample | undefined, stats: StatsAnswer | undefined, rates: boolean): Counters {
  const q = (t: Tier) => n(live?.queued?.[t]) ?? n(stats?.ready?.[t]);
  return {
    queued: { HIGH: q('HIGH'), NORMAL: q('NORMAL'), LOW: q('LOW') },
    running: n(live?.running) ?? n(live?.jobs?.RUNNING) ?? n(stats?.jobs?.RUNNING),
    workersActive: n(live?.workersActive) ?? n(stats?.workersActive),
    workersBusy: n(live?.workersBusy),
    slotsBusy: n(live?.slotsBusy) ?? n(stats?.slotsBusy),
    slotsTotal: n(live?.slotsTotal) ?? n(stats?.slotsTotal),
    submitted: rates ? n(live?.submittedPerSec) : n(stats?.submitted),
    completed: rates ? n(live?.completedPerSec) : n(stats?.completed),
    failed: rates ? n(live?.failedPerSec) : n(stats?.failed),
  };
}

const show = (v: number | null, digits = 0) =>
  v === null ? '–' : digits && v % 1 ? v.toFixed(digits) : fmtNumber(Math.round(v * 10 ** digits) / 10 ** digits);

function CounterCards({ c, rates }: { c: Counters; rates: boolean }) {
  const unit = rates ? '/s' : '';
  return (
    <div className="o-cards" role="list" aria-label="Counters">
      {TIERS.map((t) => (
        <Card key={t} name={`queued-${t.toLowerCase()}`} title={`Queued · ${t}`} value={show(c.queued[t])} tone={`tier-${t.toLowerCase()}`} />
      ))}
      <Card name="running" title="Running" value={show(c.running)} tone="running" />
      <Card
        name="workers"
        title="Workers active"
        value={show(c.workersActive)}
        detail={c.workersBusy === null ? undefined : `${show(c.workersBusy)} busy`}
      />
      <Card name="slots" title="Busy slots" value={`${show(c.slotsBusy)} / ${show(c.slotsTotal)}`}>
        <Meter label="Busy slots" used={c.slotsBusy} total={c.slotsTotal} />
      </Card>
      <Card
        name="throughput"
        title={rates ? 'Throughput' : 'Totals'}
        value={`${show(c.completed, 1)}${unit}`}
        detail={`completed · submitted ${show(c.submitted, 1)}${unit} · failed ${show(c.failed, 1)}${unit}`}
      />
    </div>
  );
}

function LiveOverview() {
  const m = useLiveMetrics(true);
  const stats = useQuery({ queryKey: ['stats', 'live'], queryFn: () => getStats({}) });
  const latest = m.series.latest();
  if (!latest && stats.isPending) return <Loading label="Reading the system's counters" />;
  if (!latest && stats.isError) return <ErrorState error={stats.error} retry={() => void stats.refetch()} />;
  const historyNote =
    m.history.state === 'error'
      ? m.history.error instanceof ApiError && m.history.error.status === 404
        ? 'This server keeps no metrics history (GET /api/v1/metrics/history: 404): the charts fill from now on.'
        : `The last hour could not be read (${String(m.history.error)}): the charts fill from now on.`
      : undefined;
  return (
    <>
      <p className="muted o-sub" aria-live="polite">
        {latest?.at ? `Live · ${fmtTime(latest.at)}` : 'Live'} · stream {m.status}
      </p>
      <CounterCards c={countersOf(latest, stats.data, true)} rates />
      {historyNote && (
        <p className="muted o-note" role="status">
          {historyNote}
        </p>
      )}
      <Charts series={m.series} version={m.version} loading={m.history.state === 'loading'} />
    </>
  );
}

function PinnedOverview({ at }: { at: number }) {
  const q = pointQuery({ at, live: false });
  const state = useQuery({ queryKey: ['state', at], queryFn: () => getState(q), placeholderData: keepPreviousData });
  const stats = useQuery({ queryKey: ['stats', at], queryFn: () => getStats(q), placeholderData: keepPreviousData });
  if (state.isPending || stats.isPending) return <Loading label={`Reading the system at seq ${at}`} />;
  if (state.isError || stats.isError) {
    const error = state.error ?? stats.error;
    return (
      <ErrorState
        error={error}
        retry={() => {
          void state.refetch();
          void stats.refetch();
        }}
      />
    );
  }
  return (
    <>
      <p className="muted o-sub">
        As of seq {state.data.applied_seq}
        {state.data.at ? ` · ${fmtTime(state.data.at)}` : ''}
      </p>
      <CounterCards c={countersOf(undefined, stats.data, false)} rates={false} />
      <p className="muted o-note" data-testid="pinned-note">
        Charts show live data; pinned to seq {at}.
      </p>
    </>
  );
}

export default function Overview() {
  const point = usePoint();
  return (
    <section data-testid="view-overview" className="o-view">
      <h1>Overview</h1>
      {point.at === undefined ? <LiveOverview /> : <PinnedOverview at={point.at} />}
    </section>
  );
}

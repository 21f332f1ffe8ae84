// Workers: one card per worker (status, host, capacity, load, capabilities,
// tags, its running jobs) from GET /api/v1/workers at the current point.
// Live, /ws/worker-status from the read's seq + 1 triggers a refetch (at
// most one a second). Staff may drain a worker (PUT /workers/{id}
// {"draining": true}: it keeps its running jobs and gets no new ones).
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useSearch } from '@tanstack/react-router';
import { useState } from 'react';
import { apiWrite } from '../api/client';
import { useStream } from '../api/stream';
import { fmtAgo, fmtNumber, fmtTime, shortId } from '../app/format';
import { pointQuery, usePoint } from '../app/point';
import { isStaff, useSession } from '../app/session';
import { Empty, ErrorState, Loading } from '../app/states';
import { getWorkers, type Worker } from './other/api';
import { Meter } from './other/Card';
import { Chips } from './other/Chips';
import { ViewLink } from './other/ViewLink';
import { useNow, useStreamFrom, useThrottled } from './other/live';
import './other.css';

const STATUS_ORDER = ['LOST', 'DRAINING', 'ACTIVE', 'GONE'];
const rank = (s: string) => {
  const i = STATUS_ORDER.indexOf(s);
  return i < 0 ? STATUS_ORDER.length : i;
};
const pct = (v: number | null) => (v === null ? '–' : `${Math.round(v * 100)}%`);

function DrainButton({ worker }: { worker: Worker }) {
  const qc = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const m = useMutation({
    mutationFn: () => apiWrite<unknown>('PUT', `/api/v1/workers/${worker.id}`, { draining: true }),
    onSettled: () => {
      setConfirming(false);
      void qc.invalidateQueries({ queryKey: ['workers'] });
    },
  });
  if (worker.status !== 'ACTIVE') return null;
  if (!confirming)
    return (
      <button type="button" className="btn btn-sm" onClick={() => setConfirming(true)} aria-label={`Drain ${worker.name}`}>
        Drain
      </button>
    );
  return (
    <span className="o-confirm" role="group" aria-label={`Drain ${worker.name}?`}>
      <button type="button" className="btn btn-sm btn-danger" disabled={m.isPending} onClick={() => m.mutate()}>
        {m.isPending ? 'Draining…' : 'Confirm drain'}
      </button>
      <button type="button" className="btn btn-sm btn-ghost" onClick={() => setConfirming(false)}>
        Cancel
      </button>
      {m.isError && <span className="o-err-text">{String(m.error)}</span>}
    </span>
  );
}

function WorkerCard({ w, at, staff, now }: { w: Worker; at: number | undefined; staff: boolean; now: number }) {
  const addr = w.hostAddress ? `${w.hostAddress}${w.port ? `:${w.port}` : ''}` : null;
  return (
    <article className="o-worker" data-testid="worker-row" data-worker-id={w.id} data-status={w.status} aria-label={`Worker ${w.name}`}>
      <div className="o-worker-head">
        <span className="o-worker-name">{w.name}</span>
        <span className={`o-wstatus o-wstatus-${w.status}`}>{w.status}</span>
        <span className="muted mono o-worker-host" title={w.id}>
          {shortId(w.id)}
        </span>
        {staff && at === undefined && (
          <span className="o-worker-actions">
            <DrainButton worker={w} />
          </span>
        )}
      </div>
      <div className="muted o-worker-host">
        {w.host || '–'}
        {addr && <span className="mono"> · {addr}</span>}
      </div>
      <dl className="o-worker-stats">
        <dt>Slots</dt>
        <dd>
          <Meter label="Slots used" used={w.runningJobs} total={w.slots} text={`${w.runningJobs} / ${w.slots}`} />
        </dd>
        <dt>CPU</dt>
        <dd>
          <Meter label="CPU" used={w.cpu} total={1} text={pct(w.cpu)} />
        </dd>
        <dt>Memory</dt>
        <dd>
          <Meter label="Memory" used={w.memory} total={1} text={pct(w.memory)} />
        </dd>
        <dt>Response</dt>
        <dd className="mono">{w.responseMs === null ? '–' : `${fmtNumber(w.responseMs)} ms`}</dd>
        <dt>Heartbeat</dt>
        <dd title={fmtTime(w.lastRecordedHeartbeat)}>{fmtAgo(w.lastRecordedHeartbeat, now)} (recorded)</dd>
        <dt>Capabilities</dt>
        <dd>
          <Chips items={w.capabilities} empty="any job" label="Capabilities" />
        </dd>
        <dt>Tags</dt>
        <dd>
          <Chips items={w.tags} empty="none" label="Tags" kind="tag" />
        </dd>
        <dt>Jobs</dt>
        <dd>
          <ViewLink to="/jobs" search={{ at, worker: w.id }}>
            {w.runningJobs === 1 ? '1 running job' : `${w.runningJobs} running jobs`}
          </ViewLink>
        </dd>
      </dl>
    </article>
  );
}

export default function Workers() {
  const point = usePoint();
  const session = useSession();
  const search = useSearch({ strict: false }) as Record<string, unknown>;
  const navigate = useNavigate();
  const status = typeof search.status === 'string' ? search.status : '';
  const now = useNow(5000);
  const qc = useQueryClient();

  const q = useQuery({
    queryKey: ['workers', point.at],
    queryFn: () => getWorkers(pointQuery(point)),
    placeholderData: keepPreviousData,
  });
  const from = useStreamFrom(q.data && !q.isPlaceholderData ? q.data.seq : undefined, point.live);
  const refetch = useThrottled(() => void qc.invalidateQueries({ queryKey: ['workers', undefined] }), 1000);
  const stream = useStream(from === undefined ? null : { path: '/ws/worker-status', fromSeq: from, onMessages: refetch }, [from]);

  const setStatus = (s: string) =>
    void navigate({ to: '.', search: ((prev: Record<string, unknown>) => ({ ...prev, status: s || undefined })) as never, replace: true });

  let body;
  if (q.isPending) body = <Loading label="Reading the workers" />;
  else if (q.isError) body = <ErrorState error={q.error} retry={() => void q.refetch()} />;
  else {
    const all = [...q.data.workers].sort((a, b) => rank(a.status) - rank(b.status) || a.name.localeCompare(b.name));
    const shown = status ? all.filter((w) => w.status === status) : all;
    body =
      all.length === 0 ? (
        <Empty title="No workers" detail="No agent has registered yet (djs worker --server URL)." />
      ) : shown.length === 0 ? (
        <Empty title={`No ${status} workers`} detail={`${all.length} workers in other states.`} />
      ) : (
        <div className="o-workers">
          {shown.map((w) => (
            <WorkerCard key={w.id} w={w} at={point.at} staff={isStaff(session)} now={now} />
          ))}
        </div>
      );
  }

  const counts = new Map<string, number>();
  for (const w of q.data?.workers ?? []) counts.set(w.status, (counts.get(w.status) ?? 0) + 1);

  return (
    <section data-testid="view-workers" className="o-view">
      <div className="o-head">
        <h1>Workers</h1>
        <span className="muted o-sub" aria-live="polite">
          {point.live ? `live · stream ${stream}` : `as of seq ${point.at}`}
          {q.data && ` · ${[...counts].map(([s, n]) => `${n} ${s}`).join(' · ')}`}
        </span>
      </div>
      <div className="o-toolbar">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">all</option>
            {STATUS_ORDER.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      {body}
    </section>
  );
}

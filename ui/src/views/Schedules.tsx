// Schedules: every recurring job with its spec, next and last fire, and
// pause/resume for staff. Live, the schedule events of /ws/events (from the
// read's seq + 1) trigger a refetch; without the events stream (a user, or
// while the stream is down) the view re-reads every 15 s. The fired jobs of one schedule are the Jobs
// view filtered by it.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { apiWrite } from '../api/client';
import { useStream } from '../api/stream';
import { fmtAgo, fmtNumber, fmtTime, shortId } from '../app/format';
import { pointQuery, usePoint } from '../app/point';
import { isStaff, useSession } from '../app/session';
import { Empty, ErrorState, Loading } from '../app/states';
import { getSchedules, type Schedule } from './other/api';
import { useNow, useStreamFrom, useThrottled } from './other/live';
import { ViewLink } from './other/ViewLink';
import './other.css';

const SCHEDULE_EVENTS = [
  'schedule.created',
  'schedule.updated',
  'schedule.paused',
  'schedule.resumed',
  'schedule.deleted',
  'schedule.fired',
].join(',');

function PauseButton({ s }: { s: Schedule }) {
  const qc = useQueryClient();
  const action = s.paused ? 'resume' : 'pause';
  const m = useMutation({
    mutationFn: () => apiWrite<Schedule>('POST', `/api/v1/schedules/${s.id}/${action}`),
    onSettled: () => void qc.invalidateQueries({ queryKey: ['schedules'] }),
  });
  return (
    <>
      <button
        type="button"
        className="btn btn-sm"
        disabled={m.isPending}
        onClick={() => m.mutate()}
        aria-label={`${s.paused ? 'Resume' : 'Pause'} ${s.name}`}
      >
        {m.isPending ? '…' : s.paused ? 'Resume' : 'Pause'}
      </button>
      {m.isError && (
        <div className="o-err-text" role="alert">
          {String(m.error)}
        </div>
      )}
    </>
  );
}

function When({ iso, now, empty }: { iso: string | null; now: number; empty: string }) {
  if (!iso) return <span className="muted">{empty}</span>;
  return (
    <span className="o-nowrap">
      {fmtAgo(iso, now)}
      <br />
      <span className="muted mono">{fmtTime(iso)}</span>
    </span>
  );
}

function Row({ s, at, staff, now }: { s: Schedule; at: number | undefined; staff: boolean; now: number }) {
  return (
    <tr data-testid="schedule-row" data-schedule-id={s.id} data-paused={s.paused ? 'true' : 'false'}>
      <td>
        <div className="o-sched-name">
          <span className="o-worker-name">{s.name}</span>{' '}
          <span className={`o-wstatus o-wstatus-${s.paused ? 'DRAINING' : 'ACTIVE'}`}>{s.paused ? 'PAUSED' : 'ACTIVE'}</span>
        </div>
        <div className="muted">
          <span className="mono" title={s.id}>
            {shortId(s.id)}
          </span>{' '}
          · {s.owner}
        </div>
      </td>
      <td>
        <code>{s.spec}</code>
        <div className="muted">
          {s.tz || 'UTC'} · <span className="o-nowrap">overlap {s.overlap}</span>
        </div>
      </td>
      <td>
        <When iso={s.nextFireAt} now={now} empty={s.paused ? 'paused' : at !== undefined ? 'not known at a past point' : 'none'} />
      </td>
      <td>
        <When iso={s.lastFireAt} now={now} empty="never" />
      </td>
      <td>
        {fmtNumber(s.fires)}
        {s.skips > 0 && <span className="muted"> ({fmtNumber(s.skips)} skipped)</span>}
        <div>
          <ViewLink to="/jobs" search={{ at, schedule: s.id }} className="o-nowrap">
            fired jobs
          </ViewLink>
        </div>
      </td>
      {staff && <td>{at === undefined ? <PauseButton s={s} /> : <span className="muted">—</span>}</td>}
    </tr>
  );
}

export default function Schedules() {
  const point = usePoint();
  const session = useSession();
  const staff = isStaff(session);
  const now = useNow(1000);
  const qc = useQueryClient();
  const [streamLive, setStreamLive] = useState(false);

  const q = useQuery({
    queryKey: ['schedules', point.at],
    queryFn: () => getSchedules(pointQuery(point)),
    placeholderData: keepPreviousData,
    refetchInterval: point.live && !(staff && streamLive) ? 15_000 : false,
  });
  const from = useStreamFrom(q.data && !q.isPlaceholderData ? q.data.seq : undefined, point.live && staff);
  const refetch = useThrottled(() => void qc.invalidateQueries({ queryKey: ['schedules', undefined] }), 1000);
  const stream = useStream(
    from === undefined ? null : {
          path: '/ws/events',
          query: { types: SCHEDULE_EVENTS },
          fromSeq: from,
          onMessages: refetch,
          onStatus: (st) => setStreamLive(st === 'live'),
        },
    [from],
  );

  let body;
  if (q.isPending) body = <Loading label="Reading the schedules" />;
  else if (q.isError) body = <ErrorState error={q.error} retry={() => void q.refetch()} />;
  else if (q.data.schedules.length === 0)
    body = <Empty title="No schedules" detail="Create one with djs schedule create --name N --cron SPEC --cmd CMD (docs/cli.md)." />;
  else
    body = (
      <div className="o-table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Spec</th>
              <th scope="col">Next fire</th>
              <th scope="col">Last fired</th>
              <th scope="col">Fires</th>
              {staff && <th scope="col">Action</th>}
            </tr>
          </thead>
          <tbody>
            {q.data.schedules.map((s) => (
              <Row key={s.id} s={s} at={point.at} staff={staff} now={now} />
            ))}
          </tbody>
        </table>
      </div>
    );

  const ignoresPoint = point.at !== undefined && q.data !== undefined && q.data.seq > point.at;
  return (
    <section data-testid="view-schedules" className="o-view">
      <div className="o-head">
        <h1>Schedules</h1>
        <span className="muted o-sub" aria-live="polite">
          {point.live ? (staff && stream === 'live' ? 'live · stream live' : `live · re-read every 15 s${staff ? ` (stream ${stream})` : ''}`) : `as of seq ${point.at}`}
          {q.data && ` · ${q.data.schedules.length} schedules`}
        </span>
      </div>
      {ignoresPoint && (
        <p className="muted o-note o-note-warn" role="status" data-testid="schedules-now-note">
          The server answers schedules as of now (seq {q.data.seq}), not as of seq {point.at}.
        </p>
      )}
      {body}
    </section>
  );
}

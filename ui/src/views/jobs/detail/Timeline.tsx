// The job's events in order (GET /api/v1/jobs/{id}/history), and the
// attempts they add up to. Output and progress events are many: hidden
// unless asked for.
import { useState } from 'react';
import { fmtDuration, fmtNumber, fmtTime, shortId } from '../../../app/format';
import { WorkerLink, atSearch } from '../JLink';
import type { JobEvent } from '../types';
import { attemptsOf, eventSummary } from './attempts';

const NOISY = new Set(['job.output', 'job.progress']);
const BAD = new Set(['job.failed', 'job.timed_out', 'job.cancelled', 'job.upstream_failed', 'job.lease_expired', 'job.deleted']);

export function Timeline({ events, more, loadMore, loading }: { events: readonly JobEvent[]; more: boolean; loadMore(): void; loading: boolean }) {
  const [all, setAll] = useState(false);
  const noisy = events.reduce((n, e) => n + (NOISY.has(e.type) ? 1 : 0), 0);
  const shown = all ? events : events.filter((e) => !NOISY.has(e.type));
  return (
    <div className="panel">
      <h2 className="jd-h">
        Timeline <span className="muted">({fmtNumber(events.length)} events)</span>
        <span className="spacer" />
        {noisy > 0 && (
          <label className="jd-check">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} data-testid="timeline-all" />
            Show {fmtNumber(noisy)} output and progress events
          </label>
        )}
      </h2>
      <ol className="jd-timeline" data-testid="job-timeline" aria-label="Events of this job">
        {shown.map((e) => (
          <li key={e.seq} className="jd-ev" data-testid="job-event" data-type={e.type} data-seq={e.seq}>
            <span className="jd-ev-seq">#{e.seq}</span>
            <time className="jd-ev-at" dateTime={e.at} title={e.at}>
              {fmtTime(e.at, { ms: true })}
            </time>
            <span className={`jd-ev-type${BAD.has(e.type) ? ' ev-bad' : e.type === 'job.succeeded' ? ' ev-good' : ''}`}>{e.type}</span>
            <span className="jd-ev-rest">
              <b>{e.actor}</b> {eventSummary(e)}
            </span>
          </li>
        ))}
        {shown.length === 0 && <li className="muted">No events{loading ? ' yet' : ''}.</li>}
      </ol>
      {more && (
        <button type="button" className="btn btn-sm" onClick={loadMore} disabled={loading}>
          {loading ? 'Loading…' : 'Load later events'}
        </button>
      )}
    </div>
  );
}

export function Attempts({ events, at }: { events: readonly JobEvent[]; at: number | undefined }) {
  const list = attemptsOf(events);
  if (!list.length) return null;
  const span = (a: string | undefined, b: string | undefined) => (a && b ? (Date.parse(b) - Date.parse(a)) / 1000 : null);
  return (
    <div className="panel">
      <h2 className="jd-h">Attempts</h2>
      <table className="table jd-attempts" data-testid="job-attempts">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Worker</th>
            <th scope="col">Started</th>
            <th scope="col">Ran</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {list.map((a) => (
            <tr key={a.n}>
              <td className="num">{a.n}</td>
              <td className="mono">
                {a.worker ? (
                  <WorkerLink id={a.worker} search={atSearch(at)}>
                    {shortId(a.worker)}
                  </WorkerLink>
                ) : (
                  '—'
                )}
              </td>
              <td>{fmtTime(a.startedAt ?? a.scheduledAt)}</td>
              <td className="num">{fmtDuration(span(a.startedAt, a.endedAt))}</td>
              <td className="jd-wrap">
                {a.outcome}
                {a.error && <span className="j-err"> — {a.error}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

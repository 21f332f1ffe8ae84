// The runs of a workflow's jobs on one time axis (plain divs): a bar from
// startedAt to finishedAt, running ones up to now; jobs not started yet
// are listed without a bar.
import { fmtDuration, fmtTime } from '../../app/format';
import type { JobLite } from './api';
import { ganttOf } from './dag';
import { ViewLink } from './ViewLink';

const pct = (f: number) => `${(f * 100).toFixed(3)}%`;

export function Gantt({ jobs, critical, now, at }: { jobs: readonly JobLite[]; critical: ReadonlySet<string>; now: number; at: number | undefined }) {
  const g = ganttOf(jobs, now);
  const span = g.start !== null && g.end !== null ? (g.end - g.start) / 1000 : null;
  return (
    <div className="o-gantt" data-testid="gantt" role="table" aria-label="Job runs over time">
      <div className="o-gantt-axis" role="row">
        <div role="columnheader">job</div>
        <div role="columnheader">
          {span === null ? (
            <span>no job has started</span>
          ) : (
            <>
              <span>{fmtTime(g.start)}</span>
              <span>+{fmtDuration(span / 2)}</span>
              <span>+{fmtDuration(span)}</span>
            </>
          )}
        </div>
      </div>
      {g.rows.map((r) => (
        <div key={r.id} className="o-gantt-row" role="row" data-testid="gantt-row" data-status={r.status}>
          <div className="o-gantt-name" role="cell">
            <ViewLink to={`/jobs/${r.id}`} search={{ at }} title={r.name}>
              {r.name}
            </ViewLink>
          </div>
          <div className="o-gantt-track" role="cell" aria-label={r.left === null ? `${r.name}: ${r.status}, not started` : `${r.name}: ${r.status}, ${fmtDuration(r.seconds)}`}>
            {r.left !== null ? (
              <div
                className={`o-gantt-bar${critical.has(r.id) ? ' o-critical' : ''}`}
                data-status={r.status}
                style={{ left: pct(r.left), width: pct(r.width) }}
                title={`${r.name}: ${fmtDuration(r.seconds)} (${r.status})`}
              />
            ) : (
              <span className="muted o-gantt-none">{r.status.toLowerCase()}</span>
            )}
          </div>
        </div>
      ))}
    </div>
  );
}

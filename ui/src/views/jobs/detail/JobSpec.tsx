// What the job is: its submitted spec and where it comes from.
import { fmtDuration, fmtNumber, fmtTime, shortId } from '../../../app/format';
import { JLink, WorkerLink, atSearch, jobPath } from '../JLink';
import type { JobDetail } from '../types';

function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="jd-json" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function JobSpec({ job, at }: { job: JobDetail; at: number | undefined }) {
  const s = atSearch(at);
  const schedule = job.schedule ?? job.scheduleId ?? null;
  return (
    <div className="panel" data-testid="job-spec">
      <h2 className="jd-h">Spec</h2>
      <dl className="jd-dl">
        <dt>Name</dt>
        <dd>{job.name}</dd>
        {job.description && (
          <>
            <dt>Description</dt>
            <dd>{job.description}</dd>
          </>
        )}
        <dt>Id</dt>
        <dd className="mono">{job.id}</dd>
        <dt>Owner</dt>
        <dd>{job.owner}</dd>
        <dt>Priority</dt>
        <dd className={`prio-${job.priority.toLowerCase()}`}>{job.priority}</dd>
        <dt>Capabilities</dt>
        <dd>
          {job.requiredCapabilities.length ? (
            <span className="jd-links">
              {job.requiredCapabilities.map((c) => (
                <span key={c} className="jd-chip">
                  {c}
                </span>
              ))}
            </span>
          ) : (
            <span className="muted">any worker</span>
          )}
        </dd>
        <dt>Dependencies</dt>
        <dd>
          {job.dependencies.length ? (
            <span className="jd-links" data-testid="job-dependencies">
              {job.dependencies.map((d) => (
                <JLink key={d} to={jobPath(d)} search={s} className="mono" title={d}>
                  {shortId(d)}
                </JLink>
              ))}
            </span>
          ) : (
            <span className="muted">none</span>
          )}
        </dd>
        <dt>Timeout</dt>
        <dd>{job.timeoutSeconds ? fmtDuration(job.timeoutSeconds) : <span className="muted">none</span>}</dd>
        <dt>Retries</dt>
        <dd>
          {fmtNumber(job.maxRetries)}
          {job.metrics?.failures ? <span className="muted"> ({fmtNumber(job.metrics.failures)} failures so far)</span> : null}
        </dd>
        {job.concurrencyKey && (
          <>
            <dt>Concurrency key</dt>
            <dd>
              <span className="jd-chip">{job.concurrencyKey}</span> limit {fmtNumber(job.concurrencyLimit ?? 1)}
            </dd>
          </>
        )}
        {job.scheduledAt && (
          <>
            <dt>Not before</dt>
            <dd>{fmtTime(job.scheduledAt)}</dd>
          </>
        )}
        {schedule && (
          <>
            <dt>Schedule</dt>
            <dd>
              <JLink to="/schedules" search={{ ...s, id: schedule }} className="mono" title={schedule}>
                {shortId(schedule)}
              </JLink>
            </dd>
          </>
        )}
        {job.workflow && (
          <>
            <dt>Workflow</dt>
            <dd>
              <JLink to={`/workflows/${encodeURIComponent(job.workflow)}`} search={s} className="mono" title={job.workflow} >
                {shortId(job.workflow)}
              </JLink>
            </dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{fmtTime(job.createdAt)}</dd>
      </dl>
      <h3 className="jd-h">Payload</h3>
      {job.payload === null || job.payload === undefined ? <span className="muted">none</span> : <Json value={job.payload} label="Payload" />}
    </div>
  );
}

export function JobOutcome({ job, at }: { job: JobDetail; at: number | undefined }) {
  const ran = job.metrics?.runSeconds;
  return (
    <div className="panel" data-testid="job-outcome">
      <h2 className="jd-h">Run</h2>
      <div className="jd-progress">
        <div
          className={`j-progress big st-${job.status.toLowerCase()}`}
          role="progressbar"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={job.progress.percentage}
          aria-label="Progress"
          data-testid="job-progress"
        >
          <div className="j-progress-fill" style={{ width: `${Math.max(0, Math.min(100, job.progress.percentage))}%` }} />
        </div>
        <span>{job.progress.percentage}%</span>
        {job.progress.estimatedCompletion && <span className="muted">done about {fmtTime(job.progress.estimatedCompletion)}</span>}
      </div>
      <dl className="jd-dl">
        <dt>Attempt</dt>
        <dd>
          {fmtNumber(job.attempt)} <span className="muted">of at most {fmtNumber(job.maxRetries + 1)}</span>
        </dd>
        <dt>Worker</dt>
        <dd className="mono">
          {job.assignedWorker ? (
            <WorkerLink id={job.assignedWorker} search={atSearch(at)}>
              {shortId(job.assignedWorker)}
            </WorkerLink>
          ) : (
            <span className="muted">—</span>
          )}
        </dd>
        <dt>Started</dt>
        <dd>{fmtTime(job.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{fmtTime(job.finishedAt)}</dd>
        {ran !== undefined && (
          <>
            <dt>Run time</dt>
            <dd>{fmtDuration(ran)}</dd>
          </>
        )}
      </dl>
      {job.error && (
        <>
          <h3 className="jd-h">Error</h3>
          <pre className="jd-error" data-testid="job-error">
            {job.error}
          </pre>
        </>
      )}
      {job.result !== undefined && (
        <>
          <h3 className="jd-h">Result</h3>
          <Json value={job.result} label="Result" />
        </>
      )}
    </div>
  );
}

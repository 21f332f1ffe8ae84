// One job: its spec, status, why it waits, progress, result or error, its
// attempts and events, and the live tail of its output. Live: the job's
// updates on /ws/job-updates (from the read's seq + 1) re-read it.
import { useQueryClient } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { ApiError } from '../api/client';
import { useStream } from '../api/stream';
import { usePoint } from '../app/point';
import { StatusBadge } from '../app/StatusBadge';
import { ErrorState, Loading } from '../app/states';
import { fmtAgo, fmtNumber, fmtTime, shortId } from '../app/format';
import { JLink, atSearch } from './jobs/JLink';
import { JobActions } from './jobs/detail/JobActions';
import { JobOutcome, JobSpec } from './jobs/detail/JobSpec';
import { OutputTail } from './jobs/detail/OutputTail';
import { PendingCallout } from './jobs/detail/PendingCallout';
import { Attempts, Timeline } from './jobs/detail/Timeline';
import { useJob, useJobHistory } from './jobs/detail/useJob';
import './jobs.css';

function NoSuchJob({ id, at }: { id: string; at: number | undefined }) {
  return (
    <div className="state-box state-error" role="alert" data-testid="job-not-found">
      <div className="state-title">No such job</div>
      <div>
        There is no job <span className="mono">{id}</span>
        {at !== undefined ? ` at seq ${fmtNumber(at)}` : ''}: it never existed, was deleted, or is not yours.
      </div>
      <div>
        <JLink to="/jobs" search={atSearch(at)}>
          Back to the jobs
        </JLink>
      </div>
    </div>
  );
}

export default function JobDetail() {
  const { id = '' } = useParams({ strict: false }) as { id?: string };
  const point = usePoint();
  const qc = useQueryClient();
  const job = useJob(id, point);
  const data = job.data && job.data.id === id ? job.data : undefined;
  const history = useJobHistory(id, point, data !== undefined);

  // the stream starts after the first live read of this job
  const [start, setStart] = useState<{ id: string; seq: number } | null>(null);
  if (point.live && data && !job.isPlaceholderData && (start === null || start.id !== id)) setStart({ id, seq: data.seq });
  const streamFrom = point.live && start && start.id === id ? start.seq + 1 : undefined;
  useStream(
    streamFrom === undefined
      ? null
      : {
          path: '/ws/job-updates',
          query: { entity: id },
          fromSeq: streamFrom,
          onMessages: () => {
            void qc.invalidateQueries({ queryKey: ['job', id] });
            void qc.invalidateQueries({ queryKey: ['job-history', id] });
          },
        },
    [id, streamFrom],
  );

  let body;
  if (job.error && !data) {
    body =
      job.error instanceof ApiError && (job.error.status === 404 || job.error.status === 400) ? (
        <NoSuchJob id={id} at={point.at} />
      ) : (
        <ErrorState error={job.error} retry={() => void job.refetch()} />
      );
  } else if (!data) body = <Loading label="Loading the job…" />;
  else {
    const events = history.data?.events ?? [];
    const active = point.live && (data.status === 'RUNNING' || data.status === 'SCHEDULED');
    body = (
      <>
        <div className="jd-head">
          <h1>{data.name}</h1>
          <StatusBadge status={data.status} />
          <JobActions job={data} pinned={!point.live} />
        </div>
        <div className="jd-sub">
          <span className="mono" title={data.id}>
            {shortId(data.id)}
          </span>
          <span>owner {data.owner}</span>
          <span>{data.priority.toLowerCase()} priority</span>
          <span title={data.createdAt ?? undefined}>created {fmtAgo(data.createdAt)}</span>
          {data.finishedAt && <span title={data.finishedAt}>finished {fmtTime(data.finishedAt)}</span>}
          <span>seq {fmtNumber(data.seq)}</span>
          {job.isFetching && <span aria-live="polite">updating…</span>}
        </div>
        {job.error !== null && <ErrorState error={job.error} retry={() => void job.refetch()} />}
        {data.pending && <PendingCallout p={data.pending} at={point.at} />}
        <div className="jd-grid">
          <div className="jd-col">
            <JobOutcome job={data} at={point.at} />
            {history.data && <Attempts events={events} at={point.at} />}
            <OutputTail id={id} active={active} pinned={!point.live} />
          </div>
          <div className="jd-col">
            <JobSpec job={data} at={point.at} />
          </div>
        </div>
        <div className="jd-full">
          {history.error && !history.data ? (
            <ErrorState error={history.error} retry={() => void history.refetch()} />
          ) : history.data ? (
            <Timeline events={events} more={history.data.more} loading={history.isFetching} loadMore={() => void history.refetch()} />
          ) : (
            <Loading label="Loading the events…" />
          )}
        </div>
      </>
    );
  }
  return (
    <section data-testid="view-job" className="jd-view">
      <nav className="muted jd-crumbs" aria-label="Breadcrumb">
        <JLink to="/jobs" search={atSearch(point.at)}>
          Jobs
        </JLink>{' '}
        / <span className="mono">{shortId(id)}</span>
      </nav>
      {body}
    </section>
  );
}

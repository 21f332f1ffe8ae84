// One workflow: its jobs as a DAG (critical path highlighted) and a Gantt
// of their runs, from GET /api/v1/jobs?workflow=ID at the current point.
// Live, /ws/job-updates from the read's seq + 1: updates of this
// workflow's jobs patch their status at once and re-read (at most every 2 s).
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import { lazy, Suspense, useMemo, useState } from 'react';
import type { StreamMessage } from '../api/stream';
import { useStream } from '../api/stream';
import { fmtDuration, fmtNumber, shortId } from '../app/format';
import { pointQuery, usePoint } from '../app/point';
import { Empty, ErrorState, Loading } from '../app/states';
import { StatusBadge } from '../app/StatusBadge';
import { getWorkflowJobs, type JobLite } from './other/api';
import { criticalPath, workflowStatus } from './other/dag';
import { Gantt } from './other/Gantt';
import { useNow, useStreamFrom, useThrottled } from './other/live';
import { ViewLink } from './other/ViewLink';
import './other.css';

const WorkflowDag = lazy(() => import('./other/WorkflowDag'));

const FINISHED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'DELETED']);

interface Patch {
  seq: number;
  status: string;
  at: string;
}

/** The jobs with the stream's newer statuses applied. */
function patched(jobs: readonly JobLite[], patches: ReadonlyMap<string, Patch>, snapSeq: number): JobLite[] {
  return jobs.map((j) => {
    const p = patches.get(j.id);
    if (!p || p.seq <= snapSeq) return j;
    const out: JobLite = { ...j, status: p.status };
    if (p.status === 'RUNNING' && !j.startedAt) out.startedAt = p.at;
    if (FINISHED.has(p.status) && !j.finishedAt) out.finishedAt = p.at;
    return out;
  });
}

export default function WorkflowDetail() {
  const { id } = useParams({ strict: false }) as { id?: string };
  const wf = id ?? '';
  const point = usePoint();
  const qc = useQueryClient();
  const now = useNow(1000);
  const [patches, setPatches] = useState<ReadonlyMap<string, Patch>>(() => new Map());

  const q = useQuery({
    queryKey: ['workflow-jobs', wf, point.at],
    queryFn: () => getWorkflowJobs(wf, pointQuery(point)),
    placeholderData: keepPreviousData,
    enabled: wf !== '',
    retry: false,
  });
  const ids = useMemo(() => new Set((q.data?.jobs ?? []).map((j) => j.id)), [q.data]);
  const from = useStreamFrom(q.data && !q.isPlaceholderData ? q.data.seq : undefined, point.live);
  const refetch = useThrottled(() => void qc.invalidateQueries({ queryKey: ['workflow-jobs', wf, undefined] }), 2000);
  const stream = useStream(
    from === undefined
      ? null
      : {
          path: '/ws/job-updates',
          fromSeq: from,
          onMessages: (batch: StreamMessage[]) => {
            const mine = batch.filter((m) => typeof m.jobId === 'string' && ids.has(m.jobId));
            if (!mine.length) return;
            setPatches((prev) => {
              const n = new Map(prev);
              for (const m of mine)
                n.set(m.jobId as string, { seq: m.seq, status: String(m.status), at: typeof m.at === 'string' ? m.at : new Date().toISOString() });
              return n;
            });
            refetch();
          },
        },
    [from],
  );

  const jobs = useMemo(() => (q.data ? patched(q.data.jobs, patches, q.data.seq) : []), [q.data, patches]);
  const cp = useMemo(() => criticalPath(jobs, now), [jobs, now]);
  const critical = useMemo(() => new Set(cp.ids), [cp]);

  let body;
  if (q.isPending) body = <Loading label="Reading the workflow's jobs" />;
  else if (q.isError) body = <ErrorState error={q.error} retry={() => void q.refetch()} />;
  else if (jobs.length === 0)
    body = <Empty title="No jobs in this workflow" detail={point.live ? 'Unknown workflow id, or its jobs were deleted.' : `None as of seq ${point.at}.`} />;
  else {
    const counts = new Map<string, number>();
    for (const j of jobs) counts.set(j.status, (counts.get(j.status) ?? 0) + 1);
    body = (
      <>
        <div className="o-legend" aria-label="Jobs by status">
          <span>
            <span className="muted">workflow </span>
            <StatusBadge status={workflowStatus(jobs.map((j) => j.status))} title="the workflow's status" />
          </span>
          <span className="muted">·</span>
          <span>{fmtNumber(jobs.length)} jobs</span>
          {[...counts].map(([s, n]) => (
            <span key={s}>
              <StatusBadge status={s} /> {n}
            </span>
          ))}
          <span className="muted" data-testid="critical-path">
            critical path: {cp.ids.length === 1 ? '1 job' : `${cp.ids.length} jobs`}
            {cp.by === 'duration' ? `, ${fmtDuration(cp.length)}` : ' (by count: no run times yet)'}
          </span>
        </div>
        {q.data.truncated && (
          <p className="muted o-note o-note-warn" role="status">
            Showing the first {jobs.length} jobs of this workflow.
          </p>
        )}
        <Suspense fallback={<Loading label="Loading the graph" />}>
          <WorkflowDag jobs={jobs} critical={critical} now={now} at={point.at} />
        </Suspense>
        <h2>Runs</h2>
        <Gantt jobs={jobs} critical={critical} now={now} at={point.at} />
      </>
    );
  }

  return (
    <section data-testid="view-workflow" className="o-view">
      <div className="o-head">
        <h1>
          Workflow <span className="mono" title={wf}>{shortId(wf)}</span>
        </h1>
        <span className="muted o-sub" aria-live="polite">
          {point.live ? `live · stream ${stream}` : `as of seq ${point.at}`}
        </span>
        <ViewLink to="/workflows" search={{ at: point.at }}>
          all workflows
        </ViewLink>
        <ViewLink to="/jobs" search={{ at: point.at, workflow: wf }}>
          as a job list
        </ViewLink>
      </div>
      {body}
    </section>
  );
}

// Workflows: GET /api/v1/workflows at the current point, one page of 100
// at a time, each with its job counts by status and a link to its graph.
import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';
import { fmtAgo, fmtNumber, fmtTime, shortId } from '../app/format';
import { pointQuery, usePoint } from '../app/point';
import { Empty, ErrorState, Loading } from '../app/states';
import { JOB_STATUSES, StatusBadge } from '../app/StatusBadge';
import { ApiError } from '../api/client';
import { getWorkflows, type WorkflowSummary } from './other/api';
import { workflowStatus } from './other/dag';
import { useNow } from './other/live';
import { ViewLink } from './other/ViewLink';
import './other.css';

function Counts({ counts }: { counts: Record<string, number> }) {
  const shown = JOB_STATUSES.filter((s) => (counts[s] ?? 0) > 0);
  if (!shown.length) return <span className="muted">—</span>;
  return (
    <span className="o-counts">
      {shown.map((s) => (
        <span key={s} className="o-nowrap">
          <StatusBadge status={s} /> {fmtNumber(counts[s] ?? 0)}
        </span>
      ))}
    </span>
  );
}

function Row({ w, at, now }: { w: WorkflowSummary; at: number | undefined; now: number }) {
  const status = w.status || workflowStatus(Object.entries(w.counts ?? {}).flatMap(([s, n]) => (n > 0 ? [s] : [])));
  return (
    <tr data-testid="workflow-row" data-workflow-id={w.id} data-status={status}>
      <td>
        <ViewLink to={`/workflows/${w.id}`} search={{ at }} className="mono" title={w.id}>
          {shortId(w.id)}
        </ViewLink>
      </td>
      <td>{w.name || <span className="muted">unnamed</span>}</td>
      <td title={fmtTime(w.createdAt)}>{fmtAgo(w.createdAt, now)}</td>
      <td className="num">{fmtNumber(w.jobs)}</td>
      <td>
        <Counts counts={w.counts ?? {}} />
      </td>
      <td>
        <StatusBadge status={status} />
      </td>
    </tr>
  );
}

export default function Workflows() {
  const point = usePoint();
  const now = useNow(10_000);
  const q = useInfiniteQuery({
    queryKey: ['workflows', point.at],
    queryFn: ({ pageParam }) => getWorkflows(pointQuery(point), pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next ?? undefined,
    placeholderData: keepPreviousData,
    retry: (n, e) => !(e instanceof ApiError && e.status === 404) && n < 1,
  });

  let body;
  if (q.isPending) body = <Loading label="Reading the workflows" />;
  else if (q.isError)
    body =
      q.error instanceof ApiError && q.error.status === 404 ? (
        <ErrorState error={new ApiError({ type: q.error.type, title: 'This server lists no workflows', status: 404, detail: 'GET /api/v1/workflows is not available on this server yet. A workflow can still be opened by its id: /ui/workflows/ID.' })} retry={() => void q.refetch()} />
      ) : (
        <ErrorState error={q.error} retry={() => void q.refetch()} />
      );
  else {
    const rows = q.data.pages.flatMap((p) => p.workflows);
    body =
      rows.length === 0 ? (
        <Empty title="No workflows" detail="Submit one with djs submit -f workflow.yaml (examples/diamond.yaml)." />
      ) : (
        <>
          <div className="o-table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">Name</th>
                  <th scope="col">Created</th>
                  <th scope="col" className="num">
                    Jobs
                  </th>
                  <th scope="col">By status</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((w) => (
                  <Row key={w.id} w={w} at={point.at} now={now} />
                ))}
              </tbody>
            </table>
          </div>
          {q.hasNextPage && (
            <button type="button" className="btn" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
              {q.isFetchingNextPage ? 'Reading…' : 'Load more'}
            </button>
          )}
        </>
      );
  }

  return (
    <section data-testid="view-workflows" className="o-view">
      <div className="o-head">
        <h1>Workflows</h1>
        <span className="muted o-sub">{point.live ? 'live' : `as of seq ${point.at}`}</span>
      </div>
      {body}
    </section>
  );
}

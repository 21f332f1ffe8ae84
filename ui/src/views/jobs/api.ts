// The reads and writes of the job views, over the shared API client (and
// one raw fetch: the output endpoint answers text with its cursor in headers).
import { ApiError, apiGet, apiWrite, withQuery, type Problem } from '../../api/client';
import type { JobFilters } from './filters';
import type { FetchPage } from './store';
import type { JobsPage } from './types';

export const PAGE_SIZE = 500;

export function jobsPageFetcher(filters: JobFilters): FetchPage {
  return (r, signal) =>
    apiGet<JobsPage>('/api/v1/jobs', { ...filters, limit: PAGE_SIZE, cursor: r.cursor, at_seq: r.atSeq }, signal);
}

/** The seq the system is at now (the jobs view reads its pages there): from the jobs list, which every role may read. */
export async function currentSeq(signal?: AbortSignal): Promise<number> {
  const s = await apiGet<{ seq?: number }>('/api/v1/jobs', { limit: 1 }, signal);
  return s.seq ?? 0;
}

export type JobAction = 'retry' | 'cancel' | 'delete';

export function jobAction(id: string, action: JobAction): Promise<unknown> {
  const path = `/api/v1/jobs/${encodeURIComponent(id)}`;
  return action === 'delete' ? apiWrite('DELETE', path) : apiWrite('POST', `${path}/${action}`);
}

export interface BulkFailure {
  id: string;
  message: string;
}

/** Run one action over many jobs, a few at a time; the failures come back per job. */
export async function bulkAction(
  ids: readonly string[],
  action: JobAction,
  onProgress?: (done: number) => void,
  parallel = 8,
): Promise<BulkFailure[]> {
  const failures: BulkFailure[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      try {
        await jobAction(id, action);
      } catch (e) {
        failures.push({ id, message: e instanceof Error ? e.message : String(e) });
      }
      onProgress?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ids.length) }, worker));
  return failures;
}

export interface LogChunk {
  bytes: Uint8Array;
  next: number;
  complete: boolean;
}

/** GET /api/v1/jobs/{id}/logs from a byte offset. */
export async function readLog(id: string, offset: number, signal?: AbortSignal, limit = 1_048_576): Promise<LogChunk> {
  const res = await fetch(withQuery(`/api/v1/jobs/${encodeURIComponent(id)}/logs`, { offset, limit }), {
    credentials: 'same-origin',
    headers: { Accept: 'text/plain, application/problem+json' },
    ...(signal ? { signal } : {}),
  });
  if (!res.ok) {
    let p: Problem = { type: 'about:blank', title: res.statusText || 'Error', status: res.status };
    try {
      p = { ...p, ...((await res.json()) as Partial<Problem>) };
    } catch {
      // not JSON
    }
    throw new ApiError(p);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  const nextHdr = Number(res.headers.get('djs-log-next-offset'));
  return {
    bytes,
    next: Number.isFinite(nextHdr) && nextHdr >= offset ? nextHdr : offset + bytes.length,
    complete: res.headers.get('djs-log-complete') === 'true',
  };
}

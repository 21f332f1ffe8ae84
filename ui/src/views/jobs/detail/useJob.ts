// The job detail's reads: the job, and its history read incrementally
// (each refetch asks only for the events after the last one it has).
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, apiGet } from '../../../api/client';
import { pointQuery, type Point } from '../../../app/point';
import type { JobDetail, JobEvent, JobHistoryPage } from '../types';

export function useJob(id: string, point: Point) {
  return useQuery({
    queryKey: ['job', id, point.at],
    queryFn: ({ signal }) => apiGet<JobDetail>(`/api/v1/jobs/${encodeURIComponent(id)}`, pointQuery(point), signal),
    placeholderData: keepPreviousData,
    retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 1,
  });
}

export interface History {
  events: JobEvent[];
  /** more events past the pages read (a refetch continues) */
  more: boolean;
}

const PAGE = 1000;
const PAGES_PER_READ = 5;

export function useJobHistory(id: string, point: Point, enabled: boolean) {
  const qc = useQueryClient();
  const key = ['job-history', id, point.at];
  return useQuery({
    queryKey: key,
    enabled,
    queryFn: async ({ signal }): Promise<History> => {
      const prev = qc.getQueryData<History>(key);
      let events = prev?.events ?? [];
      let from = events.length ? (events[events.length - 1] as JobEvent).seq + 1 : 1;
      let more = false;
      for (let i = 0; i < PAGES_PER_READ; i++) {
        const page = await apiGet<JobHistoryPage>(
          `/api/v1/jobs/${encodeURIComponent(id)}/history`,
          { from_seq: from, limit: PAGE, ...pointQuery(point) },
          signal,
        );
        const last = events.length ? (events[events.length - 1] as JobEvent).seq : 0;
        const fresh = page.events.filter((e) => e.seq > last);
        if (fresh.length) events = events.concat(fresh);
        more = page.next !== null && page.next !== undefined;
        if (!more) break;
        from = page.next as number;
      }
      return { events, more };
    },
  });
}

// Reading the event log backwards. GET /api/v1/events pages forward only
// (from_seq, limit, filters; at_seq bounds it above), so "the last N
// matching events up to seq U" is found by widening a window below U
// (200, 400, 800, ... seqs) until it holds N matches or reaches the log's
// first seq, then keeping the last N of it.
import { apiGet, type Query } from '../../api/client';
import type { LogEvent } from './api';

export const EVENT_TYPES = [
  'job.submitted',
  'job.queued',
  'job.scheduled',
  'job.started',
  'job.progress',
  'job.succeeded',
  'job.failed',
  'job.timed_out',
  'job.cancelled',
  'job.updated',
  'job.deleted',
  'job.retried',
  'job.upstream_failed',
  'job.lease_expired',
  'job.output',
  'worker.registered',
  'worker.heartbeat',
  'worker.updated',
  'worker.draining',
  'worker.lost',
  'worker.deregistered',
  'server.started',
  'server.stopped',
  'schedule.created',
  'schedule.updated',
  'schedule.paused',
  'schedule.resumed',
  'schedule.deleted',
  'schedule.fired',
] as const;

export interface EventFilter {
  type?: string;
  entity?: string;
}

export interface EventPage {
  events: LogEvent[];
  next: number | null;
}

/** One forward page: events with seq in [from, upper] matching the filter. */
export type PageFn = (from: number, upper: number, limit: number, f: EventFilter) => Promise<EventPage>;

export const apiPage: PageFn = (from, upper, limit, f) => {
  const q: Query = { from_seq: from, limit, at_seq: upper, type: f.type, entity: f.entity };
  return apiGet<EventPage>('/api/v1/events', q);
};

export interface Older {
  /** oldest first */
  events: LogEvent[];
  /** true when nothing older matches (the window reached the first seq) */
  done: boolean;
}

/**
 * The last `n` events matching `f` with seq <= upper (oldest first), and
 * whether older ones may exist. At most `maxCalls` page reads.
 */
export async function readBefore(
  upper: number,
  n: number,
  f: EventFilter,
  page: PageFn = apiPage,
  firstSeq = 1,
  maxCalls = 24,
): Promise<Older> {
  if (upper < firstSeq) return { events: [], done: true };
  let span = n;
  let calls = 0;
  for (;;) {
    const from = Math.max(firstSeq, upper - span + 1);
    let got: LogEvent[] = [];
    let trimmed = false;
    let cursor: number | null = from;
    // read the window forward (it may hold more than n matches: keep the last n)
    while (cursor !== null && cursor <= upper && calls < maxCalls) {
      const p: EventPage = await page(cursor, upper, n, f);
      calls++;
      got = got.concat(p.events.filter((e) => e.seq <= upper));
      if (got.length > n) {
        got = got.slice(got.length - n);
        trimmed = true;
      }
      cursor = p.events.length === 0 ? null : p.next;
    }
    const reachedStart = from === firstSeq;
    if (got.length >= n || reachedStart || calls >= maxCalls) {
      const readAll = cursor === null || cursor > upper;
      return { events: got, done: reachedStart && readAll && !trimmed };
    }
    span *= 4;
  }
}

/** The entity's link: a job's page, the workers or schedules view. */
export function entityKind(type: string): 'job' | 'worker' | 'schedule' | null {
  if (type.startsWith('job.')) return 'job';
  if (type.startsWith('worker.')) return 'worker';
  if (type.startsWith('schedule.')) return 'schedule';
  return null;
}

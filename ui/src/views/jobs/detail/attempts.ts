// A job's attempts, from its history: each placement (job.scheduled) opens
// one, and the event that ends it says how it went.
import type { JobEvent } from '../types';

export interface Attempt {
  n: number;
  worker: string | undefined;
  scheduledAt: string | undefined;
  startedAt: string | undefined;
  endedAt: string | undefined;
  /** running, completed, failed, retrying, timed out, lease expired, worker lost, cancelled */
  outcome: string;
  error: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function attemptsOf(events: readonly JobEvent[]): Attempt[] {
  const out: Attempt[] = [];
  const byN = new Map<number, Attempt>();
  let current: Attempt | undefined;
  const get = (e: JobEvent): Attempt | undefined => {
    const n = num(e.body.attempt);
    return n === undefined ? current : byN.get(n);
  };
  const end = (a: Attempt | undefined, e: JobEvent, outcome: string, error?: string) => {
    if (!a || a.endedAt) return;
    a.endedAt = e.at;
    a.outcome = outcome;
    a.error = error;
  };
  for (const e of events) {
    switch (e.type) {
      case 'job.scheduled': {
        const n = num(e.body.attempt) ?? out.length + 1;
        const a: Attempt = {
          n,
          worker: str(e.body.worker),
          scheduledAt: e.at,
          startedAt: undefined,
          endedAt: undefined,
          outcome: 'scheduled',
          error: undefined,
        };
        byN.set(n, a);
        out.push(a);
        current = a;
        break;
      }
      case 'job.started': {
        const a = get(e);
        if (a) {
          a.startedAt = e.at;
          a.outcome = 'running';
          a.worker ??= str(e.body.worker);
        }
        break;
      }
      case 'job.succeeded':
        end(get(e), e, 'completed');
        break;
      case 'job.failed': {
        const reason = str(e.body.reason);
        const retry = num(e.body.retry_at) ?? 0;
        const what = reason === 'worker_lost' ? 'worker lost' : reason === 'lease_expired' ? 'lease expired' : 'failed';
        end(get(e), e, retry ? `${what}, retrying` : what, str(e.body.error));
        break;
      }
      case 'job.timed_out': {
        const retry = num(e.body.retry_at) ?? 0;
        end(get(e), e, retry ? 'timed out, retrying' : 'timed out', str(e.body.error));
        break;
      }
      case 'job.lease_expired':
        end(get(e), e, 'lease expired');
        break;
      case 'job.cancelled':
        end(current, e, 'cancelled');
        break;
    }
  }
  return out;
}

/** One line about an event's body, for the timeline. */
export function eventSummary(e: JobEvent): string {
  const b = e.body;
  const parts: string[] = [];
  const add = (k: string, v: unknown) => {
    if (v === undefined || v === null || v === '') return;
    parts.push(`${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  };
  switch (e.type) {
    case 'job.submitted':
      add('name', b.name);
      add('owner', b.owner);
      if (Array.isArray(b.caps) && b.caps.length) add('requires', b.caps.join(', '));
      break;
    case 'job.queued':
      add('reason', b.reason);
      break;
    case 'job.scheduled':
      add('attempt', b.attempt);
      add('worker', typeof b.worker === 'string' ? b.worker.slice(0, 8) : b.worker);
      break;
    case 'job.started':
      add('attempt', b.attempt);
      break;
    case 'job.progress':
      add('', `${String(b.pct ?? 0)}%`);
      add('step', b.step);
      break;
    case 'job.succeeded':
      add('attempt', b.attempt);
      if (b.result !== undefined) add('result', b.result);
      break;
    case 'job.failed':
    case 'job.timed_out':
      add('attempt', b.attempt);
      add('reason', b.reason);
      add('error', b.error);
      if (typeof b.retry_at === 'number' && b.retry_at > 0) parts.push('will retry');
      break;
    case 'job.output':
      add('attempt', b.attempt);
      add('bytes', b.out_len);
      if (b.trunc) parts.push('truncated');
      break;
    case 'job.upstream_failed':
      add('upstream', typeof b.upstream === 'string' ? b.upstream.slice(0, 8) : b.upstream);
      break;
    case 'job.updated':
      for (const [k, v] of Object.entries(b)) add(k, v);
      break;
    default:
      break;
  }
  const s = parts.map((p) => p.trim()).join(' · ');
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

import { describe, expect, it } from 'vitest';
import { attemptsOf, eventSummary } from './attempts';
import type { JobEvent } from '../types';

const ev = (seq: number, type: string, body: Record<string, unknown> = {}): JobEvent => ({
  seq,
  type,
  at: `2026-12-06T00:00:${String(seq).padStart(2, '0')}.000Z`,
  actor: 'x',
  entity: 'j',
  body,
});

describe('attemptsOf', () => {
  it('follows placements, failures with retry and the final success', () => {
    const a = attemptsOf([
      ev(1, 'job.submitted', { name: 'n' }),
      ev(2, 'job.scheduled', { worker: 'w1', attempt: 1 }),
      ev(3, 'job.started', { worker: 'w1', attempt: 1 }),
      ev(4, 'job.failed', { attempt: 1, reason: 'error', error: 'exit 3', retry_at: 99 }),
      ev(5, 'job.queued', { reason: 'retry' }),
      ev(6, 'job.scheduled', { worker: 'w2', attempt: 2 }),
      ev(7, 'job.started', { attempt: 2 }),
      ev(8, 'job.succeeded', { attempt: 2 }),
    ]);
    expect(a.map((x) => [x.n, x.worker, x.outcome, x.error ?? null])).toEqual([
      [1, 'w1', 'failed, retrying', 'exit 3'],
      [2, 'w2', 'completed', null],
    ]);
    expect(a[1]?.startedAt).toBe('2026-12-06T00:00:07.000Z');
  });

  it('marks a running attempt and a cancellation', () => {
    expect(attemptsOf([ev(1, 'job.scheduled', { worker: 'w', attempt: 1 }), ev(2, 'job.started', { attempt: 1 })])[0]?.outcome).toBe('running');
    expect(attemptsOf([ev(1, 'job.scheduled', { worker: 'w', attempt: 1 }), ev(2, 'job.cancelled')])[0]?.outcome).toBe('cancelled');
  });

  it('summarizes event bodies', () => {
    expect(eventSummary(ev(1, 'job.progress', { pct: 40, step: 'half' }))).toBe('40% · step half');
    expect(eventSummary(ev(1, 'job.failed', { attempt: 2, reason: 'error', error: 'boom', retry_at: 0 }))).toBe('attempt 2 · reason error · error boom');
  });
});

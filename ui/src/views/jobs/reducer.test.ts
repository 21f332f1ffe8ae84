import { describe, expect, it } from 'vitest';
import { applyUpdate, asJobUpdate, rowFromItem } from './reducer';
import type { JobListItem, JobUpdate } from './types';

const item = (id: string, over: Partial<JobListItem> = {}): JobListItem => ({
  id,
  name: `job-${id}`,
  owner: 'alice',
  status: 'QUEUED',
  priority: 'NORMAL',
  attempt: 0,
  progress: 0,
  assignedWorker: null,
  createdAt: '2026-12-06T00:00:00.000Z',
  ...over,
});

const upd = (seq: number, jobId: string, over: Partial<JobUpdate> = {}): JobUpdate => ({
  seq,
  type: 'job.update',
  event: 'job.scheduled',
  at: '2026-12-06T00:00:01.000Z',
  jobId,
  name: `job-${jobId}`,
  owner: 'alice',
  status: 'SCHEDULED',
  previousStatus: 'QUEUED',
  worker: 'w1',
  attempt: 1,
  progress: 0,
  ...over,
});

describe('applyUpdate', () => {
  it('applies a newer update and keeps the row for an old one', () => {
    const r = rowFromItem(item('a'), 10, {});
    const r2 = applyUpdate(r, upd(11, 'a'), {});
    expect(r2).not.toBe(r);
    expect(r2).toMatchObject({ status: 'SCHEDULED', worker: 'w1', attempt: 1, seq: 11 });
    expect(applyUpdate(r2, upd(11, 'a', { status: 'RUNNING' }), {})).toBe(r2); // duplicate seq
    expect(applyUpdate(r2, upd(5, 'a', { status: 'RUNNING' }), {})).toBe(r2); // older seq
    expect(applyUpdate(r, upd(12, 'b'), {})).toBe(r); // another job
  });

  it('records start and finish times from the events', () => {
    let r = rowFromItem(item('a'), 1, {});
    r = applyUpdate(r, upd(2, 'a', { event: 'job.started', status: 'RUNNING', at: 'T2' }), {});
    expect(r.startedAt).toBe('T2');
    r = applyUpdate(r, upd(3, 'a', { event: 'job.progress', status: 'RUNNING', progress: 40, currentStep: 'half' }), {});
    expect(r).toMatchObject({ progress: 40, currentStep: 'half', finishedAt: null });
    r = applyUpdate(r, upd(4, 'a', { event: 'job.failed', status: 'FAILED', at: 'T4', error: 'exit 1', worker: null }), {});
    expect(r).toMatchObject({ status: 'FAILED', finishedAt: 'T4', error: 'exit 1', worker: null });
    r = applyUpdate(r, upd(5, 'a', { event: 'job.retried', status: 'QUEUED', worker: null }), {});
    expect(r).toMatchObject({ status: 'QUEUED', finishedAt: null, error: undefined });
  });

  it('dims a row that no longer matches the filters', () => {
    const f = { status: 'RUNNING' };
    const r = rowFromItem(item('a', { status: 'RUNNING' }), 1, f);
    expect(r.stale).toBe(false);
    const done = applyUpdate(r, upd(2, 'a', { event: 'job.succeeded', status: 'COMPLETED', progress: 100 }), f);
    expect(done.stale).toBe(true);
    const gone = applyUpdate(rowFromItem(item('b'), 1, {}), upd(3, 'b', { event: 'job.deleted', status: 'DELETED' }), {});
    expect(gone.stale).toBe(true);
  });

  it('parses stream messages', () => {
    expect(asJobUpdate({ seq: 1, type: 'hello' })).toBeNull();
    const u = asJobUpdate({ seq: 3, type: 'job.update', event: 'job.submitted', jobId: 'x', status: 'QUEUED', previousStatus: null, worker: null });
    expect(u).toMatchObject({ seq: 3, jobId: 'x', status: 'QUEUED', previousStatus: null, worker: null, attempt: 0 });
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { StreamMessage } from '../../api/stream';
import { JobsStore, type FetchPage, type PageRequest } from './store';
import type { JobFilters } from './filters';
import type { JobListItem, JobsPage } from './types';

const id = (n: number) => `01a00000-0000-7000-8000-${String(n).padStart(12, '0')}`;

const item = (n: number, over: Partial<JobListItem> = {}): JobListItem => ({
  id: id(n),
  name: `job-${n}`,
  owner: 'alice',
  status: 'QUEUED',
  priority: 'NORMAL',
  attempt: 0,
  progress: 0,
  assignedWorker: null,
  createdAt: '2026-12-06T00:00:00.000Z',
  ...over,
});

const msg = (seq: number, n: number, over: Record<string, unknown> = {}): StreamMessage => ({
  seq,
  type: 'job.update',
  event: 'job.scheduled',
  at: '2026-12-06T00:00:01.000Z',
  jobId: id(n),
  name: `job-${n}`,
  owner: 'alice',
  status: 'SCHEDULED',
  previousStatus: 'QUEUED',
  worker: 'w1',
  attempt: 1,
  progress: 0,
  ...over,
});

/** A fake server: pages are answered when the test says so. */
function fakeServer() {
  const calls: { req: PageRequest; resolve(p: JobsPage): void; reject(e: unknown): void }[] = [];
  const fetchPage: FetchPage = (req) =>
    new Promise<JobsPage>((resolve, reject) => {
      calls.push({ req, resolve, reject });
    });
  return { calls, fetchPage };
}

const flush = () => new Promise<void>((r) => setTimeout(r, 0));

function setup(filters: JobFilters = {}) {
  const srv = fakeServer();
  const store = new JobsStore(filters, srv.fetchPage, { tailDelayMs: 0 });
  const seen: number[] = [];
  store.subscribe(() => seen.push(store.getSnapshot().rows.length));
  return { srv, store, seen };
}

const ids = (s: JobsStore) => s.getSnapshot().rows.map((r) => r.id);

afterEach(() => {
  vi.useRealTimers();
});

describe('JobsStore', () => {
  it('pages at the snapshot seq, in id order, with no duplicate rows', async () => {
    const { srv, store } = setup();
    store.start(100);
    expect(store.getSnapshot().phase).toBe('loading');
    expect(srv.calls[0]?.req).toEqual({ cursor: undefined, atSeq: 100 });
    srv.calls[0]?.resolve({ jobs: [item(1), item(2)], next: id(2) });
    await flush();
    expect(ids(store)).toEqual([id(1), id(2)]);
    expect(store.getSnapshot().allLoaded).toBe(false);
    store.loadMore();
    store.loadMore(); // one read at a time
    expect(srv.calls).toHaveLength(2);
    expect(srv.calls[1]?.req).toEqual({ cursor: id(2), atSeq: 100 });
    srv.calls[1]?.resolve({ jobs: [item(2), item(3)], next: null });
    await flush();
    expect(ids(store)).toEqual([id(1), id(2), id(3)]);
    expect(store.getSnapshot().allLoaded).toBe(true);
    store.loadMore();
    expect(srv.calls).toHaveLength(2);
  });

  it('changes only the updated row and ignores old or repeated seqs', async () => {
    const { srv, store } = setup();
    store.start(10);
    srv.calls[0]?.resolve({ jobs: [item(1), item(2), item(3)], next: null });
    await flush();
    const before = store.getSnapshot().rows;
    store.applyBatch([msg(11, 2)]);
    const after = store.getSnapshot().rows;
    expect(after).not.toBe(before);
    expect(after[0]).toBe(before[0]);
    expect(after[2]).toBe(before[2]);
    expect(after[1]?.status).toBe('SCHEDULED');
    store.applyBatch([msg(11, 2, { status: 'RUNNING' }), msg(9, 2, { status: 'FAILED' })]);
    expect(store.getSnapshot().rows[1]?.status).toBe('SCHEDULED');
    store.applyBatch([msg(13, 2, { status: 'RUNNING', event: 'job.started' }), msg(12, 2, { status: 'FAILED' })]);
    expect(store.getSnapshot().rows[1]?.status).toBe('RUNNING');
    expect(ids(store)).toEqual([id(1), id(2), id(3)]);
  });

  it('replays updates that came before their page onto its rows', async () => {
    const { srv, store } = setup();
    store.start(10);
    srv.calls[0]?.resolve({ jobs: [item(1)], next: id(1) });
    await flush();
    store.applyBatch([msg(11, 5), msg(12, 5, { event: 'job.started', status: 'RUNNING' })]);
    store.loadMore();
    srv.calls[1]?.resolve({ jobs: [item(5)], next: null });
    await flush();
    expect(store.getSnapshot().rows[1]).toMatchObject({ id: id(5), status: 'RUNNING', seq: 12 });
  });

  it('dims rows that stop matching the status filter, and keeps them in place', async () => {
    const { srv, store } = setup({ status: 'RUNNING' });
    store.start(10);
    srv.calls[0]?.resolve({ jobs: [item(1, { status: 'RUNNING' }), item(2, { status: 'RUNNING' })], next: null });
    await flush();
    store.applyBatch([msg(11, 1, { event: 'job.succeeded', status: 'COMPLETED', previousStatus: 'RUNNING' })]);
    const rows = store.getSnapshot().rows;
    expect(rows.map((r) => [r.id, r.stale])).toEqual([
      [id(1), true],
      [id(2), false],
    ]);
  });

  it('appends new matching jobs when the last page is loaded (read live after the last row)', async () => {
    const { srv, store } = setup({ owner: 'alice' });
    store.start(10);
    srv.calls[0]?.resolve({ jobs: [item(1)], next: null });
    await flush();
    store.applyBatch([
      msg(11, 7, { event: 'job.submitted', status: 'QUEUED', previousStatus: null, worker: null, attempt: 0 }),
      msg(12, 8, { event: 'job.submitted', status: 'QUEUED', previousStatus: null, worker: null, owner: 'bob' }),
      msg(13, 7),
    ]);
    await flush();
    expect(srv.calls[1]?.req).toEqual({ cursor: id(1), atSeq: 13 });
    store.applyBatch([msg(14, 7, { event: 'job.started', status: 'RUNNING' })]);
    srv.calls[1]?.resolve({ jobs: [item(7, { status: 'SCHEDULED', attempt: 1 })], next: null });
    await flush();
    expect(ids(store)).toEqual([id(1), id(7)]);
    expect(store.getSnapshot().rows[1]).toMatchObject({ status: 'RUNNING', seq: 14 });
    expect(store.getSnapshot().newCount).toBe(0);
  });

  it('counts new jobs for the pill while later pages are not loaded', async () => {
    const { srv, store } = setup({ owner: 'alice' });
    store.start(10);
    srv.calls[0]?.resolve({ jobs: [item(1)], next: id(1) });
    await flush();
    store.applyBatch([
      msg(11, 50, { event: 'job.submitted', status: 'QUEUED', previousStatus: null, worker: null }),
      msg(12, 51, { event: 'job.submitted', status: 'QUEUED', previousStatus: null, worker: null, owner: 'bob' }),
      msg(13, 50),
      msg(14, 3), // an existing job of a later page: not new
    ]);
    expect(store.getSnapshot().newCount).toBe(1);
    expect(srv.calls).toHaveLength(1);
  });

  it('keeps the rows and reports an error of a later page', async () => {
    const { srv, store } = setup();
    store.start(10);
    srv.calls[0]?.reject(new Error('boom'));
    await flush();
    expect(store.getSnapshot().phase).toBe('error');
    store.loadMore();
    srv.calls[1]?.resolve({ jobs: [item(1)], next: id(1) });
    await flush();
    store.loadMore();
    srv.calls[2]?.reject(new Error('later'));
    await flush();
    const s = store.getSnapshot();
    expect(s.phase).toBe('ready');
    expect(s.rows).toHaveLength(1);
    expect(s.moreError).toBeInstanceOf(Error);
  });
});

// The rows of the jobs table, outside React (useSyncExternalStore reads it):
// cursor pages of GET /api/v1/jobs read at one seq, and the job-updates
// stream applied from that seq + 1. Rows keep id (creation) order and never
// move; an update replaces its row object only. Jobs that appear after the
// snapshot are appended when the last page is loaded (read live from the
// last row on: the tail), else counted for the "new jobs" pill.
import type { StreamMessage } from '../../api/stream';
import { updateMayMatch, type JobFilters } from './filters';
import { applyUpdate, asJobUpdate, rowFromItem } from './reducer';
import type { JobRow, JobsPage, JobUpdate } from './types';

export interface PageRequest {
  cursor: string | undefined;
  atSeq: number;
}
export type FetchPage = (r: PageRequest, signal: AbortSignal) => Promise<JobsPage>;

export interface JobsSnapshot {
  rows: readonly JobRow[];
  phase: 'idle' | 'loading' | 'ready' | 'error';
  /** the first page's error (phase error) */
  error: unknown;
  /** a later page's error (the rows stay) */
  moreError: unknown;
  loadingMore: boolean;
  allLoaded: boolean;
  /** jobs that match now but are not rows (a reload shows them) */
  newCount: number;
  /** the last seq the rows reflect */
  seq: number | undefined;
  /** the seq the first page was read at (the stream starts after it) */
  baseSeq: number | undefined;
}

export interface StoreOptions {
  /** the delay before reading the tail after new jobs appear (ms) */
  tailDelayMs?: number;
  /** updates kept per job not loaded yet */
  pendingPerJob?: number;
}

const EMPTY: JobsSnapshot = {
  rows: [],
  phase: 'idle',
  error: null,
  moreError: null,
  loadingMore: false,
  allLoaded: false,
  newCount: 0,
  seq: undefined,
  baseSeq: undefined,
};

export class JobsStore {
  private snap: JobsSnapshot = EMPTY;
  private readonly listeners = new Set<() => void>();
  private readonly index = new Map<string, number>();
  /** updates of jobs that are not rows (yet): replayed onto a row when its page comes */
  private readonly pending = new Map<string, JobUpdate[]>();
  private readonly newIds = new Set<string>();
  private cursor: string | undefined;
  /** the seq the page chain reads at */
  private chainSeq = 0;
  private lastSeq = 0;
  private inflight: AbortController | null = null;
  private tailTimer: ReturnType<typeof setTimeout> | null = null;
  private tailWanted = false;
  private readonly tailDelayMs: number;
  private readonly pendingPerJob: number;

  constructor(
    private readonly filters: JobFilters,
    private readonly fetchPage: FetchPage,
    opts: StoreOptions = {},
  ) {
    this.tailDelayMs = opts.tailDelayMs ?? 300;
    this.pendingPerJob = opts.pendingPerJob ?? 32;
  }

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  };

  getSnapshot = (): JobsSnapshot => this.snap;

  private set(patch: Partial<JobsSnapshot>): void {
    this.snap = { ...this.snap, ...patch, newCount: this.newIds.size };
    for (const fn of this.listeners) fn();
  }

  private lastId(rows: readonly JobRow[] = this.snap.rows): string {
    return rows.length ? (rows[rows.length - 1] as JobRow).id : '';
  }

  /** Read the first page at `seq` (the stream then starts at seq + 1). */
  start(seq: number): void {
    this.stop();
    this.chainSeq = seq;
    this.lastSeq = seq;
    this.set({ phase: 'loading', seq, baseSeq: seq });
    this.loadMore();
  }

  /** Read the next page, if there is one and no read is under way. */
  loadMore(): void {
    if (this.inflight || this.snap.allLoaded || this.snap.phase === 'idle' || this.snap.baseSeq === undefined) return;
    if (this.snap.phase === 'error') this.set({ phase: 'loading', error: null });
    const ac = new AbortController();
    this.inflight = ac;
    const atSeq = this.chainSeq;
    this.set({ loadingMore: true, moreError: null });
    this.fetchPage({ cursor: this.cursor, atSeq }, ac.signal).then(
      (page) => {
        if (ac.signal.aborted) return;
        this.inflight = null;
        this.addPage(page, atSeq);
      },
      (err: unknown) => {
        if (ac.signal.aborted) return;
        this.inflight = null;
        if (this.snap.phase === 'loading') this.set({ phase: 'error', error: err, loadingMore: false });
        else this.set({ moreError: err, loadingMore: false });
      },
    );
  }

  private addPage(page: JobsPage, atSeq: number): void {
    let rows: JobRow[] | null = null;
    for (const j of page.jobs) {
      if (this.index.has(j.id)) continue; // never a row twice
      let row = rowFromItem(j, atSeq, this.filters);
      const ups = this.pending.get(j.id);
      if (ups) {
        for (const u of ups) row = applyUpdate(row, u, this.filters);
        this.pending.delete(j.id);
      }
      this.newIds.delete(j.id);
      rows ??= this.snap.rows.slice();
      this.index.set(row.id, rows.length);
      rows.push(row);
    }
    const all = rows ?? this.snap.rows;
    const allLoaded = page.next === null || (page.jobs.length === 0 && page.next === this.cursor);
    this.cursor = page.next ?? undefined;
    const lastId = this.lastId(all);
    // Jobs at or before the last row that were not in the pages did not
    // match at the snapshot: if they match now, a reload would show them.
    for (const [id, ups] of this.pending) {
      if (id > lastId && !allLoaded) continue;
      const u = ups[ups.length - 1] as JobUpdate;
      if (id <= lastId) {
        if (updateMayMatch(this.filters, u)) this.newIds.add(id);
        this.pending.delete(id);
      } else {
        // past the end of a complete table: the tail read fetches them
        this.newIds.delete(id);
        if (updateMayMatch(this.filters, u)) this.tailWanted = true;
        else this.pending.delete(id);
      }
    }
    this.set({ rows: all, phase: 'ready', allLoaded, loadingMore: false, moreError: null });
    if (allLoaded && this.tailWanted) this.scheduleTail();
  }

  /** Apply a batch of job-updates messages (in seq order; older seqs are ignored). */
  applyBatch(batch: readonly StreamMessage[]): void {
    if (this.snap.phase === 'idle') return;
    let rows: JobRow[] | null = null;
    let newChanged = false;
    for (const m of batch) {
      const u = asJobUpdate(m);
      if (!u || u.seq <= this.lastSeq) continue;
      this.lastSeq = u.seq;
      const i = this.index.get(u.jobId);
      if (i !== undefined) {
        const cur = (rows ?? this.snap.rows)[i] as JobRow;
        const next = applyUpdate(cur, u, this.filters);
        if (next !== cur) {
          rows ??= this.snap.rows.slice();
          rows[i] = next;
        }
        continue;
      }
      const lastId = this.lastId();
      const may = updateMayMatch(this.filters, u);
      if (u.jobId > lastId || this.snap.phase !== 'ready') {
        if (this.snap.allLoaded && this.snap.phase === 'ready') {
          // past the end of a complete table: the tail read appends it
          if (may) {
            this.remember(u);
            this.tailWanted = true;
          } else if (this.inflight) this.remember(u);
          else this.pending.delete(u.jobId);
          continue;
        }
        this.remember(u);
        if (u.event === 'job.submitted' || u.previousStatus === null) {
          // new since the snapshot: no page of it will have it
          if (may) this.newIds.add(u.jobId);
          else this.newIds.delete(u.jobId);
          newChanged = true;
        }
      } else {
        // did not match at the snapshot (else it would be a row)
        if (may) this.newIds.add(u.jobId);
        else this.newIds.delete(u.jobId);
        newChanged = true;
      }
    }
    if (rows || newChanged || this.snap.seq !== this.lastSeq) this.set({ rows: rows ?? this.snap.rows, seq: this.lastSeq });
    if (this.tailWanted && this.snap.allLoaded) this.scheduleTail();
  }

  private remember(u: JobUpdate): void {
    const list = this.pending.get(u.jobId);
    if (!list) {
      this.pending.set(u.jobId, [u]);
      return;
    }
    list.push(u);
    if (list.length > this.pendingPerJob) list.splice(1, list.length - this.pendingPerJob); // keep the first (submission) and the latest
  }

  private scheduleTail(): void {
    if (this.tailTimer !== null) return;
    this.tailTimer = setTimeout(() => {
      this.tailTimer = null;
      this.readTail();
    }, this.tailDelayMs);
  }

  /** Read the jobs after the last row, live (at the last seq applied). */
  private readTail(): void {
    if (this.inflight) {
      this.scheduleTail();
      return;
    }
    if (!this.tailWanted || !this.snap.allLoaded) return;
    this.tailWanted = false;
    const ac = new AbortController();
    this.inflight = ac;
    const atSeq = this.lastSeq;
    const lastId = this.lastId();
    this.fetchPage({ cursor: lastId || undefined, atSeq }, ac.signal).then(
      (page) => {
        if (ac.signal.aborted) return;
        this.inflight = null;
        this.chainSeq = atSeq;
        this.snap = { ...this.snap, allLoaded: false };
        this.cursor = lastId || undefined;
        this.addPage(page, atSeq);
      },
      () => {
        if (ac.signal.aborted) return;
        this.inflight = null;
        this.tailWanted = true; // try again on the next update
      },
    );
  }

  /** The snapshot could not be read at all (GET /state failed). */
  fail(error: unknown): void {
    this.stop();
    this.set({ phase: 'error', error });
  }

  /** Back to nothing: reads aborted, rows dropped (start() begins again). */
  stop(): void {
    this.inflight?.abort();
    this.inflight = null;
    if (this.tailTimer !== null) clearTimeout(this.tailTimer);
    this.tailTimer = null;
    this.tailWanted = false;
    this.index.clear();
    this.pending.clear();
    this.newIds.clear();
    this.cursor = undefined;
    this.chainSeq = 0;
    this.lastSeq = 0;
    if (this.snap !== EMPTY) {
      this.snap = EMPTY;
      for (const fn of this.listeners) fn();
    }
  }
}

// A workflow's jobs as a graph: edges from each job's dependencies (those
// inside the workflow), run times, the critical path (the longest chain by
// run time, or by job count when no run time is known) and the Gantt rows.
import type { JobLite } from './api';

export interface Edge {
  from: string;
  to: string;
}

const ms = (iso: string | null | undefined): number | null => {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? t : null;
};

/** Run time in seconds: finishedAt - startedAt, up to now while running; null when not started. */
export function runSeconds(j: JobLite, now: number): number | null {
  const s = ms(j.startedAt);
  if (s === null) return typeof j.metrics?.runSeconds === 'number' ? j.metrics.runSeconds : null;
  const f = ms(j.finishedAt) ?? (j.status === 'RUNNING' ? now : null);
  if (f === null) return typeof j.metrics?.runSeconds === 'number' ? j.metrics.runSeconds : null;
  return Math.max(0, (f - s) / 1000);
}

export function edgesOf(jobs: readonly JobLite[]): Edge[] {
  const ids = new Set(jobs.map((j) => j.id));
  const out: Edge[] = [];
  for (const j of jobs) for (const d of j.dependencies ?? []) if (ids.has(d)) out.push({ from: d, to: j.id });
  return out;
}

/** Ids in an order where every dependency comes first (jobs in a cycle, which the server refuses, are appended). */
export function topoOrder(jobs: readonly JobLite[], edges: readonly Edge[]): string[] {
  const indeg = new Map<string, number>(jobs.map((j) => [j.id, 0]));
  const next = new Map<string, string[]>();
  for (const e of edges) {
    indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1);
    const l = next.get(e.from);
    if (l) l.push(e.to);
    else next.set(e.from, [e.to]);
  }
  const queue = jobs.filter((j) => (indeg.get(j.id) ?? 0) === 0).map((j) => j.id);
  const order: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    order.push(id);
    for (const t of next.get(id) ?? []) {
      const d = (indeg.get(t) ?? 0) - 1;
      indeg.set(t, d);
      if (d === 0) queue.push(t);
    }
  }
  if (order.length < jobs.length) {
    const seen = new Set(order);
    for (const j of jobs) if (!seen.has(j.id)) order.push(j.id);
  }
  return order;
}

export interface CriticalPath {
  /** job ids, first to last */
  ids: string[];
  /** "duration" when run times were known, else "count" */
  by: 'duration' | 'count';
  /** total run time (s) or job count along it */
  length: number;
}

/** The longest chain through the DAG, by run time when any is known, else by job count. */
export function criticalPath(jobs: readonly JobLite[], now: number): CriticalPath {
  if (jobs.length === 0) return { ids: [], by: 'count', length: 0 };
  const edges = edgesOf(jobs);
  const order = topoOrder(jobs, edges);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const dur = new Map<string, number | null>(jobs.map((j) => [j.id, runSeconds(j, now)]));
  const by: CriticalPath['by'] = [...dur.values()].some((d) => d !== null) ? 'duration' : 'count';
  const weight = (id: string) => (by === 'count' ? 1 : (dur.get(id) ?? 0));
  const preds = new Map<string, string[]>();
  for (const e of edges) {
    const l = preds.get(e.to);
    if (l) l.push(e.from);
    else preds.set(e.to, [e.from]);
  }
  const best = new Map<string, number>();
  const via = new Map<string, string | null>();
  for (const id of order) {
    let b = 0;
    let v: string | null = null;
    for (const p of preds.get(id) ?? []) {
      const pb = best.get(p);
      if (pb !== undefined && (pb > b || v === null)) {
        b = pb;
        v = p;
      }
    }
    best.set(id, b + weight(id));
    via.set(id, v);
  }
  let end = order[0] as string;
  for (const id of order) if ((best.get(id) ?? 0) > (best.get(end) ?? 0)) end = id;
  const ids: string[] = [];
  for (let cur: string | null = end; cur !== null && byId.has(cur) && ids.length <= jobs.length; cur = via.get(cur) ?? null) ids.push(cur);
  ids.reverse();
  return { ids, by, length: best.get(end) ?? 0 };
}

export interface GanttRow {
  id: string;
  name: string;
  status: string;
  /** fractions of the span, 0..1; null when not started */
  left: number | null;
  width: number;
  seconds: number | null;
}

export interface Gantt {
  rows: GanttRow[];
  /** epoch ms of the span's ends (null: nothing started) */
  start: number | null;
  end: number | null;
}

/** Bars from startedAt to finishedAt (running ones up to now), in start order; jobs not started last. */
export function ganttOf(jobs: readonly JobLite[], now: number): Gantt {
  let start = Infinity;
  let end = -Infinity;
  const spans = jobs.map((j) => {
    const s = ms(j.startedAt);
    const f = s === null ? null : (ms(j.finishedAt) ?? (j.status === 'RUNNING' ? now : s));
    if (s !== null && f !== null) {
      start = Math.min(start, s);
      end = Math.max(end, f);
    }
    return { j, s, f };
  });
  if (!Number.isFinite(start)) {
    return { rows: jobs.map((j) => ({ id: j.id, name: j.name, status: j.status, left: null, width: 0, seconds: null })), start: null, end: null };
  }
  const total = Math.max(1, end - start);
  spans.sort((a, b) => (a.s ?? Infinity) - (b.s ?? Infinity) || a.j.name.localeCompare(b.j.name));
  return {
    rows: spans.map(({ j, s, f }) => ({
      id: j.id,
      name: j.name,
      status: j.status,
      left: s === null ? null : (s - start) / total,
      width: s === null || f === null ? 0 : (f - s) / total,
      seconds: s === null || f === null ? null : (f - s) / 1000,
    })),
    start,
    end,
  };
}

const FINISHED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'DELETED']);

/** RUNNING while any job is unfinished, else FAILED if any failed, CANCELLED if all were, else COMPLETED. */
export function workflowStatus(statuses: readonly string[]): string {
  if (statuses.some((s) => !FINISHED.has(s))) return 'RUNNING';
  if (statuses.includes('FAILED')) return 'FAILED';
  if (statuses.length && statuses.every((s) => s === 'CANCELLED')) return 'CANCELLED';
  return 'COMPLETED';
}

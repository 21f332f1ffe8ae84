import { describe, expect, it } from 'vitest';
import type { JobLite } from './api';
import { criticalPath, edgesOf, ganttOf, runSeconds, topoOrder } from './dag';

const T = Date.UTC(2026, 0, 1);
const iso = (s: number) => new Date(T + s * 1000).toISOString();
const job = (id: string, deps: string[], start?: number, end?: number, status = 'COMPLETED'): JobLite => ({
  id,
  name: id,
  status,
  dependencies: deps,
  startedAt: start === undefined ? null : iso(start),
  finishedAt: end === undefined ? null : iso(end),
});

// the diamond: fetch -> left, right -> join
const diamond = [
  job('fetch', [], 0, 2),
  job('left', ['fetch'], 2, 4.1),
  job('right', ['fetch'], 2, 3.8),
  job('join', ['left', 'right', 'outside'], 4.1, 4.6),
];

describe('dag', () => {
  it('takes edges from dependencies inside the workflow only', () => {
    expect(edgesOf(diamond)).toEqual([
      { from: 'fetch', to: 'left' },
      { from: 'fetch', to: 'right' },
      { from: 'left', to: 'join' },
      { from: 'right', to: 'join' },
    ]);
  });

  it('orders dependencies first', () => {
    const order = topoOrder([...diamond].reverse(), edgesOf(diamond));
    expect(order.indexOf('fetch')).toBeLessThan(order.indexOf('left'));
    expect(order.indexOf('left')).toBeLessThan(order.indexOf('join'));
    expect(order.indexOf('right')).toBeLessThan(order.indexOf('join'));
  });

  it('finds the critical path by run time', () => {
    const c = criticalPath(diamond, T + 10_000);
    expect(c.by).toBe('duration');
    expect(c.ids).toEqual(['fetch', 'left', 'join']);
    expect(c.length).toBeCloseTo(4.6);
  });

  it('falls back to the job count when nothing ran', () => {
    const jobs = [job('a', []), job('b', ['a']), job('c', ['b']), job('d', ['a'])].map((j) => ({ ...j, status: 'CREATED' }));
    const c = criticalPath(jobs, T);
    expect(c.by).toBe('count');
    expect(c.ids).toEqual(['a', 'b', 'c']);
    expect(c.length).toBe(3);
  });

  it('counts a running job up to now', () => {
    const j = job('r', [], 0, undefined, 'RUNNING');
    expect(runSeconds(j, T + 5000)).toBe(5);
    expect(runSeconds(job('q', [], undefined, undefined, 'QUEUED'), T)).toBeNull();
  });

  it('lays out the Gantt in start order over the whole span', () => {
    const g = ganttOf([job('late', [], 2, 4), job('never', [], undefined, undefined, 'CREATED'), job('early', [], 0, 1)], T);
    expect(g.rows.map((r) => r.id)).toEqual(['early', 'late', 'never']);
    expect(g.rows[0]).toMatchObject({ left: 0, width: 0.25, seconds: 1 });
    expect(g.rows[1]).toMatchObject({ left: 0.5, width: 0.5 });
    expect(g.rows[2]?.left).toBeNull();
    expect((g.end ?? 0) - (g.start ?? 0)).toBe(4000);
  });

  it('handles an empty workflow', () => {
    expect(criticalPath([], T).ids).toEqual([]);
    expect(ganttOf([], T)).toEqual({ rows: [], start: null, end: null });
  });
});

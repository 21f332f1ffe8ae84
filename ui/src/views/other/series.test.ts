import { describe, expect, it } from 'vitest';
import { MetricsSeries, sampleTime, type MetricsSample } from './series';

const at = (sec: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + sec * 1000).toISOString();
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0) / 1000;
const sample = (sec: number, extra: Partial<MetricsSample> = {}): MetricsSample => ({
  at: at(sec),
  completedPerSec: sec,
  queued: { HIGH: 1, NORMAL: 2, LOW: 3 },
  ...extra,
});

describe('MetricsSeries', () => {
  it('keeps samples in order as aligned columns', () => {
    const s = new MetricsSeries({ capacity: 10 });
    s.pushAll([sample(0), sample(1), sample(2)]);
    const [t, completed, high, submitted] = s.aligned(['completed', 'queuedHigh', 'submitted']);
    expect(t).toEqual([T0, T0 + 1, T0 + 2]);
    expect(completed).toEqual([0, 1, 2]);
    expect(high).toEqual([1, 1, 1]);
    expect(submitted).toEqual([null, null, null]);
    expect(s.has('submitted')).toBe(false);
    expect(s.has('completed')).toBe(true);
  });

  it('keeps at most capacity points, dropping the oldest', () => {
    const s = new MetricsSeries({ capacity: 3 });
    for (let i = 0; i < 7; i++) s.push(sample(i));
    expect(s.length).toBe(3);
    const [t, c] = s.aligned(['completed']);
    expect(t).toEqual([T0 + 4, T0 + 5, T0 + 6]);
    expect(c).toEqual([4, 5, 6]);
    expect(s.latest()?.completedPerSec).toBe(6);
  });

  it('drops older samples and replaces one at the same time (latest wins)', () => {
    const s = new MetricsSeries({ capacity: 10 });
    s.push(sample(5));
    expect(s.push(sample(4))).toBe(false);
    expect(s.push(sample(5, { completedPerSec: 99 }))).toBe(true);
    expect(s.length).toBe(1);
    expect(s.aligned(['completed'])[1]).toEqual([99]);
  });

  it('breaks the lines over a silence with a null point', () => {
    const s = new MetricsSeries({ capacity: 10, intervalSec: 1, gapIntervals: 5 });
    s.push(sample(0));
    s.push(sample(3));
    s.push(sample(30));
    const [t, c] = s.aligned(['completed']);
    expect(t).toEqual([T0, T0 + 3, T0 + 4, T0 + 30]);
    expect(c).toEqual([0, 3, null, 30]);
  });

  it('history then live: the overlap is not drawn twice', () => {
    const s = new MetricsSeries({ capacity: 3600 });
    s.pushAll(Array.from({ length: 100 }, (_, i) => sample(i)));
    s.pushAll([sample(98), sample(99), sample(100)]);
    expect(s.length).toBe(101);
  });

  it('wraps many times and still reads in order', () => {
    const s = new MetricsSeries({ capacity: 5 });
    for (let i = 0; i < 23; i++) s.push(sample(i));
    expect(s.aligned(['completed'])[1]).toEqual([18, 19, 20, 21, 22]);
    s.clear();
    expect(s.length).toBe(0);
    expect(s.lastTime()).toBeUndefined();
  });

  it('uses the fallback time for a sample without `at`', () => {
    expect(sampleTime({}, 5000)).toBe(5);
    expect(sampleTime({ at: 'nonsense' }, 7000)).toBe(7);
  });
});

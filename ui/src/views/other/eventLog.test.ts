import { describe, expect, it } from 'vitest';
import type { LogEvent } from './api';
import { readBefore, type PageFn } from './eventLog';

// a log of seqs 1..max; every `every`-th event matches the filter
function fakeLog(max: number, every = 1): { page: PageFn; calls: number[] } {
  const calls: number[] = [];
  const page: PageFn = async (from, upper, limit) => {
    calls.push(from);
    const events: LogEvent[] = [];
    let s = from;
    for (; s <= Math.min(upper, max) && events.length < limit; s++)
      if (s % every === 0) events.push({ seq: s, type: 'job.submitted', at: '', actor: 'a', entity: null, body: {} });
    const last = events[events.length - 1];
    return { events, next: events.length === limit && last ? last.seq + 1 : null };
  };
  return { page, calls };
}

const seqs = (r: { events: LogEvent[] }) => r.events.map((e) => e.seq);

describe('readBefore', () => {
  it('reads the last n events of a dense log in one call', async () => {
    const f = fakeLog(1000);
    const r = await readBefore(1000, 5, {}, f.page);
    expect(seqs(r)).toEqual([996, 997, 998, 999, 1000]);
    expect(r.done).toBe(false);
    expect(f.calls).toEqual([996]);
  });

  it('widens the window for sparse matches and keeps the last n', async () => {
    const f = fakeLog(1000, 50);
    const r = await readBefore(1000, 3, {}, f.page);
    expect(seqs(r)).toEqual([900, 950, 1000]);
    expect(r.done).toBe(false);
  });

  it('says done when the window reached the first seq', async () => {
    const f = fakeLog(30, 10);
    const r = await readBefore(30, 5, {}, f.page);
    expect(seqs(r)).toEqual([10, 20, 30]);
    expect(r.done).toBe(true);
  });

  it('is not done when the first window from seq 1 held more than n', async () => {
    const f = fakeLog(8);
    const r = await readBefore(8, 3, {}, f.page, 1);
    expect(seqs(r)).toEqual([6, 7, 8]);
    expect(r.done).toBe(false);
    const all = await readBefore(3, 3, {}, f.page, 1);
    expect(seqs(all)).toEqual([1, 2, 3]);
  });

  it('reads nothing below the first seq', async () => {
    const f = fakeLog(10);
    expect(await readBefore(0, 5, {}, f.page)).toEqual({ events: [], done: true });
  });

  it('pages forward through a window that holds more than n matches', async () => {
    const f = fakeLog(10000, 7);
    const r = await readBefore(10000, 200, {}, f.page);
    expect(r.events).toHaveLength(200);
    expect(r.events[199]?.seq).toBe(9996);
    expect(r.events[0]?.seq).toBe(9996 - 199 * 7);
  });
});

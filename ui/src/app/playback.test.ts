import { describe, expect, it } from 'vitest';
import { MAX_IDLE_MS, Pacer } from './playback';

describe('Pacer', () => {
  it('moves through events at the speed of their timestamps', () => {
    const p = new Pacer(10);
    // one event every 100 ms of recorded time
    for (let i = 1; i <= 20; i++) p.push(10 + i, 1_000_000 + i * 100);
    expect(p.tick(0, 1)).toBe(11); // the clock starts at the first event
    expect(p.tick(250, 1)).toBe(13); // 250 ms at 1x: two more (200 and 300 ms)
    expect(p.tick(100, 10)).toBe(23); // 1000 ms of history at 10x
    expect(p.current).toBe(23);
    expect(p.tick(40, 1)).toBeNull(); // 40 ms: the next is 50 ms away
    expect(p.queued).toBe(7);
  });

  it('never queues a seq twice or goes back', () => {
    const p = new Pacer(5);
    p.push(4, 1);
    p.push(5, 2);
    p.push(6, 3);
    p.push(6, 3);
    p.push(7, 4);
    expect(p.queued).toBe(2);
    expect(p.lastQueued).toBe(7);
  });

  it('skips quiet stretches instead of waiting through them', () => {
    const p = new Pacer(0);
    p.push(1, 0);
    p.push(2, 3_600_000); // an hour later
    expect(p.tick(0, 1)).toBe(1);
    // at 1x the hour would take an hour: the gap is longer than MAX_IDLE_MS, so the clock jumps
    expect(p.tick(10, 1)).toBe(2);
    expect(MAX_IDLE_MS).toBeGreaterThan(0);
  });

  it('does not skip a gap shorter than the idle bound at this speed', () => {
    const p = new Pacer(0);
    p.push(1, 0);
    p.push(2, 1_500);
    expect(p.tick(0, 1)).toBe(1);
    expect(p.tick(1_000, 1)).toBeNull();
    expect(p.tick(600, 1)).toBe(2);
  });

  it('keeps an event without a time in order', () => {
    const p = new Pacer(0);
    p.push(1, 1_000);
    p.push(2, NaN);
    expect(p.tick(0, 1)).toBe(2);
  });
});

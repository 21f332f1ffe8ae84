import { describe, expect, it } from 'vitest';
import { fmtAgo, fmtDuration, fmtNumber, fmtTime, shortId } from './format';

describe('format', () => {
  it('fmtTime', () => {
    const d = new Date(2026, 11, 6, 1, 2, 3, 45);
    expect(fmtTime(d.toISOString())).toBe('2026-12-06 01:02:03');
    expect(fmtTime(d.getTime(), { ms: true })).toBe('2026-12-06 01:02:03.045');
    expect(fmtTime(d.toISOString(), { now: d.getTime() + 1000 })).toBe('01:02:03');
    expect(fmtTime(undefined)).toBe('—');
    expect(fmtTime('nope')).toBe('—');
  });
  it('fmtAgo', () => {
    const now = Date.parse('2026-12-06T00:00:00Z');
    expect(fmtAgo('2026-12-06T00:00:00Z', now)).toBe('just now');
    expect(fmtAgo('2026-12-05T23:59:48Z', now)).toBe('12s ago');
    expect(fmtAgo('2026-12-05T23:55:00Z', now)).toBe('5m ago');
    expect(fmtAgo('2026-12-05T21:00:00Z', now)).toBe('3h ago');
    expect(fmtAgo('2026-12-01T00:00:00Z', now)).toBe('5d ago');
    expect(fmtAgo('2026-12-06T00:05:00Z', now)).toBe('in 5m');
    expect(fmtAgo(null, now)).toBe('—');
  });
  it('fmtDuration', () => {
    expect(fmtDuration(0.42)).toBe('420 ms');
    expect(fmtDuration(4.25)).toBe('4.2 s');
    expect(fmtDuration(12.9)).toBe('12 s');
    expect(fmtDuration(185)).toBe('3m 05s');
    expect(fmtDuration(7380)).toBe('2h 03m');
    expect(fmtDuration(3 * 86400 + 4 * 3600)).toBe('3d 04h');
    expect(fmtDuration(-2)).toBe('-2.0 s');
    expect(fmtDuration(NaN)).toBe('—');
    expect(fmtDuration(undefined)).toBe('—');
  });
  it('fmtNumber', () => {
    expect(fmtNumber(1234567)).toBe('1,234,567');
    expect(fmtNumber(0)).toBe('0');
    expect(fmtNumber(3.14159)).toBe('3.14');
    expect(fmtNumber(120.55)).toBe('120.6');
    expect(fmtNumber(1234.5)).toBe('1,235');
    expect(fmtNumber(Infinity)).toBe('—');
    expect(fmtNumber(null)).toBe('—');
  });
  it('shortId', () => {
    expect(shortId('0193f2a4-7c1e-7b3a-9d2e-1f0a2b3c4d5e')).toBe('0193f2a4');
    expect(shortId('abc')).toBe('abc');
    expect(shortId(undefined)).toBe('—');
  });
});

import { describe, expect, it } from 'vitest';
import { LineTail } from './tail';

const enc = new TextEncoder();

describe('LineTail', () => {
  it('joins lines and UTF-8 cut across chunks', () => {
    const t = new LineTail(10);
    const b = enc.encode('héllo\nwor');
    t.push(b.slice(0, 2)); // inside the é
    t.push(b.slice(2));
    t.push(enc.encode('ld\n'));
    expect(t.text()).toBe('héllo\nworld');
    expect(t.count).toBe(2);
  });

  it('keeps only the last lines', () => {
    const t = new LineTail(3);
    t.push(enc.encode('1\n2\n3\n4\n5\n6'));
    expect(t.text()).toBe('3\n4\n5\n6');
    expect(t.dropped).toBe(2);
  });
});

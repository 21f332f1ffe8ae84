import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, openStream, type StreamMessage, type StreamStatus } from './stream';

class FakeSocket {
  static all: FakeSocket[] = [];
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closedByClient = false;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    FakeSocket.all.push(this);
  }
  get params(): URLSearchParams {
    return new URL(this.url).searchParams;
  }
  close() {
    this.closedByClient = true;
  }
  send(m: unknown) {
    this.onmessage?.({ data: typeof m === 'string' ? m : JSON.stringify(m) } as MessageEvent);
  }
  hello(fromSeq: number) {
    this.send({ type: 'hello', protocol: 1, fromSeq, durableSeq: fromSeq + 10 });
  }
  events(from: number, to: number) {
    for (let s = from; s <= to; s++) this.send({ seq: s, type: 'job.submitted' });
  }
  drop() {
    this.onclose?.({ code: 1006 } as CloseEvent);
  }
}

let frames: FrameRequestCallback[] = [];
function runFrame() {
  const f = frames;
  frames = [];
  f.forEach((cb) => cb(performance.now()));
}

function last(): FakeSocket {
  const s = FakeSocket.all[FakeSocket.all.length - 1];
  if (!s) throw new Error('no socket');
  return s;
}

beforeEach(() => {
  FakeSocket.all = [];
  frames = [];
  vi.useFakeTimers();
  vi.stubGlobal('WebSocket', FakeSocket);
  vi.stubGlobal('requestAnimationFrame', (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal('cancelAnimationFrame', () => {
    frames = [];
  });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('openStream', () => {
  it('resumes from the last seq + 1 after a drop: no gap, no duplicate', () => {
    const got: number[] = [];
    const statuses: StreamStatus[] = [];
    const h = openStream({
      path: '/ws/events',
      query: { types: 'job.submitted' },
      fromSeq: 5,
      onMessages: (b) => got.push(...b.map((m) => m.seq)),
      onStatus: (s) => statuses.push(s),
    });
    const a = last();
    expect(a.url).toContain('/ws/events');
    expect(a.params.get('from_seq')).toBe('5');
    expect(a.params.get('types')).toBe('job.submitted');
    a.hello(5);
    a.events(5, 9);
    runFrame();
    a.drop();
    expect(statuses).toEqual(['connecting', 'live', 'down']);
    vi.advanceTimersByTime(5_000);
    expect(FakeSocket.all).toHaveLength(2);
    const b = last();
    expect(b.params.get('from_seq')).toBe('10');
    b.hello(10);
    // a server that repeats itself is filtered: only 10.. is new
    b.events(8, 12);
    runFrame();
    expect(got).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    h.close();
  });

  it('resumes live streams from the hello fromSeq when nothing arrived yet', () => {
    openStream({ path: "/ws/job-updates", onMessages: () => undefined });
    const a = last();
    expect(a.params.has('from_seq')).toBe(false);
    a.hello(42);
    a.drop();
    vi.advanceTimersByTime(5_000);
    expect(last().params.get('from_seq')).toBe('42');
  });

  it('messages received before a drop are still delivered once', () => {
    const got: number[] = [];
    const h = openStream({ path: '/ws/events', fromSeq: 1, onMessages: (b) => got.push(...b.map((m) => m.seq)) });
    const a = last();
    a.hello(1);
    a.events(1, 3);
    a.drop(); // before any frame ran
    vi.advanceTimersByTime(5_000);
    const b = last();
    expect(b.params.get('from_seq')).toBe('4');
    b.hello(4);
    b.events(4, 5);
    runFrame();
    expect(got).toEqual([1, 2, 3, 4, 5]);
    h.close();
  });

  it('delivers at most once per animation frame, in seq order', () => {
    const batches: StreamMessage[][] = [];
    const h = openStream({ path: '/ws/events', fromSeq: 1, onMessages: (b) => batches.push(b) });
    const a = last();
    a.hello(1);
    a.events(1, 100);
    expect(batches).toHaveLength(0);
    runFrame();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    runFrame(); // nothing new: no call
    expect(batches).toHaveLength(1);
    a.events(101, 102);
    runFrame();
    expect(batches).toHaveLength(2);
    expect(batches[1]?.map((m) => m.seq)).toEqual([101, 102]);
    h.close();
  });

  it('delivers by timer when no frame comes (a hidden tab)', () => {
    const got: number[] = [];
    const h = openStream({ path: '/ws/events', fromSeq: 1, onMessages: (b) => got.push(...b.map((m) => m.seq)) });
    last().hello(1);
    last().events(1, 2);
    vi.advanceTimersByTime(300);
    expect(got).toEqual([1, 2]);
    runFrame();
    expect(got).toEqual([1, 2]);
    h.close();
  });

  it('does not pass the hello frame or junk on', () => {
    const got: StreamMessage[] = [];
    const h = openStream({ path: '/ws/events', onMessages: (b) => got.push(...b) });
    const a = last();
    a.hello(1);
    a.send('not json');
    a.send({ type: 'no-seq' });
    a.send({ seq: 1, type: 'job.submitted', entity: 'x' });
    runFrame();
    expect(got).toEqual([{ seq: 1, type: 'job.submitted', entity: 'x' }]);
    h.close();
  });

  it('close stops delivery and reconnecting', () => {
    const got: number[] = [];
    const h = openStream({ path: '/ws/events', fromSeq: 1, onMessages: (b) => got.push(...b.map((m) => m.seq)) });
    const a = last();
    a.hello(1);
    a.events(1, 2);
    h.close();
    expect(a.closedByClient).toBe(true);
    runFrame();
    a.drop();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(got).toEqual([]);
  });

  it('close during the backoff cancels the reconnect', () => {
    const h = openStream({ path: '/ws/events', onMessages: () => undefined });
    last().drop();
    h.close();
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('backs off exponentially, capped at 5 s, and resets once connected', () => {
    openStream({ path: '/ws/worker-status', onMessages: () => undefined });
    const times: number[] = [];
    let t = 0;
    for (let i = 0; i < 8; i++) {
      const n = FakeSocket.all.length;
      last().drop();
      let waited = 0;
      while (FakeSocket.all.length === n) {
        vi.advanceTimersByTime(10);
        waited += 10;
      }
      times.push(waited);
      t += waited;
    }
    expect(times[0]).toBeLessThanOrEqual(260);
    for (const w of times) expect(w).toBeLessThanOrEqual(5_000);
    expect(times[7]).toBeGreaterThanOrEqual(2_500);
    expect(t).toBeGreaterThan(0);
    last().hello(1);
    const n = FakeSocket.all.length;
    last().drop();
    vi.advanceTimersByTime(260);
    expect(FakeSocket.all.length).toBe(n + 1);
  });

  it('system-metrics: no from_seq and no dedup', () => {
    const got: number[] = [];
    const h = openStream({
      path: '/ws/system-metrics',
      query: { interval_ms: 1000 },
      fromSeq: 3,
      onMessages: (b) => got.push(...b.map((m) => m.seq)),
    });
    const a = last();
    expect(a.params.has('from_seq')).toBe(false);
    expect(a.params.get('interval_ms')).toBe('1000');
    a.hello(0);
    a.send({ seq: 7, type: 'metrics' });
    a.send({ seq: 7, type: 'metrics' });
    runFrame();
    a.drop();
    vi.advanceTimersByTime(5_000);
    expect(last().params.has('from_seq')).toBe(false);
    last().send({ seq: 7, type: 'metrics' });
    runFrame();
    expect(got).toEqual([7, 7, 7]);
    h.close();
  });
});

describe('backoffDelay', () => {
  it('stays within 250 ms .. 5 s', () => {
    for (let a = 0; a < 30; a++) {
      for (const r of [0, 0.5, 0.999]) {
        const d = backoffDelay(a, () => r);
        expect(d).toBeGreaterThanOrEqual(250);
        expect(d).toBeLessThanOrEqual(5_000);
      }
    }
    expect(backoffDelay(20, () => 0.999)).toBeGreaterThan(4_900);
  });
});

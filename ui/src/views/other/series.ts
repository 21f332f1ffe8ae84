// The Overview's time series: a fixed-size ring of metrics samples (one per
// second, at most an hour), fed first by GET /api/v1/metrics/history and then
// by /ws/system-metrics, read out as uPlot's aligned columns (oldest first).
// Samples are kept in time order: one older than the newest is dropped, one
// at the same second replaces it (the stream's "latest wins"), and a silence
// longer than a few intervals (a reconnect, a restart) gets a null point so
// the lines break instead of bridging the hole.

export type Tier = 'HIGH' | 'NORMAL' | 'LOW';
export const TIERS: readonly Tier[] = ['HIGH', 'NORMAL', 'LOW'];

/** A /ws/system-metrics message, or one sample of GET /api/v1/metrics/history. */
export interface MetricsSample {
  seq?: number;
  type?: string;
  at?: string;
  jobs?: Record<string, number>;
  active?: number;
  queued?: Partial<Record<Tier, number>>;
  submittedPerSec?: number;
  completedPerSec?: number;
  failedPerSec?: number;
  eventsPerSec?: number;
  workersActive?: number;
  workersBusy?: number;
  slotsTotal?: number;
  slotsBusy?: number;
  running?: number;
  commitMsP99?: number;
  submitMsP99?: number;
  subscribers?: number;
}

export const SERIES_KEYS = [
  'submitted',
  'completed',
  'failed',
  'queuedHigh',
  'queuedNormal',
  'queuedLow',
  'commitP99',
  'submitP99',
] as const;
export type SeriesKey = (typeof SERIES_KEYS)[number];

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** How each series reads a sample (null: the sample does not say). */
export const SERIES_OF: Record<SeriesKey, (s: MetricsSample) => number | null> = {
  submitted: (s) => num(s.submittedPerSec),
  completed: (s) => num(s.completedPerSec),
  failed: (s) => num(s.failedPerSec),
  queuedHigh: (s) => num(s.queued?.HIGH),
  queuedNormal: (s) => num(s.queued?.NORMAL),
  queuedLow: (s) => num(s.queued?.LOW),
  commitP99: (s) => num(s.commitMsP99),
  submitP99: (s) => num(s.submitMsP99),
};

/** Seconds since the epoch of a sample (its `at`), or of `fallbackMs` when it has none. */
export function sampleTime(s: MetricsSample, fallbackMs: number): number {
  const ms = s.at ? Date.parse(s.at) : NaN;
  return (Number.isFinite(ms) ? ms : fallbackMs) / 1000;
}

/** uPlot's AlignedData: x (seconds) then one column per series, oldest first. */
export type Aligned = [number[], ...(number | null)[][]];

export interface SeriesOptions {
  /** most points kept (default 3600) */
  capacity?: number;
  /** the expected spacing in seconds (default 1) */
  intervalSec?: number;
  /** a silence of more than this many intervals breaks the lines (default 5) */
  gapIntervals?: number;
}

export class MetricsSeries {
  readonly capacity: number;
  readonly intervalSec: number;
  private readonly gapSec: number;
  private readonly t: number[];
  private readonly cols: Record<SeriesKey, (number | null)[]>;
  private head = 0;
  private len = 0;
  private last: MetricsSample | undefined;

  constructor(o: SeriesOptions = {}) {
    this.capacity = Math.max(2, Math.floor(o.capacity ?? 3600));
    this.intervalSec = o.intervalSec ?? 1;
    this.gapSec = this.intervalSec * (o.gapIntervals ?? 5);
    this.t = new Array<number>(this.capacity).fill(0);
    const cols = {} as Record<SeriesKey, (number | null)[]>;
    for (const k of SERIES_KEYS) cols[k] = new Array<number | null>(this.capacity).fill(null);
    this.cols = cols;
  }

  get length(): number {
    return this.len;
  }

  /** The newest sample pushed (not the gap markers). */
  latest(): MetricsSample | undefined {
    return this.last;
  }

  /** Time (s) of the newest point, or undefined when empty. */
  lastTime(): number | undefined {
    return this.len ? this.t[this.index(this.len - 1)] : undefined;
  }

  private index(i: number): number {
    return (this.head + i) % this.capacity;
  }

  private write(at: number, t: number, s: MetricsSample | null): void {
    this.t[at] = t;
    for (const k of SERIES_KEYS) this.cols[k][at] = s ? SERIES_OF[k](s) : null;
  }

  private append(t: number, s: MetricsSample | null): void {
    if (this.len < this.capacity) {
      this.write(this.index(this.len), t, s);
      this.len++;
    } else {
      this.write(this.head, t, s);
      this.head = (this.head + 1) % this.capacity;
    }
  }

  /** Add one sample; false when it was older than the newest point and dropped. */
  push(s: MetricsSample, nowMs: number = Date.now()): boolean {
    const t = sampleTime(s, nowMs);
    const lt = this.lastTime();
    if (lt !== undefined) {
      if (t < lt) return false;
      if (t === lt) {
        this.write(this.index(this.len - 1), t, s);
        this.last = s;
        return true;
      }
      if (t - lt > this.gapSec) this.append(lt + this.intervalSec, null);
    }
    this.append(t, s);
    this.last = s;
    return true;
  }

  pushAll(samples: readonly MetricsSample[], nowMs: number = Date.now()): number {
    let n = 0;
    for (const s of samples) if (this.push(s, nowMs)) n++;
    return n;
  }

  clear(): void {
    this.head = 0;
    this.len = 0;
    this.last = undefined;
  }

  private ordered<T>(a: T[]): T[] {
    const out = new Array<T>(this.len);
    for (let i = 0; i < this.len; i++) out[i] = a[this.index(i)] as T;
    return out;
  }

  /** The columns uPlot draws: time then the given series, oldest first. */
  aligned(keys: readonly SeriesKey[]): Aligned {
    return [this.ordered(this.t), ...keys.map((k) => this.ordered(this.cols[k]))];
  }

  /** Whether any kept point has a value for this series. */
  has(key: SeriesKey): boolean {
    const c = this.cols[key];
    for (let i = 0; i < this.len; i++) if (c[this.index(i)] !== null) return true;
    return false;
  }
}

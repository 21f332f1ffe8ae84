// Formatting of times, durations and figures, the same in every view.
// Absent or bad input shows as an em dash, never "NaN" or "Invalid Date".

const DASH = '—';

function toMs(iso: string | number | null | undefined): number | null {
  if (iso === null || iso === undefined || iso === '') return null;
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  return Number.isFinite(t) ? t : null;
}

const p2 = (n: number) => String(n).padStart(2, '0');

/** Local date and time to the second: 2026-12-06 01:53:25 (opts.ms adds milliseconds; given opts.now, a time on that day shows without the date). */
export function fmtTime(iso: string | number | null | undefined, opts: { ms?: boolean; now?: number } = {}): string {
  const t = toMs(iso);
  if (t === null) return DASH;
  const d = new Date(t);
  let s = `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
  if (opts.ms) s += `.${String(d.getMilliseconds()).padStart(3, '0')}`;
  const now = new Date(opts.now ?? Date.now());
  const sameDay = now.getFullYear() === d.getFullYear() && now.getMonth() === d.getMonth() && now.getDate() === d.getDate();
  if (sameDay && opts.now !== undefined) return s;
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${s}`;
}

/** "just now", "12s ago", "5m ago", "3h ago", "4d ago"; the future: "in 5m". */
export function fmtAgo(iso: string | number | null | undefined, now: number = Date.now()): string {
  const t = toMs(iso);
  if (t === null) return DASH;
  const diff = Math.round((now - t) / 1000);
  const a = Math.abs(diff);
  if (a < 2) return 'just now';
  let s: string;
  if (a < 60) s = `${a}s`;
  else if (a < 3600) s = `${Math.floor(a / 60)}m`;
  else if (a < 86400) s = `${Math.floor(a / 3600)}h`;
  else s = `${Math.floor(a / 86400)}d`;
  return diff >= 0 ? `${s} ago` : `in ${s}`;
}

/** A duration in seconds: "420 ms", "4.2 s", "12 s", "3m 05s", "2h 03m", "3d 04h". */
export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const neg = seconds < 0;
  const v = Math.abs(seconds);
  let s: string;
  if (v < 1) s = `${Math.round(v * 1000)} ms`;
  else if (v < 10) s = `${(Math.floor(v * 10) / 10).toFixed(1)} s`;
  else if (v < 60) s = `${Math.floor(v)} s`;
  else if (v < 3600) s = `${Math.floor(v / 60)}m ${p2(Math.floor(v % 60))}s`;
  else if (v < 86400) s = `${Math.floor(v / 3600)}h ${p2(Math.floor((v % 3600) / 60))}m`;
  else s = `${Math.floor(v / 86400)}d ${p2(Math.floor((v % 86400) / 3600))}h`;
  return neg ? `-${s}` : s;
}

const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** Grouped figures: 1,234,567; fractions keep 2 digits under 10, 1 under 1000. */
export function fmtNumber(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return DASH;
  const a = Math.abs(n);
  if (Number.isInteger(n) || a >= 1000) return nf0.format(n);
  return a < 10 ? nf2.format(n) : nf1.format(n);
}

/** The first 8 characters of an id (a UUID's first group). */
export function shortId(uuid: string | null | undefined): string {
  if (!uuid) return DASH;
  return uuid.length > 8 ? uuid.slice(0, 8) : uuid;
}

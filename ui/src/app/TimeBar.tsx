// The time-travel bar, under the top bar on every view: a slider over the
// whole log (first_seq .. the live seq), a date-time picker (the server
// turns a time into the last seq at or before it: `as_of`), play mode
// (replays history from the point at 1x to 100x, paced by the events'
// own timestamps, over /ws/events), and "Back to live". Moving it sets
// the `at` search param, so every view re-reads at that seq and a link
// carries it. Staff see the job counts at the point (GET /api/v1/state,
// the same answer a replay tool compares); a user, who may not read the
// whole system's state, gets the slider, the picker and play over the
// seqs of their own jobs' updates.
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { apiGet } from '../api/client';
import { useStream } from '../api/stream';
import { getState } from '../views/other/api';
import { fmtAgo, fmtNumber, fmtTime } from './format';
import { TIME_SLIDER_ID } from './keys';
import { usePlayback, SPEEDS, type Speed } from './playback';
import { usePoint, useSetPoint } from './point';
import { describeError } from './states';

const STATUSES = ['CREATED', 'QUEUED', 'SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
/** the live head is read this often (and whenever the point changes) */
const HEAD_POLL_MS = 5_000;
/** a dragged slider commits once it rests this long (each commit re-reads every view) */
const SLIDER_SETTLE_MS = 250;

interface Head {
  first: number;
  last: number;
  /** the time of the last event, when known */
  at?: string;
  jobs?: Record<string, number>;
}

async function readHead(staff: boolean): Promise<Head> {
  if (staff) {
    const s = await getState({});
    return { first: s.first_seq ?? 1, last: s.applied_seq, at: s.at, jobs: s.jobs };
  }
  const j = await apiGet<{ seq?: number }>('/api/v1/jobs', { limit: 1 });
  return { first: 1, last: j.seq ?? 0 };
}

/** The seq of a moment: the last event at or before it. */
async function seqAt(staff: boolean, iso: string): Promise<number> {
  if (staff) return (await getState({ as_of: iso })).seq;
  return (await apiGet<{ seq?: number }>('/api/v1/jobs', { limit: 1, as_of: iso })).seq ?? 0;
}

/** "2026-12-06T10:02:03.123Z" -> the value of a datetime-local input, in local time, to the second. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function TimeBar({ staff }: { staff: boolean }) {
  const point = usePoint();
  const setPoint = useSetPoint();
  const head = useQuery({
    queryKey: ['timebar-head', staff],
    queryFn: () => readHead(staff),
    refetchInterval: HEAD_POLL_MS,
    placeholderData: keepPreviousData,
  });
  const pinned = useQuery({
    queryKey: ['state', point.at],
    queryFn: () => getState({ at_seq: point.at }),
    enabled: staff && point.at !== undefined,
    placeholderData: keepPreviousData,
  });

  // live, staff: the head and the counts once a second from /ws/system-metrics (no polling of
  // /state, whose digest is not free), so the bar keeps up with the views' own streams
  const [tick, setTick] = useState<{ last: number; at?: string; jobs?: Record<string, number> } | null>(null);
  useStream(
    staff && point.at === undefined
      ? {
          path: '/ws/system-metrics',
          query: { interval_ms: 1000 },
          onMessages: (b) => {
            const m = b[b.length - 1];
            if (m) setTick({ last: m.seq, at: typeof m.at === 'string' ? m.at : undefined, jobs: m.jobs as Record<string, number> });
          },
        }
      : null,
    [staff, point.at === undefined],
  );
  const live: Head | undefined =
    head.data && tick && tick.last >= head.data.last ? { first: head.data.first, last: tick.last, at: tick.at, jobs: tick.jobs } : head.data;

  const first = live?.first ?? 1;
  const last = Math.max(live?.last ?? 0, point.at ?? 0, first);
  const [draft, setDraft] = useState<number | null>(null);
  const settle = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (settle.current) clearTimeout(settle.current);
  }, []);
  const commit = (seq: number) => {
    if (settle.current) clearTimeout(settle.current);
    settle.current = null;
    setDraft(null);
    setPoint(seq);
  };
  const onSlide = (seq: number) => {
    setDraft(seq);
    if (settle.current) clearTimeout(settle.current);
    settle.current = setTimeout(() => commit(seq), SLIDER_SETTLE_MS);
  };

  const [speed, setSpeed] = useState<Speed>(10);
  const play = usePlayback({ staff, at: point.at, speed, liveSeq: live?.last, setPoint });

  const [pickError, setPickError] = useState<string | null>(null);
  const onPick = (value: string) => {
    setPickError(null);
    if (!value) return;
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return;
    play.stop();
    seqAt(staff, d.toISOString()).then(
      (seq) => setPoint(Math.max(seq, first)),
      (e: unknown) => setPickError(describeError(e).detail || describeError(e).title),
    );
  };

  const shown = point.at === undefined ? live : pinned.data ? { jobs: pinned.data.jobs, at: pinned.data.at } : undefined;
  /** the seq the counts are of; while the next point loads they are the last one's, dimmed */
  const shownSeq = point.at === undefined ? live?.last : pinned.data?.seq;
  const stale = point.at !== undefined && (pinned.isPlaceholderData || shownSeq !== point.at);
  const value = draft ?? point.at ?? last;
  const label =
    point.at === undefined ? (
      <>
        <span className="live-dot" aria-hidden="true" />
        <b>Live</b>
        <span className="muted">seq {fmtNumber(live?.last ?? 0)}</span>
      </>
    ) : (
      <>
        <span className="live-dot" aria-hidden="true" />
        <b>{play.playing ? 'Replaying' : 'As of'}</b>
        <span>seq {fmtNumber(draft ?? point.at)}</span>
        {shown?.at && (
          <span className="muted" title={shown.at}>
            {fmtTime(shown.at)} ({fmtAgo(shown.at)})
          </span>
        )}
      </>
    );

  return (
    <div
      className={point.at === undefined ? 'timebar' : 'timebar pinned'}
      role="region"
      aria-label="Time travel"
      data-testid="timebar"
      data-at={point.at ?? 'live'}
    >
      <span className="timebar-label" data-testid="timebar-label" aria-live="polite">
        {label}
      </span>
      <span className="timebar-slider">
        <input
          id={TIME_SLIDER_ID}
          data-testid="time-slider"
          type="range"
          min={first}
          max={last}
          step={1}
          value={value}
          disabled={head.isPending || last <= first}
          aria-label="Point in the log (seq)"
          aria-valuetext={point.at === undefined && draft === null ? `live, seq ${last}` : `seq ${value}`}
          onChange={(e) => {
            play.stop();
            onSlide(Number(e.target.value));
          }}
          onPointerUp={(e) => commit(Number((e.target as HTMLInputElement).value))}
        />
      </span>
      <label className="timebar-picker">
        <span className="sr-only">Go to a date and time</span>
        <input
          type="datetime-local"
          step={1}
          data-testid="time-picker"
          aria-label="Go to a date and time"
          defaultValue=""
          key={point.at ?? 'live'}
          onChange={(e) => onPick(e.target.value)}
          max={toLocalInput(live?.at ?? new Date().toISOString())}
        />
      </label>
      <button
        type="button"
        className="btn btn-sm"
        data-testid="play"
        aria-pressed={play.playing}
        disabled={point.at === undefined && !play.playing}
        title={point.at === undefined ? 'Pick a point in the past first' : 'Replay history from this point'}
        onClick={() => (play.playing ? play.stop() : play.start())}
      >
        {play.playing ? 'Pause' : 'Play'}
      </button>
      <select
        data-testid="play-speed"
        aria-label="Replay speed"
        value={speed}
        onChange={(e) => setSpeed(Number(e.target.value) as Speed)}
      >
        {SPEEDS.map((s) => (
          <option key={s} value={s}>
            {s}x
          </option>
        ))}
      </select>
      <button
        type="button"
        className="btn btn-sm"
        data-testid="back-to-live"
        disabled={point.at === undefined}
        onClick={() => {
          play.stop();
          setDraft(null);
          setPoint(undefined);
        }}
      >
        Back to live
      </button>
      {staff && shown?.jobs && (
        <span
          className={stale ? 'point-counts stale' : 'point-counts'}
          data-testid="point-counts"
          data-seq={shownSeq}
          aria-busy={stale}
          aria-label="Jobs by status at this point"
        >
          {STATUSES.map((s) => (
            <span key={s} className="point-count" data-status={s} data-count={shown.jobs?.[s] ?? 0} title={s}>
              {s.toLowerCase()} <b>{fmtNumber(shown.jobs?.[s] ?? 0)}</b>
            </span>
          ))}
        </span>
      )}
      {(pickError || play.error || head.isError) && (
        <span className="timebar-error" role="alert" data-testid="timebar-error">
          {pickError ?? play.error ?? describeError(head.error).title}
        </span>
      )}
    </div>
  );
}

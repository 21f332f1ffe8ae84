// The raw event log as a virtual list, newest last: the last 200 matching
// events up to `upper`, older pages read when scrolled to the top (or with
// the button), and, live, /ws/events from upper + 1 with the same filters
// appended (the list follows the end while it is scrolled there).
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useStream, type StreamMessage, type StreamStatus } from '../../api/stream';
import { fmtTime, shortId } from '../../app/format';
import { Empty, ErrorState, Loading } from '../../app/states';
import type { LogEvent } from './api';
import { entityKind, readBefore, type EventFilter } from './eventLog';
import { useNow } from './live';
import { useRows } from './useRows';
import { ViewLink } from './ViewLink';

const PAGE = 200;
const MAX_ROWS = 10_000;
const ROW_H = 27;

interface Props {
  upper: number;
  firstSeq: number;
  live: boolean;
  at: number | undefined;
  filter: EventFilter;
  /** new events arrived (the header re-reads the state) */
  onTail?: () => void;
  onStatus?: (s: StreamStatus) => void;
  /** narrow the view to one entity */
  onEntity: (id: string) => void;
}

interface LogState {
  rows: LogEvent[];
  olderDone: boolean;
  loading: 'initial' | 'older' | null;
  error: unknown;
}

function EntityCell({ e, at, onEntity }: { e: LogEvent; at: number | undefined; onEntity: (id: string) => void }) {
  if (!e.entity) return <span className="muted">—</span>;
  const kind = entityKind(e.type);
  const to = kind === 'job' ? `/jobs/${e.entity}` : kind === 'worker' ? '/workers' : kind === 'schedule' ? '/schedules' : null;
  return (
    <>
      {to ? (
        <ViewLink to={to} search={{ at }} className="mono" title={`${kind} ${e.entity}`}>
          {kind} {shortId(e.entity)}
        </ViewLink>
      ) : (
        <span className="mono">{shortId(e.entity)}</span>
      )}{' '}
      <button type="button" className="btn btn-ghost btn-sm o-filter-btn" onClick={() => onEntity(e.entity ?? '')} aria-label={`Only the events of ${e.entity}`} title="Only this entity's events">
        only
      </button>
    </>
  );
}

interface RowProps {
  e: LogEvent;
  open: boolean;
  toggle: (seq: number) => void;
  at: number | undefined;
  onEntity: (id: string) => void;
  /** times on this day show without the date */
  now: number;
}

function Row({ e, open, toggle, at, onEntity, now }: RowProps) {
  return (
    <>
      <div className="o-event-line">
        <span className="o-event-cell">
          <button type="button" className="o-event-toggle" aria-expanded={open} aria-label={`Event ${e.seq}: ${open ? 'hide' : 'show'} body`} onClick={() => toggle(e.seq)}>
            {open ? '▾' : '▸'} {e.seq}
          </button>
        </span>
        <span className="o-event-cell mono" title={fmtTime(e.at, { ms: true })}>
          {fmtTime(e.at, { ms: true, now })}
        </span>
        <span className={`o-event-cell mono o-event-type-${e.type}`} data-type={e.type}>
          {e.type}
        </span>
        <span className="o-event-cell" title={e.actor}>
          {e.actor}
        </span>
        <span className="o-event-cell">
          <EntityCell e={e} at={at} onEntity={onEntity} />
        </span>
      </div>
      {open && <pre className="o-event-body mono">{JSON.stringify(e.body, null, 2)}</pre>}
    </>
  );
}

export function EventLog({ upper, firstSeq, live, at, filter, onTail, onStatus, onEntity }: Props) {
  const [from] = useState(upper);
  const [log, setLog] = useState<LogState>({ rows: [], olderDone: false, loading: 'initial', error: null });
  const [attempt, setAttempt] = useState(0);
  const [open, setOpen] = useState<ReadonlySet<number>>(() => new Set());
  const [unseen, setUnseen] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
  const follow = useRef(true);
  const prepended = useRef(0);
  const { type, entity } = filter;
  const now = useNow(60_000);

  useEffect(() => {
    let cancelled = false;
    readBefore(from, PAGE, { type, entity }, undefined, firstSeq).then(
      (r) => !cancelled && setLog({ rows: r.events, olderDone: r.done, loading: null, error: null }),
      (error: unknown) => !cancelled && setLog((l) => ({ ...l, loading: null, error })),
    );
    return () => {
      cancelled = true;
    };
  }, [from, type, entity, firstSeq, attempt]);

  const loaded = log.loading !== 'initial' && !log.error;
  const status = useStream(
    live && loaded
      ? {
          path: '/ws/events',
          query: { types: type, entity },
          fromSeq: from + 1,
          onMessages: (batch: StreamMessage[]) => {
            const add = batch as unknown as LogEvent[];
            setLog((l) => {
              const last = l.rows[l.rows.length - 1]?.seq ?? from;
              const fresh = add.filter((e) => e.seq > last);
              if (!fresh.length) return l;
              let rows = l.rows.concat(fresh);
              let olderDone = l.olderDone;
              if (rows.length > MAX_ROWS) {
                rows = rows.slice(rows.length - MAX_ROWS);
                olderDone = false;
              }
              return { ...l, rows, olderDone };
            });
            if (!follow.current) setUnseen((n) => n + add.length);
            onTail?.();
          },
          onStatus,
        }
      : null,
    [live, loaded, from],
  );

  const busy = useRef(false);
  const loadOlder = useCallback(() => {
    if (busy.current || log.loading || log.olderDone) return;
    busy.current = true;
    const oldest = log.rows[0]?.seq ?? from + 1;
    setLog((l) => ({ ...l, loading: 'older' }));
    readBefore(oldest - 1, PAGE, { type, entity }, undefined, firstSeq).then(
      (r) => {
        busy.current = false;
        setLog((l) => {
          const first = l.rows[0]?.seq ?? Infinity;
          const add = r.events.filter((e) => e.seq < first);
          prepended.current = add.length;
          return { ...l, rows: add.concat(l.rows), olderDone: r.done, loading: null };
        });
      },
      (error: unknown) => {
        busy.current = false;
        setLog((l) => ({ ...l, loading: null, error }));
      },
    );
  }, [log.loading, log.olderDone, log.rows, from, type, entity, firstSeq]);

  const rows = log.rows;
  const virtualizer = useRows({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_H,
    overscan: 12,
    getItemKey: (i) => rows[i]?.seq ?? i,
  });

  // keep the view still when older rows come in above it; follow the end while at the end
  const firstSeqShown = rows[0]?.seq;
  const count = rows.length;
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (prepended.current) {
      el.scrollTop += prepended.current * ROW_H;
      prepended.current = 0;
    } else if (follow.current && count) {
      virtualizer.scrollToIndex(count - 1, { align: 'end' });
    }
  }, [firstSeqShown, count, virtualizer]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < ROW_H * 2;
    follow.current = atEnd;
    if (atEnd && unseen) setUnseen(0);
    if (el.scrollTop < ROW_H * 8) loadOlder();
  };

  const toggle = useCallback((seq: number) => {
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(seq)) n.delete(seq);
      else n.add(seq);
      return n;
    });
  }, []);

  const toEnd = () => {
    follow.current = true;
    setUnseen(0);
    if (count) virtualizer.scrollToIndex(count - 1, { align: 'end' });
  };

  if (log.loading === 'initial') return <Loading label="Reading the log" />;
  if (log.error && !rows.length)
    return (
      <ErrorState
        error={log.error}
        retry={() => {
          setLog({ rows: [], olderDone: false, loading: 'initial', error: null });
          setAttempt((a) => a + 1);
        }}
      />
    );

  return (
    <div className="o-events">
      <div className="o-pager">
        <button type="button" className="btn btn-sm" onClick={loadOlder} disabled={!!log.loading || log.olderDone}>
          {log.loading === 'older' ? 'Reading older…' : log.olderDone ? 'Start of the log' : 'Load older'}
        </button>
        <span className="muted" aria-live="polite">
          {rows.length ? `seq ${rows[0]?.seq} – ${rows[rows.length - 1]?.seq} · ${rows.length} events` : 'no events'}
          {live ? ` · tail ${status}` : ` · up to seq ${from}`}
        </span>
        {log.error !== null && <span className="o-err-text">{String(log.error)}</span>}
        <span className="spacer" />
        {unseen > 0 && (
          <button type="button" className="btn btn-sm btn-primary" onClick={toEnd}>
            {unseen} new ↓
          </button>
        )}
      </div>
      <div className="o-events-head" aria-hidden="true">
        <span>seq</span>
        <span>time</span>
        <span>type</span>
        <span>actor</span>
        <span>entity</span>
      </div>
      {rows.length === 0 ? (
        <Empty
          title="No events match"
          detail={live ? 'New matching events will appear here as they are written.' : `None up to seq ${from}.`}
        />
      ) : (
        <div ref={scroller} className="o-events-scroll" onScroll={onScroll} role="list" aria-label="Events, oldest first">
          <div className="o-events-inner" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((vi) => {
              const e = rows[vi.index];
              if (!e) return null;
              return (
                <div
                  key={vi.key}
                  ref={virtualizer.measureElement}
                  data-index={vi.index}
                  className="o-event"
                  role="listitem"
                  data-testid="event-row"
                  data-seq={e.seq}
                  style={{ transform: `translateY(${vi.start}px)` }}
                >
                  <Row e={e} open={open.has(e.seq)} toggle={toggle} at={at} onEntity={onEntity} now={now} />
                </div>
              );
            })}
          </div>
        </div>
      )}
    </div>
  );
}

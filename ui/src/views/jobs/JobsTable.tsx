// The jobs table: only the visible rows are in the DOM (TanStack Virtual),
// each a plain div row that re-renders only when its row object changes.
// Reaching the last 100 loaded rows asks the store for the next page.
import { memo, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { StatusBadge } from '../../app/StatusBadge';
import { fmtDuration, fmtTime, shortId } from '../../app/format';
import { JLink, WorkerLink, atSearch, jobPath } from './JLink';
import { ProgressBar } from './ProgressBar';
import { useVirtualRows } from './useVirtualRows';
import { isFinished, type JobRow } from './types';

export const ROW_HEIGHT = 40;

export interface JobsTableProps {
  rows: readonly JobRow[];
  at: number | undefined;
  now: number;
  selectable: boolean;
  selected: ReadonlySet<string>;
  toggle(id: string): void;
  toggleAll(on: boolean): void;
  nearEnd(): void;
}

function seconds(a: string | null, b: string | number | null): number | null {
  if (!a || b === null) return null;
  const s = Date.parse(a);
  const e = typeof b === 'number' ? b : Date.parse(b);
  return Number.isFinite(s) && Number.isFinite(e) ? Math.max(0, (e - s) / 1000) : null;
}

interface RowProps {
  row: JobRow;
  index: number;
  top: number;
  at: number | undefined;
  now: number;
  selectable: boolean;
  selected: boolean;
  toggle(id: string): void;
}

function Row({ row, index, top, at, now, selectable, selected, toggle }: RowProps) {
  const search = atSearch(at);
  const running = row.status === 'RUNNING';
  const dur = isFinished(row.status) ? seconds(row.startedAt, row.finishedAt) : running ? seconds(row.startedAt, now) : null;
  return (
    <div
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selectable ? selected : undefined}
      className={`j-row${row.stale ? ' stale' : ''}${selected ? ' selected' : ''}`}
      data-testid="job-row"
      data-job-id={row.id}
      data-status={row.status}
      data-stale={row.stale ? 'true' : undefined}
      title={row.stale ? 'No longer matches the filters (reload to drop it)' : undefined}
      style={{ transform: `translateY(${top}px)` }}
    >
      {selectable && (
        <div role="cell" className="j-c-check">
          <input type="checkbox" checked={selected} onChange={() => toggle(row.id)} aria-label={`Select ${row.name}`} />
        </div>
      )}
      <div role="cell" className="j-c-name">
        <JLink to={jobPath(row.id)} search={search} className="j-name" title={row.id}>
          {row.name || shortId(row.id)}
        </JLink>
        {row.currentStep && running && <span className="muted j-step">{row.currentStep}</span>}
        {row.error && row.status === 'FAILED' && <span className="j-err">{row.error}</span>}
      </div>
      <div role="cell" className="j-c-status">
        <StatusBadge status={row.status} />
      </div>
      <div role="cell" className={`j-c-prio prio-${(row.priority ?? '').toLowerCase()}`}>
        {row.priority ?? '—'}
      </div>
      <div role="cell" className="j-c-owner" title={row.owner}>
        {row.owner}
      </div>
      <div role="cell" className="j-c-worker mono">
        {row.worker ? (
          <WorkerLink id={row.worker} search={search}>
            {shortId(row.worker)}
          </WorkerLink>
        ) : (
          <span className="muted">—</span>
        )}
      </div>
      <div role="cell" className="j-c-num">
        {row.attempt}
      </div>
      <div role="cell" className="j-c-progress">
        <ProgressBar value={row.progress} status={row.status} label={`Progress of ${row.name}`} />
        <span className="j-pct">{Math.round(row.progress)}%</span>
      </div>
      <div role="cell" className="j-c-time" title={row.createdAt ?? undefined}>
        {fmtTime(row.createdAt, { now })}
      </div>
      <div role="cell" className="j-c-time j-two">
        <span title={row.startedAt ? `started ${row.startedAt}` : undefined}>{fmtTime(row.startedAt, { now })}</span>
        <span className="muted" title={row.finishedAt ? `finished ${row.finishedAt}` : undefined}>
          {row.finishedAt ? fmtTime(row.finishedAt, { now }) : ''}
        </span>
      </div>
      <div role="cell" className="j-c-num">
        {fmtDuration(dur)}
      </div>
    </div>
  );
}

const MemoRow = memo(
  Row,
  (a, b) =>
    a.row === b.row &&
    a.top === b.top &&
    a.index === b.index &&
    a.at === b.at &&
    a.selected === b.selected &&
    a.selectable === b.selectable &&
    a.toggle === b.toggle &&
    (a.row.status !== 'RUNNING' || a.now === b.now),
);

const HEADERS = ['Name', 'Status', 'Priority', 'Owner', 'Worker', 'Attempt', 'Progress', 'Created', 'Started / finished', 'Duration'];

export function JobsTable({ rows, at, now, selectable, selected, toggle, toggleAll, nearEnd }: JobsTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualRows({
    count: rows.length,
    getScrollElement: () => scroller.current,
    rowHeight: ROW_HEIGHT,
    getItemKey: (i) => rows[i]?.id ?? i,
  });
  // the table fills the window below its top (the shell's bars vary in height)
  const [height, setHeight] = useState<number | undefined>(undefined);
  useLayoutEffect(() => {
    const fit = () => {
      const el = scroller.current;
      if (!el) return;
      const top = el.getBoundingClientRect().top + window.scrollY;
      setHeight(Math.max(320, window.innerHeight - top - 44));
    };
    fit();
    window.addEventListener('resize', fit);
    return () => window.removeEventListener('resize', fit);
  }, []);
  const items = v.getVirtualItems();
  const lastIndex = items.length ? (items[items.length - 1]?.index ?? 0) : -1;
  useEffect(() => {
    if (lastIndex >= rows.length - 100) nearEnd();
  }, [lastIndex, rows.length, nearEnd]);

  const allOn = selectable && rows.length > 0 && selected.size >= rows.length && rows.every((r) => selected.has(r.id));
  return (
    <div className={`j-table${selectable ? ' selectable' : ''}`} data-testid="jobs-table">
      {/* the scroller is the table (focusable, so the keyboard scrolls it): its rowgroups are its own children */}
      <div
        ref={scroller}
        className="j-scroll"
        role="table"
        tabIndex={0}
        aria-label="Jobs, scroll for more"
        aria-rowcount={rows.length + 1}
        style={height === undefined ? undefined : { height }}
      >
        <div role="rowgroup" className="j-head">
          <div role="row" aria-rowindex={1} className="j-row j-head-row">
            {selectable && (
              <div role="columnheader" className="j-c-check">
                <input
                  type="checkbox"
                  checked={allOn}
                  onChange={(e) => toggleAll(e.target.checked)}
                  aria-label="Select all loaded jobs"
                  data-testid="select-all"
                />
              </div>
            )}
            {HEADERS.map((h) => (
              <div role="columnheader" key={h}>
                {h}
              </div>
            ))}
          </div>
        </div>
        <div role="rowgroup" className="j-body" style={{ height: v.getTotalSize() }}>
          {items.map((it) => {
            const row = rows[it.index];
            if (!row) return null;
            return (
              <MemoRow
                key={row.id}
                row={row}
                index={it.index}
                top={it.start}
                at={at}
                now={now}
                selectable={selectable}
                selected={selected.has(row.id)}
                toggle={toggle}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

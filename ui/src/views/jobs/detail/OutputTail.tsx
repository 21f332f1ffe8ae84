// The live tail of a job's output (GET /api/v1/jobs/{id}/logs from a byte
// offset): read to the end once, then every second while the job is
// placed or running, until the server says the output is complete. The last
// 2,000 lines show; the view follows the end unless the user scrolled up.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { describeError } from '../../../app/states';
import { fmtNumber } from '../../../app/format';
import { readLog } from '../api';
import { LineTail } from './tail';

const MAX_LINES = 2000;
const POLL_MS = 1000;
const CHUNK = 1_048_576;

interface Buf {
  id: string;
  tail: LineTail;
  offset: number;
  complete: boolean;
}

interface OutState {
  text: string;
  lines: number;
  dropped: number;
  bytes: number;
  complete: boolean;
  loaded: boolean;
  error: unknown;
}

const EMPTY: OutState = { text: '', lines: 0, dropped: 0, bytes: 0, complete: false, loaded: false, error: null };

export function OutputTail({ id, active, pinned }: { id: string; active: boolean; pinned: boolean }) {
  const buf = useRef<Buf | null>(null);
  const [out, setOut] = useState<OutState & { id: string }>({ ...EMPTY, id });
  const [retry, setRetry] = useState(0);

  useEffect(() => {
    if (!buf.current || buf.current.id !== id) buf.current = { id, tail: new LineTail(MAX_LINES), offset: 0, complete: false };
    const b = buf.current;
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const publish = (error: unknown) =>
      setOut({
        id,
        text: b.tail.text(),
        lines: b.tail.count,
        dropped: b.tail.dropped,
        bytes: b.offset,
        complete: b.complete,
        loaded: true,
        error,
      });
    const step = async () => {
      try {
        for (;;) {
          const c = await readLog(id, b.offset, ac.signal, CHUNK);
          if (ac.signal.aborted) return;
          if (c.bytes.length) b.tail.push(c.bytes);
          b.offset = c.next;
          b.complete = c.complete;
          if (c.bytes.length < CHUNK || c.complete) break;
        }
        publish(null);
        if (active && !b.complete) timer = setTimeout(() => void step(), POLL_MS);
      } catch (e) {
        if (ac.signal.aborted) return;
        publish(e);
        if (active) timer = setTimeout(() => void step(), POLL_MS * 3);
      }
    };
    if (!b.complete || b.offset === 0) void step();
    else publish(null);
    return () => {
      ac.abort();
      if (timer !== null) clearTimeout(timer);
    };
  }, [id, active, retry]);

  const pre = useRef<HTMLPreElement>(null);
  const [follow, setFollow] = useState(true);
  const shown = out.id === id ? out : { ...EMPTY, id };
  useLayoutEffect(() => {
    const el = pre.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [shown.text, follow]);

  const onScroll = () => {
    const el = pre.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atEnd !== follow) setFollow(atEnd);
  };

  return (
    <div className="panel" data-testid="job-output-panel">
      <h2 className="jd-h">
        Output
        {active && !shown.complete && <span className="j-live j-live-live">following</span>}
        <span className="spacer" />
        <span className="muted jd-check">{fmtNumber(shown.bytes)} bytes</span>
      </h2>
      <pre
        ref={pre}
        className="jd-output"
        role="log"
        data-testid="job-output"
        tabIndex={0}
        aria-label="Job output (the last 2,000 lines)"
        aria-live="off"
        onScroll={onScroll}
      >
        {shown.text || (shown.loaded ? '' : 'Loading output…')}
      </pre>
      <div className="jd-output-bar">
        {shown.loaded && !shown.text && <span className="muted">{active ? 'No output yet.' : 'This job wrote no output.'}</span>}
        {shown.dropped > 0 && <span className="muted">Showing the last {fmtNumber(MAX_LINES)} lines ({fmtNumber(shown.dropped)} earlier lines not shown).</span>}
        {pinned && <span className="muted">Output is shown as it is now (it is not kept per seq).</span>}
        {!follow && (
          <button type="button" className="btn btn-sm" onClick={() => setFollow(true)}>
            Jump to the end
          </button>
        )}
        {shown.error !== null && (
          <span className="j-err" role="alert">
            Could not read the output: {describeError(shown.error).title}{' '}
            <button type="button" className="btn btn-sm" onClick={() => setRetry((r) => r + 1)}>
              Retry
            </button>
          </span>
        )}
      </div>
    </div>
  );
}

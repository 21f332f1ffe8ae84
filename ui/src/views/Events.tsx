// Events: the raw log with filters by type and entity (in the URL), the
// chain head and applied seq of the point in a header, and, live, the tail.
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useSearch } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import type { StreamStatus } from '../api/stream';
import { fmtTime } from '../app/format';
import { pointQuery, usePoint } from '../app/point';
import { ErrorState, Loading } from '../app/states';
import { getState, type StateAnswer } from './other/api';
import { EventLog } from './other/EventLog';
import { EVENT_TYPES } from './other/eventLog';
import { useThrottled } from './other/live';
import './other.css';

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function ChainHead({ s, live, tail }: { s: StateAnswer; live: boolean; tail: StreamStatus | null }) {
  return (
    <div className="o-chain panel" data-testid="chain-head" data-seq={s.applied_seq}>
      <span>
        <span className="muted">applied seq </span>
        <b className="mono">{s.applied_seq}</b>
      </span>
      <span>
        <span className="muted">chain head </span>
        <code title="SHA-256 of the record at the applied seq">{s.chain_head}</code>
      </span>
      {s.at && (
        <span>
          <span className="muted">at </span>
          {fmtTime(s.at, { ms: true })}
        </span>
      )}
      {s.first_seq !== undefined && s.first_seq > 1 && (
        <span>
          <span className="muted">first seq </span>
          {s.first_seq}
        </span>
      )}
      <span className="muted">{live ? `live${tail ? ` · tail ${tail}` : ''}` : 'pinned'}</span>
    </div>
  );
}

function EntityFilter({ value, onChange }: { value: string; onChange: (v: string | undefined) => void }) {
  const [text, setText] = useState(value);
  const [prev, setPrev] = useState(value);
  if (prev !== value) {
    setPrev(value);
    setText(value);
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange(text.trim() || undefined);
  };
  return (
    <form className="o-entity-form" onSubmit={submit} role="search">
      <label>
        Entity id
        <input
          type="search"
          value={text}
          placeholder="a job, worker or schedule id"
          onChange={(e) => setText(e.target.value)}
          spellCheck={false}
        />
      </label>
      <button type="submit" className="btn">
        Filter
      </button>
      {value && (
        <button type="button" className="btn btn-ghost" onClick={() => onChange(undefined)}>
          Clear
        </button>
      )}
    </form>
  );
}

export default function Events() {
  const point = usePoint();
  const search = useSearch({ strict: false }) as Record<string, unknown>;
  const type = str(search.type);
  const entity = str(search.entity);
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [tail, setTail] = useState<StreamStatus | null>(null);

  const set = (k: 'type' | 'entity', v: string | undefined) =>
    void navigate({ to: '.', search: ((prev: Record<string, unknown>) => ({ ...prev, [k]: v })) as never });

  const state = useQuery({
    queryKey: ['state', point.at],
    queryFn: () => getState(pointQuery(point)),
    placeholderData: keepPreviousData,
  });
  const refreshHead = useThrottled(() => void qc.invalidateQueries({ queryKey: ['state', undefined] }), 2000);

  let body;
  if (state.isPending) body = <Loading label="Reading the log's head" />;
  else if (state.isError) body = <ErrorState error={state.error} retry={() => void state.refetch()} />;
  else
    body = (
      <>
        <ChainHead s={state.data} live={point.live} tail={point.live ? tail : null} />
        <EventLog
          key={`${point.at ?? 'live'}|${type ?? ''}|${entity ?? ''}`}
          upper={point.at ?? state.data.applied_seq}
          firstSeq={state.data.first_seq ?? 1}
          live={point.live}
          at={point.at}
          filter={{ type, entity }}
          onTail={refreshHead}
          onStatus={setTail}
          onEntity={(id) => set('entity', id)}
        />
      </>
    );

  return (
    <section data-testid="view-events" className="o-view">
      <h1>Events</h1>
      <div className="o-toolbar">
        <label>
          Type
          <select value={type ?? ''} onChange={(e) => set('type', e.target.value || undefined)}>
            <option value="">all types</option>
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <EntityFilter value={entity ?? ''} onChange={(v) => set('entity', v)} />
      </div>
      {body}
    </section>
  );
}

// Retry or cancel the selected jobs (staff, live only): a confirm step, then
// the requests a few at a time, then what failed, job by job.
import { useState } from 'react';
import { shortId } from '../../app/format';
import { bulkAction, type BulkFailure } from './api';
import { JLink, jobPath } from './JLink';

type BulkKind = 'retry' | 'cancel';
type Phase =
  | { k: 'idle' }
  | { k: 'confirm'; action: BulkKind }
  | { k: 'running'; action: BulkKind; done: number; total: number }
  | { k: 'done'; action: BulkKind; total: number; failures: BulkFailure[] };

const VERB: Record<BulkKind, [string, string]> = { retry: ['Retry', 'retried'], cancel: ['Cancel', 'cancelled'] };

export function BulkBar({ selected, clear }: { selected: ReadonlySet<string>; clear(): void }) {
  const [phase, setPhase] = useState<Phase>({ k: 'idle' });
  const n = selected.size;

  const run = async (action: BulkKind) => {
    const ids = [...selected];
    setPhase({ k: 'running', action, done: 0, total: ids.length });
    const failures = await bulkAction(ids, action, (done) => setPhase({ k: 'running', action, done, total: ids.length }));
    setPhase({ k: 'done', action, total: ids.length, failures });
    if (failures.length === 0) clear();
  };

  return (
    <div className="j-bulk" role="region" aria-label="Bulk actions" data-testid="bulk-bar">
      {phase.k === 'idle' || phase.k === 'done' ? (
        <>
          <span className="muted">{n ? `${n.toLocaleString()} selected` : 'Select jobs to act on them'}</span>
          <button type="button" className="btn btn-sm" disabled={!n} onClick={() => setPhase({ k: 'confirm', action: 'retry' })} data-testid="bulk-retry">
            Retry selected
          </button>
          <button type="button" className="btn btn-sm btn-danger" disabled={!n} onClick={() => setPhase({ k: 'confirm', action: 'cancel' })} data-testid="bulk-cancel">
            Cancel selected
          </button>
          {n > 0 && (
            <button type="button" className="btn btn-sm btn-ghost" onClick={clear}>
              Clear selection
            </button>
          )}
        </>
      ) : phase.k === 'confirm' ? (
        <>
          <span role="alert">
            {VERB[phase.action][0]} {n.toLocaleString()} job{n === 1 ? '' : 's'}?
          </span>
          <button
            type="button"
            className={`btn btn-sm ${phase.action === 'cancel' ? 'btn-danger' : 'btn-primary'}`}
            onClick={() => void run(phase.action)}
            data-testid="bulk-confirm"
            autoFocus
          >
            {VERB[phase.action][0]} {n.toLocaleString()}
          </button>
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => setPhase({ k: 'idle' })}>
            Back
          </button>
        </>
      ) : (
        <span role="status">
          {phase.action === 'retry' ? 'Retrying' : 'Cancelling'}… {phase.done} / {phase.total}
        </span>
      )}
      {phase.k === 'done' && (
        <div className={`j-bulk-result${phase.failures.length ? ' has-failures' : ''}`} role="status" data-testid="bulk-result">
          <span>
            {(phase.total - phase.failures.length).toLocaleString()} of {phase.total.toLocaleString()} {VERB[phase.action][1]}
            {phase.failures.length ? `; ${phase.failures.length} failed:` : '.'}
          </span>
          {phase.failures.length > 0 && (
            <ul className="j-failures">
              {phase.failures.slice(0, 50).map((f) => (
                <li key={f.id} data-testid="bulk-failure">
                  <JLink to={jobPath(f.id)} className="mono">
                    {shortId(f.id)}
                  </JLink>{' '}
                  {f.message}
                </li>
              ))}
              {phase.failures.length > 50 && <li className="muted">… and {phase.failures.length - 50} more</li>}
            </ul>
          )}
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => setPhase({ k: 'idle' })}>
            Dismiss
          </button>
        </div>
      )}
    </div>
  );
}

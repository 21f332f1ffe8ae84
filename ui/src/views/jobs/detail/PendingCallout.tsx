// Why a job is not running yet: the server's Pending object (the first
// blocking fact, every other one, and what blocks: dependencies, capable
// workers, the place in the queue, the concurrency key).
import { StatusBadge } from '../../../app/StatusBadge';
import { fmtAgo, fmtNumber, fmtTime, shortId } from '../../../app/format';
import { JLink, WorkerLink, atSearch, jobPath } from '../JLink';
import type { PendingInfo } from '../types';

const REASON: Record<string, string> = {
  'waiting-for-dependencies': 'Waiting for its dependencies',
  scheduled: 'Scheduled for later',
  'retry-backoff': 'Waiting to retry',
  'concurrency-limit': 'Its concurrency key is at its limit',
  'no-capable-worker': 'No worker can run it',
  'workers-unavailable': 'Its workers are unavailable',
  'workers-busy': 'Every capable worker is busy',
  dispatching: 'Being placed on a worker',
};

export function PendingCallout({ p, at }: { p: PendingInfo; at: number | undefined }) {
  const s = atSearch(at);
  const w = p.workers;
  const others = p.reasons.filter((r) => r !== p.reason);
  return (
    <div className="jd-pending" role="note" aria-label="Why this job is not running" data-testid="pending-reason" data-reason={p.reason}>
      <div className="jd-pending-title">
        <span>{REASON[p.reason] ?? p.reason}</span>
        <code>{p.reason}</code>
        {p.until && (
          <span className="muted" title={p.until}>
            until {fmtTime(p.until)} ({fmtAgo(p.until)})
          </span>
        )}
      </div>
      <div>{p.detail}</div>
      {others.length > 0 && <div className="muted">Also: {others.map((r) => REASON[r] ?? r).join('; ')}.</div>}

      {p.dependencies.unmet > 0 && (
        <div className="jd-sec">
          <div className="jd-sec-title">Dependencies not completed: {fmtNumber(p.dependencies.unmet)}</div>
          <ul>
            {p.dependencies.waitingFor.map((d) => (
              <li key={d.id}>
                <JLink to={jobPath(d.id)} search={s} className="mono" title={d.id}>
                  {shortId(d.id)}
                </JLink>{' '}
                <StatusBadge status={d.status} />
              </li>
            ))}
          </ul>
        </div>
      )}

      <div className="jd-sec">
        <div className="jd-sec-title">Capable workers</div>
        <div>
          {fmtNumber(w.capable)} capable: {fmtNumber(w.active)} active, {fmtNumber(w.draining)} draining, {fmtNumber(w.lost)} lost;{' '}
          {fmtNumber(w.slotsBusy)} of {fmtNumber(w.slots)} slots busy
        </div>
        {w.listed.length > 0 && (
          <ul>
            {w.listed.map((x) => (
              <li key={x.id}>
                <WorkerLink id={x.id} search={s}>
                  {x.name || shortId(x.id)}
                </WorkerLink>{' '}
                <span className="muted">
                  {x.status.toLowerCase()}, {x.running}/{x.slots} running
                </span>
              </li>
            ))}
          </ul>
        )}
      </div>

      {p.position && (
        <div className="jd-sec">
          <div className="jd-sec-title">Place in the queue</div>
          <div>
            {p.position.aheadAtLeast ? 'at least ' : ''}
            {fmtNumber(p.position.ahead)} ahead of it in {p.position.tier} (of {fmtNumber(p.position.readyInTier)} ready)
            {p.position.aheadInBetterTiers > 0 && `, and ${fmtNumber(p.position.aheadInBetterTiers)} in better tiers`}
          </div>
        </div>
      )}

      {p.concurrency && (
        <div className="jd-sec">
          <div className="jd-sec-title">Concurrency key</div>
          <div>
            <span className="jd-chip">{p.concurrency.key}</span> {fmtNumber(p.concurrency.held)} of {fmtNumber(p.concurrency.limit)} held
            {p.concurrency.full ? ' (full)' : ''}
            {p.concurrency.heldBy.length > 0 && ' by '}
            {p.concurrency.heldBy.map((h, i) => (
              <span key={h}>
                {i > 0 && ', '}
                <JLink to={jobPath(h)} search={s} className="mono" title={h}>
                  {shortId(h)}
                </JLink>
              </span>
            ))}
          </div>
        </div>
      )}
    </div>
  );
}

import { fmtAgo, fmtTime } from './format';
import type { Reachability } from './health';

export function ConnBanner({ r }: { r: Reachability }) {
  if (!r.down) return null;
  return (
    <div className="conn-banner" role="alert" data-testid="conn-banner">
      <strong>Server unreachable.</strong>
      <span>
        The dashboard cannot reach djs{r.since !== null ? ` (since ${fmtAgo(r.since)})` : ''}; what you see may be out of
        date. Retrying every 2 s{r.lastTry !== null ? `, last try ${fmtTime(r.lastTry, { now: r.lastTry })}` : ''}.
      </span>
      <button type="button" className="btn btn-sm" onClick={r.checkNow}>
        Retry now
      </button>
    </div>
  );
}

// Loading, empty and error states: every view shows one of these instead
// of a blank area.
import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state-box state-loading" role="status" aria-live="polite" data-testid="state-loading">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function Empty({ title, detail }: { title: string; detail?: ReactNode }) {
  return (
    <div className="state-box state-empty" data-testid="state-empty">
      <div className="state-title">{title}</div>
      {detail !== undefined && <div className="muted">{detail}</div>}
    </div>
  );
}

/** Title and detail of anything thrown: the server's problem, a network failure, or a bug. */
export function describeError(error: unknown): { title: string; detail: string; status?: number } {
  if (error instanceof ApiError) return { title: error.title || `HTTP ${error.status}`, detail: error.detail, status: error.status };
  if (error instanceof TypeError) return { title: 'Cannot reach the server', detail: error.message };
  if (error instanceof Error) return { title: error.name === 'Error' ? 'Something went wrong' : error.name, detail: error.message };
  return { title: 'Something went wrong', detail: typeof error === 'string' ? error : '' };
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const d = describeError(error);
  return (
    <div className="state-box state-error" role="alert" data-testid="state-error">
      <div className="state-title">
        {d.title}
        {d.status !== undefined && <span className="muted"> ({d.status})</span>}
      </div>
      {d.detail && <div>{d.detail}</div>}
      {retry && (
        <button type="button" className="btn btn-sm" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

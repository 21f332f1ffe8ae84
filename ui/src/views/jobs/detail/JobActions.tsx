// Retry, cancel, delete: for staff only (delete: admins), never when pinned.
import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { isAdmin, isStaff, useSession } from '../../../app/session';
import { describeError } from '../../../app/states';
import { jobAction, type JobAction } from '../api';
import { isFinished, type JobDetail } from '../types';

const LABEL: Record<JobAction, string> = { retry: 'Retry', cancel: 'Cancel', delete: 'Delete' };

export function JobActions({ job, pinned }: { job: JobDetail; pinned: boolean }) {
  const session = useSession();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [confirm, setConfirm] = useState<JobAction | null>(null);
  const [busy, setBusy] = useState<JobAction | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (pinned || !isStaff(session)) return null;

  const finished = isFinished(job.status);
  const can: Record<JobAction, boolean> = {
    retry: job.status === 'FAILED' || job.status === 'CANCELLED',
    cancel: !finished,
    delete: finished && isAdmin(session),
  };
  const run = async (a: JobAction) => {
    setConfirm(null);
    setBusy(a);
    setError(null);
    try {
      await jobAction(job.id, a);
      if (a === 'delete') {
        const to: string = '/jobs';
        void navigate({ to });
        return;
      }
      await qc.invalidateQueries({ queryKey: ['job', job.id] });
      await qc.invalidateQueries({ queryKey: ['job-history', job.id] });
    } catch (e) {
      const d = describeError(e);
      setError(`${LABEL[a]} failed: ${d.title}${d.detail ? ` (${d.detail})` : ''}`);
    } finally {
      setBusy(null);
    }
  };
  const click = (a: JobAction) => (a === 'retry' ? void run(a) : setConfirm(a));

  return (
    <div className="jd-actions" role="group" aria-label="Job actions">
      {confirm ? (
        <span className="jd-confirm" role="alert">
          {LABEL[confirm]} this job{confirm === 'delete' ? ' (its history stays in the log)' : ''}?
          <button type="button" className="btn btn-sm btn-danger" onClick={() => void run(confirm)} data-testid="job-confirm" autoFocus>
            {LABEL[confirm]}
          </button>
          <button type="button" className="btn btn-sm btn-ghost" onClick={() => setConfirm(null)}>
            Back
          </button>
        </span>
      ) : (
        (['retry', 'cancel', 'delete'] as const)
          .filter((a) => can[a])
          .map((a) => (
            <button
              key={a}
              type="button"
              className={`btn btn-sm${a === 'retry' ? ' btn-primary' : ' btn-danger'}`}
              disabled={busy !== null}
              onClick={() => click(a)}
              data-testid={`job-${a}`}
            >
              {busy === a ? `${LABEL[a]}…` : LABEL[a]}
            </button>
          ))
      )}
      {error && (
        <span className="j-err" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

// Applying one job-updates message to a row of the jobs table. Pure: the
// same row object comes back when the message changes nothing (old seq), so
// memoized rows skip rendering.
import { rowMatches, type JobFilters } from './filters';
import { isFinished, type JobListItem, type JobRow, type JobUpdate } from './types';

export function rowFromItem(j: JobListItem, seq: number, f: JobFilters): JobRow {
  const row: JobRow = {
    id: j.id,
    name: j.name,
    owner: j.owner,
    status: j.status,
    priority: j.priority,
    attempt: j.attempt,
    progress: typeof j.progress === 'number' ? j.progress : 0,
    worker: j.assignedWorker ?? null,
    createdAt: j.createdAt ?? null,
    startedAt: j.startedAt ?? null,
    finishedAt: j.finishedAt ?? null,
    currentStep: undefined,
    error: undefined,
    seq: Math.max(seq, j.seq ?? 0),
    stale: false,
  };
  row.stale = !rowMatches(f, row);
  return row;
}

/** A row for a job the table learns of from its submission message. */
export function rowFromSubmission(u: JobUpdate, f: JobFilters): JobRow {
  const row: JobRow = {
    id: u.jobId,
    name: u.name,
    owner: u.owner,
    status: u.status,
    priority: undefined,
    attempt: u.attempt,
    progress: u.progress,
    worker: u.worker,
    createdAt: u.at,
    startedAt: null,
    finishedAt: null,
    currentStep: undefined,
    error: undefined,
    seq: u.seq,
    stale: false,
  };
  row.stale = !rowMatches(f, row);
  return row;
}

export function applyUpdate(row: JobRow, u: JobUpdate, f: JobFilters): JobRow {
  if (u.seq <= row.seq || u.jobId !== row.id) return row;
  const next: JobRow = {
    ...row,
    name: u.name || row.name,
    owner: u.owner || row.owner,
    status: u.status,
    attempt: u.attempt,
    progress: u.progress,
    worker: u.worker,
    seq: u.seq,
  };
  if (u.event === 'job.started') {
    next.startedAt = u.at;
    next.finishedAt = null;
  }
  if (isFinished(u.status) && !isFinished(row.status)) next.finishedAt = u.at;
  if (!isFinished(u.status) && isFinished(row.status)) next.finishedAt = null;
  if (u.currentStep !== undefined) next.currentStep = u.currentStep;
  if (u.event === 'job.scheduled') next.currentStep = undefined;
  if (u.error !== undefined) next.error = u.error;
  else if (u.event === 'job.retried' || u.event === 'job.succeeded') next.error = undefined;
  next.stale = !rowMatches(f, next);
  return next;
}

/** Parse an unknown stream message as a job update (null: not one). */
export function asJobUpdate(m: { seq: number; type: string; [k: string]: unknown }): JobUpdate | null {
  if (m.type !== 'job.update' || typeof m.jobId !== 'string' || typeof m.status !== 'string') return null;
  return {
    seq: m.seq,
    type: m.type,
    event: typeof m.event === 'string' ? m.event : '',
    at: typeof m.at === 'string' ? m.at : '',
    jobId: m.jobId,
    name: typeof m.name === 'string' ? m.name : '',
    owner: typeof m.owner === 'string' ? m.owner : '',
    status: m.status as JobUpdate['status'],
    previousStatus: typeof m.previousStatus === 'string' ? (m.previousStatus as JobUpdate['status']) : null,
    worker: typeof m.worker === 'string' ? m.worker : null,
    attempt: typeof m.attempt === 'number' ? m.attempt : 0,
    progress: typeof m.progress === 'number' ? m.progress : 0,
    ...(typeof m.currentStep === 'string' ? { currentStep: m.currentStep } : {}),
    ...(typeof m.error === 'string' ? { error: m.error } : {}),
    ...(typeof m.actor === 'string' ? { actor: m.actor } : {}),
  };
}

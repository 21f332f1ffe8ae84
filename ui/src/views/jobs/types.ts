// The shapes of the jobs API the two job views read (docs/openapi.yaml).

export const JOB_STATUSES = ['CREATED', 'QUEUED', 'SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number] | 'DELETED';
export const PRIORITIES = ['HIGH', 'NORMAL', 'LOW'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const FINISHED: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'DELETED']);
export const isFinished = (s: string): boolean => FINISHED.has(s);

/** One item of GET /api/v1/jobs (optional fields: not every server version sends them). */
export interface JobListItem {
  id: string;
  name: string;
  owner: string;
  status: JobStatus;
  priority: Priority;
  attempt: number;
  progress: number;
  assignedWorker: string | null;
  createdAt: string | null;
  scheduledAt?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  seq?: number;
}

export interface JobsPage {
  jobs: JobListItem[];
  next: string | null;
  /** the seq the page reflects */
  seq?: number;
}

/** A job-updates stream message (docs/streams.md). */
export interface JobUpdate {
  seq: number;
  type: string;
  event: string;
  at: string;
  jobId: string;
  name: string;
  owner: string;
  status: JobStatus;
  previousStatus: JobStatus | null;
  worker: string | null;
  attempt: number;
  progress: number;
  currentStep?: string;
  error?: string;
  actor?: string;
}

/** A row of the jobs table: a list item plus what the stream told since. */
export interface JobRow {
  id: string;
  name: string;
  owner: string;
  status: JobStatus;
  priority: Priority | undefined;
  attempt: number;
  progress: number;
  worker: string | null;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  currentStep: string | undefined;
  error: string | undefined;
  /** the seq this row reflects: updates at or below it are old news */
  seq: number;
  /** it no longer matches the filters (shown dimmed until a reload) */
  stale: boolean;
}

export interface PendingInfo {
  reason: string;
  detail: string;
  reasons: string[];
  until: string | null;
  dependencies: { unmet: number; waitingFor: { id: string; status: string }[] };
  workers: {
    capable: number;
    active: number;
    draining: number;
    lost: number;
    slots: number;
    slotsBusy: number;
    listed: { id: string; name: string; status: string; running: number; slots: number }[];
  };
  position: {
    tier: string;
    ahead: number;
    aheadAtLeast: boolean;
    readyInTier: number;
    aheadInBetterTiers: number;
  } | null;
  concurrency: { key: string; limit: number; held: number; full: boolean; heldBy: string[] } | null;
}

/** GET /api/v1/jobs/{id} */
export interface JobDetail {
  id: string;
  name: string;
  description: string;
  owner: string;
  status: JobStatus;
  priority: Priority;
  createdAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  assignedWorker: string | null;
  attempt: number;
  maxRetries: number;
  timeoutSeconds: number;
  dependencies: string[];
  concurrencyKey?: string;
  concurrencyLimit?: number;
  scheduleId?: string;
  schedule?: string | null;
  workflow?: string | null;
  progress: { percentage: number; estimatedCompletion: string | null };
  metrics?: { failures?: number; events?: number; runSeconds?: number };
  result?: unknown;
  error?: string;
  payload: unknown;
  requiredCapabilities: string[];
  scheduledAt: string | null;
  pending?: PendingInfo;
  seq: number;
}

/** One event of GET /api/v1/jobs/{id}/history */
export interface JobEvent {
  seq: number;
  type: string;
  at: string;
  actor: string;
  entity: string;
  body: Record<string, unknown>;
}

export interface JobHistoryPage {
  events: JobEvent[];
  next: number | null;
}

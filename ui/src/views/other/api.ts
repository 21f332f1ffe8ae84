// The answers the Overview, Workers, Schedules, Events and Workflows views
// read (docs/openapi.yaml), typed as far as these views use them, and the
// reads themselves. A read that must be followed by a stream returns the seq
// it reflects: GET /api/v1/state is read first (its applied_seq is a lower
// bound of what the next read reflects), so a stream from applied_seq + 1
// may repeat an event the read already saw but never misses one.
import { apiGet, type Query } from '../../api/client';
import type { MetricsSample, Tier } from './series';

export interface StateAnswer {
  jobs: Record<string, number>;
  ready?: Partial<Record<Tier, number>>;
  delayed?: number;
  submitted?: number;
  completed?: number;
  failed?: number;
  cancelled?: number;
  workersActive?: number;
  workersLost?: number;
  slotsTotal?: number;
  slotsBusy?: number;
  seq: number;
  at?: string;
  applied_seq: number;
  chain_head: string;
  digest?: string;
  first_seq?: number;
}

export type StatsAnswer = Omit<StateAnswer, 'applied_seq' | 'chain_head' | 'digest' | 'first_seq'>;

export interface Worker {
  id: string;
  name: string;
  host: string;
  hostAddress: string | null;
  port: number | null;
  tags: string[];
  status: string;
  capabilities: string[];
  slots: number;
  runningJobs: number;
  cpu: number | null;
  memory: number | null;
  responseMs: number | null;
  score?: number;
  registeredAt: string | null;
  lastRecordedHeartbeat: string | null;
}

export interface Schedule {
  id: string;
  name: string;
  spec: string;
  tz: string;
  owner: string;
  overlap: string;
  catchUp: string;
  paused: boolean;
  createdAt: string | null;
  lastFireAt: string | null;
  nextFireAt: string | null;
  fires: number;
  skips: number;
  lastJobs: string[];
  seq: number;
}

export interface LogEvent {
  seq: number;
  type: string;
  at: string;
  actor: string;
  entity: string | null;
  body: unknown;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  createdAt: string | null;
  jobs: number;
  counts: Record<string, number>;
  status: string;
}

/** A job as the list (and, with more fields, the single read) answers it. */
export interface JobLite {
  id: string;
  name: string;
  status: string;
  createdAt?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  dependencies?: string[];
  workflow?: string | null;
  assignedWorker?: string | null;
  attempt?: number;
  seq?: number;
  metrics?: { runSeconds?: number };
}

export const getState = (q: Query) => apiGet<StateAnswer>('/api/v1/state', q);
export const getStats = (q: Query) => apiGet<StatsAnswer>('/api/v1/stats', q);

export async function getWorkers(q: Query): Promise<{ workers: Worker[]; seq: number }> {
  const st = await getState(q);
  const a = await apiGet<{ workers: Worker[] }>('/api/v1/workers', q);
  return { workers: a.workers, seq: st.applied_seq };
}

export async function getSchedules(q: Query): Promise<{ schedules: Schedule[]; seq: number }> {
  const all: Schedule[] = [];
  let cursor: string | undefined;
  let seq = 0;
  // pages of 100 (at most 20: a dashboard lists, it does not export)
  for (let i = 0; i < 20; i++) {
    const a = await apiGet<{ schedules: Schedule[]; seq?: number; next?: string | null }>('/api/v1/schedules', {
      ...q,
      limit: 100,
      cursor,
    });
    all.push(...a.schedules);
    seq = Math.max(seq, a.seq ?? 0);
    const last = a.schedules[a.schedules.length - 1];
    const next = a.next ?? (a.schedules.length === 100 ? last?.id : undefined);
    if (!next) break;
    cursor = next;
  }
  return { schedules: all, seq };
}

export const getHistory = (seconds: number) =>
  apiGet<{ intervalMs?: number; samples: MetricsSample[] }>('/api/v1/metrics/history', { seconds });

/** The list's page size for one workflow (the API's maximum). */
export const WORKFLOW_LIMIT = 500;
/** Reading each job on its own (a server whose list lacks dependencies) stops here. */
export const DETAIL_LIMIT = 100;

export class WorkflowReadError extends Error {}

async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let i = 0;
  const run = async () => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
  return out;
}

/**
 * The jobs of one workflow at the point, with the seq the read reflects.
 * GET /api/v1/jobs?workflow=ID answers them; when its items carry no
 * `dependencies` (an older list), each job is read on its own (at most
 * DETAIL_LIMIT) and kept when its `workflow` is this one.
 */
export async function getWorkflowJobs(id: string, q: Query): Promise<{ jobs: JobLite[]; seq: number; truncated: boolean }> {
  const st = await getState(q);
  const a = await apiGet<{ jobs: JobLite[]; next?: string | null }>('/api/v1/jobs', { ...q, workflow: id, limit: WORKFLOW_LIMIT });
  let jobs = a.jobs;
  if (jobs.some((j) => j.workflow !== undefined)) jobs = jobs.filter((j) => j.workflow === id);
  if (jobs.some((j) => j.dependencies === undefined)) {
    if (jobs.length > DETAIL_LIMIT)
      throw new WorkflowReadError(
        `The server's job list carries no dependencies and ${jobs.length} jobs came back: GET /api/v1/jobs?workflow= is not filtering yet.`,
      );
    const full = await mapLimit(jobs, 8, (j) => apiGet<JobLite>(`/api/v1/jobs/${j.id}`, q));
    jobs = full.filter((j) => j.workflow === id);
  }
  return { jobs, seq: st.applied_seq, truncated: !!a.next };
}

export interface WorkflowPage {
  workflows: WorkflowSummary[];
  next: string | null;
}

export const getWorkflows = (q: Query, cursor?: string) =>
  apiGet<WorkflowPage>('/api/v1/workflows', { ...q, limit: 100, cursor });

// The jobs view's filters: kept in the URL search params, passed to
// GET /api/v1/jobs as they are, and checked on the client for what the
// stream can change (status, worker, name) so a row that stops matching is
// dimmed rather than dropped.
import type { JobRow, JobUpdate } from './types';

export const FILTER_KEYS = ['status', 'priority', 'name_prefix', 'capability', 'owner', 'schedule', 'worker', 'workflow'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];
export type JobFilters = Partial<Record<FilterKey, string>>;

export function parseFilters(search: Record<string, unknown>): JobFilters {
  const f: JobFilters = {};
  for (const k of FILTER_KEYS) {
    const v = search[k];
    if (typeof v === 'string' && v.trim() !== '') f[k] = v.trim();
    else if (typeof v === 'number') f[k] = String(v);
  }
  return f;
}

/** A stable key of the filters (for caches and effect deps). */
export const filtersKey = (f: JobFilters): string => FILTER_KEYS.map((k) => f[k] ?? '').join('\u0001');

export function filtersFromKey(key: string): JobFilters {
  const parts = key.split('\u0001');
  const f: JobFilters = {};
  FILTER_KEYS.forEach((k, i) => {
    const v = parts[i];
    if (v) f[k] = v;
  });
  return f;
}

export const hasFilters = (f: JobFilters): boolean => FILTER_KEYS.some((k) => f[k] !== undefined);

interface Matchable {
  status: string;
  owner: string;
  name: string;
  worker: string | null;
}

/**
 * Whether a job still matches the filters the client can check: status,
 * owner, name prefix and worker (the others never change for a job, or the
 * stream does not carry them: priority, capability, schedule, workflow).
 */
export function matchesKnown(f: JobFilters, j: Matchable): boolean {
  if (j.status === 'DELETED') return false;
  if (f.status !== undefined && j.status !== f.status) return false;
  if (f.owner !== undefined && j.owner !== f.owner) return false;
  if (f.name_prefix !== undefined && !j.name.startsWith(f.name_prefix)) return false;
  if (f.worker !== undefined && j.worker !== f.worker) return false;
  return true;
}

export const rowMatches = (f: JobFilters, r: JobRow): boolean => matchesKnown(f, r);
export const updateMayMatch = (f: JobFilters, u: JobUpdate): boolean => matchesKnown(f, u);

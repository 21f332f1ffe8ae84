// A job's status as a colored badge (colors: --st-* in styles.css).
export const JOB_STATUSES = ['CREATED', 'QUEUED', 'SCHEDULED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'DELETED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export function StatusBadge({ status, title }: { status: string; title?: string }) {
  const s = status || 'UNKNOWN';
  return (
    <span className={`badge st-${s.toLowerCase()}`} data-status={s} title={title}>
      {s}
    </span>
  );
}

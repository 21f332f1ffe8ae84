// A thin progress bar (0-100) with its figure for screen readers and hover.
export function ProgressBar({ value, label, status }: { value: number; label?: string; status?: string }) {
  const v = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div
      className={`j-progress${status ? ` st-${status.toLowerCase()}` : ''}`}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={v}
      aria-label={label ?? 'Progress'}
      title={`${v}%`}
    >
      <div className="j-progress-fill" style={{ width: `${v}%` }} />
    </div>
  );
}

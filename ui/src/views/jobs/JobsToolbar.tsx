// The jobs view's filters, each one a URL search param.
import { memo } from 'react';
import { TextFilter } from './TextFilter';
import { hasFilters, type FilterKey, type JobFilters } from './filters';
import { JOB_STATUSES, PRIORITIES } from './types';

export interface JobsToolbarProps {
  filters: JobFilters;
  setFilter(k: FilterKey, v: string): void;
  clear(): void;
}

function SelectFilter({
  name,
  label,
  value,
  options,
  onChange,
}: {
  name: FilterKey;
  label: string;
  value: string;
  options: readonly string[];
  onChange(v: string): void;
}) {
  const id = `jf-${name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} data-testid={`filter-${name}`} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Any</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o.charAt(0) + o.slice(1).toLowerCase()}
          </option>
        ))}
      </select>
    </div>
  );
}

const TEXT: [FilterKey, string, string][] = [
  ['owner', 'Owner', 'alice'],
  ['capability', 'Capability', 'gpu'],
  ['worker', 'Worker id', 'uuid'],
  ['workflow', 'Workflow id', 'uuid'],
  ['schedule', 'Schedule id', 'uuid'],
];

export const JobsToolbar = memo(function JobsToolbar({ filters, setFilter, clear }: JobsToolbarProps) {
  return (
    <form className="toolbar j-toolbar" role="search" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
      <TextFilter
        name="name_prefix"
        label="Search (name starts with)"
        type="search"
        placeholder="Job name…"
        className="j-search"
        value={filters.name_prefix ?? ''}
        onCommit={(v) => setFilter('name_prefix', v)}
      />
      <SelectFilter name="status" label="Status" value={filters.status ?? ''} options={JOB_STATUSES} onChange={(v) => setFilter('status', v)} />
      <SelectFilter name="priority" label="Priority" value={filters.priority ?? ''} options={PRIORITIES} onChange={(v) => setFilter('priority', v)} />
      {TEXT.map(([k, label, ph]) => (
        <TextFilter key={k} name={k} label={label} placeholder={ph} className="j-narrow" value={filters[k] ?? ''} onCommit={(v) => setFilter(k, v)} />
      ))}
      <button type="button" className="btn btn-ghost j-clear" onClick={clear} disabled={!hasFilters(filters)} data-testid="filters-clear">
        Clear filters
      </button>
    </form>
  );
});

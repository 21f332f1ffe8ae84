// The Overview's four live charts, drawn from one MetricsSeries.
import { useCallback } from 'react';
import { Loading } from '../../app/states';
import type { MetricsSeries, SeriesKey } from './series';
import { TimeChart, type ChartLine } from './TimeChart';

interface ChartDef {
  name: string;
  title: string;
  keys: readonly SeriesKey[];
  lines: readonly ChartLine[];
}

const CHARTS: readonly ChartDef[] = [
  {
    name: 'throughput',
    title: 'Jobs per second',
    keys: ['submitted', 'completed', 'failed'],
    lines: [
      { label: 'submitted', color: ['--accent'], fallback: '#1d4ed8', unit: '/s' },
      { label: 'completed', color: ['--st-completed', '--ok'], fallback: '#15803d', unit: '/s' },
      { label: 'failed', color: ['--st-failed', '--err', '--bad'], fallback: '#b91c1c', unit: '/s' },
    ],
  },
  {
    name: 'queue-depth',
    title: 'Queue depth by tier',
    keys: ['queuedHigh', 'queuedNormal', 'queuedLow'],
    lines: [
      { label: 'HIGH', color: ['--err', '--bad'], fallback: '#b91c1c' },
      { label: 'NORMAL', color: ['--accent'], fallback: '#1d4ed8' },
      { label: 'LOW', color: ['--fg-muted', '--muted'], fallback: '#5b6270' },
    ],
  },
  {
    name: 'commit-latency',
    title: 'Commit latency p99',
    keys: ['commitP99'],
    lines: [{ label: 'commit p99', color: ['--warn'], fallback: '#a16207', unit: ' ms' }],
  },
  {
    name: 'submit-latency',
    title: 'Submit latency p99',
    keys: ['submitP99'],
    lines: [{ label: 'POST /jobs p99', color: ['--st-running', '--info', '--accent'], fallback: '#1d4ed8', unit: ' ms' }],
  },
];

function SeriesChart({ def, series, version }: { def: ChartDef; series: MetricsSeries; version: number }) {
  const data = useCallback(() => series.aligned(def.keys), [series, def]);
  const missing = series.length > 0 && !def.keys.some((k) => series.has(k));
  return (
    <TimeChart
      name={def.name}
      title={def.title}
      lines={def.lines}
      data={data}
      version={version}
      note={
        series.length === 0
          ? 'Waiting for the first sample…'
          : missing
            ? 'The server does not report this series yet.'
            : undefined
      }
    />
  );
}

export function Charts({ series, version, loading }: { series: MetricsSeries; version: number; loading: boolean }) {
  if (loading) return <Loading label="Reading the last hour of metrics" />;
  return (
    <div className="o-charts">
      {CHARTS.map((d) => (
        <SeriesChart key={d.name} def={d} series={series} version={version} />
      ))}
    </div>
  );
}

// One uPlot time chart (a canvas), as wide as its container: it follows the
// container's size, redraws with new data when `version` moves, and is built
// anew when the theme changes (canvas colours are read at build time).
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Aligned } from './series';
import { cssFont, cssVar, useThemeVersion } from './theme';

export interface ChartLine {
  label: string;
  /** CSS variables to take the colour from, first defined wins */
  color: readonly string[];
  fallback: string;
  /** value suffix in the legend (" /s", " ms") */
  unit?: string;
}

interface Props {
  name: string;
  title: string;
  lines: readonly ChartLine[];
  /** the columns to draw (time, then one per line) */
  data: () => Aligned;
  /** changes whenever data() would answer something new */
  version: number;
  /** the plot's height in CSS pixels (the legend comes below) */
  height?: number;
  /** a note instead of an empty plot area (e.g. the server does not send this series yet) */
  note?: string;
}

const fmtVal = (unit: string | undefined) => (_u: uPlot, v: number | null) =>
  v === null || v === undefined ? '–' : `${Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(v % 1 ? 2 : 0)}${unit ?? ''}`;

/** With fewer than two samples uPlot spans years: show the last five minutes instead. */
function emptyScale(u: uPlot): void {
  if ((u.data[0]?.length ?? 0) >= 2) return;
  const now = Date.now() / 1000;
  u.setScale('x', { min: now - 300, max: now });
}

export function TimeChart({ name, title, lines, data, version, height = 180, note }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const theme = useThemeVersion();
  const dataRef = useRef(data);
  useEffect(() => {
    dataRef.current = data;
  });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssVar(['--fg-muted', '--muted'], '#666');
    const grid = cssVar(['--border'], '#ddd');
    const font = `11px ${cssFont('--sans', 'system-ui, sans-serif')}`;
    const axis: uPlot.Axis = { stroke: fg, font, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        // fewer than two samples (a server just started): the last five minutes, not uPlot's years-wide default
        x: {
          time: true,
          range: (_u, min, max) => {
            if (Number.isFinite(min) && Number.isFinite(max) && max - min >= 1) return [min, max];
            const now = Date.now() / 1000;
            return [now - 300, now];
          },
        },
        y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] },
      },
      axes: [axis, { ...axis, size: 50 }],
      series: [
        { label: 'time' },
        ...lines.map((l) => ({
          label: l.label,
          stroke: cssVar(l.color, l.fallback),
          width: 1.5,
          points: { show: false },
          value: fmtVal(l.unit),
        })),
      ],
    };
    const u = new uPlot(opts, dataRef.current(), el);
    plot.current = u;
    emptyScale(u);
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, Math.floor(el.clientWidth));
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [theme, lines, height]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(dataRef.current());
    emptyScale(u);
  }, [version]);

  return (
    <figure className="o-chart" data-testid={`chart-${name}`} aria-label={title}>
      <figcaption className="o-chart-title">{title}</figcaption>
      <div ref={box} className="o-chart-plot" role="img" aria-label={`${title} over time`} />
      {(data()[0]?.length ?? 0) < 2 && (
        <p className="muted o-chart-note" data-testid={`chart-${name}-empty`}>
          No samples yet: the server takes one a second, and the chart draws from the second on.
        </p>
      )}
      {note && <p className="muted o-chart-note">{note}</p>}
    </figure>
  );
}

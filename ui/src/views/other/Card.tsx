// A counter card and a capacity meter, shared by the Overview and Workers.
import type { ReactNode } from 'react';

interface CardProps {
  name: string;
  title: string;
  value: string;
  detail?: string;
  /** a modifier class (o-card-<tone>) for the value's colour */
  tone?: string;
  children?: ReactNode;
}

export function Card({ name, title, value, detail, tone, children }: CardProps) {
  return (
    <div className={`card o-card${tone ? ` o-card-${tone}` : ''}`} data-testid={`card-${name}`} role="listitem">
      <div className="card-title">{title}</div>
      <div className="card-value">{value}</div>
      {detail && <div className="muted o-card-detail">{detail}</div>}
      {children}
    </div>
  );
}

interface MeterProps {
  label: string;
  /** null: unknown */
  used: number | null;
  total: number | null;
  /** text shown next to the bar; default used / total */
  text?: string;
}

/** A horizontal bar (role meter) for used/total; warns at 80 %, errs at 95 %. */
export function Meter({ label, used, total, text }: MeterProps) {
  const known = used !== null && total !== null && total > 0;
  const frac = known ? Math.min(1, Math.max(0, used / total)) : 0;
  const level = frac >= 0.95 ? 'err' : frac >= 0.8 ? 'warn' : 'ok';
  return (
    <div className="o-meter">
      <div
        className="o-meter-track"
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={known ? total : 1}
        aria-valuenow={known ? used : 0}
        aria-valuetext={known ? (text ?? `${used} of ${total}`) : 'unknown'}
      >
        <div className={`o-meter-fill o-meter-${level}`} style={{ width: `${(frac * 100).toFixed(1)}%` }} />
      </div>
      {text !== undefined && <span className="o-meter-text mono">{known ? text : '–'}</span>}
    </div>
  );
}

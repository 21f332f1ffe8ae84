// A text filter that writes to the URL once the user pauses typing (or
// presses Enter), and follows the URL when it changes from elsewhere.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';

export interface TextFilterProps {
  name: string;
  label: string;
  value: string;
  onCommit(v: string): void;
  placeholder?: string;
  type?: 'text' | 'search';
  delayMs?: number;
  className?: string;
}

export function TextFilter({ name, label, value, onCommit, placeholder, type = 'text', delayMs = 400, className }: TextFilterProps) {
  const [draft, setDraft] = useState(value);
  const [seen, setSeen] = useState(value);
  if (seen !== value) {
    setSeen(value);
    setDraft(value);
  }
  const commit = useRef(onCommit);
  useLayoutEffect(() => {
    commit.current = onCommit;
  });
  useEffect(() => {
    if (draft === value) return;
    const t = setTimeout(() => commit.current(draft), delayMs);
    return () => clearTimeout(t);
  }, [draft, value, delayMs]);
  const id = `jf-${name}`;
  return (
    <div className={`field${className ? ` ${className}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type={type}
        data-testid={`filter-${name}`}
        value={draft}
        placeholder={placeholder}
        spellCheck={false}
        autoComplete="off"
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter') onCommit(draft);
          if (e.key === 'Escape' && draft) {
            setDraft('');
            onCommit('');
          }
        }}
      />
    </div>
  );
}

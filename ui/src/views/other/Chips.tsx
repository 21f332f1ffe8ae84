// A list of short labels (capabilities, tags) as chips.
export function Chips({ items, empty, label, kind }: { items: readonly string[]; empty: string; label: string; kind?: 'tag' }) {
  if (items.length === 0) return <span className="muted">{empty}</span>;
  return (
    <ul className="o-chips" aria-label={label}>
      {items.map((c) => (
        <li key={c} className={`o-chip${kind ? ` o-chip-${kind}` : ''}`}>
          {c}
        </li>
      ))}
    </ul>
  );
}

// The keyboard help (`?`): a modal <dialog>; Esc closes it (natively).
import { useEffect, useRef } from 'react';
import { NAV } from './nav';

export function HelpDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
    } else if (!open && d.open) {
      if (typeof d.close === 'function') d.close();
      else d.removeAttribute('open');
    }
  }, [open]);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="help-title"
      data-testid="help-dialog"
      onClose={onClose}
      onCancel={onClose}
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          onClose();
        }
      }}
    >
      <h2 id="help-title">
        Keyboard shortcuts
        <button type="button" className="btn btn-sm btn-ghost" onClick={onClose} aria-label="Close">
          Esc
        </button>
      </h2>
      <table className="keys">
        <tbody>
          {NAV.map((n) => (
            <tr key={n.id}>
              <td>
                <kbd>g</kbd> <kbd>{n.key}</kbd>
              </td>
              <td>{n.label}</td>
            </tr>
          ))}
          <tr>
            <td>
              <kbd>t</kbd>
            </td>
            <td>Focus the time slider (then ← → step through history)</td>
          </tr>
          <tr>
            <td>
              <kbd>?</kbd>
            </td>
            <td>This help</td>
          </tr>
          <tr>
            <td>
              <kbd>Esc</kbd>
            </td>
            <td>Close</td>
          </tr>
        </tbody>
      </table>
    </dialog>
  );
}

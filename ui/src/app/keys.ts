// Global keyboard shortcuts: `g` then a view's key, `?` the help, `t` the
// time slider. Ignored while typing in a field or with a modifier held.
import { useEffect } from 'react';
import { NAV, type NavItem } from './nav';

export const TIME_SLIDER_ID = 'time-slider';
const CHORD_MS = 1_500;

function typing(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  if (t.isContentEditable) return true;
  const tag = t.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = (t as HTMLInputElement).type;
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range'].includes(type);
  }
  return false;
}

export interface KeyActions {
  go(item: NavItem): void;
  help(): void;
}

export function useGlobalKeys(actions: KeyActions): void {
  useEffect(() => {
    let pendingG = 0;
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      if (document.querySelector('dialog[open]') && e.key !== '?') return;
      const now = e.timeStamp || performance.now();
      if (pendingG && now - pendingG < CHORD_MS) {
        pendingG = 0;
        const item = NAV.find((n) => n.key === e.key);
        if (item) {
          e.preventDefault();
          actions.go(item);
        }
        return;
      }
      pendingG = 0;
      if (e.key === 'g') {
        pendingG = now;
      } else if (e.key === '?') {
        e.preventDefault();
        actions.help();
      } else if (e.key === 't') {
        const el = document.getElementById(TIME_SLIDER_ID);
        if (el) {
          e.preventDefault();
          el.focus();
        }
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [actions]);
}

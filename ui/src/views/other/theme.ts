// Canvas charts cannot use CSS variables: they read the theme's colours
// when they draw, and redraw when the theme changes (the system's colour
// scheme, or data-theme on <html> set by the shell's theme switch).
import { useSyncExternalStore } from 'react';

let version = 0;
const listeners = new Set<() => void>();
let watching = false;

function bump(): void {
  version++;
  listeners.forEach((fn) => fn());
}

function watch(): void {
  if (watching || typeof window === 'undefined') return;
  watching = true;
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener?.('change', bump);
  if (typeof MutationObserver !== 'undefined') {
    new MutationObserver(bump).observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme', 'class'] });
  }
}

function subscribe(fn: () => void): () => void {
  watch();
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** A number that changes whenever the page's colours may have changed. */
export function useThemeVersion(): number {
  return useSyncExternalStore(
    subscribe,
    () => version,
    () => 0,
  );
}

let probe: HTMLSpanElement | null = null;

/**
 * The colour of the first of these CSS variables the page defines, resolved
 * to rgb() (the theme's values are light-dark() pairs, which a canvas cannot
 * parse: a hidden probe element computes them), else the fallback.
 */
export function cssVar(names: readonly string[], fallback: string): string {
  if (typeof document === 'undefined' || !document.body) return fallback;
  const cs = getComputedStyle(document.documentElement);
  const name = names.find((n) => cs.getPropertyValue(n).trim() !== '');
  if (!name) return fallback;
  if (!probe) {
    probe = document.createElement('span');
    probe.setAttribute('aria-hidden', 'true');
    probe.style.display = 'none';
  }
  if (!probe.isConnected) document.body.appendChild(probe);
  probe.style.color = `var(${name})`;
  return getComputedStyle(probe).color || fallback;
}

/** A font stack (not a colour) from a CSS variable. */
export function cssFont(name: string, fallback: string): string {
  if (typeof document === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** The page's colour mode: the data-theme on <html> (the shell's theme switch), else the system's. */
export function useColorMode(): 'light' | 'dark' | 'system' {
  useThemeVersion();
  const t = typeof document === 'undefined' ? null : document.documentElement.getAttribute('data-theme');
  return t === 'light' || t === 'dark' ? t : 'system';
}

// The one way the dashboard talks to djs: same-origin fetches that carry
// the session cookie (HttpOnly: the page never sees the token) and, on
// writes, the X-DJS-CSRF header the server requires of cookie-authenticated
// writes. Errors are the server's application/problem+json, as ApiError.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  constructor(p: Problem) {
    super(p.detail ? `${p.title}: ${p.detail}` : p.title);
    this.status = p.status;
    this.type = p.type;
    this.title = p.title;
    this.detail = p.detail ?? '';
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

async function problemOf(res: Response): Promise<ApiError> {
  let p: Problem = { type: 'about:blank', title: res.statusText || 'Error', status: res.status };
  try {
    const body: unknown = await res.json();
    if (body && typeof body === 'object' && 'title' in body) p = { ...p, ...(body as Partial<Problem>) };
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(p);
}

/** Listeners told when the server answers 401 (the session ended). */
const unauthorized = new Set<() => void>();
export function onUnauthorized(fn: () => void): () => void {
  unauthorized.add(fn);
  return () => unauthorized.delete(fn);
}

/** Listeners told when a request could not reach the server at all (the shell's connection banner). */
const unreachable = new Set<() => void>();
export function onUnreachable(fn: () => void): () => void {
  unreachable.add(fn);
  return () => unreachable.delete(fn);
}
/** Something lost the server (a request, a stream): the shell checks /health and shows its banner. */
export function notifyUnreachable(): void {
  unreachable.forEach((fn) => fn());
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-DJS-CSRF'] = '1';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const init: RequestInit = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (signal) init.signal = signal;
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (!(e instanceof DOMException && e.name === 'AbortError')) notifyUnreachable();
    throw e;
  }
  // a proxy in front of a server that is down; the shell checks /health to be sure
  if (res.status === 502 || res.status === 504) notifyUnreachable();
  if (res.status === 401) unauthorized.forEach((fn) => fn());
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export function apiGet<T>(path: string, q?: Query, signal?: AbortSignal): Promise<T> {
  return request<T>('GET', withQuery(path, q), undefined, signal);
}

export function apiWrite<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return request<T>(method, path, body);
}

/** ws:// or wss:// URL of a stream on this origin (the cookie rides along). */
export function wsUrl(path: string, q?: Query): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}${withQuery(path, q)}`;
}

// Who is signed in. GET /api/v1/session says (the HttpOnly cookie rides
// along); 401 means nobody: the shell shows the login view. A server
// without the endpoint (404: older builds, --insecure-no-auth) is taken as
// an anonymous admin, which is what such a server treats every request as.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, type ReactNode } from 'react';
import { ApiError, onUnauthorized } from '../api/client';
import { currentSession, logout as apiLogout, type Session } from '../api/session';

export type { Session } from '../api/session';
export { isAdmin, isStaff } from '../api/session';

export const ANONYMOUS: Session = { sub: 'anonymous', role: 'admin', exp: 0 };
const KEY = ['session'] as const;

export type SessionState =
  | { state: 'loading' }
  | { state: 'signed-in'; session: Session }
  | { state: 'signed-out' }
  | { state: 'error'; error: unknown; retry(): void };

interface Ctx {
  state: SessionState;
  /** after a login: the session the server answered */
  signedIn(s: Session): void;
  signOut(): Promise<void>;
}

const SessionContext = createContext<Ctx | null>(null);

/** null: signed out */
async function fetchSession(): Promise<Session | null> {
  try {
    return await currentSession();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return ANONYMOUS;
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: KEY, queryFn: fetchSession, staleTime: Infinity, retry: 2, retryDelay: 1000 });
  const { refetch } = q;

  // any 401 from the API: the session ended
  useEffect(
    () =>
      onUnauthorized(() => {
        if (qc.getQueryData(KEY) !== null) qc.setQueryData(KEY, null);
      }),
    [qc],
  );

  // check again when the session expires (the answer will be a 401)
  const exp = q.data?.exp ?? 0;
  useEffect(() => {
    if (!exp) return;
    const ms = exp * 1000 - Date.now() + 1000;
    const t = setTimeout(() => void refetch(), Math.min(Math.max(ms, 1000), 2 ** 31 - 1));
    return () => clearTimeout(t);
  }, [exp, refetch]);

  const signedIn = useCallback((s: Session) => qc.setQueryData(KEY, s), [qc]);
  const signOut = useCallback(async () => {
    try {
      await apiLogout();
    } catch (e) {
      // a server without sessions: nothing to end
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 401))) throw e;
    }
    qc.setQueryData(KEY, null);
    qc.removeQueries({ predicate: (query) => query.queryKey[0] !== KEY[0] });
  }, [qc]);

  const state: SessionState = useMemo(() => {
    if (q.data) return { state: 'signed-in', session: q.data };
    if (q.data === null) return { state: 'signed-out' };
    if (q.isError) return { state: 'error', error: q.error, retry: () => void refetch() };
    return { state: 'loading' };
  }, [q.data, q.isError, q.error, refetch]);

  const value = useMemo(() => ({ state, signedIn, signOut }), [state, signedIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

function useCtx(): Ctx {
  const c = useContext(SessionContext);
  if (!c) throw new Error('useSession outside <SessionProvider>');
  return c;
}

/** The signed-in principal. Views render only once it is known, so this never waits. */
export function useSession(): Session {
  const { state } = useCtx();
  return state.state === 'signed-in' ? state.session : ANONYMOUS_SIGNED_OUT;
}

/** What the shell and the login view need: the state, and the login/logout transitions. */
export function useSessionControl(): Ctx {
  return useCtx();
}

/** what useSession answers outside a session (never rendered by views: the shell shows the login view then) */
const ANONYMOUS_SIGNED_OUT: Session = { sub: '', role: 'user', exp: 0 };

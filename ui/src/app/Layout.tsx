// The shell: navigation, the signed-in principal, the connection banner,
// the time-travel bar and the current view. Views render only once the
// session is known: signed out, the login view shows instead (whatever
// the URL), so no view ever renders without a principal. A user (not
// staff) sees the views their role may read: jobs, workflows, schedules.
import { Link, Navigate, Outlet, useNavigate, useRouterState } from '@tanstack/react-router';
import { useEffect, useMemo, useState } from 'react';
import Login from '../views/Login';
import { ConnBanner } from './ConnBanner';
import { ErrorBoundary } from './ErrorBoundary';
import { useReachability } from './health';
import { HelpDialog } from './HelpDialog';
import { useGlobalKeys, type KeyActions } from './keys';
import { NAV, titleFor, visibleNav } from './nav';
import { useSessionControl } from './session';
import { ErrorState, Loading } from './states';
import { ThemeSwitch } from './ThemeSwitch';
import { TimeBar } from './TimeBar';

/** the route types do not list the lazy views' paths (router.tsx builds them from strings) */
const JOBS: string = '/jobs';

export function Layout() {
  const { state, signOut } = useSessionControl();
  // what the Outlet shows: while a lazy view loads, the router keeps rendering the last resolved one,
  // so the role gate below looks at that one (a user's redirect from / never mounts the Overview)
  const path = useRouterState({ select: (s) => (s.resolvedLocation ?? s.location).pathname });
  const navigate = useNavigate();
  const [help, setHelp] = useState(false);
  const reach = useReachability();
  const signedIn = state.state === 'signed-in';
  const staff = signedIn && state.session.role !== 'user';
  const nav = useMemo(() => visibleNav(staff), [staff]);
  const keys = useMemo<KeyActions>(
    () => ({
      // the point in time (`at`) stays: g j on a pinned overview shows the jobs at that seq
      go: (item) => {
        if (nav.includes(item)) void navigate({ to: item.to, search: (prev: Record<string, unknown>) => ({ at: prev.at }) as never });
      },
      help: () => setHelp((h) => !h),
    }),
    [navigate, nav],
  );
  useGlobalKeys(keys);
  useEffect(() => {
    document.title = titleFor(path);
  }, [path]);

  const onLogin = path.endsWith('/login');
  const view = path.replace(/^\/ui(?=\/|$)/, '') || '/';
  const staffOnly = NAV.find((n) => n.staff && (n.to === '/' ? view === '/' : view.startsWith(n.to)));
  let body;
  if (state.state === 'loading') body = <Loading label="Checking the session…" />;
  else if (state.state === 'error') body = <ErrorState error={state.error} retry={state.retry} />;
  else if (state.state === 'signed-out' || onLogin) body = <Login />;
  else if (!staff && view === '/') body = <Navigate to={JOBS} search={(prev: Record<string, unknown>) => prev as never} replace />;
  else if (!staff && staffOnly)
    body = (
      <ErrorState
        error={
          new Error(
            `The ${staffOnly.label} view needs an operator or admin token; as a user you see your own jobs, workflows and schedules.`,
          )
        }
      />
    );
  else
    body = (
      <ErrorBoundary resetKey={path}>
        <Outlet />
      </ErrorBoundary>
    );
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to the view
      </a>
      <header className="topbar">
        <span className="brand">djs</span>
        {signedIn && (
          <>
            <nav aria-label="Views" className="nav">
              {nav.map((n) => (
                <Link
                  key={n.to}
                  to={n.to}
                  search={(prev: Record<string, unknown>) => ({ at: prev.at }) as never}
                  data-testid={`nav-${n.id}`}
                  className="nav-link"
                  activeProps={{ className: 'nav-link active' }}
                  activeOptions={{ exact: n.to === '/', includeSearch: false }}
                  title={`g ${n.key}`}
                >
                  {n.label}
                </Link>
              ))}
            </nav>
            <span className="topbar-right">
              <button type="button" className="btn btn-sm btn-ghost" onClick={() => setHelp(true)} aria-label="Keyboard shortcuts">
                ?
              </button>
              <ThemeSwitch />
              <span className="muted principal" data-testid="principal">
                {state.session.sub} · {state.session.role}
              </span>
              <button type="button" className="btn btn-sm" onClick={() => void signOut()}>
                Log out
              </button>
            </span>
          </>
        )}
      </header>
      <ConnBanner r={reach} />
      {signedIn && !onLogin && <TimeBar staff={staff} />}
      <main className="content" id="main">
        {body}
      </main>
      <HelpDialog open={help} onClose={() => setHelp(false)} />
    </div>
  );
}

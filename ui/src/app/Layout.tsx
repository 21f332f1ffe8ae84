// The shell: navigation, the signed-in principal, and the current view.
// Views render only once the session is known: signed out, the login view
// shows instead (whatever the URL), so no view ever renders without a
// principal.
import { Link, Outlet, useRouterState } from '@tanstack/react-router';
import Login from '../views/Login';
import { useSessionControl } from './session';
import { ErrorState, Loading } from './states';

const NAV: [string, string, string][] = [
  ['/', 'Overview', 'overview'],
  ['/jobs', 'Jobs', 'jobs'],
  ['/workflows', 'Workflows', 'workflows'],
  ['/workers', 'Workers', 'workers'],
  ['/schedules', 'Schedules', 'schedules'],
  ['/events', 'Events', 'events'],
];

export function Layout() {
  const { state, signOut } = useSessionControl();
  const path = useRouterState({ select: (s) => s.location.pathname });
  const onLogin = path.endsWith('/login');
  let body;
  if (state.state === 'loading') body = <Loading label="Checking the session…" />;
  else if (state.state === 'error') body = <ErrorState error={state.error} retry={state.retry} />;
  else if (state.state === 'signed-out' || onLogin) body = <Login />;
  else body = <Outlet />;
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">djs</span>
        {state.state === 'signed-in' && (
          <>
            <nav aria-label="Views">
              {NAV.map(([to, label, id]) => (
                <Link
                  key={to}
                  to={to}
                  data-testid={`nav-${id}`}
                  className="nav-link"
                  activeProps={{ className: 'nav-link active' }}
                  activeOptions={{ exact: to === '/' }}
                >
                  {label}
                </Link>
              ))}
            </nav>
            <span className="muted principal" data-testid="principal">
              {state.session.sub} · {state.session.role}
            </span>
            <button type="button" className="btn" onClick={() => void signOut()}>
              Log out
            </button>
          </>
        )}
      </header>
      <main className="content">{body}</main>
    </div>
  );
}

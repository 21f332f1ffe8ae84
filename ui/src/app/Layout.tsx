// The shell: navigation, the time-travel bar, the connection banner, and
// the current view. (The app-core helper fills this in.)
import { Link, Outlet } from '@tanstack/react-router';

const NAV: [string, string][] = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/workflows', 'Workflows'],
  ['/workers', 'Workers'],
  ['/schedules', 'Schedules'],
  ['/events', 'Events'],
];

export function Layout() {
  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">djs</span>
        <nav aria-label="Views">
          {NAV.map(([to, label]) => (
            <Link key={to} to={to} className="nav-link" activeProps={{ className: 'nav-link active' }}>
              {label}
            </Link>
          ))}
        </nav>
      </header>
      <main className="content">
        <Outlet />
      </main>
    </div>
  );
}

// The views in the top bar, their `g` shortcuts and their titles.
export interface NavItem {
  to: string;
  label: string;
  /** data-testid="nav-<id>" */
  id: string;
  /** the key after `g` */
  key: string;
  /** reads endpoints only operators and admins may (a user does not see it) */
  staff: boolean;
}

export const NAV: NavItem[] = [
  { to: '/', label: 'Overview', id: 'overview', key: 'o', staff: true },
  { to: '/jobs', label: 'Jobs', id: 'jobs', key: 'j', staff: false },
  { to: '/workflows', label: 'Workflows', id: 'workflows', key: 'f', staff: false },
  { to: '/workers', label: 'Workers', id: 'workers', key: 'w', staff: true },
  { to: '/schedules', label: 'Schedules', id: 'schedules', key: 's', staff: false },
  { to: '/events', label: 'Events', id: 'events', key: 'e', staff: true },
];

/** The views a principal sees: all for staff, the job views for a user. */
export function visibleNav(staff: boolean): NavItem[] {
  return staff ? NAV : NAV.filter((n) => !n.staff);
}

/** The document title of a path (without the /ui base). */
export function titleFor(pathname: string): string {
  const p = pathname.replace(/^\/ui(?=\/|$)/, '') || '/';
  const parts = p.split('/').filter(Boolean);
  const short = (id: string | undefined) => (id ? decodeURIComponent(id).slice(0, 8) : '');
  let t: string;
  if (parts.length === 0) t = 'Overview';
  else if (parts[0] === 'jobs' && parts[1]) t = `Job ${short(parts[1])}`;
  else if (parts[0] === 'workflows' && parts[1]) t = `Workflow ${short(parts[1])}`;
  else if (parts[0] === 'login') t = 'Sign in';
  else {
    const item = NAV.find((n) => n.to === `/${parts[0]}`);
    t = item ? item.label : 'Not found';
  }
  return `${t} · djs`;
}

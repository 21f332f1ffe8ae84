// The routes of the dashboard, under /ui/ (djs serves index.html for each
// of them: the SPA fallback). The search string carries the point in time
// (`at`: a seq; absent means live) and each view's filters, so a link shows
// a colleague exactly what you saw.
import { createRootRoute, createRoute, createRouter, lazyRouteComponent } from '@tanstack/react-router';
import { Layout } from './app/Layout';
import { NotFound } from './app/NotFound';

export interface PointSearch {
  /** the seq the views render the system at; undefined = live */
  at?: number;
}

export function parsePoint(search: Record<string, unknown>): PointSearch {
  const v = search.at;
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? { at: n } : {};
}

const rootRoute = createRootRoute({ component: Layout, notFoundComponent: NotFound });

// Each view owns its search params beyond `at`: it validates them itself
// (filters are strings; unknown keys are kept so links survive upgrades).
const passSearch = (s: Record<string, unknown>) => s as Record<string, string | number | undefined>;

const view = (path: string, load: () => Promise<{ default: React.ComponentType }>) =>
  createRoute({ getParentRoute: () => rootRoute, path, validateSearch: passSearch, component: lazyRouteComponent(load) });

export const routeTree = rootRoute.addChildren([
  view('/', () => import('./views/Overview')),
  view('/jobs', () => import('./views/Jobs')),
  view('/jobs/$id', () => import('./views/JobDetail')),
  view('/workflows', () => import('./views/Workflows')),
  view('/workflows/$id', () => import('./views/WorkflowDetail')),
  view('/workers', () => import('./views/Workers')),
  view('/schedules', () => import('./views/Schedules')),
  view('/events', () => import('./views/Events')),
  view('/login', () => import('./views/Login')),
]);

export const router = createRouter({ routeTree, basepath: '/ui', defaultPreload: 'intent' });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}

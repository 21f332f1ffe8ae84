// A link to a view under /ui/ (the route tree is built from plain strings in
// router.tsx, so the targets are not typed): the path with its ids filled
// in, and the search params to carry (the point in time).
import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { isStaff } from '../../api/session';
import { useSession } from '../../app/session';

export type LinkSearch = Record<string, string | number | undefined>;

export function JLink({
  to,
  search,
  className,
  title,
  children,
}: {
  to: string;
  search?: LinkSearch;
  className?: string;
  title?: string;
  children: ReactNode;
}) {
  const path: string = to;
  return (
    <Link to={path} search={(search ?? {}) as never} className={className} title={title}>
      {children}
    </Link>
  );
}

/** The search that keeps the point in time on a link. */
export const atSearch = (at: number | undefined): LinkSearch => (at === undefined ? {} : { at });

export const jobPath = (id: string): string => `/jobs/${encodeURIComponent(id)}`;

/** A worker, linked to the Workers view for staff; plain text for a user, whose role may not read workers. */
export function WorkerLink({ id, search, children }: { id: string; search?: LinkSearch; children: ReactNode }) {
  const staff = isStaff(useSession());
  if (!staff)
    return (
      <span className="mono" title={id}>
        {children}
      </span>
    );
  return (
    <JLink to="/workers" search={search} title={id}>
      {children}
    </JLink>
  );
}

// A link to another view with its search params. The route tree is built
// from plain strings (router.tsx), so TanStack Router cannot type the
// targets: the path is a string and the search a record of filters.
import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';

export type ViewSearch = Record<string, string | number | undefined>;

interface Props {
  /** a path under /ui/ with its ids filled in: "/jobs", "/jobs/0190…" */
  to: string;
  search?: ViewSearch;
  className?: string;
  title?: string;
  children: ReactNode;
}

export function ViewLink({ to, search, className, title, children }: Props) {
  const path: string = to;
  return (
    <Link to={path} search={(search ?? {}) as never} className={className} title={title}>
      {children}
    </Link>
  );
}

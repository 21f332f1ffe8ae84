import { Link } from '@tanstack/react-router';

export function NotFound() {
  return (
    <section className="state-box" data-testid="view-notfound">
      <h1>Not found</h1>
      <p>
        This page does not exist. <Link to="/">Back to the overview</Link>.
      </p>
    </section>
  );
}

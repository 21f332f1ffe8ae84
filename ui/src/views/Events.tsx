// Placeholder: replaced by the view's owner.
export default function Events() {
  return (
    <section data-testid="view-events">
      <h1>Events</h1>
    </section>
  );
}

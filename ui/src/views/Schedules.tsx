// Placeholder: replaced by the view's owner.
export default function Schedules() {
  return (
    <section data-testid="view-schedules">
      <h1>Schedules</h1>
    </section>
  );
}

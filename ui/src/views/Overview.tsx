// Placeholder: replaced by the view's owner.
export default function Overview() {
  return (
    <section data-testid="view-overview">
      <h1>Overview</h1>
    </section>
  );
}

// Placeholder: replaced by the view's owner.
export default function Workers() {
  return (
    <section data-testid="view-workers">
      <h1>Workers</h1>
    </section>
  );
}

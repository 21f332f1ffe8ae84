// Placeholder: replaced by the view's owner.
export default function Workflows() {
  return (
    <section data-testid="view-workflows">
      <h1>Workflows</h1>
    </section>
  );
}

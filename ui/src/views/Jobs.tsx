// Placeholder: replaced by the view's owner.
export default function Jobs() {
  return (
    <section data-testid="view-jobs">
      <h1>Jobs</h1>
    </section>
  );
}

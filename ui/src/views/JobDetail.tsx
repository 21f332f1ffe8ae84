// Placeholder: replaced by the view's owner.
export default function JobDetail() {
  return (
    <section data-testid="view-jobdetail">
      <h1>JobDetail</h1>
    </section>
  );
}

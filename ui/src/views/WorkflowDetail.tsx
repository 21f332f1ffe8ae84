// Placeholder: replaced by the view's owner.
export default function WorkflowDetail() {
  return (
    <section data-testid="view-workflowdetail">
      <h1>WorkflowDetail</h1>
    </section>
  );
}

// Placeholder: replaced by the view's owner.
export default function Login() {
  return (
    <section data-testid="view-login">
      <h1>Login</h1>
    </section>
  );
}

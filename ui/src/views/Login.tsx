// The login view (/ui/login): a one-time code from the link djs prints
// (#code=..., in the fragment so no server ever logs it) is exchanged at
// once and removed from the address bar; otherwise a form takes a token.
// Either way the server answers with the HttpOnly session cookie.
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { login } from '../api/session';
import { useSessionControl } from '../app/session';

function codeFromHash(): string | null {
  const m = /(?:^#|&)code=([^&]+)/.exec(location.hash);
  return m?.[1] ? decodeURIComponent(m[1]) : null;
}

function message(e: unknown): string {
  if (e instanceof ApiError) return e.detail || e.title;
  return e instanceof Error ? e.message : String(e);
}

export default function Login() {
  const { signedIn } = useSessionControl();
  const navigate = useNavigate();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const tried = useRef(false);

  const finish = (cred: { token: string } | { code: string }) => {
    setBusy(true);
    setError(null);
    login(cred)
      .then((s) => {
        signedIn(s);
        void navigate({ to: '/', replace: true });
      })
      .catch((e: unknown) => setError(message(e)))
      .finally(() => setBusy(false));
  };

  useEffect(() => {
    if (tried.current) return;
    tried.current = true;
    const code = codeFromHash();
    if (!code) return;
    history.replaceState(null, '', location.pathname + location.search);
    void Promise.resolve().then(() => finish({ code }));
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) finish({ token: token.trim() });
  };

  return (
    <section data-testid="view-login" className="panel login">
      <h1>Sign in to djs</h1>
      <p className="muted">
        Open the DASHBOARD link <code>./tools/run</code> prints, or paste a token (<code>djs token create</code>).
      </p>
      <form onSubmit={submit}>
        <label htmlFor="login-token">Access token</label>
        <input
          id="login-token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          disabled={busy}
        />
        <button type="submit" className="btn btn-primary" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      {error && (
        <p role="alert" data-testid="login-error" className="login-error">
          {error}
        </p>
      )}
    </section>
  );
}

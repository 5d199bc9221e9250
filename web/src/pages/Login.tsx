import { useState } from "react";
import { api, ApiError } from "../api.ts";

export interface Session {
  email: string;
  csrfToken: string;
  currency?: string;
}

export function Login({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  return (
    <main className="login">
      <form
        className="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            await api<Session>("/api/session", { method: "POST", body: { email, password } });
            onSignedIn(await api<Session>("/api/session"));
          } catch (err) {
            setError(err instanceof ApiError && err.status === 401 ? "Wrong email or password." : err instanceof Error ? err.message : "Could not sign in.");
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>
          <span className="logo" aria-hidden="true" /> Fidelio
        </h1>
        <p className="note">Sign in with the admin account printed when Fidelio first started, or one made with <code>npx fidelio admins create</code>.</p>
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error ? (
          <p className="field-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

import { useState, type FormEvent } from "react";
import { ApiError, api } from "../api";
import { useAuth } from "../auth";
import { FieldError, fieldProps } from "../components/FieldError";

/** Sign in with an API key: checked against the API before it is kept. */
export function SignIn() {
  const { signIn } = useAuth();
  const [key, setKey] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // Any key of the organization may list its agents: the check that the key works.
      await api<unknown[]>("GET", "/api/agents", { key: key.trim() });
      signIn(key.trim());
    } catch (caught) {
      const problem = caught instanceof ApiError ? caught : new ApiError(0, String(caught));
      setError(new ApiError(problem.status, problem.message, [{ path: "key", message: problem.message }]));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="container sign-in">
      <article>
        <header>
          <h1>Callwright console</h1>
          <p>Sign in with an API key of your organization.</p>
        </header>
        <form onSubmit={submit}>
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="key"
            type="password"
            autoComplete="off"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            placeholder="cw_…"
            required
            {...fieldProps(error, "key")}
          />
          <FieldError error={error} path="key" />
          <small>
            <code>callwright dev</code> prints a key when it starts. The key stays in this tab only.
          </small>
          <button type="submit" aria-busy={busy} disabled={busy || !key.trim()}>
            Sign in
          </button>
        </form>
      </article>
    </main>
  );
}

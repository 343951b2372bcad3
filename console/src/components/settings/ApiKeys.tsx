import { useCallback, useEffect, useState, type FormEvent } from "react";
import { del, get, post, type ApiError } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import { formatDateTime } from "../calls/format";
import { asApiError, formProblems } from "./errors";
import { RequestError } from "./RequestError";
import { SCOPE_HINTS, SCOPES, type KeyCreated, type KeyPublic, type Scope } from "./types";
import "./settings.css";

/** Whether a key still works, and if not why. */
function keyState(key: KeyPublic, now: number = Date.now()): string {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && new Date(key.expires_at).getTime() <= now) return "expired";
  return "active";
}

/** The organization's API keys: list, create (the key shown once), revoke. Admin keys only. */
export function ApiKeys() {
  const [keys, setKeys] = useState<KeyPublic[] | null>(null);
  const [listError, setListError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<KeyCreated | null>(null);
  const [revokeError, setRevokeError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    try {
      setKeys(await get<KeyPublic[]>("/api/keys"));
      setListError(null);
    } catch (caught) {
      setListError(asApiError(caught));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  async function revoke(key: KeyPublic) {
    if (!window.confirm(`Revoke the key "${key.name}" (${key.prefix}…)? Requests with it will be refused from now on.`)) {
      return;
    }
    setRevokeError(null);
    try {
      await del(`/api/keys/${key.id}`);
      await load();
    } catch (caught) {
      setRevokeError(asApiError(caught));
    }
  }

  if (listError?.status === 403) {
    return <RequestError error={listError} what="see or create API keys" />;
  }
  return (
    <>
      <RequestError error={listError} what="see API keys" />
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      <RequestError error={revokeError} what="revoke keys" />
      {keys === null && !listError && <p aria-busy="true">Loading keys…</p>}
      {keys !== null && (
        <div className="table-scroll" tabIndex={0}>
          <table>
            <caption>API keys of this organization</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((key) => {
                const state = keyState(key);
                return (
                  <tr key={key.id}>
                    <th scope="row">{key.name}</th>
                    <td>
                      <code>{key.prefix}…</code>
                    </td>
                    <td>{key.scopes.join(", ")}</td>
                    <td>{formatDateTime(key.created_at)}</td>
                    <td>{key.last_used_at ? formatDateTime(key.last_used_at) : "never"}</td>
                    <td>{key.expires_at ? formatDateTime(key.expires_at) : "never"}</td>
                    <td>{state}</td>
                    <td>
                      {state !== "revoked" && (
                        <button
                          type="button"
                          className="secondary outline compact"
                          onClick={() => void revoke(key)}
                          aria-label={`Revoke ${key.name}`}
                        >
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <CreateKeyForm
        onCreated={(key) => {
          setCreated(key);
          void load();
        }}
      />
    </>
  );
}

/** The new key, shown this once, with a copy button. */
function NewKey({ created, onDone }: { created: KeyCreated; onDone: () => void }) {
  const [copied, setCopied] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("Could not copy: select the key and copy it by hand.");
    }
  }
  return (
    <article className="new-key" aria-labelledby="new-key-heading">
      <h3 id="new-key-heading">New key “{created.name}”</h3>
      <p>
        <strong>Copy it now: this key is not shown again.</strong> Store it where your systems
        keep secrets.
      </p>
      <p>
        <code data-testid="new-key">{created.key}</code>
      </p>
      <button type="button" onClick={() => void copy()}>
        Copy key
      </button>{" "}
      <button type="button" className="secondary" onClick={onDone}>
        I have stored it
      </button>
      {copied && <p role="status">{copied}</p>}
    </article>
  );
}

/** Name, scopes and optional expiry; checked here first, then the API's 422s by field. */
function CreateKeyForm({ onCreated }: { onCreated: (key: KeyCreated) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["read"]);
  const [expires, setExpires] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  function toggle(scope: Scope, on: boolean) {
    setScopes((current) => (on ? [...current, scope] : current.filter((s) => s !== scope)));
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const expiresAt = expires ? new Date(expires) : null;
    const problems = formProblems([
      ...(name.trim() ? [] : [{ path: "name", message: "Give the key a name." }]),
      ...(scopes.length ? [] : [{ path: "scopes", message: "Choose at least one scope." }]),
      ...(expiresAt && Number.isNaN(expiresAt.getTime())
        ? [{ path: "expires_at", message: "Give a date and time." }]
        : []),
    ]);
    if (problems) {
      setError(problems);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const key = await post<KeyCreated>("/api/keys", {
        name: name.trim(),
        scopes: SCOPES.filter((s) => scopes.includes(s)),
        ...(expiresAt ? { expires_at: expiresAt.toISOString() } : {}),
      });
      setName("");
      setScopes(["read"]);
      setExpires("");
      onCreated(key);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} noValidate aria-labelledby="create-key-heading">
      <h3 id="create-key-heading">Create a key</h3>
      <RequestError error={error} what="create keys" />
      <label htmlFor="key-name">Name</label>
      <input
        id="key-name"
        name="name"
        value={name}
        onChange={(e) => setName(e.target.value)}
        maxLength={200}
        {...fieldProps(error, "name")}
      />
      <FieldError error={error} path="name" />
      <fieldset {...fieldProps(error, "scopes")}>
        <legend>Scopes</legend>
        {SCOPES.map((scope) => (
          <label key={scope}>
            <input
              type="checkbox"
              name="scopes"
              value={scope}
              checked={scopes.includes(scope)}
              onChange={(e) => toggle(scope, e.target.checked)}
            />
            {scope} <span className="scope-hint">({SCOPE_HINTS[scope]})</span>
          </label>
        ))}
      </fieldset>
      <FieldError error={error} path="scopes" />
      <label htmlFor="key-expires">Expires (optional)</label>
      <input
        id="key-expires"
        name="expires_at"
        type="datetime-local"
        value={expires}
        onChange={(e) => setExpires(e.target.value)}
        {...fieldProps(error, "expires_at")}
      />
      <FieldError error={error} path="expires_at" />
      <small>Blank: the key never expires.</small>
      <button type="submit" aria-busy={busy} disabled={busy}>
        Create key
      </button>
    </form>
  );
}

import { useCallback, useEffect, useState } from "react";
import { get, post, type ApiError } from "../../api";
import { formatDateTime } from "../calls/format";
import { asApiError } from "./errors";
import { RequestError } from "./RequestError";
import type { EndpointPublic, EndpointSecret } from "./types";
import "./settings.css";

const ENDPOINTS_PATH = "/api/webhooks/endpoints";

/** The organization's webhook endpoints: each secret masked, shown whole on request, rotated
 * with the previous one signing alongside for a grace period. */
export function WebhookEndpoints() {
  const [endpoints, setEndpoints] = useState<EndpointPublic[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    try {
      setEndpoints(await get<EndpointPublic[]>(ENDPOINTS_PATH));
      setError(null);
    } catch (caught) {
      setError(asApiError(caught));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  if (error) return <RequestError error={error} what="see webhook endpoints" />;
  if (endpoints === null) return <p aria-busy="true">Loading webhook endpoints…</p>;
  if (endpoints.length === 0) {
    return <p>No webhook endpoints yet: they are added with an agent's or a goal's webhook URL.</p>;
  }
  return (
    <>
      {endpoints.map((endpoint) => (
        <Endpoint key={endpoint.id} endpoint={endpoint} onRotated={() => void load()} />
      ))}
    </>
  );
}

function Endpoint({ endpoint, onRotated }: { endpoint: EndpointPublic; onRotated: () => void }) {
  const [secret, setSecret] = useState<EndpointSecret | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState("");
  const rotating =
    endpoint.previous_secret_expires_at !== null &&
    new Date(endpoint.previous_secret_expires_at).getTime() > Date.now();

  async function act(action: () => Promise<EndpointSecret>, done: string) {
    setBusy(true);
    setError(null);
    setNotice("");
    try {
      setSecret(await action());
      setNotice(done);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  }

  function rotate() {
    if (
      !window.confirm(
        `Rotate the signing secret of ${endpoint.url}? The old secret keeps signing alongside the new one for a grace period.`,
      )
    ) {
      return;
    }
    void act(() => post<EndpointSecret>(`${ENDPOINTS_PATH}/${endpoint.id}/rotate`), "Rotated.").then(
      onRotated,
    );
  }

  return (
    <article aria-label={`Webhook endpoint ${endpoint.url}`}>
      <p>
        <code>{endpoint.url}</code>
      </p>
      <dl>
        <dt>Secret</dt>
        <dd>
          <code>{endpoint.secret_masked}</code>
        </dd>
        <dt>Created</dt>
        <dd>{formatDateTime(endpoint.created_at)}</dd>
        <dt>Last rotated</dt>
        <dd>{endpoint.rotated_at ? formatDateTime(endpoint.rotated_at) : "never"}</dd>
        {rotating && (
          <>
            <dt>Previous secret signs until</dt>
            <dd>{formatDateTime(endpoint.previous_secret_expires_at)}</dd>
          </>
        )}
      </dl>
      <RequestError error={error} what="see or rotate webhook secrets" />
      {notice && <p role="status">{notice}</p>}
      {secret && (
        <div className="secret">
          <p>
            Signing secret: <code>{secret.secret}</code>
          </p>
          {secret.previous_secret && (
            <p>
              Previous secret (signs until {formatDateTime(secret.previous_secret_expires_at)}):{" "}
              <code>{secret.previous_secret}</code>
            </p>
          )}
        </div>
      )}
      <button
        type="button"
        className="secondary"
        disabled={busy}
        onClick={() =>
          secret
            ? setSecret(null)
            : void act(() => get<EndpointSecret>(`${ENDPOINTS_PATH}/${endpoint.id}/secret`), "")
        }
      >
        {secret ? "Hide secret" : "Show secret"}
      </button>{" "}
      <button type="button" className="secondary outline" disabled={busy} onClick={rotate}>
        Rotate secret
      </button>
    </article>
  );
}

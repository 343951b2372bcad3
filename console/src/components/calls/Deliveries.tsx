import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../../api";
import { FormError } from "../FieldError";
import { loadCallDeliveries, replayDelivery } from "./deliveries";
import { formatDateTime, formatMs } from "./format";
import type { Delivery } from "./types";
import "./calls.css";

function asApiError(caught: unknown): ApiError {
  return caught instanceof ApiError ? caught : new ApiError(0, String(caught));
}

/**
 * The webhook deliveries of one call, loaded from the API, each with its attempts, payload and
 * a Replay button for failed ones.
 * Props: `callSid` — the call's CallSid; `pollMs` — reload this often (e.g. while the call is
 * live and more webhooks may come); omitted: load once.
 */
export function Deliveries({ callSid, pollMs }: { callSid: string; pollMs?: number }) {
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const load = useCallback(async () => {
    try {
      setDeliveries(await loadCallDeliveries(callSid));
      setError(null);
    } catch (caught) {
      setError(asApiError(caught));
    }
  }, [callSid]);

  useEffect(() => {
    void load();
    if (!pollMs) return undefined;
    const timer = window.setInterval(() => void load(), pollMs);
    return () => window.clearInterval(timer);
  }, [load, pollMs]);

  const replaced = useCallback((updated: Delivery) => {
    setDeliveries((current) => (current ?? []).map((d) => (d.id === updated.id ? updated : d)));
  }, []);

  if (error && deliveries === null) {
    return (
      <p className="form-error" role="alert">
        {error.status === 403
          ? `Webhook deliveries cannot be shown: ${error.message}.`
          : `Webhook deliveries could not be loaded: ${error.message}`}
      </p>
    );
  }
  if (deliveries === null) return <p aria-busy="true">Loading webhook deliveries…</p>;
  return <DeliveryList deliveries={deliveries} onReplayed={replaced} />;
}

/**
 * Webhook deliveries as given, with Replay for failed ones (POST …/replay).
 * Props: `deliveries` — the deliveries to show; `onReplayed` — called with the delivery the
 * API answers after a replay (to put in place of the old one).
 */
export function DeliveryList({
  deliveries,
  onReplayed,
}: {
  deliveries: Delivery[];
  onReplayed?: (delivery: Delivery) => void;
}) {
  if (deliveries.length === 0) return <p>No webhooks were sent for this call.</p>;
  return (
    <>
      {deliveries.map((delivery) => (
        <DeliveryItem key={delivery.id} delivery={delivery} onReplayed={onReplayed} />
      ))}
    </>
  );
}

function DeliveryItem({
  delivery,
  onReplayed,
}: {
  delivery: Delivery;
  onReplayed?: (delivery: Delivery) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState("");
  const statusClass =
    delivery.status === "delivered" ? "verdict-ok" : delivery.status === "failed" ? "verdict-bad" : undefined;

  async function replay() {
    setBusy(true);
    setError(null);
    setNotice("");
    try {
      const updated = await replayDelivery(delivery.id);
      setNotice("Replay started: the delivery is pending again.");
      onReplayed?.(updated);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <article aria-label={`Webhook ${delivery.event_type} #${delivery.id}`}>
      <p>
        <strong>{delivery.event_type}</strong> to <code>{delivery.url}</code> —{" "}
        <span className={statusClass}>{delivery.status}</span>
        <br />
        <small>
          webhook-id <code>{delivery.webhook_id}</code>, created {formatDateTime(delivery.created_at)}
        </small>
      </p>
      {delivery.attempts.length === 0 ? (
        <p>No attempt yet.</p>
      ) : (
        <div className="table-scroll" tabIndex={0}>
          <table>
            <caption>Attempts of delivery #{delivery.id}</caption>
            <thead>
              <tr>
                <th scope="col">Attempt</th>
                <th scope="col">Status code</th>
                <th scope="col">Latency</th>
                <th scope="col">Error</th>
                <th scope="col">At</th>
              </tr>
            </thead>
            <tbody>
              {delivery.attempts.map((attempt) => (
                <tr key={attempt.number}>
                  <th scope="row">{attempt.number}</th>
                  <td>{attempt.status_code ?? "—"}</td>
                  <td>{formatMs(attempt.latency_ms)}</td>
                  <td>{attempt.error ?? "—"}</td>
                  <td>{formatDateTime(attempt.attempted_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <details>
        <summary>Payload</summary>
        <pre className="payload">
          <code>{JSON.stringify(delivery.payload, null, 2)}</code>
        </pre>
      </details>
      <FormError error={error} />
      {notice && <p role="status">{notice}</p>}
      <button
        type="button"
        className="secondary"
        onClick={replay}
        disabled={busy || delivery.status !== "failed"}
        aria-busy={busy}
        aria-label={`Replay delivery #${delivery.id}`}
        title={delivery.status === "failed" ? undefined : "Only failed deliveries can be replayed"}
      >
        Replay
      </button>
    </article>
  );
}

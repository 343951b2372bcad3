import { Link, useParams } from "react-router";
import { Deliveries } from "../components/calls/Deliveries";
import { GoalProgress, GoalVerdicts } from "../components/calls/GoalProgress";
import { LatencyTable } from "../components/calls/LatencyBreakdown";
import { Transcript } from "../components/calls/Transcript";
import { formatDateTime, formatDuration, humanize, isLive } from "../components/calls/format";
import { useCallDetail } from "../components/calls/useCallDetail";

/** How often a live call's deliveries are read again (they come as goals complete). */
const DELIVERIES_POLL_MS = 5000;

/** One call: its record, transcript with latency, live progress or verdicts, and webhooks. */
export function CallPage() {
  const { callKey } = useParams();
  const { call, error } = useCallDetail(callKey);

  if (error && !call) {
    return (
      <>
        <h1>Call</h1>
        <p className="form-error" role="alert">
          {error.status === 404
            ? `No call ${callKey} in this organization.`
            : error.status === 403
              ? `This call cannot be shown: ${error.message}.`
              : `The call could not be loaded: ${error.message}`}
        </p>
        <p>
          <Link to="/calls">Back to calls</Link>
        </p>
      </>
    );
  }
  if (!call) return <p aria-busy="true">Loading the call…</p>;

  const live = isLive(call.status);
  const verdicts = call.analysis?.goals ?? [];
  const extracted = Object.entries(call.extracted_data ?? {});
  return (
    <>
      <p>
        <Link to="/calls">← Calls</Link>
      </p>
      <h1>
        Call <code>{call.call_sid}</code> {live && <mark>live</mark>}
      </h1>
      {error && (
        <p role="status">Could not refresh the call ({error.message}); still trying.</p>
      )}
      <dl>
        <dt>Status</dt>
        <dd>{humanize(call.status)}</dd>
        <dt>Outcome</dt>
        <dd>{humanize(call.outcome)}</dd>
        <dt>Direction</dt>
        <dd>
          {call.direction}: {call.from_number || "—"} → {call.to_number || "—"}
        </dd>
        <dt>Agent</dt>
        <dd>{call.agent_id === null ? "—" : `#${call.agent_id}`}</dd>
        <dt>Started</dt>
        <dd>{formatDateTime(call.started_at)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(call.started_at, call.ended_at)}</dd>
        {call.end_reason && (
          <>
            <dt>End reason</dt>
            <dd>{humanize(call.end_reason)}</dd>
          </>
        )}
      </dl>
      {call.temporal_ui_url && (
        <p>
          <a href={call.temporal_ui_url} target="_blank" rel="noopener noreferrer">
            Open this call in the Temporal UI (opens in a new tab)
          </a>
        </p>
      )}

      {live && (
        <section aria-labelledby="progress-heading">
          <h2 id="progress-heading">Live progress</h2>
          <GoalProgress progress={call.progress} />
        </section>
      )}

      <section aria-labelledby="transcript-heading">
        <h2 id="transcript-heading">Transcript</h2>
        <Transcript turns={call.transcript} />
      </section>

      <section aria-labelledby="latency-heading">
        <h2 id="latency-heading">Latency</h2>
        <LatencyTable turns={call.transcript} />
      </section>

      {!live && (
        <section aria-labelledby="outcome-heading">
          <h2 id="outcome-heading">Summary and goals</h2>
          <p>{call.summary || "No summary."}</p>
          <GoalVerdicts goals={verdicts} />
          <h3>Extracted data</h3>
          {extracted.length === 0 ? (
            <p>No data was extracted.</p>
          ) : (
            <table>
              <caption>Extracted data</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {extracted.map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>{typeof value === "string" ? value : JSON.stringify(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      )}

      <section aria-labelledby="deliveries-heading">
        <h2 id="deliveries-heading">Webhook deliveries</h2>
        <Deliveries callSid={call.call_sid} pollMs={live ? DELIVERIES_POLL_MS : undefined} />
      </section>
    </>
  );
}

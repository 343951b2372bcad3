// One call as the test console watches it: the transcript with each turn's latency, the goals
// and the data captured so far, and the webhooks the call produced. Fed by GET /api/calls/{sid}
// and GET /api/webhooks?call={sid}.

export interface Turn {
  seq: number;
  speaker: string;
  text: string;
  interrupted: boolean;
  latency: Record<string, unknown>;
}

export interface GoalState {
  name: string;
  complete: boolean;
  missing_fields: string[];
}

export interface GoalVerdict {
  name: string;
  success: boolean;
  missing_fields: string[];
}

export interface CallDetail {
  call_sid: string;
  status: string;
  outcome: string | null;
  transcript: Turn[];
  extracted_data: Record<string, unknown>;
  analysis: { goals?: GoalVerdict[]; summary?: string };
  progress: { goals: GoalState[]; captured: Record<string, unknown> } | null;
  temporal_ui_url: string | null;
}

export interface Delivery {
  id: number;
  webhook_id: string;
  event_type: string;
  url: string;
  status: string;
  payload: Record<string, unknown>;
}

/** Latency stages in the order a turn goes through them; others follow as they come. */
const STAGES = ["end_of_turn", "stt", "knowledge", "brain_first_token", "tts_first_audio", "total"];

export function latencyParts(latency: Record<string, unknown>): Array<[string, number]> {
  const numeric = Object.entries(latency).filter(
    (entry): entry is [string, number] => typeof entry[1] === "number",
  );
  const rank = (name: string) => {
    const index = STAGES.indexOf(name);
    return index === -1 ? STAGES.length : index;
  };
  return numeric.sort((a, b) => rank(a[0]) - rank(b[0]));
}

export function CallView({ detail, deliveries }: { detail: CallDetail | null; deliveries: Delivery[] }) {
  if (!detail) return null;
  const live = detail.progress;
  const goals: Array<{ name: string; done: boolean; missing: string[] }> = live
    ? live.goals.map((g) => ({ name: g.name, done: g.complete, missing: g.missing_fields }))
    : (detail.analysis.goals ?? []).map((g) => ({
        name: g.name,
        done: g.success,
        missing: g.missing_fields,
      }));
  const captured = live ? live.captured : detail.extracted_data;
  return (
    <div className="console-grid">
      <section aria-labelledby="transcript-heading">
        <h2 id="transcript-heading">Transcript</h2>
        <ol className="transcript" data-testid="transcript">
          {detail.transcript.map((turn) => (
            <li key={turn.seq} className={turn.speaker === "agent" ? "turn-agent" : "turn-caller"}>
              <strong>{turn.speaker === "agent" ? "Agent" : "Caller"}:</strong> {turn.text}
              {turn.interrupted && <em> (interrupted)</em>}
              {latencyParts(turn.latency).length > 0 && (
                <small className="latency">
                  <br />
                  {latencyParts(turn.latency)
                    .map(([stage, ms]) => `${stage.replaceAll("_", " ")} ${Math.round(ms)} ms`)
                    .join(" · ")}
                </small>
              )}
            </li>
          ))}
        </ol>
      </section>
      <section aria-labelledby="goals-heading">
        <h2 id="goals-heading">Goals</h2>
        <ul data-testid="goals">
          {goals.map((goal) => (
            <li key={goal.name} data-goal={goal.name} data-complete={goal.done}>
              {goal.name}:{" "}
              <span className={goal.done ? "status-ok" : "status-bad"}>
                {goal.done ? "complete" : `missing ${goal.missing.join(", ") || "nothing named"}`}
              </span>
            </li>
          ))}
        </ul>
        <h3>Captured</h3>
        <dl data-testid="captured">
          {Object.entries(captured).map(([name, value]) => (
            <div key={name}>
              <dt>{name}</dt>
              <dd>{typeof value === "string" ? value : JSON.stringify(value)}</dd>
            </div>
          ))}
        </dl>
        <h3>Webhooks</h3>
        {deliveries.length === 0 ? (
          <p>None yet.</p>
        ) : (
          <ul data-testid="deliveries">
            {deliveries.map((delivery) => (
              <li key={delivery.id} data-event={delivery.event_type}>
                <details>
                  <summary>
                    <code>{delivery.event_type}</code> to {delivery.url}: {delivery.status}
                  </summary>
                  <pre>{JSON.stringify(delivery.payload, null, 2)}</pre>
                </details>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

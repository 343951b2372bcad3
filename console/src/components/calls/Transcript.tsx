import { LatencyBreakdown } from "./LatencyBreakdown";
import type { Turn } from "./types";
import "./calls.css";

/** "Caller" / "Agent" for the API's speaker values; anything else as given. */
export function speakerLabel(speaker: string): string {
  if (speaker === "caller") return "Caller";
  if (speaker === "agent") return "Agent";
  return speaker;
}

/**
 * A call's transcript, turn by turn: speaker, text, "interrupted" when the caller barged in,
 * and the turn's latency breakdown.
 * Props: `turns` — the turns in order (`TurnPublic`: seq, speaker, text, interrupted, latency);
 * `showLatency` — show each turn's latency under it (default true); `emptyText` — what to say
 * before the first turn (default "No turns yet."); `label` — the list's accessible name
 * (default "Transcript").
 */
export function Transcript({
  turns,
  showLatency = true,
  emptyText = "No turns yet.",
  label = "Transcript",
}: {
  turns: Turn[];
  showLatency?: boolean;
  emptyText?: string;
  label?: string;
}) {
  if (turns.length === 0) return <p>{emptyText}</p>;
  return (
    <ol className="turns" aria-label={label}>
      {turns.map((turn) => (
        <li key={turn.seq} className={turn.speaker === "agent" ? "turn-agent-row" : undefined}>
          <span className="turn-speaker">{speakerLabel(turn.speaker)}:</span>
          <span>{turn.text}</span>
          {turn.interrupted && (
            <small className="turn-flag">
              <mark>interrupted</mark>
            </small>
          )}
          {showLatency && <LatencyBreakdown latency={turn.latency ?? {}} />}
        </li>
      ))}
    </ol>
  );
}

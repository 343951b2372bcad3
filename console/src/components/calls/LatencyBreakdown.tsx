import { formatMs, humanize } from "./format";
import type { Turn } from "./types";
import "./calls.css";

/** The stages of a turn's latency in pipeline order; other keys follow in the order given. */
export const LATENCY_STAGES = [
  "end_of_turn",
  "stt",
  "knowledge",
  "brain_first_token",
  "tts_first_audio",
  "total",
] as const;

/** The keys of `latency` with a value, known stages first. */
export function latencyKeys(latency: Record<string, unknown>): string[] {
  const present = Object.keys(latency).filter((k) => latency[k] !== null && latency[k] !== undefined);
  const known: string[] = LATENCY_STAGES.filter((k) => present.includes(k));
  return [...known, ...present.filter((k) => !known.includes(k))];
}

/**
 * One turn's latency breakdown as a compact description list, every stage in ms.
 * Props: `latency` — a turn's `latency` dict (stage → milliseconds); whatever keys are there
 * are shown, known stages (end_of_turn, stt, knowledge, brain_first_token, tts_first_audio,
 * total) first. Renders nothing for an empty dict.
 */
export function LatencyBreakdown({ latency }: { latency: Record<string, unknown> }) {
  const keys = latencyKeys(latency);
  if (keys.length === 0) return null;
  return (
    <dl className="latency">
      {keys.map((key) => (
        <div key={key}>
          <dt>{humanize(key)}</dt>
          <dd>{formatMs(latency[key])}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * Every turn that has latency stamps, one row each, one column per stage (ms).
 * Props: `turns` — the transcript; `caption` — the table's caption (default "Latency per turn").
 * Renders a short note when no turn carries latency.
 */
export function LatencyTable({ turns, caption = "Latency per turn" }: { turns: Turn[]; caption?: string }) {
  const timed = turns.filter((t) => latencyKeys(t.latency ?? {}).length > 0);
  if (timed.length === 0) return <p>No turn has latency recorded yet.</p>;
  const merged: Record<string, unknown> = {};
  for (const turn of timed) Object.assign(merged, turn.latency);
  const columns = latencyKeys(merged);
  return (
        <div className="table-scroll" tabIndex={0}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Turn</th>
            {columns.map((key) => (
              <th scope="col" key={key}>
                {humanize(key)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {timed.map((turn) => (
            <tr key={turn.seq}>
              <th scope="row">
                #{turn.seq} {turn.speaker}
              </th>
              {columns.map((key) => (
                <td key={key}>{key in turn.latency ? formatMs(turn.latency[key]) : "—"}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

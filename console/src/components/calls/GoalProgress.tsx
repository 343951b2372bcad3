import { humanize } from "./format";
import type { CallProgress, GoalProgressState, GoalVerdict } from "./types";
import "./calls.css";

/** A captured value as short text. */
function valueText(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Every field a goal asks for: its criteria's fields, then the missing ones not named there. */
function goalFields(goal: GoalProgressState): string[] {
  const fields: string[] = [];
  for (const criterion of goal.criteria ?? []) {
    for (const field of criterion.fields) if (!fields.includes(field)) fields.push(field);
  }
  for (const field of goal.missing_fields ?? []) if (!fields.includes(field)) fields.push(field);
  return fields;
}

/**
 * A running call's goals: each goal complete or in progress, its criteria met or not, and its
 * fields captured (with the value) or still missing; then what the agent does next.
 * Props: `progress` — the workflow's `progress` query answer (`CallDetail.progress`, or the
 * same shape from a live test call); `null` says progress is not available.
 */
export function GoalProgress({ progress }: { progress: CallProgress | null }) {
  if (!progress) return <p>Live progress is not available (the workflow did not answer).</p>;
  const captured = progress.captured ?? {};
  if (progress.goals.length === 0) return <p>This agent has no goals.</p>;
  const next = progress.next_action;
  return (
    <>
      <ul className="goal-list" aria-label="Goals">
        {progress.goals.map((goal) => {
          const missing = new Set(goal.missing_fields ?? []);
          const fields = goalFields(goal);
          return (
            <li key={goal.name}>
              <strong>{goal.name}</strong>{" "}
              <span className={goal.complete ? "verdict-ok" : undefined}>
                {goal.complete ? "complete" : "in progress"}
              </span>
              {goal.criteria?.length > 0 && (
                <ul aria-label={`Criteria of ${goal.name}`}>
                  {goal.criteria.map((criterion) => (
                    <li key={criterion.name}>
                      {criterion.name}: {criterion.met ? "met" : "not met"}
                    </li>
                  ))}
                </ul>
              )}
              {fields.length > 0 && (
                <ul aria-label={`Fields of ${goal.name}`}>
                  {fields.map((field) => (
                    <li key={field}>
                      {field}:{" "}
                      {missing.has(field) || !(field in captured) ? (
                        <em>missing</em>
                      ) : (
                        <>
                          captured <code>{valueText(captured[field])}</code>
                        </>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
      {next?.kind && (
        <p>
          Next: {humanize(next.kind)}
          {next.field ? ` ${next.field}` : ""}
          {next.goal ? ` (${next.goal})` : ""}
        </p>
      )}
    </>
  );
}

/**
 * The post-call verdict on each goal: met or not, and the data that was missing.
 * Props: `goals` — `CallDetail.analysis.goals`.
 */
export function GoalVerdicts({ goals }: { goals: GoalVerdict[] }) {
  if (goals.length === 0) return <p>No goal verdicts.</p>;
  return (
    <table>
      <caption>Goal verdicts</caption>
      <thead>
        <tr>
          <th scope="col">Goal</th>
          <th scope="col">Verdict</th>
          <th scope="col">Missing data</th>
        </tr>
      </thead>
      <tbody>
        {goals.map((goal) => (
          <tr key={goal.name}>
            <th scope="row">{goal.name}</th>
            <td className={goal.success ? "verdict-ok" : "verdict-bad"}>
              {goal.success ? "met" : "not met"}
            </td>
            <td>{goal.missing_fields?.length ? goal.missing_fields.join(", ") : "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

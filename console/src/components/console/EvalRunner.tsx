import { useMemo, useState, type FormEvent } from "react";
import { ApiError, post } from "../../api";
import { FormError, fieldProps } from "../FieldError";

// The scenario sets `callwright eval` runs (tests/eval/scenarios/<set>/*.yaml), bundled as text
// and loaded only when a set is chosen.
const SCENARIO_FILES = import.meta.glob<string>("../../../../tests/eval/scenarios/*/*.yaml", {
  query: "?raw",
  import: "default",
});

export function scenarioSets(files: Record<string, unknown> = SCENARIO_FILES): Map<string, string[]> {
  const sets = new Map<string, string[]>();
  for (const path of Object.keys(files).sort()) {
    const parts = path.split("/");
    const set = parts[parts.length - 2];
    sets.set(set, [...(sets.get(set) ?? []), path]);
  }
  return sets;
}

export interface EvalResult {
  id: string;
  description: string;
  passed: boolean;
  problems: string[];
  transcript: Array<{ speaker: string; text: string }>;
}

export interface EvalReport {
  passed: number;
  failed: number;
  completion: number | null;
  field_accuracy: number | null;
  results: EvalResult[];
}

const MAX_SCENARIOS = 60;
const percent = (value: number | null) => (value === null ? "n/a" : `${(value * 100).toFixed(1)} %`);

/** Run `callwright eval` scenarios against this agent, as stored now, and show each verdict
 * with its transcript (POST /api/agents/{id}/eval). */
export function EvalRunner({ agentId }: { agentId: number }) {
  const sets = useMemo(() => scenarioSets(), []);
  const [set, setSet] = useState("");
  const [custom, setCustom] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [report, setReport] = useState<EvalReport | null>(null);

  async function run(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setReport(null);
    try {
      const texts = custom.trim()
        ? custom.split(/^---\s*$/m).map((t) => t.trim()).filter(Boolean)
        : await Promise.all((sets.get(set) ?? []).slice(0, MAX_SCENARIOS).map((p) => SCENARIO_FILES[p]()));
      if (texts.length === 0) {
        throw new ApiError(422, "choose a scenario set or write a scenario", [
          { path: "scenarios", message: "choose a scenario set or write a scenario" },
        ]);
      }
      setReport(await post<EvalReport>(`/api/agents/${agentId}/eval`, { scenarios: texts }));
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
    } finally {
      setBusy(false);
    }
  }

  // A problem in scenario N (loc body.scenarios.N) is shown under the scenarios.
  const scenarioProblems = error?.problems.filter((p) => p.path.startsWith("scenarios")) ?? [];
  return (
    <section aria-labelledby="eval-heading">
      <h2 id="eval-heading">Scenarios</h2>
      <p>
        Simulated callers, as <code>callwright eval</code> runs them, against this agent as it is
        saved now.
      </p>
      <form onSubmit={run}>
        <label htmlFor="scenario-set">Scenario set</label>
        <select id="scenario-set" value={set} onChange={(e) => setSet(e.target.value)}>
          <option value="">Choose a set…</option>
          {[...sets.entries()].map(([name, files]) => (
            <option key={name} value={name}>
              {name} ({Math.min(files.length, MAX_SCENARIOS)} scenarios)
            </option>
          ))}
        </select>
        <label htmlFor="scenario-text">Or write scenarios (YAML, separated by ---)</label>
        <textarea
          id="scenario-text"
          rows={6}
          value={custom}
          onChange={(e) => setCustom(e.target.value)}
          {...fieldProps(error, "scenarios")}
        />
        {scenarioProblems.map((p) => (
          <small key={p.path} className="field-error" role="alert">
            {p.path.replace("scenarios.", "scenario ")}: {p.message}
          </small>
        ))}
        {!scenarioProblems.length && <FormError error={error} />}
        <button type="submit" aria-busy={busy} disabled={busy}>
          Run scenarios
        </button>
      </form>
      {report && (
        <>
          <p data-testid="eval-summary">
            {report.passed} passed, {report.failed} failed · goal completion{" "}
            {percent(report.completion)} · field accuracy {percent(report.field_accuracy)}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Scenario</th>
                <th scope="col">Result</th>
                <th scope="col">Transcript</th>
              </tr>
            </thead>
            <tbody>
              {report.results.map((result) => (
                <tr key={result.id}>
                  <td>
                    <code>{result.id}</code>
                    <br />
                    <small>{result.description}</small>
                  </td>
                  <td>
                    <span className={result.passed ? "status-ok" : "status-bad"}>
                      {result.passed ? "passed" : "failed"}
                    </span>
                    {result.problems.length > 0 && (
                      <ul>
                        {result.problems.map((problem) => (
                          <li key={problem}>{problem}</li>
                        ))}
                      </ul>
                    )}
                  </td>
                  <td>
                    <details>
                      <summary>{result.transcript.length} turns</summary>
                      <ol>
                        {result.transcript.map((turn, index) => (
                          <li key={index}>
                            <strong>{turn.speaker}:</strong> {turn.text}
                          </li>
                        ))}
                      </ol>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

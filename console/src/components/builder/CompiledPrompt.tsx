import { fieldPath } from "../../api";
import type { Validation } from "./useValidation";

/** Beside the form: the system prompt the agent compiles to, and every problem the API finds,
 * updated as the admin types. */
export function CompiledPrompt({ validation }: { validation: Validation }) {
  const { result, lastPrompt, error, checking } = validation;
  const prompt = result?.compiled_prompt ?? lastPrompt;
  const problems = result?.problems ?? [];
  return (
    <>
      <h2 id="compiled-heading">Compiled prompt</h2>
      <p role="status" aria-live="polite" className="builder-validity">
        {checking ? (
          <span aria-busy="true">Checking…</span>
        ) : error ? (
          <span className="status-bad">Could not check the agent: {error.message}</span>
        ) : result?.valid ? (
          <span className="status-ok">Valid: ready to create.</span>
        ) : result ? (
          <span className="status-bad">
            {problems.length} {problems.length === 1 ? "problem" : "problems"} to fix
          </span>
        ) : null}
      </p>
      {problems.length > 0 && (
        <section aria-labelledby="problems-heading">
          <h3 id="problems-heading">Problems</h3>
          <ul className="builder-problems">
            {problems.map((p) => (
              <li key={`${p.path}:${p.message}`}>
                {p.path && <code>{fieldPath(p.path)}</code>} {p.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      {prompt ? (
        <>
          {!result?.compiled_prompt && (
            <p>
              <small>The last valid version; it updates once the problems are fixed.</small>
            </p>
          )}
          <pre className="compiled-prompt" tabIndex={0} aria-label="Compiled system prompt" data-testid="compiled-prompt">
            {prompt}
          </pre>
        </>
      ) : (
        <p>
          <small>The prompt a call would start from appears here once the agent is valid.</small>
        </p>
      )}
    </>
  );
}

import { useEffect, useState, type KeyboardEvent } from "react";
import { ApiError, post } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import type { ReplyVerdict } from "./types";
import { useDebounced } from "./useDebounced";

export interface Instructions {
  dos: string[];
  donts: string[];
}

interface InstructionEditorProps {
  dos: string[];
  donts: string[];
  onChange(instructions: Instructions): void;
  error: ApiError | null;
  /** How long the sentence box waits after the last keystroke before checking. */
  checkDelayMs?: number;
}

/** Do's and don'ts, highest priority first, and a box that checks a sentence against them as
 * the admin types (the same check every reply passes on a call). */
export function InstructionEditor({ dos, donts, onChange, error, checkDelayMs = 500 }: InstructionEditorProps) {
  return (
    <section aria-labelledby="instructions-heading">
      <h2 id="instructions-heading">Instructions</h2>
      <p>
        <small>The first instruction of a list has the highest priority.</small>
      </p>
      <InstructionList
        kind="dos"
        title="Do's"
        singular="do"
        items={dos}
        error={error}
        onChange={(next) => onChange({ dos: next, donts })}
      />
      <InstructionList
        kind="donts"
        title="Don'ts"
        singular="don't"
        items={donts}
        error={error}
        onChange={(next) => onChange({ dos, donts: next })}
      />
      <ReplyChecker dos={dos} donts={donts} delayMs={checkDelayMs} />
    </section>
  );
}

interface InstructionListProps {
  kind: "dos" | "donts";
  title: string;
  singular: string;
  items: string[];
  error: ApiError | null;
  onChange(items: string[]): void;
}

function InstructionList({ kind, title, singular, items, error, onChange }: InstructionListProps) {
  const [draft, setDraft] = useState("");
  const headingId = `${kind}-heading`;

  function move(from: number, to: number) {
    const next = [...items];
    const [item] = next.splice(from, 1);
    next.splice(to, 0, item);
    onChange(next);
  }

  function add() {
    const text = draft.trim();
    if (!text) return;
    onChange([...items, text]);
    setDraft("");
  }

  function addOnEnter(event: KeyboardEvent<HTMLInputElement>) {
    // Enter adds the instruction; it must not submit the whole agent.
    if (event.key === "Enter") {
      event.preventDefault();
      add();
    }
  }

  return (
    <section aria-labelledby={headingId} className="builder-instructions">
      <h3 id={headingId}>{title}</h3>
      <FieldError error={error} path={`instructions.${kind}`} />
      {items.length > 0 && (
        <ol>
          {items.map((text, i) => {
            const path = `instructions.${kind}.${i}`;
            const label = `${singular[0].toUpperCase()}${singular.slice(1)} ${i + 1}`;
            return (
              <li key={`${i}-${kind}`}>
                <div className="builder-row">
                  <label className="builder-grow">
                    <span className="visually-hidden">{label}</span>
                    <input
                      value={text}
                      onChange={(e) => onChange(items.map((t, j) => (j === i ? e.target.value : t)))}
                      {...fieldProps(error, path)}
                    />
                  </label>
                  <button
                    type="button"
                    className="secondary outline"
                    aria-label={`Move ${singular} ${i + 1} up`}
                    disabled={i === 0}
                    onClick={() => move(i, i - 1)}
                  >
                    Up
                  </button>
                  <button
                    type="button"
                    className="secondary outline"
                    aria-label={`Move ${singular} ${i + 1} down`}
                    disabled={i === items.length - 1}
                    onClick={() => move(i, i + 1)}
                  >
                    Down
                  </button>
                  <button
                    type="button"
                    className="secondary outline"
                    aria-label={`Remove ${singular} ${i + 1}`}
                    onClick={() => onChange(items.filter((_, j) => j !== i))}
                  >
                    Remove
                  </button>
                </div>
                <FieldError error={error} path={path} />
              </li>
            );
          })}
        </ol>
      )}
      <div className="builder-row">
        <label className="builder-grow">
          New {singular}
          <input
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={addOnEnter}
            placeholder={kind === "dos" ? "Confirm details before ending" : "Don't discuss pricing"}
          />
        </label>
        <button type="button" className="secondary" onClick={add} disabled={!draft.trim()}>
          Add {singular}
        </button>
      </div>
    </section>
  );
}

function ReplyChecker({ dos, donts, delayMs }: { dos: string[]; donts: string[]; delayMs: number }) {
  const [text, setText] = useState("");
  const [verdict, setVerdict] = useState<ReplyVerdict | null>(null);
  const [problem, setProblem] = useState<ApiError | null>(null);
  const request = useDebounced(JSON.stringify({ text: text.trim(), dos, donts }), delayMs);

  useEffect(() => {
    const { text: sentence, dos: d, donts: n } = JSON.parse(request) as {
      text: string;
      dos: string[];
      donts: string[];
    };
    if (!sentence) {
      setVerdict(null);
      setProblem(null);
      return;
    }
    let current = true;
    post<ReplyVerdict>("/api/agents/check-reply", { instructions: { dos: d, donts: n }, text: sentence })
      .then((answer) => {
        if (!current) return;
        setVerdict(answer);
        setProblem(null);
      })
      .catch((caught: unknown) => {
        if (!current) return;
        setVerdict(null);
        setProblem(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
      });
    return () => {
      current = false;
    };
  }, [request]);

  return (
    <div className="builder-check">
      <label htmlFor="try-sentence">Try a sentence</label>
      <textarea
        id="try-sentence"
        rows={2}
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="Our cleaning costs $120, shall I book you in?"
        aria-describedby="try-sentence-verdict"
      />
      <div id="try-sentence-verdict" role="status" aria-live="polite">
        {problem && <p className="status-bad">The sentence could not be checked: {problem.message}</p>}
        {verdict?.allowed && <p className="status-ok">Allowed: no don't is broken.</p>}
        {verdict && !verdict.allowed && (
          <>
            <p className="status-bad">Not allowed: the agent would not say this.</p>
            <ul>
              {verdict.breaches.map((b, i) => (
                <li key={i}>
                  <strong>{b.instruction}</strong>: {b.reason}
                  {b.evidence && (
                    <>
                      {" "}
                      (“<mark>{b.evidence}</mark>”)
                    </>
                  )}
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    </div>
  );
}

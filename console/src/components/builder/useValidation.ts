import { useEffect, useState } from "react";
import { ApiError, post } from "../../api";
import type { ValidationResult } from "./types";
import { useDebounced } from "./useDebounced";

export interface Validation {
  /** The latest answer of `POST /api/agents/validate`, for the document as it was then. */
  result: ValidationResult | null;
  /** The last prompt a valid document compiled to (kept while the admin fixes a problem). */
  lastPrompt: string | null;
  /** Why the document could not be checked (not a problem in it). */
  error: ApiError | null;
  /** The admin typed since the last answer, or an answer is on its way. */
  checking: boolean;
}

/** The agent document checked by the API once the admin pauses for `delayMs`: its problems and
 * the system prompt a call would start from. */
export function useValidation(document: unknown, enabled: boolean, delayMs = 400): Validation {
  const json = JSON.stringify(document);
  const settled = useDebounced(json, delayMs);
  const [result, setResult] = useState<ValidationResult | null>(null);
  const [lastPrompt, setLastPrompt] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [answered, setAnswered] = useState<string | null>(null);

  useEffect(() => {
    // A document the admin has changed since is not sent: its answer would be stale at once.
    if (!enabled || settled !== json) return;
    let current = true;
    post<ValidationResult>("/api/agents/validate", JSON.parse(settled) as unknown)
      .then((answer) => {
        if (!current) return;
        setResult(answer);
        setError(null);
        if (answer.compiled_prompt) setLastPrompt(answer.compiled_prompt);
      })
      .catch((caught: unknown) => {
        if (!current) return;
        setError(caught instanceof ApiError ? caught : new ApiError(0, String(caught)));
      })
      .finally(() => {
        if (current) setAnswered(settled);
      });
    return () => {
      current = false;
    };
  }, [settled, json, enabled]);

  return { result, lastPrompt, error, checking: enabled && (json !== settled || answered !== settled) };
}

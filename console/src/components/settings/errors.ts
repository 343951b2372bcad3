import { ApiError } from "../../api";

/** Anything thrown, as an ApiError (a network failure or a bug reads as status 0). */
export function asApiError(caught: unknown): ApiError {
  return caught instanceof ApiError ? caught : new ApiError(0, String(caught));
}

/** Problems of a form checked here before it is sent, in the API's own error shape. */
export function formProblems(problems: Array<{ path: string; message: string }>): ApiError | null {
  return problems.length ? new ApiError(422, problems[0].message, problems) : null;
}

/** An error with every problem below a list field ("allowed_call_prefixes.2") moved onto the
 * field itself, so FieldError shows it next to the one input that holds the list. */
export function onListField(error: ApiError | null, field: string, values: string[]): ApiError | null {
  if (!error) return null;
  const problems = error.problems.map((problem) => {
    const match = new RegExp(`^${field}\\.(\\d+)`).exec(problem.path);
    if (!match) return problem;
    const value = values[Number(match[1])];
    return { path: field, message: value === undefined ? problem.message : `${value}: ${problem.message}` };
  });
  return new ApiError(error.status, error.message, problems);
}

/** What a 403 means on this page: said plainly, with the scope the API names. */
export function forbiddenText(error: ApiError, what: string): string {
  const scope = /`([^`]+)`/.exec(error.message)?.[1] ?? "admin";
  return `This key lacks the ${scope} scope, so it cannot ${what}. Sign in with a key that has it.`;
}

/** A message for an error that is about the whole request, 403 said plainly. */
export function requestErrorText(error: ApiError, what: string): string {
  return error.status === 403 ? forbiddenText(error, what) : error.message;
}

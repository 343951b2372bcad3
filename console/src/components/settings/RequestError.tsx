import type { ApiError } from "../../api";
import { FormError } from "../FieldError";
import { forbiddenText } from "./errors";

/**
 * An error about a whole request at the top of a form or section: a 403 said plainly ("This key
 * lacks the admin scope, so it cannot `what`"), anything else as FormError shows it.
 */
export function RequestError({ error, what }: { error: ApiError | null; what: string }) {
  if (!error) return null;
  if (error.status === 403) {
    return (
      <p className="form-error" role="alert">
        {forbiddenText(error, what)}
      </p>
    );
  }
  return <FormError error={error} />;
}

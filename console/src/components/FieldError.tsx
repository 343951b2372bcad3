import type { ApiError } from "../api";

/** The API's message for one field, shown under it and tied to the input by `id`
 * (use `aria-describedby={errorId(path)}` and `aria-invalid` on the input). */
export function FieldError({ error, path }: { error: ApiError | null | undefined; path: string }) {
  const message = error?.forField(path);
  if (!message) return null;
  return (
    <small id={errorId(path)} className="field-error" role="alert" data-field={path}>
      {message}
    </small>
  );
}

export function errorId(path: string): string {
  return `error-${path.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
}

/** Props that link an input to its error: `aria-invalid` and `aria-describedby`. */
export function fieldProps(error: ApiError | null | undefined, path: string) {
  const invalid = Boolean(error?.forField(path));
  return invalid
    ? { "aria-invalid": true as const, "aria-describedby": errorId(path) }
    : { "aria-invalid": undefined };
}

/** An error about no field in particular (or the whole request), shown at the top of a form. */
export function FormError({ error }: { error: ApiError | null | undefined }) {
  if (!error) return null;
  const unplaced = error.problems.length === 0;
  return (
    <p className="form-error" role="alert">
      {unplaced ? error.message : "Please fix the fields marked below."}
    </p>
  );
}

// The console's one way to talk to the API: same origin, the key in an Authorization header,
// and every error turned into an ApiError that knows which field it is about.

const KEY_STORAGE = "callwright.apiKey";

/** The signed-in API key: in session storage (gone when the tab closes), never in a URL. */
export const keyStore = {
  get(): string | null {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY_STORAGE, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY_STORAGE);
  },
};

/** One problem the API named: `path` is the field in dot form ("goals.0.required_data.1.type"). */
export interface FieldProblem {
  path: string;
  message: string;
}

/** A field path in the one form the console uses: FastAPI's `loc` without "body"/"query",
 * or a validation path such as `goals[0].name`, both become "goals.0.name". */
export function fieldPath(loc: ReadonlyArray<string | number> | string): string {
  const parts = typeof loc === "string" ? loc.split(/[.[\]]+/) : loc.map(String);
  const kept = parts.filter((part) => part !== "");
  if (kept.length > 1 && (kept[0] === "body" || kept[0] === "query" || kept[0] === "path")) {
    kept.shift();
  }
  return kept.join(".");
}

export class ApiError extends Error {
  readonly status: number;
  readonly problems: FieldProblem[];

  constructor(status: number, message: string, problems: FieldProblem[] = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.problems = problems;
  }

  /** The message for exactly this field path. */
  forField(path: string): string | undefined {
    return this.problems.find((p) => p.path === path)?.message;
  }
}

interface ErrorBody {
  detail?: unknown;
}

/** The API's error body (`{"detail": "text"}` or `{"detail": [{loc, msg}]}`) as an ApiError. */
export function errorFrom(status: number, body: ErrorBody | null): ApiError {
  const detail = body?.detail;
  if (Array.isArray(detail)) {
    const problems = detail
      .filter((d): d is { loc: Array<string | number>; msg: string } =>
        typeof d === "object" && d !== null && "msg" in d,
      )
      .map((d) => ({ path: fieldPath(d.loc ?? []), message: String(d.msg) }));
    const first = problems[0];
    const summary = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : "";
    return new ApiError(status, summary || `request failed (${status})`, problems);
  }
  if (typeof detail === "string") return new ApiError(status, detail);
  return new ApiError(status, `request failed (${status})`);
}

type Query = Record<string, string | number | boolean | undefined | null>;

function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Call the API. JSON in and out; a FormData body is sent as a multipart upload. */
export async function api<T>(
  method: string,
  path: string,
  options: { body?: unknown; query?: Query; key?: string | null } = {},
): Promise<T> {
  const key = options.key === undefined ? keyStore.get() : options.key;
  const headers: Record<string, string> = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) {
    body = options.body;
  } else if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), { method, headers, body });
  } catch {
    throw new ApiError(0, "the API could not be reached");
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw errorFrom(response.status, parsed as ErrorBody | null);
  return parsed as T;
}

export const get = <T>(path: string, query?: Query) => api<T>("GET", path, { query });
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, { body });
export const patch = <T>(path: string, body?: unknown) => api<T>("PATCH", path, { body });
export const del = (path: string) => api<void>("DELETE", path);

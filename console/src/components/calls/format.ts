// How the call views write times, durations and words the API sends as identifiers.

/** A timestamp in the reader's locale ("—" when absent). */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

/** The time between two timestamps as "42 s", "1 min 05 s" or "2 h 03 min" (until now while
 * the call runs). */
export function formatDuration(startIso: string, endIso: string | null, now: number = Date.now()): string {
  const start = new Date(startIso).getTime();
  const end = endIso ? new Date(endIso).getTime() : now;
  if (Number.isNaN(start) || Number.isNaN(end)) return "—";
  const total = Math.max(0, Math.round((end - start) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  return minutes ? `${minutes} min ${String(seconds).padStart(2, "0")} s` : `${seconds} s`;
}

/** A number of milliseconds as "123 ms" (non-numbers as given). */
export function formatMs(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return String(value ?? "—");
  return `${Math.round(value)} ms`;
}

/** An identifier such as `goals_met` or `brain_first_token` as words: "goals met". */
export function humanize(identifier: string | null | undefined): string {
  if (!identifier) return "—";
  return identifier.replace(/[_:.]+/g, " ").trim();
}

/** Whether a call is still running (not yet completed), so its views poll. */
export function isLive(status: string): boolean {
  return status !== "completed";
}

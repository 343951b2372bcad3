import type { CallSummary } from "./types";

/** The calls list's filters as they stand in the URL query (`?agent=&status=&outcome=&from=&to=`). */
export interface CallFilters {
  agent: string;
  status: string;
  outcome: string;
  /** First day, `YYYY-MM-DD`, in the reader's time zone. */
  from: string;
  /** Last day, inclusive. */
  to: string;
}

export const FILTER_NAMES = ["agent", "status", "outcome", "from", "to"] as const;

export function filtersFrom(params: URLSearchParams): CallFilters {
  return {
    agent: params.get("agent") ?? "",
    status: params.get("status") ?? "",
    outcome: params.get("outcome") ?? "",
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
  };
}

/** The query `GET /api/calls` filters by itself: agent, status and outcome. */
export function serverQuery(filters: CallFilters): Record<string, string | undefined> {
  return {
    agent_id: /^\d+$/.test(filters.agent) ? filters.agent : undefined,
    status: filters.status || undefined,
    outcome: filters.outcome || undefined,
  };
}

/** Local midnight of a `YYYY-MM-DD` day (NaN when it is not one). */
function dayStart(day: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return Number.NaN;
  return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3])).getTime();
}

/** Whether the date range reads backwards (the last day before the first). */
export function rangeIsBackwards(filters: CallFilters): boolean {
  const from = dayStart(filters.from);
  const to = dayStart(filters.to);
  return !Number.isNaN(from) && !Number.isNaN(to) && to < from;
}

/** The calls that started within the date range. The API has no date filter, so this is done
 * here, over the newest calls it returns. */
export function withinDates(calls: CallSummary[], filters: CallFilters): CallSummary[] {
  const from = dayStart(filters.from);
  const toStart = dayStart(filters.to);
  const until = Number.isNaN(toStart) ? Number.NaN : toStart + 24 * 3600 * 1000;
  return calls.filter((call) => {
    const started = new Date(call.started_at).getTime();
    if (!Number.isNaN(from) && started < from) return false;
    if (!Number.isNaN(until) && started >= until) return false;
    return true;
  });
}

import { useEffect, useState, type ChangeEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError, get } from "../api";
import { FieldError, fieldProps } from "../components/FieldError";
import {
  filtersFrom,
  rangeIsBackwards,
  serverQuery,
  withinDates,
  type CallFilters,
} from "../components/calls/callFilters";
import { formatDateTime, formatDuration, humanize, isLive } from "../components/calls/format";
import { OUTCOMES, type AgentSummary, type CallSummary } from "../components/calls/types";
import "../components/calls/calls.css";

type Query = Record<string, string | undefined>;

/** How often the list is read again while a call in it is live. */
const LIVE_LIST_POLL_MS = 5000;
const STATUSES = ["in_progress", "analysing", "completed"] as const;

function asApiError(caught: unknown): ApiError {
  return caught instanceof ApiError ? caught : new ApiError(0, String(caught));
}

/** The organization's calls, newest first, filtered by agent, status, outcome and dates (all
 * kept in the URL query so a filtered list can be shared and reloaded). */
export function CallsPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const [calls, setCalls] = useState<CallSummary[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [agents, setAgents] = useState<AgentSummary[] | null>(null);

  useEffect(() => {
    // A key without the agents' read scope still lists calls: the agent filter becomes an id box.
    get<AgentSummary[]>("/api/agents").then(setAgents, () => setAgents(null));
  }, []);

  const query = serverQuery(filters);
  const queryKey = JSON.stringify(query);
  useEffect(() => {
    // Read again while a call in the list is live, so its status and duration move on.
    let cancelled = false;
    let timer = 0;
    const load = async () => {
      try {
        const rows = await get<CallSummary[]>("/api/calls", JSON.parse(queryKey) as Query);
        if (cancelled) return;
        setCalls(rows);
        setError(null);
        if (rows.some((row) => isLive(row.status))) {
          timer = window.setTimeout(() => void load(), LIVE_LIST_POLL_MS);
        }
      } catch (caught) {
        if (!cancelled) setError(asApiError(caught));
      }
    };
    void load();
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [queryKey]);

  const backwards = rangeIsBackwards(filters);
  const rangeError = backwards
    ? new ApiError(422, "the last day is before the first", [
        { path: "to", message: "The last day is before the first day." },
      ])
    : null;
  const shown = calls && !backwards ? withinDates(calls, filters) : [];
  const agentNames = new Map((agents ?? []).map((a) => [a.id, a.name]));

  function setFilter(name: keyof CallFilters) {
    return (event: ChangeEvent<HTMLInputElement | HTMLSelectElement>) => {
      const next = new URLSearchParams(params);
      if (event.target.value) next.set(name, event.target.value);
      else next.delete(name);
      setParams(next, { replace: true });
    };
  }
  const filtered = Object.values(filters).some(Boolean);

  return (
    <>
      <h1>Calls</h1>
      <form role="search" aria-label="Filter calls" onSubmit={(e) => e.preventDefault()}>
        <fieldset className="filters">
          <legend>Filter</legend>
          <label>
            Agent
            {agents ? (
              <select name="agent" value={filters.agent} onChange={setFilter("agent")}>
                <option value="">Any agent</option>
                {agents.map((agent) => (
                  <option key={agent.id} value={String(agent.id)}>
                    {agent.name}
                  </option>
                ))}
              </select>
            ) : (
              <input
                name="agent"
                inputMode="numeric"
                placeholder="agent id"
                value={filters.agent}
                onChange={setFilter("agent")}
              />
            )}
          </label>
          <label>
            Status
            <select name="status" value={filters.status} onChange={setFilter("status")}>
              <option value="">Any status</option>
              {STATUSES.map((status) => (
                <option key={status} value={status}>
                  {humanize(status)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Outcome
            <select name="outcome" value={filters.outcome} onChange={setFilter("outcome")}>
              <option value="">Any outcome</option>
              {OUTCOMES.map((outcome) => (
                <option key={outcome} value={outcome}>
                  {humanize(outcome)}
                </option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="date" name="from" value={filters.from} onChange={setFilter("from")} />
          </label>
          <label>
            To
            <input
              type="date"
              name="to"
              value={filters.to}
              onChange={setFilter("to")}
              {...fieldProps(rangeError, "to")}
            />
            <FieldError error={rangeError} path="to" />
          </label>
        </fieldset>
        {filtered && (
          <p>
            <Link to="/calls">Clear filters</Link>
          </p>
        )}
      </form>

      {error && (
        <p className="form-error" role="alert">
          {error.status === 403
            ? `Calls cannot be listed: ${error.message}.`
            : `The calls could not be loaded: ${error.message}`}
        </p>
      )}
      {calls === null && !error && <p aria-busy="true">Loading calls…</p>}
      {calls !== null && shown.length === 0 && !backwards && (
        <p>{filtered ? "No call matches these filters." : "No calls yet."}</p>
      )}
      {shown.length > 0 && (
        <div className="table-scroll" tabIndex={0}>
          <table>
            <caption>
              {shown.length} call{shown.length === 1 ? "" : "s"}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Call</th>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">Outcome</th>
                <th scope="col">Direction</th>
                <th scope="col">Started</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((call) => (
                <tr key={call.id}>
                  <th scope="row">
                    <Link to={`/calls/${encodeURIComponent(call.call_sid)}`}>{call.call_sid}</Link>
                  </th>
                  <td>
                    {call.agent_id === null
                      ? "—"
                      : (agentNames.get(call.agent_id) ?? `#${call.agent_id}`)}
                  </td>
                  <td>
                    {isLive(call.status) ? <mark>live</mark> : null} {humanize(call.status)}
                  </td>
                  <td>{humanize(call.outcome)}</td>
                  <td>{call.direction}</td>
                  <td>{formatDateTime(call.started_at)}</td>
                  <td>{formatDuration(call.started_at, call.ended_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

import { useEffect, useState } from "react";
import { Link } from "react-router";
import { ApiError, get } from "../api";
import { formatDateTime } from "../components/calls/format";
import type { AgentSummary } from "../components/calls/types";

interface TemplateName {
  id: number;
  name: string;
}

/** The list route gives no goals; each agent's own route does (one read per agent). */
interface AgentGoals {
  id: number;
  goals: unknown[];
}

function asApiError(caught: unknown): ApiError {
  return caught instanceof ApiError ? caught : new ApiError(0, String(caught));
}

/** The organization's agents, each with a way to test it and to see its calls. */
export function AgentsPage() {
  const [agents, setAgents] = useState<AgentSummary[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [templates, setTemplates] = useState<Map<number, string>>(new Map());
  const [goalCounts, setGoalCounts] = useState<Map<number, number>>(new Map());

  useEffect(() => {
    let cancelled = false;
    get<AgentSummary[]>("/api/agents").then(
      (rows) => {
        if (cancelled) return;
        setAgents(rows);
        // Goals counts arrive as each agent's detail answers; a failed one shows "—".
        for (const agent of rows) {
          get<AgentGoals>(`/api/agents/${agent.id}`).then(
            (detail) => {
              if (!cancelled) setGoalCounts((m) => new Map(m).set(agent.id, detail.goals.length));
            },
            () => undefined,
          );
        }
      },
      (caught: unknown) => {
        if (!cancelled) setError(asApiError(caught));
      },
    );
    get<TemplateName[]>("/api/agents/templates").then(
      (rows) => {
        if (!cancelled) setTemplates(new Map(rows.map((t) => [t.id, t.name])));
      },
      () => undefined, // template ids are shown instead
    );
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <>
      <h1>Agents</h1>
      <p>
        <Link to="/agents/new">New agent</Link>
      </p>
      {error && (
        <p className="form-error" role="alert">
          {error.status === 403
            ? `Agents cannot be listed: ${error.message}.`
            : `The agents could not be loaded: ${error.message}`}
        </p>
      )}
      {agents === null && !error && <p aria-busy="true">Loading agents…</p>}
      {agents !== null && agents.length === 0 && (
        <p>
          No agents yet. <Link to="/agents/new">Create your first agent</Link> from a template in a
          few minutes.
        </p>
      )}
      {agents !== null && agents.length > 0 && (
        <div className="table-scroll" tabIndex={0}>
          <table>
            <caption>
              {agents.length} agent{agents.length === 1 ? "" : "s"}
            </caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Template</th>
                <th scope="col">Goals</th>
                <th scope="col">Updated</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((agent) => (
                <tr key={agent.id}>
                  <th scope="row">{agent.name}</th>
                  <td>{templates.get(agent.template_id) ?? `#${agent.template_id}`}</td>
                  <td>{goalCounts.get(agent.id) ?? "—"}</td>
                  <td>{formatDateTime(agent.updated_at)}</td>
                  <td>
                    <Link to={`/agents/${agent.id}/test`}>Test</Link>
                    {" · "}
                    <Link to={`/calls?agent=${agent.id}`}>Calls</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter, Route, Routes, useLocation } from "react-router";
import { describe, expect, it } from "vitest";
import { CallsPage } from "../../pages/CallsPage";
import { callSummary } from "./fixtures";
import { expectAccessible, mockApi, sentTo } from "./testing/mockApi";

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.search}</output>;
}

function renderCalls(entry = "/calls") {
  return render(
    <MemoryRouter initialEntries={[entry]}>
      <Routes>
        <Route
          path="/calls"
          element={
            <>
              <CallsPage />
              <Where />
            </>
          }
        />
      </Routes>
    </MemoryRouter>,
  );
}

const AGENTS = [
  { id: 3, name: "Front desk", description: "", template_id: 1, created_at: "", updated_at: "" },
  { id: 4, name: "Reminders", description: "", template_id: 1, created_at: "", updated_at: "" },
];
const CALLS = [
  callSummary({ id: "a", call_sid: "CA_LIVE", status: "in_progress", outcome: null, ended_at: null, started_at: "2026-11-22T09:00:00" }),
  callSummary({ id: "b", call_sid: "CA_NOV20", started_at: "2026-11-20T10:00:00", ended_at: "2026-11-20T10:01:05" }),
  callSummary({ id: "c", call_sid: "CA_NOV10", agent_id: 4, started_at: "2026-11-10T10:00:00", outcome: "partial" }),
];

describe("CallsPage", () => {
  it("lists calls with links, agent names, duration and live ones marked", async () => {
    mockApi({ "GET /api/calls": { body: CALLS }, "GET /api/agents": { body: AGENTS } });
    const { container } = renderCalls();
    const table = await screen.findByRole("table", { name: /3 calls/ });
    const live = within(table).getByRole("row", { name: /CA_LIVE/ });
    expect(within(live).getByText("live")).toBeInTheDocument();
    const done = within(table).getByRole("row", { name: /CA_NOV20/ });
    expect(within(done).getByRole("link", { name: "CA_NOV20" })).toHaveAttribute("href", "/calls/CA_NOV20");
    expect(within(done).getByText("1 min 05 s")).toBeInTheDocument();
    expect(within(done).getByText("goals met")).toBeInTheDocument();
    await waitFor(() => expect(within(table).getByRole("row", { name: /CA_NOV10/ })).toHaveTextContent("Reminders"));
    await expectAccessible(container);
  });

  it("sends the agent, status and outcome filters from the URL to the API", async () => {
    const sent = mockApi({ "GET /api/calls": { body: [] }, "GET /api/agents": { body: AGENTS } });
    renderCalls("/calls?agent=3&outcome=partial&status=completed");
    expect(await screen.findByText("No call matches these filters.")).toBeInTheDocument();
    const query = sentTo(sent, "GET /api/calls")[0].query;
    expect(query.get("agent_id")).toBe("3");
    expect(query.get("outcome")).toBe("partial");
    expect(query.get("status")).toBe("completed");
    await waitFor(() => expect(screen.getByLabelText("Agent")).toHaveValue("3"));
    expect(screen.getByLabelText("Outcome")).toHaveValue("partial");
  });

  it("puts a chosen filter in the URL and asks the API again", async () => {
    const sent = mockApi({ "GET /api/calls": { body: CALLS }, "GET /api/agents": { body: AGENTS } });
    renderCalls();
    await screen.findByRole("table");
    await screen.findByRole("option", { name: "Reminders" });
    await userEvent.selectOptions(screen.getByLabelText("Agent"), "Reminders");
    await userEvent.selectOptions(screen.getByLabelText("Outcome"), "no goal met");
    expect(screen.getByTestId("where")).toHaveTextContent("?agent=4&outcome=no_goal_met");
    await waitFor(() => {
      const last = sentTo(sent, "GET /api/calls").at(-1)!.query;
      expect(last.get("agent_id")).toBe("4");
      expect(last.get("outcome")).toBe("no_goal_met");
    });
  });

  it("filters by date range here, since the API has no date filter", async () => {
    const sent = mockApi({ "GET /api/calls": { body: CALLS }, "GET /api/agents": { body: AGENTS } });
    renderCalls("/calls?from=2026-11-15&to=2026-11-20");
    const table = await screen.findByRole("table", { name: /1 call,/ });
    expect(within(table).getByText("CA_NOV20")).toBeInTheDocument();
    expect(within(table).queryByText("CA_NOV10")).not.toBeInTheDocument();
    expect(within(table).queryByText("CA_LIVE")).not.toBeInTheDocument();
    expect(sentTo(sent, "GET /api/calls")[0].query.get("from")).toBeNull();
  });

  it("says so next to the field when the range reads backwards", async () => {
    mockApi({ "GET /api/calls": { body: CALLS }, "GET /api/agents": { body: AGENTS } });
    renderCalls("/calls?from=2026-11-20&to=2026-11-01");
    const to = await screen.findByLabelText(/^To/);
    expect(to).toHaveAttribute("aria-invalid", "true");
    expect(to).toHaveAccessibleDescription("The last day is before the first day.");
    expect(screen.queryByRole("table")).not.toBeInTheDocument();
  });

  it("lets a key without the agents scope filter by agent id", async () => {
    mockApi({
      "GET /api/calls": { body: CALLS },
      "GET /api/agents": { status: 403, body: { detail: "this API key lacks the `read` scope" } },
    });
    renderCalls();
    await screen.findByRole("table");
    await userEvent.type(screen.getByLabelText("Agent"), "4");
    expect(screen.getByTestId("where")).toHaveTextContent("?agent=4");
  });
});

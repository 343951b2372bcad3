import { render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it } from "vitest";
import { AgentsPage } from "../../pages/AgentsPage";
import { expectAccessible, mockApi } from "./testing/mockApi";

function renderAgents() {
  return render(
    <MemoryRouter initialEntries={["/agents"]}>
      <AgentsPage />
    </MemoryRouter>,
  );
}

describe("AgentsPage", () => {
  it("lists agents with their template, goals count and links to test and calls", async () => {
    mockApi({
      "GET /api/agents": {
        body: [
          { id: 3, name: "Front desk", description: "", template_id: 1, created_at: "2026-11-01T10:00:00Z", updated_at: "2026-11-02T10:00:00Z" },
        ],
      },
      "GET /api/agents/templates": { body: [{ id: 1, name: "Restaurant reservations" }] },
      "GET /api/agents/3": { body: { id: 3, goals: [{}, {}] } },
    });
    const { container } = renderAgents();
    const row = await screen.findByRole("row", { name: /Front desk/ });
    await waitFor(() => expect(row).toHaveTextContent("Restaurant reservations"));
    await waitFor(() => expect(within(row).getByRole("cell", { name: "2" })).toBeInTheDocument());
    expect(within(row).getByRole("link", { name: "Test" })).toHaveAttribute("href", "/agents/3/test");
    expect(within(row).getByRole("link", { name: "Calls" })).toHaveAttribute("href", "/calls?agent=3");
    expect(screen.getByRole("link", { name: "New agent" })).toHaveAttribute("href", "/agents/new");
    await expectAccessible(container);
  });

  it("points to New agent when there are none", async () => {
    mockApi({ "GET /api/agents": { body: [] }, "GET /api/agents/templates": { body: [] } });
    renderAgents();
    expect(await screen.findByText(/No agents yet/)).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Create your first agent" })).toHaveAttribute("href", "/agents/new");
  });
});

import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import axe from "axe-core";
import { MemoryRouter, Route, Routes, useParams } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BuilderPage } from "../../pages/BuilderPage";
import { answer, stubApi, type Handler } from "./testing";

const TEMPLATE = {
  id: 1,
  name: "Receptionist",
  description: "Answers the phone",
  base_prompt: "You are a receptionist.",
  default_voice: {},
};

function validate(body: Record<string, unknown>) {
  const valid = typeof body.name === "string" && body.name.trim() !== "";
  return answer({
    valid,
    problems: valid ? [] : [{ path: "name", message: "String should have at least 1 character" }],
    compiled_prompt: valid ? `PROMPT FOR ${String(body.name)}` : null,
  });
}

function api(extra: Handler = () => undefined) {
  return stubApi(async (request) => {
    const special = await extra(request);
    if (special) return special;
    const { method, path, body } = request;
    if (method === "GET" && path === "/api/agents/templates") return answer([TEMPLATE]);
    if (method === "GET" && path === "/api/domains") return answer([]);
    if (method === "POST" && path === "/api/agents/validate") return validate(body as Record<string, unknown>);
  });
}

function TestPage() {
  return <h1>Testing agent {useParams().agentId}</h1>;
}

function renderPage() {
  return render(
    <MemoryRouter initialEntries={["/agents/new"]}>
      <Routes>
        <Route path="/agents/new" element={<BuilderPage validateDelayMs={150} />} />
        <Route path="/agents/:agentId/test" element={<TestPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("BuilderPage", () => {
  it("debounces validate while the admin types and shows the compiled prompt", async () => {
    const server = api();
    const user = userEvent.setup();
    renderPage();
    await waitFor(() => expect(screen.getByLabelText("Template")).toHaveValue("1"));
    expect(screen.getByLabelText("Base prompt")).toHaveValue("You are a receptionist.");
    await waitFor(() => expect(server.to("POST", "/api/agents/validate")).toHaveLength(1));
    // A blank form lists its problems beside it, but does not mark the fields yet.
    expect(await screen.findByText("1 problem to fix")).toBeInTheDocument();
    expect(screen.getByLabelText("Agent name")).not.toHaveAttribute("aria-invalid");

    await user.type(screen.getByLabelText("Agent name"), "Front desk");
    expect(await screen.findByText("PROMPT FOR Front desk")).toBeInTheDocument();
    const checks = server.to("POST", "/api/agents/validate");
    expect(checks).toHaveLength(2); // the blank form, then once for all ten keystrokes
    expect(checks[1].body).toMatchObject({
      name: "Front desk",
      template_id: 1,
      goals: [],
      instructions: { dos: [], donts: [] },
      voice: { emotion_default: "neutral", speed: 1, pitch: 0 },
    });
    // The template's own prompt is not sent: the agent follows its template.
    expect(checks[1].body).not.toHaveProperty("base_prompt");
    expect(screen.getByText("Valid: ready to create.")).toBeInTheDocument();
  });

  it("marks the field a live problem names once the admin has typed", async () => {
    api();
    const user = userEvent.setup();
    renderPage();
    await user.type(screen.getByLabelText("Agent name"), "A");
    await screen.findByText("PROMPT FOR A");
    await user.clear(screen.getByLabelText("Agent name"));
    await waitFor(() =>
      expect(screen.getByLabelText("Agent name")).toHaveAccessibleDescription("String should have at least 1 character"),
    );
    // The last valid prompt stays, marked as such.
    expect(screen.getByText("PROMPT FOR A")).toBeInTheDocument();
    expect(screen.getByText(/The last valid version/)).toBeInTheDocument();
  });

  it("shows every 422 message next to its field and a summary at the top", async () => {
    const server = api(({ method, path }) =>
      method === "POST" && path === "/api/agents"
        ? answer(
            {
              detail: [
                { loc: ["body", "goals", 0, "GoalSpec", "name"], msg: "String should have at least 1 character", type: "x" },
                { loc: ["body", "goals", 0, "constrained-int"], msg: "Input should be a valid integer", type: "x" },
                { loc: ["body", "voice", "speed"], msg: "must be between 0.5 and 2.0 (1.0 is normal)", type: "x" },
                { loc: ["body", "webhook_urls", 0], msg: "webhook URL refused: a private address", type: "x" },
              ],
            },
            422,
          )
        : undefined,
    );
    const user = userEvent.setup();
    renderPage();
    await user.type(screen.getByLabelText("Agent name"), "Front desk");
    await user.click(screen.getByRole("button", { name: "Add goal" }));
    await user.type(screen.getByLabelText("Webhook URLs"), "http://10.0.0.5/hook");
    await user.click(screen.getByRole("button", { name: "Create agent" }));

    expect(await screen.findByText("Please fix the fields marked below.")).toBeInTheDocument();
    expect(screen.getByLabelText("Goal name")).toHaveAccessibleDescription("String should have at least 1 character");
    expect(screen.getByLabelText("Speed")).toHaveAccessibleDescription("must be between 0.5 and 2.0 (1.0 is normal)");
    expect(screen.getByLabelText("Webhook URLs")).toHaveAccessibleDescription("URL 1: webhook URL refused: a private address");
    expect(screen.queryByText("Input should be a valid integer")).not.toBeInTheDocument();
    const sent = server.to("POST", "/api/agents")[0].body as Record<string, unknown>;
    expect(sent).toMatchObject({ name: "Front desk", webhook_urls: ["http://10.0.0.5/hook"] });
  });

  it("creates the agent and opens its test console", async () => {
    const server = api(({ method, path }) =>
      method === "POST" && path === "/api/agents" ? answer({ id: 42, name: "Dental Clinic Booking" }, 201) : undefined,
    );
    const user = userEvent.setup();
    renderPage();
    await waitFor(() => expect(screen.getByLabelText("Template")).toHaveValue("1"));
    await user.selectOptions(screen.getByLabelText("Start from an example"), "Dental clinic");
    await user.click(screen.getByRole("button", { name: "Create agent" }));
    expect(await screen.findByRole("heading", { name: "Testing agent 42" })).toBeInTheDocument();
    const sent = server.to("POST", "/api/agents")[0].body as Record<string, unknown>;
    expect(sent).toMatchObject({
      name: "Dental Clinic Booking",
      template_id: 1,
      domain: "Medical Clinic",
      voice: { emotion_default: "friendly", speed: 1, pitch: 0 },
      goals: [
        {
          name: "Schedule Appointment",
          success_criteria: { has_date: true, has_time: true, has_service: true },
          required_data: expect.arrayContaining([
            { name: "preferred_date", type: "date", description: "preferred date" },
            { name: "phone_number", type: "phone", description: "phone number" },
          ]) as unknown,
        },
      ],
    });
  });

  it("has no serious accessibility violations", async () => {
    api();
    const user = userEvent.setup();
    const { container } = renderPage();
    await waitFor(() => expect(screen.getByLabelText("Template")).toHaveValue("1"));
    await user.selectOptions(screen.getByLabelText("Start from an example"), "Car service");
    await screen.findByText(/PROMPT FOR/);
    const results = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  });
});

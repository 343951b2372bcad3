import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { errorFrom, type ApiError } from "../../api";
import { AgentForm } from "./AgentForm";
import { blankDraft, type AgentDraft, type Template } from "./types";

const TEMPLATES: Template[] = [
  { id: 1, name: "Receptionist", description: "Answers the phone", base_prompt: "You are a receptionist.", default_voice: {} },
  { id: 2, name: "Sales", description: "Qualifies leads", base_prompt: "You qualify leads.", default_voice: {} },
];

function Harness({ error = null }: { error?: ApiError | null }) {
  const [draft, setDraft] = useState<AgentDraft>({ ...blankDraft(), templateId: 1, basePrompt: "You are a receptionist." });
  return (
    <>
      <AgentForm draft={draft} onChange={setDraft} templates={TEMPLATES} error={error} />
      <output data-testid="draft">{JSON.stringify(draft)}</output>
    </>
  );
}

const draftShown = () => JSON.parse(screen.getByTestId("draft").textContent ?? "") as AgentDraft;

describe("AgentForm", () => {
  it("shows the API's 422 message next to Agent name", () => {
    const error = errorFrom(422, {
      detail: [{ loc: ["body", "name"], msg: "String should have at least 1 character", type: "string_too_short" }],
    });
    render(<Harness error={error} />);
    const name = screen.getByLabelText("Agent name");
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveAccessibleDescription("String should have at least 1 character");
  });

  it("shows the template's prompt as the default and follows the template until edited", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    expect(screen.getByLabelText("Base prompt")).toHaveValue("You are a receptionist.");
    await user.selectOptions(screen.getByLabelText("Template"), "Sales");
    expect(screen.getByLabelText("Base prompt")).toHaveValue("You qualify leads.");
    await user.type(screen.getByLabelText("Base prompt"), " Be brief.");
    await user.selectOptions(screen.getByLabelText("Template"), "Receptionist");
    expect(screen.getByLabelText("Base prompt")).toHaveValue("You qualify leads. Be brief.");
    expect(draftShown().templateId).toBe(1);
  });

  it("fills the whole form from one of the plan's examples", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.selectOptions(screen.getByLabelText("Start from an example"), "Restaurant reservations");
    const draft = draftShown();
    expect(screen.getByLabelText("Agent name")).toHaveValue(draft.name);
    expect(draft.name).not.toBe("");
    expect(screen.getByLabelText("Greeting")).not.toHaveValue("");
    expect(draft.templateId).toBe(1);
    expect(draft.basePrompt).toBe("You are a receptionist.");
    expect(draft.goals[0].name).toBe("reserve_table");
    expect(draft.goals[0].fields.find((f) => f.name === "seating")).toMatchObject({
      type: "enum",
      options: "indoors, patio, bar",
    });
    expect(draft.dos.length).toBeGreaterThan(0);
    expect(draft.domainName).toBe("restaurant_reservations");
    expect(draft.voice.emotion).toBe("warm");
  });
});

import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { localProblems, placedProblems, problemsError } from "./document";
import { GoalSelector } from "./GoalSelector";
import { blankDraft, type GoalDraft } from "./types";

function Harness({ apiProblems = [], initial = [] }: { apiProblems?: Array<{ path: string; message: string }>; initial?: GoalDraft[] }) {
  const [goals, setGoals] = useState<GoalDraft[]>(initial);
  // As the page does: the builder's own checks, then the API's problems.
  const error = problemsError(placedProblems(localProblems({ ...blankDraft(), goals }), apiProblems));
  return (
    <>
      <GoalSelector goals={goals} onChange={setGoals} error={error} />
      <output data-testid="goals">{JSON.stringify(goals)}</output>
    </>
  );
}

const goalWithField = (type: string): GoalDraft[] => [
  {
    key: "g",
    name: "reserve_table",
    description: "",
    criteria: [{ key: "c", name: "has_seating", value: "true" }],
    fields: [{ key: "f", name: "seating", type: type as GoalDraft["fields"][0]["type"], description: "", options: "", ask: "" }],
    completionWebhook: "",
  },
];

describe("GoalSelector", () => {
  it("adds a goal with a criterion and says the API infers its required data", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.click(screen.getByRole("button", { name: "Add goal" }));
    await user.type(screen.getByLabelText("Goal name"), "book_table");
    await user.type(screen.getByLabelText("Criterion"), "has_date");
    expect(screen.getByText(/the API infers one per success criterion/)).toBeInTheDocument();
    const goals = JSON.parse(screen.getByTestId("goals").textContent ?? "") as GoalDraft[];
    expect(goals[0]).toMatchObject({ name: "book_table", criteria: [{ name: "has_date", value: "true" }], fields: [] });
  });

  it("requires options for an enum field", async () => {
    const user = userEvent.setup();
    render(<Harness initial={goalWithField("text")} />);
    expect(screen.queryByLabelText("Options (comma-separated)")).not.toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Type"), "enum");
    const options = screen.getByLabelText("Options (comma-separated)");
    expect(options).toHaveAttribute("aria-invalid", "true");
    expect(options).toHaveAccessibleDescription("an enum field needs options (comma-separated)");
    await user.type(options, "indoors, patio");
    expect(options).not.toHaveAttribute("aria-invalid");
  });

  it("shows the API's problem for goals.0.required_data.0.type next to the field's type", () => {
    render(
      <Harness
        initial={goalWithField("text")}
        apiProblems={[
          { path: "goals[0].required_data[0].type", message: "Input should be 'text', 'date' or 'time'" },
          { path: "goals[0].success_criteria.has_seating", message: "names no required data field of this goal" },
        ]}
      />,
    );
    const type = screen.getByLabelText("Type");
    expect(type).toHaveAttribute("aria-invalid", "true");
    expect(type).toHaveAccessibleDescription("Input should be 'text', 'date' or 'time'");
    expect(screen.getByLabelText("Criterion")).toHaveAccessibleDescription("names no required data field of this goal");
  });

  it("places a saved goal's problems at their fields, not at pydantic's union member", () => {
    render(
      <Harness
        initial={goalWithField("text")}
        apiProblems={[
          { path: "goals.0.GoalSpec.name", message: "String should have at least 1 character" },
          { path: "goals.0.constrained-int", message: "Input should be a valid integer" },
        ]}
      />,
    );
    expect(screen.getByLabelText("Goal name")).toHaveAccessibleDescription("String should have at least 1 character");
    expect(screen.queryByText("Input should be a valid integer")).not.toBeInTheDocument();
  });

  it("adds and removes fields and goals", async () => {
    const user = userEvent.setup();
    render(<Harness initial={goalWithField("text")} />);
    await user.click(screen.getByRole("button", { name: "Add field" }));
    expect(screen.getAllByLabelText("Field name")).toHaveLength(2);
    await user.click(screen.getByRole("button", { name: "Remove field 1" }));
    expect(screen.getAllByLabelText("Field name")).toHaveLength(1);
    const goal = screen.getByRole("article", { name: /Goal 1/ });
    await user.click(within(goal).getByRole("button", { name: "Remove goal 1" }));
    expect(screen.queryByLabelText("Goal name")).not.toBeInTheDocument();
  });
});

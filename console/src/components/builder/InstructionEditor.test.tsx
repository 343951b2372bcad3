import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { placedProblems, problemsError } from "./document";
import { InstructionEditor, type Instructions } from "./InstructionEditor";
import { answer, stubApi } from "./testing";

function Harness({ problems = [], initial }: { problems?: Array<{ path: string; message: string }>; initial: Instructions }) {
  const [value, setValue] = useState<Instructions>(initial);
  return (
    <>
      <InstructionEditor
        dos={value.dos}
        donts={value.donts}
        onChange={setValue}
        error={problemsError(placedProblems(problems))}
        checkDelayMs={20}
      />
      <output data-testid="instructions">{JSON.stringify(value)}</output>
    </>
  );
}

const shown = () => JSON.parse(screen.getByTestId("instructions").textContent ?? "") as Instructions;

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("InstructionEditor", () => {
  it("shows a breach that check-reply returns for the sentence", async () => {
    const api = stubApi(({ method, path, body }) => {
      if (method === "POST" && path === "/api/agents/check-reply") {
        const { text } = body as { text: string };
        return text.includes("$")
          ? answer({
              allowed: false,
              breaches: [{ instruction: "Don't discuss pricing", reason: "names a price", evidence: "$120" }],
            })
          : answer({ allowed: true, breaches: [] });
      }
    });
    const user = userEvent.setup();
    render(<Harness initial={{ dos: ["Be friendly"], donts: ["Don't discuss pricing"] }} />);
    await user.type(screen.getByLabelText("Try a sentence"), "A cleaning is $120.");
    expect(await screen.findByText("Not allowed: the agent would not say this.")).toBeInTheDocument();
    expect(screen.getByText("$120")).toBeInTheDocument();
    expect(screen.getByText(/names a price/)).toBeInTheDocument();
    // Debounced: one check for the whole sentence, sent with the instructions as they are.
    const checks = api.to("POST", "/api/agents/check-reply");
    expect(checks).toHaveLength(1);
    expect(checks[0].body).toEqual({
      instructions: { dos: ["Be friendly"], donts: ["Don't discuss pricing"] },
      text: "A cleaning is $120.",
    });
    await user.clear(screen.getByLabelText("Try a sentence"));
    await user.type(screen.getByLabelText("Try a sentence"), "Hello there");
    expect(await screen.findByText("Allowed: no don't is broken.")).toBeInTheDocument();
  });

  it("adds, reorders and removes instructions; the first is the highest priority", async () => {
    stubApi(() => undefined);
    const user = userEvent.setup();
    render(<Harness initial={{ dos: ["Be friendly"], donts: [] }} />);
    await user.type(screen.getByLabelText("New do"), "Confirm details{Enter}");
    await user.click(screen.getByRole("button", { name: "Move do 2 up" }));
    expect(shown().dos).toEqual(["Confirm details", "Be friendly"]);
    await user.type(screen.getByLabelText("New don't"), "Don't discuss pricing");
    await user.click(screen.getByRole("button", { name: "Add don't" }));
    expect(shown().donts).toEqual(["Don't discuss pricing"]);
    await user.click(screen.getByRole("button", { name: "Remove do 1" }));
    expect(shown().dos).toEqual(["Be friendly"]);
  });

  it("shows a contradiction the API names next to the don't", async () => {
    stubApi(() => undefined);
    render(
      <Harness
        initial={{ dos: ["Confirm the time"], donts: ["Don't confirm the time"] }}
        problems={[{ path: "instructions.donts[0]", message: "contradicts instructions.dos[0] ('Confirm the time')" }]}
      />,
    );
    await waitFor(() =>
      expect(screen.getByLabelText("Don't 1")).toHaveAccessibleDescription(
        "contradicts instructions.dos[0] ('Confirm the time')",
      ),
    );
  });
});

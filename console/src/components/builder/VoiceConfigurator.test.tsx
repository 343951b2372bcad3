import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { placedProblems, problemsError } from "./document";
import { blankDraft, type VoiceDraft } from "./types";
import { VoiceConfigurator } from "./VoiceConfigurator";

function Harness({ problems = [] }: { problems?: Array<{ path: string; message: string }> }) {
  const [voice, setVoice] = useState<VoiceDraft>(blankDraft().voice);
  return (
    <>
      <VoiceConfigurator voice={voice} onChange={setVoice} error={problemsError(placedProblems(problems))} />
      <output data-testid="voice">{JSON.stringify(voice)}</output>
    </>
  );
}

describe("VoiceConfigurator", () => {
  it("shows the API's voice.speed problem next to Speed", () => {
    render(<Harness problems={[{ path: "voice.speed", message: "must be between 0.5 and 2.0 (1.0 is normal)" }]} />);
    const speed = screen.getByLabelText("Speed");
    expect(speed).toHaveAttribute("aria-invalid", "true");
    expect(speed).toHaveAccessibleDescription("must be between 0.5 and 2.0 (1.0 is normal)");
    expect(screen.getByLabelText("Pitch")).not.toHaveAttribute("aria-invalid");
  });

  it("edits emotion, speed and pitch", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.selectOptions(screen.getByLabelText("Emotion"), "warm");
    await user.clear(screen.getByLabelText("Speed"));
    await user.type(screen.getByLabelText("Speed"), "1.2");
    await user.clear(screen.getByLabelText("Pitch"));
    await user.type(screen.getByLabelText("Pitch"), "-2");
    expect(JSON.parse(screen.getByTestId("voice").textContent ?? "")).toMatchObject({
      emotion: "warm",
      speed: "1.2",
      pitch: "-2",
    });
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual([
      "neutral",
      "friendly",
      "warm",
      "calm",
      "professional",
      "enthusiastic",
      "empathetic",
    ]);
  });
});

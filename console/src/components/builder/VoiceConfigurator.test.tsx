import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { keyStore } from "../../api";
import { placedProblems, problemsError } from "./document";
import { answer, stubApi } from "./testing";
import { blankDraft, type VoiceDraft } from "./types";
import { DEFAULT_TEST_PHRASE, PREVIEW_PATH, VoiceConfigurator } from "./VoiceConfigurator";

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

describe("VoiceConfigurator's test phrase", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  /** A browser that "plays" audio: the element's source and play() are recorded. */
  function stubAudio() {
    const played: string[] = [];
    vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(function (this: HTMLMediaElement) {
      played.push(this.src);
      return Promise.resolve();
    });
    vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(() => undefined);
    URL.createObjectURL = vi.fn(() => "blob:voice-preview");
    URL.revokeObjectURL = vi.fn();
    return played;
  }

  it("plays the phrase in the current voice, sent with the signed-in key", async () => {
    const user = userEvent.setup();
    keyStore.set("cw_test_key");
    const played = stubAudio();
    const sent: Array<{ url: string; init: RequestInit }> = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        sent.push({ url, init });
        return new Response(new Uint8Array(44), {
          status: 200,
          headers: { "Content-Type": "audio/wav" },
        });
      }),
    );
    render(<Harness />);
    expect(screen.getByLabelText("Test phrase")).toHaveValue(DEFAULT_TEST_PHRASE);
    await user.selectOptions(screen.getByLabelText("Emotion"), "calm");
    await user.clear(screen.getByLabelText("Speed"));
    await user.type(screen.getByLabelText("Speed"), "1.25");
    await user.clear(screen.getByLabelText("Test phrase"));
    await user.type(screen.getByLabelText("Test phrase"), "Your table is booked.");
    await user.click(screen.getByRole("button", { name: "Play test phrase" }));

    expect(await screen.findByText("Playing, as a caller hears it.")).toBeInTheDocument();
    expect(sent).toHaveLength(1);
    expect(sent[0].url).toBe(PREVIEW_PATH);
    expect(sent[0].init.method).toBe("POST");
    expect((sent[0].init.headers as Record<string, string>).Authorization).toBe("Bearer cw_test_key");
    expect(JSON.parse(String(sent[0].init.body))).toEqual({
      text: "Your table is booked.",
      voice: { emotion_default: "calm", speed: 1.25, pitch: 0 },
    });
    expect(played).toEqual(["blob:voice-preview"]);
  });

  it("shows the API's 422 next to Speed, and clears it when Speed changes", async () => {
    const user = userEvent.setup();
    stubAudio();
    const api = stubApi(({ path }) =>
      path === PREVIEW_PATH
        ? answer(
            {
              detail: [
                {
                  loc: ["body", "voice", "speed"],
                  msg: "must be between 0.5 and 2.0 (1.0 is normal)",
                  type: "invalid_config",
                },
              ],
            },
            422,
          )
        : undefined,
    );
    render(<Harness />);
    await user.clear(screen.getByLabelText("Speed"));
    await user.type(screen.getByLabelText("Speed"), "7");
    await user.click(screen.getByRole("button", { name: "Play test phrase" }));

    const speed = screen.getByLabelText("Speed");
    expect(await screen.findByText("must be between 0.5 and 2.0 (1.0 is normal)")).toBeInTheDocument();
    expect(speed).toHaveAttribute("aria-invalid", "true");
    expect(speed).toHaveAccessibleDescription("must be between 0.5 and 2.0 (1.0 is normal)");
    expect(api.to("POST", PREVIEW_PATH)[0].body).toMatchObject({ voice: { speed: 7 } });

    await user.type(speed, "{backspace}1");
    expect(speed).not.toHaveAttribute("aria-invalid");
  });

  it("shows a problem with the phrase at the phrase", async () => {
    const user = userEvent.setup();
    stubApi(() => answer({ detail: [{ loc: ["body", "text"], msg: "nothing to say", type: "x" }] }, 422));
    render(<Harness />);
    await user.click(screen.getByRole("button", { name: "Play test phrase" }));
    expect(await screen.findByText("nothing to say")).toBeInTheDocument();
    expect(screen.getByLabelText("Test phrase")).toHaveAccessibleDescription("nothing to say");
  });

  it("says so when no realtime node can speak (503)", async () => {
    const user = userEvent.setup();
    stubApi(() =>
      answer({ detail: "no realtime node could speak the phrase: none is registered; try again" }, 503),
    );
    render(<Harness />);
    await user.click(screen.getByRole("button", { name: "Play test phrase" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(
      "no realtime node could speak the phrase: none is registered; try again",
    );
    expect(screen.getByLabelText("Speed")).not.toHaveAttribute("aria-invalid");
  });

  it("has nothing to play without a phrase", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.clear(screen.getByLabelText("Test phrase"));
    expect(screen.getByRole("button", { name: "Play test phrase" })).toBeDisabled();
  });
});

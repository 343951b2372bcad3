import { describe, expect, it } from "vitest";
import { microphoneProblem } from "./TestConsolePage";

describe("microphoneProblem", () => {
  it("says what to do when the microphone is blocked, missing or unsupported", () => {
    expect(microphoneProblem(new DOMException("denied", "NotAllowedError"))).toMatch(/allow it in the address bar/);
    expect(microphoneProblem(new DOMException("none", "NotFoundError"))).toMatch(/No microphone was found/);
    expect(microphoneProblem(new DOMException("rates", "NotSupportedError"))).toMatch(/Chromium/);
    expect(microphoneProblem(new Error("boom"))).toMatch(/type the caller's lines instead/);
  });
});

import { describe, expect, it } from "vitest";
import { formatDuration, formatMs, humanize } from "./format";

describe("format", () => {
  it("writes durations in seconds, minutes or hours", () => {
    expect(formatDuration("2026-11-20T10:00:00Z", "2026-11-20T10:00:42Z")).toBe("42 s");
    expect(formatDuration("2026-11-20T10:00:00Z", "2026-11-20T10:01:05Z")).toBe("1 min 05 s");
    expect(formatDuration("2026-11-20T10:00:00Z", "2026-11-20T12:03:09Z")).toBe("2 h 03 min");
    expect(formatDuration("2026-11-20T10:00:00Z", null, Date.parse("2026-11-20T10:00:09Z"))).toBe("9 s");
  });

  it("writes milliseconds and identifiers for people", () => {
    expect(formatMs(472.6)).toBe("473 ms");
    expect(humanize("brain_first_token")).toBe("brain first token");
    expect(humanize(null)).toBe("—");
  });
});

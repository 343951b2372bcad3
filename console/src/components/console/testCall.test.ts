import { describe, expect, it, vi } from "vitest";
import { FRAME_BYTES, Framer, decodeMulaw, encodeMulaw } from "./phoneAudio";
import { TestCall, consoleSocketUrl, type Speaker, type TestCallEvents } from "./testCall";

/** A WebSocket as far as TestCall uses one: what it sent, and a way to answer. */
class FakeSocket {
  static OPEN = 1;
  readyState = 0;
  binaryType = "blob";
  sent: Array<string | Uint8Array> = [];
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: ((e: { reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  send(data: string | Uint8Array) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  json(message: object) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  sentJson() {
    return this.sent.filter((d): d is string => typeof d === "string").map((d) => JSON.parse(d));
  }
}

function setUp() {
  const socket = new FakeSocket();
  const events: TestCallEvents = {
    onCall: vi.fn(),
    onEnded: vi.fn(),
    onError: vi.fn(),
    onAgentAudio: vi.fn(),
  };
  const marks: Array<() => void> = [];
  const speaker: Speaker = {
    play: vi.fn(),
    mark: (played) => marks.push(played),
    clear: vi.fn(() => marks.splice(0).forEach((played) => played())),
    close: vi.fn(),
  };
  const call = new TestCall("ws://x/api/console/call", "cw_key", 7, events, speaker, () => socket as unknown as WebSocket);
  socket.open();
  return { socket, events, speaker, marks, call };
}

describe("TestCall", () => {
  it("starts with the key and agent in its first message, never in the URL", () => {
    const { socket } = setUp();
    expect(socket.sentJson()[0]).toEqual({ type: "start", key: "cw_key", agent_id: 7 });
    expect(consoleSocketUrl({ protocol: "https:", host: "cw.example" } as Location)).toBe(
      "wss://cw.example/api/console/call",
    );
  });

  it("reports the call, plays the agent's audio and echoes marks once played", () => {
    const { socket, events, speaker, marks } = setUp();
    socket.json({ type: "call", call_sid: "CA1", workflow_id: "call-CA1", temporal_ui_url: null });
    expect(events.onCall).toHaveBeenCalledWith(expect.objectContaining({ call_sid: "CA1" }));
    socket.onmessage?.({ data: new Uint8Array(320).fill(0xff).buffer });
    expect(speaker.play).toHaveBeenCalledTimes(1);
    expect(events.onAgentAudio).toHaveBeenCalledWith(0.04);
    socket.json({ type: "mark", name: "reply-1" });
    expect(socket.sentJson().filter((m) => m.type === "mark")).toEqual([]);
    marks[0]();
    expect(socket.sentJson().at(-1)).toEqual({ type: "mark", name: "reply-1" });
  });

  it("drops queued audio on clear, counting its marks as played", () => {
    const { socket, speaker } = setUp();
    socket.json({ type: "mark", name: "m1" });
    socket.json({ type: "clear" });
    expect(speaker.clear).toHaveBeenCalled();
    expect(socket.sentJson().at(-1)).toEqual({ type: "mark", name: "m1" });
  });

  it("sends no caller audio before the call has started", () => {
    const { socket, call } = setUp();
    call.sendAudio(new Float32Array(320));
    expect(socket.sent.filter((d) => d instanceof Uint8Array)).toHaveLength(0);
  });

  it("closes a microphone that opens after the call ended, and opens one at a time", async () => {
    const { socket, call } = setUp();
    let resolve: (mic: { onSamples: () => void; close: () => void }) => void = () => undefined;
    const close = vi.fn();
    const open = vi.fn(
      () => new Promise<{ onSamples: () => void; close: () => void }>((r) => (resolve = r)),
    );
    const first = call.startMicrophone(open);
    const second = call.startMicrophone(open);
    expect(open).toHaveBeenCalledTimes(1);
    socket.json({ type: "ended", reason: "completed" });
    resolve({ onSamples: () => undefined, close });
    await Promise.all([first, second]);
    expect(close).toHaveBeenCalled();
    expect(call.microphoneOn).toBe(false);
  });

  it("sends typed turns and whole 20 ms frames of microphone audio", () => {
    const { socket, call } = setUp();
    socket.json({ type: "call", call_sid: "CA1", workflow_id: "call-CA1", temporal_ui_url: null });
    call.say("I'd like a cleaning on Friday");
    expect(socket.sentJson().at(-1)).toEqual({ type: "say", text: "I'd like a cleaning on Friday" });
    call.sendAudio(new Float32Array(250)); // one frame now, 90 samples wait
    call.sendAudio(new Float32Array(70)); // with them, a second frame
    const frames = socket.sent.filter((d) => d instanceof Uint8Array);
    expect(frames.map((f) => f.length)).toEqual([FRAME_BYTES, FRAME_BYTES]);
  });

  it("reports errors and the end of the call once", () => {
    const { socket, events } = setUp();
    socket.json({ type: "error", field: "text", message: "text must not be empty" });
    expect(events.onError).toHaveBeenCalledWith("text must not be empty", "text");
    socket.json({ type: "ended", reason: "agent_ended" });
    socket.onclose?.({ reason: "" });
    expect(events.onEnded).toHaveBeenCalledTimes(1);
    expect(events.onEnded).toHaveBeenCalledWith("agent_ended");
  });

  it("ignores a message that is not JSON, with a warning", () => {
    const { socket, events } = setUp();
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    socket.onmessage?.({ data: "not json" });
    expect(warn).toHaveBeenCalled();
    expect(events.onError).not.toHaveBeenCalled();
  });
});

describe("phone audio", () => {
  it("round-trips μ-law within its quantisation", () => {
    const tone = Float32Array.from({ length: 160 }, (_, i) => 0.5 * Math.sin(i / 5));
    const back = decodeMulaw(encodeMulaw(tone));
    const worst = Math.max(...tone.map((v, i) => Math.abs(v - back[i])));
    expect(worst).toBeLessThan(0.02);
  });

  it("frames bytes in 160s, keeping the rest", () => {
    const framer = new Framer();
    expect(framer.push(new Uint8Array(100))).toHaveLength(0);
    expect(framer.push(new Uint8Array(300)).map((f) => f.length)).toEqual([160, 160]);
  });
});

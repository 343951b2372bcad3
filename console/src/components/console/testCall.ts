// A test call from the browser: one WebSocket to the API (`/api/console/call`), which places the
// call through the same realtime CallSession a phone call uses. This file speaks the socket's
// contract (api/routes/console.py); the page shows what it reports.
//
// Client → API: first {"type":"start","key","agent_id"}; then binary μ-law 8 kHz frames (the
// caller's microphone), {"type":"say","text"} (a typed caller turn), {"type":"dtmf","digit"},
// {"type":"mark","name"} (played up to here), {"type":"hangup"}.
// API → client: {"type":"call",call_sid,workflow_id,temporal_ui_url}, binary μ-law frames (the
// agent's voice), {"type":"mark","name"}, {"type":"clear"}, {"type":"ended","reason"},
// {"type":"error","field","message"}.

import { Framer, SAMPLE_RATE, decodeMulaw, encodeMulaw } from "./phoneAudio";

export interface CallInfo {
  call_sid: string;
  workflow_id: string;
  temporal_ui_url: string | null;
}

export interface TestCallEvents {
  onCall(info: CallInfo): void;
  onEnded(reason: string): void;
  onError(message: string, field: string | null): void;
  /** Seconds of agent audio received so far (the page shows that the agent is heard). */
  onAgentAudio?(seconds: number): void;
}

/** Where the agent's voice goes: scheduled back to back, with marks echoed when played. */
export interface Speaker {
  play(samples: Float32Array): void;
  /** Call `played` once everything queued before this mark has been heard. */
  mark(played: () => void): void;
  /** Barge-in: drop what is queued; pending marks count as played (as Twilio does). */
  clear(): void;
  close(): void;
}

/** The socket's address on the page's own host (ws: or wss: as the page is served). */
export function consoleSocketUrl(location: Location = window.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/console/call`;
}

export class TestCall {
  private socket: WebSocket;
  private framer = new Framer();
  private agentSeconds = 0;
  private ended = false;
  /** The call has started: caller audio goes out only from then on (earlier frames would reach
   * the node in one burst, ahead of its clock, and be refused as too fast). */
  private live = false;
  private mic: Microphone | null = null;
  private opening: Promise<void> | null = null;

  constructor(
    url: string,
    key: string,
    agentId: number,
    private readonly events: TestCallEvents,
    private readonly speaker: Speaker,
    makeSocket: (url: string) => WebSocket = (u) => new WebSocket(u),
  ) {
    this.socket = makeSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.socket.onopen = () => this.sendJson({ type: "start", key, agent_id: agentId });
    this.socket.onmessage = (message) => this.receive(message.data);
    this.socket.onclose = (event) => this.finish(event.reason || "the connection closed");
    this.socket.onerror = () => this.events.onError("the test call's connection failed", null);
  }

  /** A typed caller turn. */
  say(text: string): void {
    this.sendJson({ type: "say", text });
  }

  dtmf(digit: string): void {
    this.sendJson({ type: "dtmf", digit });
  }

  hangup(): void {
    this.stopMicrophone();
    this.sendJson({ type: "hangup" });
  }

  /** Caller audio from the microphone, as 20 ms μ-law frames. */
  async startMicrophone(open: () => Promise<Microphone> = openMicrophone): Promise<void> {
    if (this.mic) return;
    // One at a time: a second click while the browser asks for permission waits for the first.
    this.opening ??= (async () => {
      try {
        const mic = await open();
        if (this.ended) {
          mic.close(); // the call ended (or the page closed it) while the person was asked
          return;
        }
        mic.onSamples = (samples) => this.sendAudio(samples);
        this.mic = mic;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  stopMicrophone(): void {
    this.mic?.close();
    this.mic = null;
  }

  get microphoneOn(): boolean {
    return this.mic !== null;
  }

  /** Send caller samples (8 kHz floats): whole frames go now, the rest with the next block. */
  sendAudio(samples: Float32Array): void {
    if (!this.live || this.socket.readyState !== WebSocket.OPEN) return;
    for (const frame of this.framer.push(encodeMulaw(samples))) this.socket.send(frame);
  }

  close(): void {
    this.ended = true; // a microphone still being opened is closed when it arrives
    this.stopMicrophone();
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(1000, "closed by the page");
    }
    this.speaker.close();
  }

  private receive(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(data);
      this.speaker.play(decodeMulaw(bytes));
      this.agentSeconds += bytes.length / SAMPLE_RATE;
      this.events.onAgentAudio?.(this.agentSeconds);
      return;
    }
    let message: { type?: string; [name: string]: unknown };
    try {
      message = JSON.parse(String(data));
    } catch {
      console.warn("test call: a message that is not JSON was ignored");
      return;
    }
    switch (message.type) {
      case "call":
        this.live = true;
        this.events.onCall(message as unknown as CallInfo);
        break;
      case "mark": {
        const name = String(message.name);
        this.speaker.mark(() => this.sendJson({ type: "mark", name }));
        break;
      }
      case "clear":
        this.speaker.clear();
        break;
      case "ended":
        this.finish(String(message.reason ?? "ended"));
        break;
      case "error":
        this.events.onError(String(message.message), (message.field as string | null) ?? null);
        break;
      default:
        console.warn(`test call: unknown message type ${String(message.type)}`);
    }
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stopMicrophone();
    this.events.onEnded(reason);
  }

  private sendJson(message: object): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/** The agent's voice through Web Audio, at the phone's 8 kHz (the browser resamples). */
export class WebAudioSpeaker implements Speaker {
  private context: AudioContext;
  private nextTime = 0;
  private playing = new Set<AudioBufferSourceNode>();
  private marks = new Set<{ timer: number; played: () => void }>();

  constructor() {
    this.context = new AudioContext({ sampleRate: SAMPLE_RATE });
  }

  play(samples: Float32Array): void {
    const buffer = this.context.createBuffer(1, samples.length, SAMPLE_RATE);
    buffer.getChannelData(0).set(samples);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const start = Math.max(this.context.currentTime, this.nextTime);
    source.start(start);
    this.nextTime = start + buffer.duration;
    this.playing.add(source);
    source.onended = () => this.playing.delete(source);
  }

  mark(played: () => void): void {
    const wait = Math.max(0, this.nextTime - this.context.currentTime) * 1000;
    const entry = { timer: 0, played };
    entry.timer = window.setTimeout(() => {
      this.marks.delete(entry);
      played();
    }, wait);
    this.marks.add(entry);
  }

  clear(): void {
    for (const source of this.playing) source.stop();
    this.playing.clear();
    this.nextTime = this.context.currentTime;
    for (const entry of this.marks) {
      window.clearTimeout(entry.timer);
      entry.played();
    }
    this.marks.clear();
  }

  close(): void {
    this.clear();
    void this.context.close();
  }
}

/** The browser microphone at 8 kHz. */
export interface Microphone {
  onSamples: (samples: Float32Array) => void;
  close(): void;
}

/** Open the microphone (the browser asks the person first). Echo cancellation keeps the agent's
 * own voice, played by the speakers, from being heard as the caller barging in. */
export async function openMicrophone(): Promise<Microphone> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const context = new AudioContext({ sampleRate: SAMPLE_RATE });
  await context.audioWorklet.addModule(new URL("./mic-worklet.js", import.meta.url));
  const source = context.createMediaStreamSource(stream);
  const tap = new AudioWorkletNode(context, "mic-tap");
  const mic: Microphone = {
    onSamples: () => undefined,
    close() {
      tap.port.onmessage = null;
      source.disconnect();
      tap.disconnect();
      silence.disconnect();
      for (const track of stream.getTracks()) track.stop();
      void context.close();
    },
  };
  tap.port.onmessage = (event: MessageEvent<Float32Array>) => mic.onSamples(event.data);
  // A node the destination does not pull may never run: connect it through silence.
  const silence = context.createGain();
  silence.gain.value = 0;
  source.connect(tap).connect(silence).connect(context.destination);
  return mic;
}

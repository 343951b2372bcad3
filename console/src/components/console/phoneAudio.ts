// Phone audio in the browser: what the platform carries is μ-law, 8 kHz, mono, in 20 ms frames
// of 160 bytes (Twilio Media Streams' format). The codec is the alawmulaw package's G.711.
import { mulaw } from "alawmulaw";

export const SAMPLE_RATE = 8000;
export const FRAME_BYTES = 160;

/** Float samples (−1..1) as μ-law bytes. */
export function encodeMulaw(samples: Float32Array): Uint8Array {
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const clipped = Math.max(-1, Math.min(1, samples[i]));
    pcm[i] = Math.round(clipped * 32767);
  }
  return mulaw.encode(pcm);
}

/** μ-law bytes as float samples (−1..1). */
export function decodeMulaw(bytes: Uint8Array): Float32Array {
  const pcm = mulaw.decode(bytes);
  const samples = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
  return samples;
}

/** Cuts a stream of μ-law bytes into whole 20 ms frames; the rest waits for the next push. */
export class Framer {
  private pending = new Uint8Array(0);

  push(bytes: Uint8Array): Uint8Array<ArrayBuffer>[] {
    const joined = new Uint8Array(this.pending.length + bytes.length);
    joined.set(this.pending);
    joined.set(bytes, this.pending.length);
    const frames: Uint8Array<ArrayBuffer>[] = [];
    let start = 0;
    for (; start + FRAME_BYTES <= joined.length; start += FRAME_BYTES) {
      frames.push(joined.slice(start, start + FRAME_BYTES));
    }
    this.pending = joined.slice(start);
    return frames;
  }
}

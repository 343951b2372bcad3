import { useEffect, useRef, useState } from "react";
import { ApiError, errorFrom, keyStore } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import { EMOTIONS, PITCH_RANGE, SPEED_RANGE, type VoiceDraft } from "./types";

/** core/agents/voice_preview.py: the route, its default phrase and its length limit. */
export const PREVIEW_PATH = "/api/agents/voice-preview";
export const DEFAULT_TEST_PHRASE = "Hi, thanks for calling. How can I help you today?";
export const MAX_TEST_PHRASE = 300;
/** Where the API's problems with the phrase (`text`) are shown. */
const PHRASE_PATH = "voice.test_phrase";
const SHOWN_PATHS = ["voice.emotion_default", "voice.speed", "voice.pitch", "voice.voice_profile", PHRASE_PATH];

interface VoiceConfiguratorProps {
  voice: VoiceDraft;
  onChange(voice: VoiceDraft): void;
  error: ApiError | null;
}

/** A typed number as a number; anything else as typed, for the API to name the problem. */
function numberOrText(text: string): number | string {
  const value = Number(text);
  return text.trim() !== "" && Number.isFinite(value) ? value : text;
}

/** The draft as the API's VoiceSpec (as the agent document writes it, `document.ts`). */
export function voiceSpec(voice: VoiceDraft): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    emotion_default: voice.emotion,
    speed: numberOrText(voice.speed),
    pitch: numberOrText(voice.pitch),
  };
  if (voice.voiceProfile.trim()) spec.voice_profile = voice.voiceProfile.trim();
  return spec;
}

/** The phrase spoken in `voice` by a realtime node, as a WAV; an ApiError when refused. A blob,
 * not JSON, so not through `api()`; the key is sent the same way. */
export async function fetchVoicePreview(text: string, voice: VoiceDraft): Promise<Blob> {
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "audio/wav" };
  const key = keyStore.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  let response: Response;
  try {
    response = await fetch(PREVIEW_PATH, {
      method: "POST",
      headers,
      body: JSON.stringify({ text, voice: voiceSpec(voice) }),
    });
  } catch {
    throw new ApiError(0, "the API could not be reached");
  }
  if (!response.ok) {
    let parsed: { detail?: unknown } | null = null;
    try {
      parsed = (await response.json()) as { detail?: unknown };
    } catch {
      parsed = null;
    }
    const refused = errorFrom(response.status, parsed);
    // The phrase's own problems (`text`) are shown at the phrase's input.
    const problems = refused.problems.map((p) => (p.path === "text" ? { ...p, path: PHRASE_PATH } : p));
    throw new ApiError(refused.status, refused.message, problems);
  }
  return response.blob();
}

/** The builder's problems first, then the preview's (one message a field). */
function combined(error: ApiError | null, preview: ApiError | null): ApiError | null {
  if (!preview?.problems.length) return error;
  if (!error) return preview;
  return new ApiError(error.status, error.message, [...error.problems, ...preview.problems]);
}

type PreviewState = "idle" | "loading" | "playing";

/** How the agent sounds: its default emotion, speed (a rate multiplier), pitch (semitones) and
 * voice profile, and a test phrase played as a caller would hear it with these settings. */
export function VoiceConfigurator({ voice, onChange, error }: VoiceConfiguratorProps) {
  const [phrase, setPhrase] = useState(DEFAULT_TEST_PHRASE);
  const [state, setState] = useState<PreviewState>("idle");
  const [previewError, setPreviewError] = useState<ApiError | null>(null);
  const playing = useRef<{ audio: HTMLAudioElement; url: string } | null>(null);

  const stop = () => {
    const current = playing.current;
    if (!current) return;
    if (!current.audio.paused) current.audio.pause();
    URL.revokeObjectURL(current.url);
    playing.current = null;
  };
  // Gone from the page: a preview still on its way must not start playing after.
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      stop();
    };
  }, []);

  const change = (next: VoiceDraft) => {
    setPreviewError(null); // about settings that have just changed
    onChange(next);
  };

  const play = async () => {
    stop();
    setPreviewError(null);
    setState("loading");
    try {
      const wav = await fetchVoicePreview(phrase, voice);
      if (!mounted.current) return;
      const url = URL.createObjectURL(wav);
      const audio = new Audio(url);
      playing.current = { audio, url };
      audio.onended = () => {
        stop();
        setState("idle");
      };
      setState("playing");
      await audio.play();
    } catch (caught) {
      stop();
      setState("idle");
      setPreviewError(
        caught instanceof ApiError ? caught : new ApiError(0, "the browser could not play the audio"),
      );
    }
  };

  const shown = combined(error, previewError);
  const unplaced =
    previewError && !previewError.problems.some((p) => SHOWN_PATHS.includes(p.path)) ? previewError : null;
  return (
    <section aria-labelledby="voice-heading">
      <h2 id="voice-heading">Voice</h2>
      <label htmlFor="voice-emotion">Emotion</label>
      <select
        id="voice-emotion"
        value={voice.emotion}
        onChange={(e) => change({ ...voice, emotion: e.target.value })}
        {...fieldProps(shown, "voice.emotion_default")}
      >
        {EMOTIONS.map((emotion) => (
          <option key={emotion} value={emotion}>
            {emotion}
          </option>
        ))}
      </select>
      <FieldError error={shown} path="voice.emotion_default" />
      <div className="grid">
        <div>
          <label htmlFor="voice-speed">Speed</label>
          <input
            id="voice-speed"
            type="number"
            inputMode="decimal"
            step={0.05}
            min={SPEED_RANGE[0]}
            max={SPEED_RANGE[1]}
            value={voice.speed}
            onChange={(e) => change({ ...voice, speed: e.target.value })}
            {...fieldProps(shown, "voice.speed")}
          />
          <FieldError error={shown} path="voice.speed" />
          <small>
            {SPEED_RANGE[0]}–{SPEED_RANGE[1]}; 1.0 is normal.
          </small>
        </div>
        <div>
          <label htmlFor="voice-pitch">Pitch</label>
          <input
            id="voice-pitch"
            type="number"
            inputMode="decimal"
            step={0.5}
            min={PITCH_RANGE[0]}
            max={PITCH_RANGE[1]}
            value={voice.pitch}
            onChange={(e) => change({ ...voice, pitch: e.target.value })}
            {...fieldProps(shown, "voice.pitch")}
          />
          <FieldError error={shown} path="voice.pitch" />
          <small>
            Semitones, {PITCH_RANGE[0]} to +{PITCH_RANGE[1]}; 0 keeps the voice's own pitch. Kept
            with the agent, not yet heard: neither voice engine shifts pitch (a voice profile's
            reference recording sets it).
          </small>
        </div>
      </div>
      <label htmlFor="voice-profile">Voice profile (optional)</label>
      <input
        id="voice-profile"
        value={voice.voiceProfile}
        onChange={(e) => change({ ...voice, voiceProfile: e.target.value })}
        placeholder="The engine's default voice"
        {...fieldProps(shown, "voice.voice_profile")}
      />
      <FieldError error={shown} path="voice.voice_profile" />
      <label htmlFor="voice-test-phrase">Test phrase</label>
      <input
        id="voice-test-phrase"
        value={phrase}
        maxLength={MAX_TEST_PHRASE}
        onChange={(e) => {
          setPreviewError(null);
          setPhrase(e.target.value);
        }}
        {...fieldProps(shown, PHRASE_PATH)}
      />
      <FieldError error={shown} path={PHRASE_PATH} />
      <button
        type="button"
        className="secondary"
        onClick={() => void play()}
        disabled={state === "loading" || !phrase.trim()}
        aria-busy={state === "loading"}
      >
        Play test phrase
      </button>
      <small role="status">
        {state === "loading" ? "Speaking the phrase…" : state === "playing" ? "Playing, as a caller hears it." : ""}
      </small>
      {unplaced && (
        <p className="form-error" role="alert">
          {unplaced.message}
        </p>
      )}
    </section>
  );
}

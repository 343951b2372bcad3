import type { ApiError } from "../../api";
import { FieldError, fieldProps } from "../FieldError";
import { EMOTIONS, PITCH_RANGE, SPEED_RANGE, type VoiceDraft } from "./types";

interface VoiceConfiguratorProps {
  voice: VoiceDraft;
  onChange(voice: VoiceDraft): void;
  error: ApiError | null;
}

/** How the agent sounds: its default emotion, speed (a rate multiplier), pitch (semitones) and
 * voice profile. */
export function VoiceConfigurator({ voice, onChange, error }: VoiceConfiguratorProps) {
  // TODO: a "Play a test phrase" button, once the API can speak a phrase in a given voice
  // (there is no text-to-speech preview route yet; only a live test call speaks).
  return (
    <section aria-labelledby="voice-heading">
      <h2 id="voice-heading">Voice</h2>
      <label htmlFor="voice-emotion">Emotion</label>
      <select
        id="voice-emotion"
        value={voice.emotion}
        onChange={(e) => onChange({ ...voice, emotion: e.target.value })}
        {...fieldProps(error, "voice.emotion_default")}
      >
        {EMOTIONS.map((emotion) => (
          <option key={emotion} value={emotion}>
            {emotion}
          </option>
        ))}
      </select>
      <FieldError error={error} path="voice.emotion_default" />
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
            onChange={(e) => onChange({ ...voice, speed: e.target.value })}
            {...fieldProps(error, "voice.speed")}
          />
          <FieldError error={error} path="voice.speed" />
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
            onChange={(e) => onChange({ ...voice, pitch: e.target.value })}
            {...fieldProps(error, "voice.pitch")}
          />
          <FieldError error={error} path="voice.pitch" />
          <small>
            Semitones, {PITCH_RANGE[0]} to +{PITCH_RANGE[1]}; 0 keeps the voice's own pitch.
          </small>
        </div>
      </div>
      <label htmlFor="voice-profile">Voice profile (optional)</label>
      <input
        id="voice-profile"
        value={voice.voiceProfile}
        onChange={(e) => onChange({ ...voice, voiceProfile: e.target.value })}
        placeholder="The engine's default voice"
        {...fieldProps(error, "voice.voice_profile")}
      />
      <FieldError error={error} path="voice.voice_profile" />
    </section>
  );
}

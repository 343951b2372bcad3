"""TurnDetector on the real Silero model, fed phone audio faster than real time."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.audio import decode_inbound, optimize_for_twilio
from realtime.engines.piper_tts import PiperEngine
from realtime.engines.silero_vad import SileroVAD
from realtime.turns import Paused, Resumed, SpeechStarted, TurnDetector, TurnEnded, TurnSettings

RATE = 8000


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """'At three in the afternoon.' as the caller's phone delivers it (8 kHz float)."""
    piper = PiperEngine()
    audio = piper.model.synthesize_blocking("At three in the afternoon.", piper.length_scale)
    return decode_inbound(b"".join(optimize_for_twilio(audio, 22050)), RATE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


def feed(detector: TurnDetector, audio: np.ndarray) -> list[tuple[float, object]]:
    """Push 20 ms at a time, as Twilio sends it; events with the audio time they came at."""
    events: list[tuple[float, object]] = []
    for start in range(0, len(audio), 160):
        for event in detector.push(audio[start : start + 160]):
            events.append((detector.received_s, event))
    return events


def test_a_turn_starts_pauses_and_ends_after_the_configured_silence(speech: np.ndarray) -> None:
    detector = TurnDetector(SileroVAD(RATE), TurnSettings(end_of_turn_ms=400, pause_ms=160))
    events = feed(detector, np.concatenate([silence(0.5), speech, silence(1.0)]))
    kinds = [type(e) for _, e in events]
    assert kinds == [SpeechStarted, Paused, TurnEnded], kinds
    started = events[0][1]
    assert isinstance(started, SpeechStarted) and 0.4 < started.at < 0.7
    (paused_at, paused), (ended_at, ended) = events[1], events[2]
    assert isinstance(paused, Paused) and isinstance(ended, TurnEnded)
    # The end comes end_of_turn_ms after the last voiced frame, the pause pause_ms after it.
    assert ended_at - ended.speech_end == pytest.approx(0.4, abs=0.04)
    assert paused_at - paused.speech_end == pytest.approx(0.16, abs=0.04)
    # The pause's audio is the turn's audio: an early transcript of it is the final one.
    assert np.array_equal(paused.audio, ended.audio)
    # The utterance keeps the pre-roll: it starts before the VAD fired.
    assert len(ended.audio) / RATE > ended.speech_end - started.at


def test_speech_after_a_pause_resumes_the_same_turn(speech: np.ndarray) -> None:
    detector = TurnDetector(SileroVAD(RATE), TurnSettings(end_of_turn_ms=600, pause_ms=160))
    audio = np.concatenate([speech, silence(0.3), speech, silence(1.0)])
    kinds = [type(e) for _, e in feed(detector, audio)]
    assert kinds == [SpeechStarted, Paused, Resumed, Paused, TurnEnded], kinds


CONVERSATION = [
    "Hi, my name is Jane Smith.",
    "Next Tuesday, please.",
    "At three in the afternoon.",
    "A teeth cleaning.",
    "Yes, that's right.",
]


def test_every_turn_of_a_call_keeps_its_first_word() -> None:
    # One detector hears a whole call, lines apart by the agent's turns (silence on the
    # caller's side). Silero's recurrent state, carried from one utterance to the next, once made
    # it fire late on later lines ("A teeth cleaning" reached Whisper as "...th cleaning"); each
    # utterance must still start in the quiet before its first word, whatever the 20 ms frames'
    # phase against the VAD's 32 ms ones.
    piper = PiperEngine()
    lines = [
        decode_inbound(b"".join(optimize_for_twilio(samples, 22050)), RATE)
        for samples in (
            piper.model.synthesize_blocking(text, piper.length_scale) for text in CONVERSATION
        )
    ]
    lags: list[float] = []
    for phase in range(8):
        detector = TurnDetector(SileroVAD(RATE))
        audio = [silence(2.0 + phase * 0.02)]
        first_sounds: list[float] = []
        for line in lines:
            at = sum(part.size for part in audio)
            first_sounds.append((at + int(np.argmax(np.abs(line) > 0.01))) / RATE)
            audio += [line, silence(4.0)]
        events = [e for _, e in feed(detector, np.concatenate(audio))]
        turns = [e for e in events if isinstance(e, TurnEnded)]
        assert len(turns) == len(lines), (phase, len(turns))
        for text, turn in zip(CONVERSATION, turns, strict=True):
            lead_in = np.argmax(np.abs(turn.audio) > 0.01) / RATE
            assert lead_in > 0.02, f"phase {phase}: {text!r} starts mid-word"
        starts = [e.at for e in events if isinstance(e, SpeechStarted)]
        lags += [start - sound for start, sound in zip(starts, first_sounds, strict=True)]
    # From a fresh state the VAD's first voiced frame is the first sound's (median lag within
    # ±10 ms over 8 renderings); with the state carried over it lagged 34 to 58 ms.
    assert float(np.median(lags)) < 0.02, sorted(round(lag, 3) for lag in lags)


def test_silence_and_noise_make_no_turn() -> None:
    detector = TurnDetector(SileroVAD(RATE))
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(RATE * 2) * 0.003).astype(np.float32)
    assert feed(detector, np.concatenate([silence(1.0), noise])) == []
    assert not detector.speaking

"""Phone audio: G.711 μ-law, the telephone band, levels and Twilio's 20 ms frames."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

import numpy as np
import pytest

from realtime.audio import (
    FRAME_BYTES,
    TWILIO_SAMPLE_RATE,
    ULAW_SILENCE,
    TwilioAudioEncoder,
    decode_inbound,
    normalise_level,
    optimize_for_twilio,
    resample,
    telephone_band,
    ulaw_decode,
    ulaw_encode,
)

TTS_RATE = 22050  # Piper's rate
TARGET_DBFS = -16.0
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def decoded(frames: list[bytes]) -> np.ndarray:
    return ulaw_decode(b"".join(frames)).astype(np.float32) / 32768.0


def dbfs(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))))


def audioop_module() -> ModuleType | None:
    """CPython's audioop (≤ 3.12) or the audioop-lts backport, if this venv has either."""
    for name in ("audioop", "audioop_lts"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return importlib.import_module(name)
        except ImportError:
            continue
    return None


# --- μ-law ----------------------------------------------------------------------------------

# Code → linear value pairs from the G.711 μ-law expansion table (ITU-T G.191 `ulaw_expand`).
G711_DECODE = {
    0x00: -32124,
    0x01: -31100,
    0x0F: -16764,
    0x10: -15996,
    0x7E: -8,
    0x7F: 0,
    0x80: 32124,
    0x8F: 16764,
    0xFE: 8,
    0xFF: 0,
}
# Linear value → code pairs from ITU-T G.191 `ulaw_compress`.
G711_ENCODE = {
    0: 0xFF,
    1: 0xFF,
    -1: 0x7F,
    8: 0xFE,
    -9: 0x7E,
    100: 0xF2,
    1000: 0xCE,
    -1000: 0x4E,
    32767: 0x80,
    -32768: 0x00,
}


def test_ulaw_decode_matches_g711_reference_values() -> None:
    table = ulaw_decode(bytes(range(256)))
    assert table.dtype == np.int16
    assert {code: int(table[code]) for code in G711_DECODE} == G711_DECODE
    # The table is odd-symmetric: flipping the sign bit negates the value.
    assert np.array_equal(table[:128], -table[128:])


def test_ulaw_encode_matches_g711_reference_values() -> None:
    samples = np.array(list(G711_ENCODE), dtype=np.int16)
    assert list(ulaw_encode(samples)) == list(G711_ENCODE.values())


def test_ulaw_encoder_is_exactly_sign_symmetric() -> None:
    # G.191 codes a negative sample by its one's complement: ~x is x's mirror image.
    positive = np.frombuffer(ulaw_encode(ALL_INT16[ALL_INT16 >= 0]), dtype=np.uint8)
    negative = np.frombuffer(ulaw_encode(~ALL_INT16[ALL_INT16 >= 0]), dtype=np.uint8)
    assert np.array_equal(negative, positive & 0x7F)


def test_ulaw_round_trip_error_is_within_half_a_quantisation_step() -> None:
    restored = ulaw_decode(ulaw_encode(ALL_INT16)).astype(np.int64)
    original = ALL_INT16.astype(np.int64)
    error = np.abs(restored - original)
    in_range = np.abs(original) <= 32124  # louder samples clip to the top code
    # A μ-law step is 1/16 of its segment's span, so half a step is ≤ |x|/32 (+ the bias).
    assert np.all(error[in_range] <= np.abs(original[in_range]) / 30 + 8)
    assert np.all(error[~in_range] <= 32768 - 32124)
    # Every code decodes and re-encodes to itself.
    codes = bytes(range(256))
    recoded = ulaw_encode(ulaw_decode(codes))
    assert all(a == b or {a, b} == {0x7F, 0xFF} for a, b in zip(recoded, codes, strict=True))


def test_ulaw_encode_refuses_non_int16() -> None:
    with pytest.raises(TypeError, match="int16"):
        ulaw_encode(np.zeros(4, dtype=np.float32))


def test_ulaw_agrees_with_audioop_when_available() -> None:
    audioop = audioop_module()
    if audioop is None:
        pytest.skip("neither audioop nor audioop-lts is importable")
    codes = bytes(range(256))
    assert np.array_equal(
        ulaw_decode(codes), np.frombuffer(audioop.ulaw2lin(codes, 2), dtype=np.int16)
    )
    ours = np.frombuffer(ulaw_encode(ALL_INT16), dtype=np.uint8)
    theirs = np.frombuffer(audioop.lin2ulaw(ALL_INT16.tobytes(), 2), dtype=np.uint8)
    # Identical for x >= 0; audioop (Sun's g711.c) rounds negative samples one 14-bit step
    # differently from G.191, which moves a few codes to the neighbouring quantisation level.
    assert np.array_equal(ours[ALL_INT16 >= 0], theirs[ALL_INT16 >= 0])
    differs = ours != theirs
    assert differs.mean() < 0.02
    assert np.all(np.abs(ours[differs].astype(int) - theirs[differs].astype(int)) == 1)


# --- resampling, band, level ----------------------------------------------------------------


def test_resample_keeps_dtype_and_duration() -> None:
    floats = resample(tone(440, 1.0, TTS_RATE), TTS_RATE, 8000)
    assert floats.dtype == np.float32
    assert len(floats) == 8000
    ints = resample((tone(440, 1.0, 24000) * 32767).astype(np.int16), 24000, 8000)
    assert ints.dtype == np.int16
    assert len(ints) == 8000
    same = tone(440, 0.1, 8000)
    assert np.array_equal(resample(same, 8000, 8000), same)


def test_telephone_band_passes_speech_and_rejects_rumble() -> None:
    def gain_db(freq: float) -> float:
        signal = tone(freq, 1.0, 8000)
        return dbfs(telephone_band(signal, 8000)[400:-400]) - dbfs(signal[400:-400])

    assert abs(gain_db(1000)) < 0.2
    assert abs(gain_db(300)) < 1.5
    assert abs(gain_db(3400)) < 1.5
    assert gain_db(100) < -40
    assert gain_db(50) < -40
    assert len(telephone_band(tone(1000, 0.5, 8000), 8000)) == 4000


def test_normalise_level_hits_the_target_and_respects_the_peak_limit() -> None:
    quiet = tone(1000, 0.5, 8000, amplitude=0.05)
    assert dbfs(normalise_level(quiet)) == pytest.approx(TARGET_DBFS, abs=0.1)
    # One click in near silence: reaching -16 dBFS RMS would clip it, so the peak limit wins.
    spiky = np.zeros(8000, dtype=np.float32)
    spiky[100] = 0.5
    spiky[200:] = tone(1000, 1.0, 8000, amplitude=0.01)[: 8000 - 200]
    levelled = normalise_level(spiky)
    assert np.max(np.abs(levelled)) == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    assert dbfs(levelled) < TARGET_DBFS
    # Silence stays silence.
    assert np.array_equal(normalise_level(np.zeros(100, dtype=np.float32)), np.zeros(100))


# --- optimize_for_twilio --------------------------------------------------------------------


def test_a_1khz_tone_becomes_160_byte_frames_at_1khz_and_target_level() -> None:
    frames = optimize_for_twilio(tone(1000, 2.0, TTS_RATE), TTS_RATE)
    assert len(frames) == 100  # 2 s of 20 ms frames
    assert all(len(f) == FRAME_BYTES for f in frames)
    audio = decoded(frames)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freqs = np.fft.rfftfreq(len(audio), 1 / TWILIO_SAMPLE_RATE)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1000, abs=5)
    near = np.abs(freqs - 1000) < 50
    assert np.sum(spectrum[near] ** 2) / np.sum(spectrum**2) > 0.99
    assert dbfs(audio[400:-400]) == pytest.approx(TARGET_DBFS, abs=0.5)


def test_a_100hz_hum_is_strongly_attenuated_relative_to_speech_band() -> None:
    hum = tone(100, 1.0, TTS_RATE) + tone(1000, 1.0, TTS_RATE, amplitude=0.03)
    audio = decoded(optimize_for_twilio(hum, TTS_RATE))
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    freqs = np.fft.rfftfreq(len(audio), 1 / TWILIO_SAMPLE_RATE)
    at_100 = spectrum[np.argmin(np.abs(freqs - 100))]
    at_1000 = spectrum[np.argmin(np.abs(freqs - 1000))]
    # In: hum 20 dB above the tone. Out: hum more than 20 dB below it.
    assert 20 * np.log10(at_100 / at_1000) < -20


def test_last_frame_is_padded_with_mulaw_silence() -> None:
    frames = optimize_for_twilio(tone(1000, 0.03, 8000), 8000)  # 240 samples
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    assert frames[1][80:] == bytes([ULAW_SILENCE]) * 80
    assert optimize_for_twilio(np.zeros(0, dtype=np.float32), TTS_RATE) == []


def test_int16_input_is_accepted() -> None:
    pcm = (tone(1000, 1.0, 24000) * 32767).astype(np.int16)
    frames = optimize_for_twilio(pcm, 24000)
    assert len(frames) == 50
    assert dbfs(decoded(frames)[400:-400]) == pytest.approx(TARGET_DBFS, abs=0.5)


def test_stereo_is_refused() -> None:
    with pytest.raises(ValueError, match="mono"):
        optimize_for_twilio(np.zeros((2, 100), dtype=np.float32), TTS_RATE)


# --- streaming ------------------------------------------------------------------------------


def push_in_chunks(
    encoder: TwilioAudioEncoder, audio: np.ndarray, rate: int, seed: int = 0
) -> list[bytes]:
    rng = np.random.default_rng(seed)
    frames: list[bytes] = []
    start = 0
    while start < len(audio):
        size = int(rng.integers(300, 9000))
        frames += encoder.push(audio[start : start + size], rate)
        start += size
    return frames + encoder.flush()


def test_streaming_encoder_matches_the_whole_buffer_path() -> None:
    audio = tone(1000, 3.0, TTS_RATE)
    whole = optimize_for_twilio(audio, TTS_RATE)
    streamed = push_in_chunks(TwilioAudioEncoder(), audio, TTS_RATE)
    assert len(streamed) == len(whole)
    assert all(len(f) == FRAME_BYTES for f in streamed)
    # Same level throughout, so the same samples up to one μ-law step.
    difference = np.abs(decoded(streamed) - decoded(whole))
    assert difference.max() < 0.02


def out_of_band_db(audio: np.ndarray, freq: float = 1000) -> float:
    """Energy more than 200 Hz away from `freq`, relative to the total: clicks are broadband."""
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / TWILIO_SAMPLE_RATE)
    return float(10 * np.log10(spectrum[np.abs(freqs - freq) > 200].sum() / spectrum.sum()))


def sentence(amplitude: float, seconds: float = 0.6) -> np.ndarray:
    """A TTS-like sentence: a 1 kHz tone that fades in and out, with 50 ms of silence around."""
    body = tone(1000, seconds, TTS_RATE, amplitude) * np.hanning(int(seconds * TTS_RATE))
    silence = np.zeros(int(0.05 * TTS_RATE), dtype=np.float32)
    return np.concatenate([silence, body.astype(np.float32), silence])


def test_sentences_at_different_levels_come_out_level_and_click_free() -> None:
    levels = (0.5, 0.05, 0.2, 0.9)
    encoder = TwilioAudioEncoder()
    frames: list[bytes] = []
    for amplitude in levels:
        frames += encoder.push(sentence(amplitude), TTS_RATE)
    frames += encoder.flush()
    audio = decoded(frames)
    whole = decoded(optimize_for_twilio(np.concatenate([sentence(a) for a in levels]), TTS_RATE))
    assert len(audio) == len(whole)
    each = len(audio) // len(levels)
    loudness = [dbfs(audio[k * each : (k + 1) * each]) for k in range(len(levels))]
    # Every sentence at the same level (the window shape puts it below the -16 dBFS target).
    assert max(loudness) - min(loudness) < 0.5
    # A step at a chunk boundary would spread energy across the band; μ-law noise is ~-38 dB.
    assert out_of_band_db(audio) < -30


def test_a_gain_change_mid_word_glides_instead_of_clicking() -> None:
    # One steady tone after half a second of silence, cut mid-cycle into two chunks. The first
    # chunk is mostly silence, so it measures quieter and gets ~5 dB more gain than the second:
    # the gain changes in the middle of the tone.
    content = np.concatenate([np.zeros(TTS_RATE // 2, dtype=np.float32), tone(1000, 1.5, TTS_RATE)])
    cut = int(0.7 * TTS_RATE) + 37
    encoder = TwilioAudioEncoder()
    frames = encoder.push(content[:cut], TTS_RATE) + encoder.push(content[cut:], TTS_RATE)
    audio = decoded(frames + encoder.flush())
    assert dbfs(audio[6000:-400]) == pytest.approx(TARGET_DBFS, abs=0.5)
    # A two-tap notch removes the 1 kHz tone exactly and leaves μ-law noise and transients.
    # A gain step at the cut leaves a spike ~15x the noise; the 10 ms glide keeps it under 5x.
    w = 2 * np.pi * 1000 / TWILIO_SAMPLE_RATE
    residual = np.abs(audio[2:] - 2 * np.cos(w) * audio[1:-1] + audio[:-2])
    boundary = int(0.7 * TWILIO_SAMPLE_RATE)
    noise = residual[boundary + 400 : boundary + 4000].max()
    assert residual[boundary - 100 : boundary + 100].max() < 5 * noise


def test_streaming_frames_contiguous_for_tiny_chunks() -> None:
    audio = tone(1000, 1.0, TTS_RATE)
    encoder = TwilioAudioEncoder()
    frames: list[bytes] = []
    for start in range(0, len(audio), 100):  # 4.5 ms pieces, far smaller than a frame
        frames += encoder.push(audio[start : start + 100], TTS_RATE)
    frames += encoder.flush()
    assert len(frames) == 50
    assert all(len(f) == FRAME_BYTES for f in frames)


def test_encoder_flush_without_audio_and_reset() -> None:
    encoder = TwilioAudioEncoder()
    assert encoder.flush() == []
    encoder.push(tone(1000, 0.5, TTS_RATE), TTS_RATE)
    encoder.reset()  # barge-in: whatever was pending is gone
    assert encoder.flush() == []


def test_encoder_follows_an_engine_that_changes_rate() -> None:
    encoder = TwilioAudioEncoder()
    frames = encoder.push(tone(1000, 0.5, TTS_RATE), TTS_RATE)
    frames += encoder.push(tone(1000, 0.5, 24000), 24000)
    frames += encoder.flush()
    assert len(frames) == 50


# --- inbound --------------------------------------------------------------------------------


def test_decode_inbound_gives_float32_at_the_requested_rate() -> None:
    payload = ulaw_encode((tone(440, 1.0, 8000) * 32767).astype(np.int16))
    pcm = decode_inbound(payload)
    assert pcm.dtype == np.float32
    assert len(pcm) == 16000
    assert dbfs(pcm[800:-800]) == pytest.approx(dbfs(tone(440, 1.0, 8000)), abs=0.2)
    assert len(decode_inbound(payload, to_rate=8000)) == 8000

"""Phone audio: G.711 μ-law, resampling, the telephone band, levels and Twilio's 20 ms frames.

Every TTS engine's output reaches the caller through one path, `optimize_for_twilio` (or its
streaming twin `TwilioAudioEncoder`): resample to 8 kHz → band-pass 300–3400 Hz → level →
μ-law → frames of exactly 160 bytes. Inbound caller audio comes back through `decode_inbound`
as float32 for VAD and STT.

Conventions: float PCM is float32 in [-1.0, 1.0); int16 PCM is full-scale ±32768; levels are
dBFS relative to a float amplitude of 1.0 (so a full-scale sine's RMS is -3 dBFS).

Pure functions and small stateful encoders; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Final, TypeVar

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from core.agents.spec import VoiceSpec
    from realtime.engines.base import AudioChunk, TTSEngine

try:
    # soxr ships no type information; its few calls below are wrapped in typed arrays.
    import soxr  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "realtime.audio needs the 'soxr' package for resampling; install the 'cpu' extra "
        "(pip install -e '.[cpu]')"
    ) from exc

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "TWILIO_SAMPLE_RATE",
    "ULAW_SILENCE",
    "TwilioAudioEncoder",
    "decode_inbound",
    "normalise_level",
    "optimize_for_twilio",
    "phone_speech",
    "resample",
    "telephone_band",
    "ulaw_decode",
    "ulaw_encode",
]

TWILIO_SAMPLE_RATE: Final = 8000
FRAME_MS: Final = 20
# One μ-law byte per sample: 20 ms at 8 kHz.
FRAME_BYTES: Final = TWILIO_SAMPLE_RATE * FRAME_MS // 1000
# μ-law code for 0 (positive zero): what a padded tail must sound like.
ULAW_SILENCE: Final = 0xFF

TARGET_DBFS: Final = -16.0
PEAK_LIMIT_DBFS: Final = -1.0
# Below this RMS a chunk is treated as silence and left alone: boosting it would only raise
# noise and the resampler's ringing.
SILENCE_FLOOR_DBFS: Final = -60.0
# A quiet engine is lifted at most this much, so a near-silent clause cannot become a blast.
MAX_GAIN_DB: Final = 24.0
# When the streaming encoder's gain changes between chunks it glides over this long instead of
# stepping, which would click if the boundary falls mid-word.
GAIN_RAMP_SECONDS: Final = 0.010
# A streamed chunk shorter than this keeps the current gain: the RMS of a sliver says little
# about the voice's level.
MIN_LEVEL_SECONDS: Final = 0.100

# Telephone band. The FIR cut-offs sit a little outside 300–3400 Hz so that the band itself is
# within ~1 dB (a windowed-sinc edge is -6 dB at its cut-off); 129 taps at 8 kHz (16 ms) give
# > 50 dB rejection at 100 Hz, scaled with the rate so the transition width stays the same in Hz.
BAND_LOW_CUTOFF_HZ: Final = 250.0
BAND_HIGH_CUTOFF_HZ: Final = 3500.0
BAND_TAPS_AT_8K: Final = 129

_PcmT = TypeVar("_PcmT", np.int16, np.float32, np.float64)

# --------------------------------------------------------------------------------------------
# G.711 μ-law.
#
# Written here rather than imported because CPython's `audioop` is deprecated and removed in
# 3.13, and μ-law is two small lookup tables: not worth a dependency. The encoder follows the
# ITU-T G.191 reference (`ulaw_compress`): negative samples use the one's complement, so the
# codec is exactly symmetric (encode(~x) == encode(x) & 0x7F). CPython's audioop (Sun's g711.c)
# rounds negative samples one 14-bit step differently, so its codes can differ by one
# quantisation step on negative input; decoding is identical.
# --------------------------------------------------------------------------------------------


def _build_ulaw_decode_table() -> NDArray[np.int16]:
    """The 256 μ-law codes expanded to 16-bit linear PCM (G.711 / G.191 `ulaw_expand`)."""
    code = np.arange(256, dtype=np.int32)
    inverted = ~code & 0xFF
    exponent = (inverted >> 4) & 0x07
    mantissa = inverted & 0x0F
    step = 4 << (exponent + 1)
    magnitude = (0x80 << exponent) + step * mantissa + step // 2 - 4 * 33
    return np.where(code < 0x80, -magnitude, magnitude).astype(np.int16)


def _build_ulaw_encode_table() -> NDArray[np.uint8]:
    """μ-law codes for every 14-bit sample (int16 >> 2), offset by 8192 to index from 0."""
    value = np.arange(-8192, 8192, dtype=np.int32)
    # G.191: magnitude of a negative sample is its one's complement; 33 is the μ-law bias in
    # 14-bit units; the clip keeps the loudest samples in the top segment.
    magnitude = np.minimum(np.where(value < 0, ~value, value) + 33, 0x1FFF)
    # Segment number 1..8 = 1 + bit length of (magnitude >> 6).
    segment = np.ones_like(magnitude)
    shifted = magnitude >> 6
    while np.any(shifted):
        segment += shifted != 0
        shifted = shifted >> 1
    high_nibble = 8 - segment
    low_nibble = 0x0F - ((magnitude >> segment) & 0x0F)
    code = (high_nibble << 4) | low_nibble
    return np.asarray(np.where(value >= 0, code | 0x80, code), dtype=np.uint8)


_ULAW_DECODE: Final = _build_ulaw_decode_table()
_ULAW_ENCODE: Final = _build_ulaw_encode_table()
_ULAW_DECODE.flags.writeable = False
_ULAW_ENCODE.flags.writeable = False


def ulaw_decode(data: bytes) -> NDArray[np.int16]:
    """Expand μ-law bytes to 16-bit linear PCM, one sample per byte."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(pcm: NDArray[np.int16]) -> bytes:
    """Compress 16-bit linear PCM to μ-law bytes (ITU-T G.191 `ulaw_compress`)."""
    samples = np.asarray(pcm)
    if samples.dtype != np.int16:
        raise TypeError(f"ulaw_encode needs int16 PCM, got {samples.dtype}")
    return bytes(_ULAW_ENCODE[(samples.astype(np.int32) >> 2) + 8192])


def _to_float(pcm: NDArray[np.generic]) -> NDArray[np.float32]:
    """Any PCM array as float32 in [-1, 1): int16 is scaled, floats are taken as they are."""
    samples = np.asarray(pcm)
    if samples.ndim != 1:
        raise ValueError(f"expected mono 1-D PCM, got shape {samples.shape}")
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / np.float32(32768.0)
    if not np.issubdtype(samples.dtype, np.floating):
        raise TypeError(f"expected int16 or float PCM, got {samples.dtype}")
    return samples.astype(np.float32, copy=False)


def _to_int16(pcm: NDArray[np.float32]) -> NDArray[np.int16]:
    """float PCM to int16 with rounding and saturation (no wrap-around on overs)."""
    scaled = np.clip(np.rint(pcm * np.float32(32768.0)), -32768, 32767)
    return np.asarray(scaled, dtype=np.int16)


# --------------------------------------------------------------------------------------------
# Resampling, band and level.
# --------------------------------------------------------------------------------------------


def resample(pcm: NDArray[_PcmT], from_rate: int, to_rate: int) -> NDArray[_PcmT]:
    """Resample mono PCM with libsoxr (high quality); int16 stays int16, floats keep their type."""
    samples = np.asarray(pcm)
    if samples.ndim != 1:
        raise ValueError(f"expected mono 1-D PCM, got shape {samples.shape}")
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate or samples.size == 0:
        return samples.copy()
    out = soxr.resample(samples, from_rate, to_rate)
    return np.asarray(out, dtype=samples.dtype)


@functools.lru_cache(maxsize=8)
def _band_taps(rate: int) -> NDArray[np.float32]:
    """Linear-phase band-pass FIR (Hamming-windowed sinc) for `rate`, designed once per rate."""
    taps = int(round(BAND_TAPS_AT_8K * rate / TWILIO_SAMPLE_RATE)) | 1
    high = min(BAND_HIGH_CUTOFF_HZ, 0.45 * rate)
    centred = np.arange(taps) - (taps - 1) / 2

    def lowpass(cutoff: float) -> NDArray[np.float64]:
        ratio = 2.0 * cutoff / rate
        return np.asarray(ratio * np.sinc(ratio * centred), dtype=np.float64)

    kernel = (lowpass(high) - lowpass(BAND_LOW_CUTOFF_HZ)) * np.hamming(taps)
    # Unity gain at 1 kHz, the middle of the speech band.
    response = np.abs(np.sum(kernel * np.exp(-2j * np.pi * 1000.0 / rate * np.arange(taps))))
    result = np.asarray(kernel / response, dtype=np.float32)
    result.flags.writeable = False
    return result


def telephone_band(pcm: NDArray[np.float32], rate: int) -> NDArray[np.float32]:
    """Band-pass float PCM to the telephone band (300–3400 Hz), delay-compensated, same length.

    Rumble below 300 Hz costs μ-law resolution and level headroom without being heard on a phone.
    """
    samples = _to_float(pcm)
    if samples.size == 0:
        return samples.copy()
    return np.convolve(samples, _band_taps(rate), mode="same").astype(np.float32, copy=False)


def _db_to_linear(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _level_gain(pcm: NDArray[np.float32], target_dbfs: float, peak_limit_dbfs: float) -> float:
    """The one gain that brings `pcm` to the target RMS without its peak passing the limit."""
    if pcm.size == 0:
        return 1.0
    rms = float(np.sqrt(np.mean(np.square(pcm, dtype=np.float64))))
    if rms <= _db_to_linear(SILENCE_FLOOR_DBFS):
        return 1.0
    gain = min(_db_to_linear(target_dbfs) / rms, _db_to_linear(MAX_GAIN_DB))
    peak = float(np.max(np.abs(pcm)))
    limit = _db_to_linear(peak_limit_dbfs)
    if peak * gain > limit:
        gain = limit / peak
    return gain


def normalise_level(
    pcm: NDArray[np.float32],
    target_dbfs: float = TARGET_DBFS,
    peak_limit_dbfs: float = PEAK_LIMIT_DBFS,
) -> NDArray[np.float32]:
    """Scale float PCM to `target_dbfs` RMS, lowering the gain if a peak would pass the limit.

    One gain for the whole buffer, not a compressor: no pumping, and the engine's own dynamics
    survive. Silence (below -60 dBFS) is returned unchanged; quiet audio is lifted ≤ 24 dB.
    """
    samples = _to_float(pcm)
    gain = _level_gain(samples, target_dbfs, peak_limit_dbfs)
    return (samples * np.float32(gain)).astype(np.float32, copy=False)


def _frames(ulaw: bytes) -> list[bytes]:
    """Split μ-law bytes into 160-byte frames, padding the last with μ-law silence."""
    if not ulaw:
        return []
    remainder = len(ulaw) % FRAME_BYTES
    if remainder:
        ulaw += bytes([ULAW_SILENCE]) * (FRAME_BYTES - remainder)
    return [ulaw[i : i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]


def optimize_for_twilio(pcm: NDArray[np.generic], sample_rate: int) -> list[bytes]:
    """Turn one whole TTS buffer (int16 or float, mono) into Twilio's 20 ms μ-law frames.

    Resample to 8 kHz → telephone band → level → μ-law → frames of exactly 160 bytes, the
    last padded with μ-law silence.
    """
    samples = resample(_to_float(pcm), sample_rate, TWILIO_SAMPLE_RATE)
    banded = telephone_band(samples, TWILIO_SAMPLE_RATE)
    levelled = normalise_level(banded)
    return _frames(ulaw_encode(_to_int16(levelled)))


# --------------------------------------------------------------------------------------------
# Streaming.
# --------------------------------------------------------------------------------------------


class TwilioAudioEncoder:
    """`optimize_for_twilio` for audio that arrives in pieces (sentence by sentence TTS).

    State carried between `push` calls keeps the frames contiguous and click-free: a libsoxr
    `ResampleStream` (its filter runs across chunk boundaries, so the concatenated output is
    sample for sample what a one-shot conversion gives), the band filter's history, the current
    gain and the μ-law bytes short of a whole frame.

    Level: each chunk gets one gain, measured on its own band-limited 8 kHz version (the same
    rule as `normalise_level`) and applied to the chunk's input samples, so a gain change falls
    exactly on the boundary between two chunks of content; it glides there over 10 ms, starting
    no higher than the new chunk's peak limit allows. A chunk under 100 ms keeps the current gain.

    Latency: libsoxr's stream holds back 45-75 ms of output (high quality, 22.05 or 24 kHz to
    8 kHz) until more input or `flush` arrives. Call `flush` at the end of every utterance, and
    after a chunk that ends in silence (a whole sentence) when the next one may be a while; call
    `reset` on barge-in to drop everything pending.
    """

    def __init__(
        self,
        target_dbfs: float = TARGET_DBFS,
        peak_limit_dbfs: float = PEAK_LIMIT_DBFS,
    ) -> None:
        self._target_dbfs = target_dbfs
        self._peak_limit_dbfs = peak_limit_dbfs
        self._taps = _band_taps(TWILIO_SAMPLE_RATE)
        # The band filter is causal here; its (taps-1)/2 samples of delay are skipped once at
        # the start and made up with zeros at flush, so the output lines up with the input.
        self._delay = (self._taps.size - 1) // 2
        self._rate: int | None = None
        self._resampler: soxr.ResampleStream | None = None
        self._history = np.zeros(self._taps.size - 1, dtype=np.float32)
        self._skip = self._delay
        self._gain: float | None = None
        self._pending = b""

    def reset(self) -> None:
        """Forget everything pending, as after a barge-in: the next push starts a new utterance."""
        self._rate = None
        self._resampler = None
        self._history = np.zeros(self._taps.size - 1, dtype=np.float32)
        self._skip = self._delay
        self._gain = None
        self._pending = b""

    def push(self, pcm: NDArray[np.generic], sample_rate: int) -> list[bytes]:
        """Add a chunk of PCM (int16 or float, mono) and return every whole frame it completes."""
        samples = _to_float(pcm)
        if samples.size:
            samples = self._level(samples, sample_rate)
        resampled = self._resample(samples, sample_rate, last=False)
        return self._encode(self._band(resampled))

    def flush(self) -> list[bytes]:
        """Emit the held-back tail and the last frame padded with μ-law silence; then reset."""
        tail = self._resample(np.zeros(0, dtype=np.float32), self._rate, last=True)
        banded = self._band(tail)
        # Zeros push the band filter's delayed tail out; the skip makes whole-buffer length.
        banded = np.concatenate([banded, self._band(np.zeros(self._delay, dtype=np.float32))])
        frames = self._encode(banded)
        frames.extend(_frames(self._pending))
        self.reset()
        return frames

    def _level(self, samples: NDArray[np.float32], rate: int) -> NDArray[np.float32]:
        previous = self._gain
        if previous is not None and samples.size < MIN_LEVEL_SECONDS * rate:
            return samples * np.float32(previous)
        # Measured as the caller will hear it: at 8 kHz and band-limited (rumble and the
        # resampler's removal of the top octave change both RMS and peak).
        heard = telephone_band(resample(samples, rate, TWILIO_SAMPLE_RATE), TWILIO_SAMPLE_RATE)
        gain = _level_gain(heard, self._target_dbfs, self._peak_limit_dbfs)
        self._gain = gain
        if previous is None or previous == gain:
            return samples * np.float32(gain)
        # Glide from the old gain, but never from one that would push this chunk past the
        # peak limit: a louder chunk after a quiet one starts at its safe gain instead.
        peak = float(np.max(np.abs(heard)))
        limit = _db_to_linear(self._peak_limit_dbfs)
        start = min(previous, limit / peak) if peak > 0 else previous
        gains = np.full(samples.size, gain, dtype=np.float32)
        ramp = min(int(GAIN_RAMP_SECONDS * rate), samples.size)
        gains[:ramp] = np.linspace(start, gain, ramp, endpoint=False, dtype=np.float32)
        return samples * gains

    def _resample(
        self, samples: NDArray[np.float32], rate: int | None, *, last: bool
    ) -> NDArray[np.float32]:
        if rate is None:
            return samples
        parts: list[NDArray[np.float32]] = []
        if self._rate is not None and rate != self._rate and self._resampler is not None:
            # An engine switched rates mid-utterance: drain the old stream before the new one.
            parts.append(self._stream_chunk(np.zeros(0, dtype=np.float32), last=True))
            self._resampler = None
        if self._rate != rate:
            self._rate = rate
            if rate != TWILIO_SAMPLE_RATE:
                self._resampler = soxr.ResampleStream(rate, TWILIO_SAMPLE_RATE, 1, dtype="float32")
        parts.append(self._stream_chunk(samples, last=last))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _stream_chunk(self, samples: NDArray[np.float32], *, last: bool) -> NDArray[np.float32]:
        if self._resampler is None:
            return samples
        out = self._resampler.resample_chunk(np.ascontiguousarray(samples), last=last)
        return np.asarray(out, dtype=np.float32)

    def _band(self, samples: NDArray[np.float32]) -> NDArray[np.float32]:
        if samples.size == 0:
            return samples
        window = np.concatenate([self._history, samples])
        self._history = window[-(self._taps.size - 1) :]
        out = np.convolve(window, self._taps, mode="valid").astype(np.float32, copy=False)
        if self._skip:
            dropped = min(self._skip, out.size)
            self._skip -= dropped
            out = out[dropped:]
        return out

    def _encode(self, samples: NDArray[np.float32]) -> list[bytes]:
        if samples.size:
            # The gain already respects the limit; this only catches the band filter's
            # overshoot on a transient and the glide's first samples.
            limit = np.float32(_db_to_linear(self._peak_limit_dbfs))
            self._pending += ulaw_encode(_to_int16(np.clip(samples, -limit, limit)))
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        ready, self._pending = self._pending[:whole], self._pending[whole:]
        return _frames(ready)


def decode_inbound(payload: bytes, to_rate: int = 16000) -> NDArray[np.float32]:
    """Caller audio (8 kHz μ-law bytes) as float32 PCM at `to_rate`, for VAD and STT.

    With `to_rate=8000` nothing is resampled: decode frame by frame that way for an 8 kHz VAD
    (Silero runs at 8 kHz). For 16 kHz STT, decode the utterance's joined payloads in one call:
    resampling 20 ms frames one by one puts an edge transient on every frame, and libsoxr's
    streaming resampler would hold back ~65 ms of the caller's last words.
    """
    pcm = ulaw_decode(payload).astype(np.float32) / np.float32(32768.0)
    return resample(pcm, TWILIO_SAMPLE_RATE, to_rate)


async def phone_speech(
    tts: TTSEngine, text: str, voice: VoiceSpec
) -> AsyncGenerator[tuple[AudioChunk, list[bytes]]]:
    """`text` spoken by `tts` in `voice`, chunk by chunk, each with its 20 ms μ-law frames: the
    one way from a TTS engine to a phone (a call's replies and a voice preview both take it).

    An encoder per utterance: each chunk is a whole clause or sentence and is flushed whole, so
    nothing waits in the resampler for audio that may be a sentence away, and nothing carries
    over between utterances. Closing this generator (a barge-in, a timeout) closes the
    synthesis, so a queued GPU job stops with it.
    """
    synthesis = tts.synthesize(text, voice=voice.voice_profile, emotion=voice.emotion_default)
    encoder = TwilioAudioEncoder()
    try:
        async for chunk in synthesis:
            yield chunk, encoder.push(chunk.samples, chunk.sample_rate) + encoder.flush()
    finally:
        # Interfaces promise only AsyncIterator, hence not `aclosing`.
        close = getattr(synthesis, "aclose", None)
        if close is not None:
            await close()

"""The caller's voice and ears: Piper speech as Twilio frames, Whisper for what the agent said.

Caller lines go through the same phone-audio path as the agent's (`optimize_for_twilio`), so the
server hears 8 kHz μ-law exactly as a phone would send it. Each utterance knows where its speech
really starts and ends inside its frames (Piper pads both ends with near-silence): latency is
measured from the last audible frame, not from the padded end.

The engines load lazily, on the first line spoken or the first turn transcribed, so importing
this module (and `callwright --help`) costs nothing and needs no speech extra.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

from realtime.audio import decode_inbound, optimize_for_twilio, ulaw_decode

if TYPE_CHECKING:
    from realtime.engines.base import STTEngine
    from realtime.engines.piper_tts import PiperModel

__all__ = [
    "AUDIBLE_DBFS",
    "AgentTranscriber",
    "CallerUtterance",
    "CallerVoice",
    "audible_span",
    "shared_caller_voice",
]

_LOGGER = logging.getLogger(__name__)

# A 20 ms frame quieter than this is breath or Piper's padding, not a word: speech levelled to
# -16 dBFS sits between -12 and -35 dBFS, and its decaying tail falls past -45 within a frame or
# two, so -40 marks the end of the last word to within one frame.
AUDIBLE_DBFS: Final = -40.0
# Frames kept before a line's first audible one: the soft start of its first word.
LEAD_IN_FRAMES: Final = 2
# Lines spoken in one process are few; this bounds the cache for a long benchmark anyway.
MAX_CACHED_LINES: Final = 256
# One decoding thread for the caller's Whisper: the server under test owns the other core, and
# the caller's transcript is not on anyone's latency path.
TRANSCRIBE_THREADS: Final = 1


def frame_dbfs(frame: bytes) -> float:
    """RMS level of one μ-law frame in dBFS (-120 for digital silence)."""
    samples = ulaw_decode(frame).astype(np.float64) / 32768.0
    power = float(np.mean(samples * samples)) if samples.size else 0.0
    return 10.0 * float(np.log10(power)) if power > 1e-12 else -120.0


def audible_span(frames: list[bytes], threshold_dbfs: float = AUDIBLE_DBFS) -> tuple[int, int]:
    """Indexes of the first and last frames louder than `threshold_dbfs` (-1, -1 if none)."""
    loud = [i for i, frame in enumerate(frames) if frame_dbfs(frame) > threshold_dbfs]
    return (loud[0], loud[-1]) if loud else (-1, -1)


@dataclass(frozen=True)
class CallerUtterance:
    """One caller line as Twilio frames, with where its speech begins and ends."""

    text: str
    frames: tuple[bytes, ...]
    first_audible: int
    last_audible: int

    @classmethod
    def from_frames(cls, text: str, frames: list[bytes]) -> CallerUtterance:
        """Wrap 160-byte μ-law frames, finding the audible span and trimming leading silence.

        Piper's leading silence varies from one synthesis to the next (40 to 350 ms were seen
        for one line); trimmed to `LEAD_IN_FRAMES`, a line's speech starts when it is meant to.
        """
        first, last = audible_span(frames)
        if first < 0:
            raise ValueError(f"the synthesized line {text!r} is silent")
        start = max(0, first - LEAD_IN_FRAMES)
        return cls(
            text=text,
            frames=tuple(frames[start:]),
            first_audible=first - start,
            last_audible=last - start,
        )

    @property
    def duration_ms(self) -> int:
        """How long the utterance lasts, padding included."""
        return len(self.frames) * 20


class CallerVoice:
    """Speaks lines with the process's shared Piper model; each line synthesized once."""

    def __init__(self, model: PiperModel | None = None, *, speed: float = 1.0) -> None:
        self._model = model
        self._speed = speed
        self._cache: OrderedDict[str, CallerUtterance] = OrderedDict()
        self._load_lock = threading.Lock()

    def _piper(self) -> PiperModel:
        # Several lines may be prepared at once, each on a worker thread: load the voice once.
        with self._load_lock:
            if self._model is None:
                from realtime.engines.piper_tts import PiperEngine

                # PiperEngine() resolves the bundled voice through `shared_piper_model`: a
                # server in the same process (tests, benchmarks) shares the caller's model.
                self._model = PiperEngine().model
            return self._model

    async def utterance(self, text: str) -> CallerUtterance:
        """`text` as Twilio frames (synthesized off the event loop, then cached)."""
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        # Loading the voice takes a while the first time: never on the event loop.
        model = self._model if self._model is not None else await asyncio.to_thread(self._piper)
        length_scale = model.default_length_scale / self._speed
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(
            model.executor, model.synthesize_blocking, text, length_scale
        )
        frames = optimize_for_twilio(samples, model.sample_rate)
        spoken = CallerUtterance.from_frames(text, frames)
        self._cache[text] = spoken
        if len(self._cache) > MAX_CACHED_LINES:
            self._cache.popitem(last=False)
        return spoken


@functools.cache
def shared_caller_voice() -> CallerVoice:
    """The process's caller voice: a benchmark placing many calls synthesizes each line once."""
    return CallerVoice()


class AgentTranscriber:
    """What the agent said in one turn, from the μ-law audio the caller heard.

    `context` is words the caller expects to hear (the questions a booking line asks, say):
    Whisper is biased towards them, as a person's ear is by knowing why they called."""

    def __init__(self, stt: STTEngine | None = None, *, context: str = "") -> None:
        self._stt = stt
        self.context = context
        self._load_lock = threading.Lock()

    def _engine(self) -> STTEngine:
        with self._load_lock:
            if self._stt is None:
                from realtime.engines.whisper_stt import WhisperSTT

                self._stt = WhisperSTT(cpu_threads=TRANSCRIBE_THREADS)
            return self._stt

    async def load(self) -> None:
        """Load the model now, on a worker thread: loading it on the event loop mid-call would
        stall the caller's 20 ms clock for the better part of a second."""
        await asyncio.to_thread(self._engine)

    async def transcribe(self, ulaw: bytes) -> str:
        """The words in `ulaw` (8 kHz μ-law), decoded off the event loop; "" for no audio."""
        if not ulaw:
            return ""
        engine = self._engine()
        # One call over the whole turn: resampling frame by frame would click at every edge.
        audio = await asyncio.to_thread(decode_inbound, ulaw, engine.sample_rate)
        transcript = await engine.transcribe(audio, context=self.context)
        return transcript.text.strip()

"""The engine interfaces: VAD, speech-to-text, text-to-speech. A new engine is one module that
implements one of these. Audio inside the realtime process is mono float32 in [-1, 1]."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True)
class AudioChunk:
    """A piece of synthesized speech: samples at `sample_rate`, and the text it speaks."""

    samples: Audio
    sample_rate: int
    text: str = ""


@dataclass(frozen=True)
class Transcript:
    """What the caller said."""

    text: str
    confidence: float | None = None


class VAD(ABC):
    """Voice activity detection on short frames at one sample rate."""

    sample_rate: int
    frame_samples: int

    @abstractmethod
    def speech_probability(self, frame: Audio) -> float:
        """The probability that `frame` (exactly `frame_samples` long) holds speech."""

    @abstractmethod
    def reset(self) -> None:
        """Forget state carried between frames (a new utterance, a new call)."""


class STTEngine(ABC):
    """Speech-to-text on a whole utterance."""

    sample_rate: int

    @abstractmethod
    async def transcribe(self, audio: Audio, *, context: str = "") -> Transcript:
        """The text of `audio` (mono float32 at `sample_rate`).

        `context` is words the caller is likely to say or answer (the question just asked, its
        options, the business's names): an engine that can bias recognition towards them does,
        one that cannot ignores it.
        """


class TTSEngine(ABC):
    """Text-to-speech, streamed: the first chunk as early as possible."""

    @abstractmethod
    def synthesize(
        self, text: str, *, voice: str | None = None, emotion: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Chunks of speech for `text`, in order; cancelling the iteration stops synthesis."""

    async def warm_up(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Load models and run a first synthesis so the first call pays no start-up cost."""

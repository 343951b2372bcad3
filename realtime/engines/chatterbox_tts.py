"""Text-to-speech on a GPU with Chatterbox (chatterbox-tts 0.1.7), in-process.

One model per process, loaded once at start (`load_chatterbox`) from CHATTERBOX_MODEL_PATH,
original or turbo checkpoint. Every call's speech goes through one `GpuScheduler`: a single
worker thread owns the model, so CUDA sees one stream of work and no two generations race on
the model's mutable voice (`model.conds`). Jobs are one sentence each and ordered by
(priority, arrival): a synthesis's first chunk outranks everyone's later chunks, because a
caller waiting for the first word hears silence while later sentences still have the previous
ones' playing time in hand.

A voice profile's conditionals (speaker embedding and prompt tokens from its reference clip) are
computed once by `prepare_conditionals` and kept in an LRU of VOICE_CACHE_SIZE entries; no voice
means the checkpoint's built-in voice (`conds.pt`). Emotions map to Chatterbox's exaggeration,
cfg_weight and temperature (`EmotionStyle`).

The agent's VoiceSpec speed is not applied here: Chatterbox has no rate control, and a
time-stretch after synthesis (phase vocoder) smears speech more than a phone line forgives.
Exaggeration is its only pacing knob (higher speaks faster; a lower cfg_weight slows it back).
Nor is its pitch (semitones, 0 = the voice's own): Chatterbox has no pitch control either, and
a pitch shift after synthesis has the same cost; a voice profile's reference clip sets the pitch.

chatterbox-tts itself is never imported at module level: its metadata pins old torch and
transformers releases, so it is installed apart (the `gpu` extra, then `--no-deps`), and the
rest of the realtime plane must import without it.

The engine is this module; its parts live in the `realtime.engines.chatterbox` package, one
concept a module (errors, model interface, loading, styles, voices, GPU scheduler), and the
names other code imports from here are re-exported below.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from core.settings import Settings
from realtime.engines.base import Audio, AudioChunk, TTSEngine
from realtime.engines.chatterbox.errors import (
    ChatterboxError,
    ChatterboxTimeoutError,
    ChatterboxWeightsError,
)
from realtime.engines.chatterbox.loading import (
    BUILTIN_VOICE_FILE,
    ORIGINAL_FILES,
    TURBO_FILES,
    WARM_UP_TEXT,
    LoadedChatterbox,
    detect_variant,
    load_chatterbox,
    missing_weight_files,
)
from realtime.engines.chatterbox.model import (
    ChatterboxModel,
    StreamingChatterboxModel,
    Variant,
)
from realtime.engines.chatterbox.scheduler import (
    BACKGROUND_PRIORITY,
    GpuScheduler,
    JobContext,
    Work,
)
from realtime.engines.chatterbox.styles import (
    EMOTION_STYLES,
    MIN_CFG_WEIGHT,
    NEUTRAL,
    EmotionStyle,
    style_for,
)
from realtime.engines.chatterbox.voices import VoiceConditionalsCache
from realtime.speech_text import split_for_speech

__all__ = [
    "EMOTION_STYLES",
    "MIN_CFG_WEIGHT",
    "ORIGINAL_FILES",
    "TURBO_FILES",
    "ChatterboxEngine",
    "ChatterboxError",
    "ChatterboxModel",
    "ChatterboxTimeoutError",
    "ChatterboxWeightsError",
    "EmotionStyle",
    "GpuScheduler",
    "JobContext",
    "LoadedChatterbox",
    "SynthesisStats",
    "Variant",
    "VoiceConditionalsCache",
    "detect_variant",
    "load_chatterbox",
    "missing_weight_files",
    "split_for_speech",
    "style_for",
]

_LOGGER = logging.getLogger(__name__)

Streaming = Literal["sentence", "tokens"]


def _as_audio(output: Any) -> Audio:
    """A model's output (torch tensor (1, N) or array) as mono float32 numpy."""
    if hasattr(output, "detach"):
        output = output.detach().float().cpu().numpy()
    return np.ascontiguousarray(np.asarray(output, dtype=np.float32).reshape(-1))


@dataclass(frozen=True)
class SynthesisStats:
    """Timings of one finished synthesis (seconds)."""

    first_chunk_seconds: float | None
    total_seconds: float
    audio_seconds: float
    chunks: int


class ChatterboxEngine(TTSEngine):
    """Chatterbox speech streamed by sentence (or by token chunk) through one GPU queue.

    `model` is a loaded Chatterbox model (see `load_chatterbox`) or anything with its
    interface (`ChatterboxModel`). `voices` maps voice profile names to reference clips; more
    can be added with `register_voice`. An unknown voice speaks with the built-in voice
    rather than failing the call.

    With `streaming="tokens"` (a model offering `generate_stream`) a sentence's audio arrives
    in pieces of `token_chunk_size` speech tokens; the chunk's text rides on its first piece.
    """

    def __init__(
        self,
        model: ChatterboxModel,
        *,
        variant: Variant = "original",
        voices: Mapping[str, Path] | None = None,
        voice_cache_size: int = 32,
        streaming: Streaming = "sentence",
        token_chunk_size: int = 25,
        job_timeout_s: float = 15.0,
        queue_timeout_s: float = 30.0,
    ) -> None:
        if streaming == "tokens" and not callable(getattr(model, "generate_stream", None)):
            raise ValueError("streaming='tokens' needs a model with generate_stream()")
        self.model = model
        self.variant: Variant = variant
        self.streaming: Streaming = streaming
        self.token_chunk_size = token_chunk_size
        self.sample_rate = int(model.sr)
        self.voice_cache = VoiceConditionalsCache(voice_cache_size)
        self.scheduler = GpuScheduler(
            model, job_timeout_s=job_timeout_s, queue_timeout_s=queue_timeout_s
        )
        # The checkpoint's conds.pt voice, kept before any profile's conditionals replace it.
        self._builtin_conds: Any = model.conds
        self._voices: dict[str, Path] = {}
        self._unknown_voices: set[str] = set()
        self.last_stats: SynthesisStats | None = None
        for name, reference in (voices or {}).items():
            self.register_voice(name, reference)

    @classmethod
    def from_path(
        cls,
        path: Path,
        *,
        device: str = "cuda",
        variant: Variant | None = None,
        **options: Any,
    ) -> ChatterboxEngine:
        """Load (and warm) the checkpoint at `path`; `options` go to the constructor."""
        loaded = load_chatterbox(path, device, variant)
        return cls(loaded.model, variant=loaded.variant, **options)

    @classmethod
    def from_settings(cls, settings: Settings, *, device: str = "cuda") -> ChatterboxEngine:
        """The engine CHATTERBOX_MODEL_PATH and VOICE_CACHE_SIZE describe, loaded and warmed."""
        if settings.chatterbox_model_path is None:
            raise ChatterboxError("TTS_ENGINE=chatterbox needs CHATTERBOX_MODEL_PATH")
        return cls.from_path(
            settings.chatterbox_model_path,
            device=device,
            voice_cache_size=settings.voice_cache_size,
        )

    def register_voice(self, name: str, reference_wav: Path) -> None:
        """Let `name` (a voice profile) speak like `reference_wav`; prepared on first use."""
        reference_wav = Path(reference_wav)
        if self._voices.get(name) != reference_wav:
            self.voice_cache.invalidate(name)
        self._voices[name] = reference_wav
        self._unknown_voices.discard(name)

    async def synthesize(
        self, text: str, *, voice: str | None = None, emotion: str | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Chunks of speech for `text`, in order; closing the iteration drops what is queued."""
        pieces = split_for_speech(text)
        if not pieces:
            return
        style = style_for(emotion)
        stream = self.scheduler.open_stream()
        for piece in pieces:
            stream.submit(self._piece_work(piece, voice, style))
        started = time.perf_counter()
        first_chunk: float | None = None
        samples = chunks = 0
        try:
            async with aclosing(stream.results()) as results:
                async for index, audio, first_piece in results:
                    if first_chunk is None:
                        first_chunk = time.perf_counter() - started
                    samples += audio.size
                    chunks += 1
                    text_spoken = pieces[index] if first_piece else ""
                    yield AudioChunk(audio, self.sample_rate, text_spoken)
        finally:
            # Whether finished, failed, timed out or abandoned mid-way (barge-in): nothing of
            # this synthesis may keep the GPU from the next caller.
            dropped = stream.cancel()
            if dropped:
                _LOGGER.debug("synthesis closed early; %d queued sentences dropped", dropped)
        self.last_stats = SynthesisStats(
            first_chunk_seconds=first_chunk,
            total_seconds=time.perf_counter() - started,
            audio_seconds=samples / self.sample_rate,
            chunks=chunks,
        )
        _LOGGER.debug("synthesis stats: %s", self.last_stats)

    async def warm_up(self) -> None:
        """Start the GPU worker and run one short synthesis of the default voice."""
        self.scheduler.start()
        if self._builtin_conds is None and not self._voices:
            _LOGGER.info("no built-in voice and no voice profile yet: warm-up skipped")
            return
        voice = None if self._builtin_conds is not None else next(iter(self._voices))
        stream = self.scheduler.open_stream()
        stream.submit(self._piece_work(WARM_UP_TEXT, voice, NEUTRAL), priority=BACKGROUND_PRIORITY)
        try:
            async with aclosing(stream.results()) as results:
                async for _ in results:
                    pass
        finally:
            stream.cancel()

    async def aclose(self, wait_s: float = 5.0) -> None:
        """Stop the GPU worker, waiting at most `wait_s` for a generation in progress."""
        stopped = await asyncio.to_thread(self.scheduler.close, wait_s)
        if not stopped:
            _LOGGER.warning("Chatterbox worker still busy after %.1f s; left to finish", wait_s)

    # -- on the GPU thread -------------------------------------------------------------------

    def _piece_work(self, text: str, voice: str | None, style: EmotionStyle) -> Work:
        def work(context: JobContext) -> None:
            model = context.model
            model.conds = self._conditionals_for(voice)
            kwargs = style.generation_kwargs(self.variant)
            if self.streaming == "sentence":
                context.emit(_as_audio(model.generate(text, **kwargs)))
                return
            streaming_model = cast(StreamingChatterboxModel, model)
            for item in streaming_model.generate_stream(
                text, chunk_size=self.token_chunk_size, **kwargs
            ):
                if context.cancelled():
                    return
                context.emit(_as_audio(item[0] if isinstance(item, tuple) else item))

        return work

    def _conditionals_for(self, voice: str | None) -> Any:
        reference = self._voices.get(voice) if voice is not None else None
        if voice is not None and reference is None and voice not in self._unknown_voices:
            self._unknown_voices.add(voice)
            _LOGGER.warning(
                "voice profile %r has no reference clip; using the built-in voice", voice
            )
        if voice is None or reference is None:
            if self._builtin_conds is None:
                raise ChatterboxError(
                    f"no built-in voice ({BUILTIN_VOICE_FILE} missing) and no reference clip "
                    f"for voice {voice!r}: register a voice profile"
                )
            return self._builtin_conds
        return self.voice_cache.get(voice, lambda: self._prepare(reference))

    def _prepare(self, reference: Path) -> Any:
        # prepare_conditionals sets model.conds as its result; the caller installs whichever
        # voice the job needs right after, so nothing is restored here.
        self.model.prepare_conditionals(str(reference))
        return self.model.conds

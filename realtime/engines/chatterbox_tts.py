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

chatterbox-tts itself is never imported at module level: its metadata pins old torch and
transformers releases, so it is installed apart (the `gpu` extra, then `--no-deps`), and the
rest of the realtime plane must import without it.
"""

from __future__ import annotations

import asyncio
import heapq
import importlib
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Protocol, cast

import numpy as np

from core.settings import Settings
from realtime.engines.base import Audio, AudioChunk, TTSEngine
from realtime.speech_text import split_for_speech

__all__ = [
    "EMOTION_STYLES",
    "MIN_CFG_WEIGHT",
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

Variant = Literal["original", "turbo"]
Streaming = Literal["sentence", "tokens"]

ORIGINAL_FILES: Final = (
    "ve.safetensors",
    "t3_cfg.safetensors",
    "s3gen.safetensors",
    "tokenizer.json",
)
# Turbo loads its GPT-2 tokenizer with `AutoTokenizer.from_pretrained(dir)`: a fast
# `tokenizer.json` or the slow pair `vocab.json` + `merges.txt` will do.
TURBO_FILES: Final = ("ve.safetensors", "t3_turbo_v1.safetensors", "s3gen_meanflow.safetensors")
TURBO_TOKENIZER_CHOICES: Final = (("tokenizer.json",), ("vocab.json", "merges.txt"))
BUILTIN_VOICE_FILE: Final = "conds.pt"
INSTALL_HINT: Final = (
    "ChatterboxEngine needs chatterbox-tts: install the 'gpu' extra "
    "(pip install -e '.[gpu]'), then `pip install --no-deps chatterbox-tts` "
    "(its metadata pins old torch and transformers releases; see shared/STACK.md)"
)
WARM_UP_TEXT: Final = "Hello, thanks for calling."

# chatterbox-tts 0.1.7 crashes on cfg_weight=0.0 (the original model's CFG path assumes two
# batch rows and 0.0 builds one), so no style may reach it: the smallest weight sent is this.
MIN_CFG_WEIGHT: Final = 0.05

FIRST_CHUNK_PRIORITY: Final = 0
LATER_CHUNK_PRIORITY: Final = 1
# Warm-up and other background work never delays a caller.
BACKGROUND_PRIORITY: Final = 2

# --------------------------------------------------------------------------------------------
# Errors and the model's interface.
# --------------------------------------------------------------------------------------------


class ChatterboxError(Exception):
    """A Chatterbox synthesis or set-up failure."""


class ChatterboxWeightsError(ChatterboxError, FileNotFoundError):
    """The checkpoint directory lacks files `from_local` needs; `missing` lists them."""

    def __init__(self, path: Path, variant: Variant, missing: list[str]) -> None:
        self.path = path
        self.variant = variant
        self.missing = missing
        super().__init__(
            f"Chatterbox {variant} checkpoint at {path} is missing: {', '.join(missing)} "
            "(set CHATTERBOX_MODEL_PATH to a directory holding the weights)"
        )


class ChatterboxTimeoutError(ChatterboxError, TimeoutError):
    """A sentence took longer than its time limit, waiting in the queue or on the GPU."""


class ChatterboxModel(Protocol):
    """What this engine uses of `ChatterboxTTS` / `ChatterboxTurboTTS` (0.1.7)."""

    sr: int
    # `chatterbox.tts.Conditionals` of the current voice; opaque here.
    conds: Any

    def generate(
        self,
        text: str,
        *,
        exaggeration: float = ...,
        cfg_weight: float = ...,
        temperature: float = ...,
    ) -> Any:
        """Speech for `text` as a float tensor of shape (1, N) at `sr`."""

    def prepare_conditionals(self, wav_fpath: str) -> None:
        """Compute the voice of a reference clip and make it `conds`."""


class StreamingChatterboxModel(ChatterboxModel, Protocol):
    """A Chatterbox build that streams speech-token chunks (the chatterbox-streaming fork)."""

    def generate_stream(self, text: str, *, chunk_size: int, **kwargs: Any) -> Iterable[Any]:
        """Audio pieces (tensors, or (tensor, metrics) pairs) as tokens are decoded."""


# --------------------------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------------------------


def _turbo_tokenizer_present(path: Path) -> bool:
    return any(all((path / f).is_file() for f in choice) for choice in TURBO_TOKENIZER_CHOICES)


def missing_weight_files(path: Path, variant: Variant) -> list[str]:
    """The files `from_local` needs for `variant` that `path` lacks (empty when complete)."""
    if not path.is_dir():
        return [f"{path} (not a directory)"]
    needed = ORIGINAL_FILES if variant == "original" else TURBO_FILES
    missing = [name for name in needed if not (path / name).is_file()]
    if variant == "turbo" and not _turbo_tokenizer_present(path):
        missing.append("tokenizer.json (or vocab.json + merges.txt)")
    return missing


def detect_variant(path: Path) -> Variant:
    """Turbo when the turbo T3 checkpoint is there, else the original model."""
    return "turbo" if (path / "t3_turbo_v1.safetensors").is_file() else "original"


@dataclass(frozen=True)
class LoadedChatterbox:
    """A model loaded and warmed, with how long that took."""

    model: ChatterboxModel
    variant: Variant
    path: Path
    device: str
    load_seconds: float
    warm_up_seconds: float | None


def _model_class(variant: Variant) -> Any:
    module_name, class_name = (
        ("chatterbox.tts", "ChatterboxTTS")
        if variant == "original"
        else ("chatterbox.tts_turbo", "ChatterboxTurboTTS")
    )
    try:
        # importlib keeps the absent package out of mypy's sight: it ships no types either way.
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return getattr(module, class_name)


def load_chatterbox(
    path: Path,
    device: str = "cuda",
    variant: Variant | None = None,
    *,
    warm_up: bool = True,
) -> LoadedChatterbox:
    """Load a Chatterbox checkpoint directory onto `device` and run one warm-up generation.

    The directory is checked before anything heavy is imported, so a wrong path fails in
    milliseconds with the list of missing files. `variant=None` reads it off the files.
    """
    path = Path(path)
    chosen: Variant = variant or detect_variant(path)
    missing = missing_weight_files(path, chosen)
    if missing:
        raise ChatterboxWeightsError(path, chosen, missing)
    if not (path / BUILTIN_VOICE_FILE).is_file():
        _LOGGER.warning(
            "%s has no %s: there is no built-in voice, so every call needs a voice profile",
            path,
            BUILTIN_VOICE_FILE,
        )
    model_class = _model_class(chosen)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ChatterboxError(f"device {device!r} asked for, but torch sees no CUDA GPU")
    started = time.perf_counter()
    # from_local puts every submodule on `device` itself (and maps CUDA-saved conds to it).
    model = cast(ChatterboxModel, model_class.from_local(str(path), device))
    load_seconds = time.perf_counter() - started
    warm_up_seconds: float | None = None
    if warm_up and model.conds is not None:
        started = time.perf_counter()
        # The first generation compiles kernels and sizes caches: pay it now, not on a call.
        model.generate(WARM_UP_TEXT, **style_for(None).generation_kwargs(chosen))
        warm_up_seconds = time.perf_counter() - started
    _LOGGER.info(
        "Chatterbox %s loaded from %s on %s in %.1f s (warm-up %s s)",
        chosen,
        path,
        device,
        load_seconds,
        "skipped" if warm_up_seconds is None else f"{warm_up_seconds:.2f}",
    )
    return LoadedChatterbox(model, chosen, path, device, load_seconds, warm_up_seconds)


# --------------------------------------------------------------------------------------------
# Emotions.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmotionStyle:
    """Chatterbox's expressive knobs for one emotion.

    exaggeration: emotional intensity (0.5 is the model's neutral; higher is livelier and
    faster). cfg_weight: how closely the voice and pacing follow the reference (lower is
    slower, looser). temperature: sampling randomness (lower is steadier).
    """

    exaggeration: float
    cfg_weight: float
    temperature: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.exaggeration <= 2.0:
            raise ValueError(f"exaggeration must be within 0..2, got {self.exaggeration}")
        if not 0.0 <= self.cfg_weight <= 1.0:
            raise ValueError(f"cfg_weight must be within 0..1, got {self.cfg_weight}")
        if self.temperature <= 0.0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        # Clamped rather than refused: 0.0 means "no guidance" to a reader, and the nearest
        # value 0.1.7 survives says the same (see MIN_CFG_WEIGHT).
        object.__setattr__(self, "cfg_weight", max(self.cfg_weight, MIN_CFG_WEIGHT))

    def generation_kwargs(self, variant: Variant) -> dict[str, float]:
        """The keyword arguments `generate` takes for this style on `variant`."""
        if variant == "turbo":
            # Turbo ignores exaggeration and CFG (and logs a warning per call when they are
            # above 0): temperature is the only knob it honours.
            return {"temperature": self.temperature}
        return {
            "exaggeration": self.exaggeration,
            "cfg_weight": self.cfg_weight,
            "temperature": self.temperature,
        }


NEUTRAL: Final = EmotionStyle(exaggeration=0.5, cfg_weight=0.5, temperature=0.8)
# The platform's emotions (core.agents.spec.EMOTIONS). Chatterbox's own guidance: 0.5/0.5 is a
# good default; expressive speech wants exaggeration ≈ 0.7 with cfg_weight ≈ 0.3 so the
# quickened pace is reined back in. Calm and professional voices are steadier (lower
# temperature); empathetic ones slower and softer.
EMOTION_STYLES: Final[Mapping[str, EmotionStyle]] = {
    "neutral": NEUTRAL,
    "friendly": EmotionStyle(exaggeration=0.6, cfg_weight=0.45, temperature=0.8),
    "warm": EmotionStyle(exaggeration=0.55, cfg_weight=0.4, temperature=0.8),
    "calm": EmotionStyle(exaggeration=0.35, cfg_weight=0.5, temperature=0.7),
    "professional": EmotionStyle(exaggeration=0.4, cfg_weight=0.55, temperature=0.7),
    "enthusiastic": EmotionStyle(exaggeration=0.75, cfg_weight=0.3, temperature=0.85),
    "empathetic": EmotionStyle(exaggeration=0.45, cfg_weight=0.35, temperature=0.75),
}


def style_for(emotion: str | None) -> EmotionStyle:
    """The style of `emotion`; neutral when none is given or the name is unknown."""
    if emotion is None:
        return NEUTRAL
    style = EMOTION_STYLES.get(emotion.strip().lower())
    if style is None:
        _LOGGER.debug("unknown emotion %r; speaking neutrally", emotion)
        return NEUTRAL
    return style


# --------------------------------------------------------------------------------------------
# Text into synthesis pieces.
# --------------------------------------------------------------------------------------------


def _as_audio(output: Any) -> Audio:
    """A model's output (torch tensor (1, N) or array) as mono float32 numpy."""
    if hasattr(output, "detach"):
        output = output.detach().float().cpu().numpy()
    return np.ascontiguousarray(np.asarray(output, dtype=np.float32).reshape(-1))


# --------------------------------------------------------------------------------------------
# Voice conditionals.
# --------------------------------------------------------------------------------------------


class _Flight:
    """One computation that concurrent requests for the same key wait on."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class VoiceConditionalsCache:
    """An LRU of prepared voice conditionals, keyed by voice profile, single-flight.

    Thread-safe; concurrent requests for a voice not yet cached compute it once and share the
    result (or the error, which is not cached: the next request tries again).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: str, compute: Callable[[], Any], *, timeout: float | None = None) -> Any:
        """The conditionals for `key`, computing them with `compute` on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.misses += 1
        if not leader:
            if not flight.done.wait(timeout):
                raise TimeoutError(f"voice {key!r} still being prepared after {timeout} s")
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[key]
            flight.done.set()
            raise
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.capacity:
                evicted, _ = self._entries.popitem(last=False)
                self.evictions += 1
                _LOGGER.debug("voice %r evicted from the conditionals cache", evicted)
            del self._flights[key]
        flight.value = value
        flight.done.set()
        return value

    def invalidate(self, key: str) -> None:
        """Forget `key` (its reference clip changed)."""
        with self._lock:
            self._entries.pop(key, None)

    def keys(self) -> list[str]:
        """Cached voices, least recently used first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# --------------------------------------------------------------------------------------------
# The GPU queue.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobContext:
    """What a job's work receives on the GPU thread."""

    model: ChatterboxModel
    emit: Callable[[Audio], None]
    cancelled: Callable[[], bool]


Work = Callable[[JobContext], None]


@dataclass(frozen=True)
class _Started:
    index: int


@dataclass(frozen=True)
class _Piece:
    index: int
    audio: Audio


@dataclass(frozen=True)
class _Finished:
    index: int
    error: BaseException | None = None


_Event = _Started | _Piece | _Finished


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    stream: SynthesisStream = field(compare=False)
    index: int = field(compare=False)
    work: Work = field(compare=False)


class SynthesisStream:
    """One synthesis's jobs on a `GpuScheduler` and the audio coming back from them, in order.

    Jobs of one stream run in submission order (the first outranks the rest, the rest are
    ordered by arrival), so pieces arrive in order without re-sequencing.
    """

    def __init__(self, scheduler: GpuScheduler, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduler = scheduler
        self._loop = loop
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._cancelled = threading.Event()
        self._submitted = 0

    @property
    def cancelled(self) -> bool:
        """Whether the stream was cancelled (its results are no longer wanted)."""
        return self._cancelled.is_set()

    def submit(self, work: Work, *, priority: int | None = None) -> int:
        """Queue `work`; returns its index in this stream."""
        index = self._submitted
        if priority is None:
            priority = FIRST_CHUNK_PRIORITY if index == 0 else LATER_CHUNK_PRIORITY
        self._scheduler._enqueue(self, index, work, priority)
        self._submitted += 1
        return index

    def cancel(self) -> int:
        """Drop this stream's queued jobs and ignore the running one; returns how many dropped.

        Immediate: it waits for nothing, because a generation already on the GPU cannot be
        interrupted (token-streaming work stops at its next chunk).
        """
        self._cancelled.set()
        return self._scheduler._drop(self)

    def _post(self, event: _Event) -> None:
        """Hand an event to the consumer's event loop (called from the GPU thread)."""
        if self._cancelled.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:
            # The consumer's loop is closed: nobody will read this stream again.
            self._cancelled.set()

    async def results(self) -> AsyncGenerator[tuple[int, Audio, bool], None]:
        """(job index, audio, first piece of that job) for every piece, in order.

        A job may wait in the queue `queue_timeout_s` and run `job_timeout_s`; past either the
        stream is cancelled and `ChatterboxTimeoutError` raised. A failed job cancels the stream
        and raises `ChatterboxError` from the model's exception.
        """
        scheduler = self._scheduler
        remaining = self._submitted
        limit, waiting_for = scheduler.queue_timeout_s, "the GPU queue"
        deadline = self._loop.time() + limit
        first_piece = True
        while remaining:
            try:
                async with asyncio.timeout_at(deadline):
                    event = await self._events.get()
            except TimeoutError:
                self.cancel()
                raise ChatterboxTimeoutError(
                    f"TTS job waited over {limit:.1f} s for {waiting_for}"
                ) from None
            if isinstance(event, _Started):
                limit, waiting_for = scheduler.job_timeout_s, "its generation"
                deadline = self._loop.time() + limit
                first_piece = True
            elif isinstance(event, _Piece):
                yield event.index, event.audio, first_piece
                first_piece = False
            else:
                if event.error is not None:
                    self.cancel()
                    raise ChatterboxError(f"TTS job failed: {event.error!r}") from event.error
                remaining -= 1
                limit, waiting_for = scheduler.queue_timeout_s, "the GPU queue"
                deadline = self._loop.time() + limit


class GpuScheduler:
    """One worker thread that owns the model and runs jobs by (priority, arrival).

    A thread of its own rather than the default executor: the model (and its CUDA context)
    is touched from one thread only, and nothing else in the process queues in front of it.
    """

    def __init__(
        self,
        model: ChatterboxModel,
        *,
        job_timeout_s: float = 15.0,
        queue_timeout_s: float = 30.0,
        name: str = "chatterbox-gpu",
    ) -> None:
        self.model = model
        self.job_timeout_s = job_timeout_s
        self.queue_timeout_s = queue_timeout_s
        self._name = name
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def open_stream(self) -> SynthesisStream:
        """A new stream whose results come back to the running event loop."""
        return SynthesisStream(self, asyncio.get_running_loop())

    def pending(self) -> int:
        """Jobs queued and not yet started."""
        with self._condition:
            return len(self._heap)

    def start(self) -> None:
        """Start the worker thread (done on the first job anyway)."""
        with self._condition:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closed:
            raise ChatterboxError("the GPU scheduler is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> bool:
        """Fail queued jobs, stop the worker, wait up to `timeout`; True when it stopped."""
        with self._condition:
            self._closed = True
            dropped, self._heap = self._heap, []
            self._condition.notify_all()
            thread = self._thread
        for job in dropped:
            job.stream._post(_Finished(job.index, ChatterboxError("the GPU scheduler closed")))
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _enqueue(self, stream: SynthesisStream, index: int, work: Work, priority: int) -> None:
        with self._condition:
            self._start_locked()
            heapq.heappush(self._heap, _Job(priority, next(self._seq), stream, index, work))
            self._condition.notify()

    def _drop(self, stream: SynthesisStream) -> int:
        with self._condition:
            kept = [job for job in self._heap if job.stream is not stream]
            dropped = len(self._heap) - len(kept)
            if dropped:
                heapq.heapify(kept)
                self._heap = kept
            return dropped

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
            if job.stream.cancelled:
                continue
            self._run_job(job)

    def _run_job(self, job: _Job) -> None:
        stream = job.stream
        stream._post(_Started(job.index))
        started = time.perf_counter()
        context = JobContext(
            model=self.model,
            emit=lambda audio: stream._post(_Piece(job.index, audio)),
            cancelled=lambda: stream.cancelled,
        )
        error: BaseException | None = None
        try:
            job.work(context)
        except Exception as exc:
            # One bad sentence fails its own synthesis, never the worker other calls share.
            _LOGGER.exception("TTS job failed")
            error = exc
        elapsed = time.perf_counter() - started
        if elapsed > self.job_timeout_s:
            _LOGGER.warning("TTS job ran %.1f s (limit %.1f s)", elapsed, self.job_timeout_s)
        stream._post(_Finished(job.index, error))
        if error is not None:
            # The rest of a failed synthesis is not worth GPU time: drop it here, before this
            # thread can pick its next sentence (the consumer may not have woken up yet).
            stream.cancel()


# --------------------------------------------------------------------------------------------
# The engine.
# --------------------------------------------------------------------------------------------


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

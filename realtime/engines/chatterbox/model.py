"""What the Chatterbox engine uses of chatterbox-tts (0.1.7): its two variants and its interface.

Typed as Protocols so the engine and its tests need neither the package nor a GPU: chatterbox-tts
is never imported at module level (see `loading`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

__all__ = ["ChatterboxModel", "StreamingChatterboxModel", "Variant"]

Variant = Literal["original", "turbo"]


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

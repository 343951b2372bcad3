"""Emotions into Chatterbox's expressive knobs: exaggeration, cfg_weight and temperature.

Exaggeration is also Chatterbox's only pacing knob (higher speaks faster; a lower cfg_weight
slows it back). Turbo honours temperature alone (`EmotionStyle.generation_kwargs`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from realtime.engines.chatterbox.model import Variant

__all__ = ["EMOTION_STYLES", "MIN_CFG_WEIGHT", "NEUTRAL", "EmotionStyle", "style_for"]

_LOGGER = logging.getLogger(__name__)

# chatterbox-tts 0.1.7 crashes on cfg_weight=0.0 (the original model's CFG path assumes two
# batch rows and 0.0 builds one), so no style may reach it: the smallest weight sent is this.
MIN_CFG_WEIGHT: Final = 0.05


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

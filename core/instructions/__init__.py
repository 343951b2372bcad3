"""Do/don't instructions at call time: which apply now, how they read in a prompt, and whether a
reply breaks a don't (cheap enough to run on every sentence before it is spoken)."""

from core.instructions.engine import (
    Breach,
    InstructionEngine,
    format_for_prompt,
    get_active_instructions,
    validate_response,
)

__all__ = [
    "Breach",
    "InstructionEngine",
    "format_for_prompt",
    "get_active_instructions",
    "validate_response",
]

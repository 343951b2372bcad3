"""What the simulated caller does, step by step: say, press keys, stay quiet, hang up.

A script is a JSON list (or an object with a `steps` list) of one-action objects:

    [
      {"say": "Hi, I'd like to book a cleaning."},
      {"say": "Actually, wait.", "barge_in_after_ms": 1200},
      {"dtmf": "12#"},
      {"silence": 6},
      {"hangup": true, "after_ms": 800}
    ]

- `say`: spoken once the agent's turn has finished playing, after a short pause; with
  `barge_in_after_ms`, spoken that long after the agent's next turn starts, over it.
- `dtmf`: keys pressed (one `dtmf` message each) once the agent's turn has finished.
- `silence`: seconds of quiet once the agent's turn has finished (to hear a reprompt).
- `hangup`: `stop` once the agent's turn has finished; with `after_ms`, that long into the
  agent's next turn (hanging up mid-sentence).

After the last step the caller waits for the agent's answer to finish and hangs up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

__all__ = [
    "DtmfStep",
    "HangupStep",
    "SayStep",
    "ScriptError",
    "ScriptStep",
    "SilenceStep",
    "load_script",
    "parse_script",
    "script_from_lines",
]

# A barge-in or mid-sentence hang-up later than this into the agent's turn is surely a typo.
MAX_OFFSET_MS: Final = 120_000
MAX_SILENCE_S: Final = 600.0


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SayStep(_Step):
    """Say `say`; with `barge_in_after_ms`, start that long into the agent's turn."""

    say: str = Field(min_length=1, max_length=2000)
    barge_in_after_ms: int | None = Field(None, ge=0, le=MAX_OFFSET_MS)


class DtmfStep(_Step):
    """Press these keys, in order."""

    dtmf: str = Field(min_length=1, max_length=32, pattern=r"^[0-9*#A-D]+$")


class SilenceStep(_Step):
    """Stay quiet this many seconds."""

    silence: float = Field(gt=0, le=MAX_SILENCE_S)


class HangupStep(_Step):
    """Hang up; with `after_ms`, that long into the agent's next turn."""

    hangup: Literal[True] = True
    after_ms: int | None = Field(None, ge=0, le=MAX_OFFSET_MS)


_ACTIONS: Final = ("say", "dtmf", "silence", "hangup")


def _action(value: Any) -> str | None:
    """The step's kind, from the one action key it carries (clean errors, one model tried)."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        return None
    present = [key for key in _ACTIONS if key in value]
    return present[0] if len(present) == 1 else None


ScriptStep: TypeAlias = Annotated[
    Annotated[SayStep, Tag("say")]
    | Annotated[DtmfStep, Tag("dtmf")]
    | Annotated[SilenceStep, Tag("silence")]
    | Annotated[HangupStep, Tag("hangup")],
    Discriminator(
        _action,
        custom_error_type="script_step",
        custom_error_message="a step needs exactly one of: say, dtmf, silence, hangup",
    ),
]

_STEPS: Final = TypeAdapter(list[ScriptStep])


class ScriptError(ValueError):
    """A script that cannot be run; the message says which step and why."""


def parse_script(data: Any) -> list[ScriptStep]:
    """Steps from parsed JSON: a list of steps, or an object with a `steps` list."""
    if isinstance(data, dict) and "steps" in data:
        data = data["steps"]
    if not isinstance(data, list) or not data:
        raise ScriptError('a script is a non-empty list of steps (or {"steps": [...]})')
    try:
        return _STEPS.validate_python(data)
    except ValidationError as exc:
        problems = [
            f"step {int(error['loc'][0]) + 1}"
            + "".join(f".{part}" for part in error["loc"][2:])
            + f": {error['msg']}"
            if error["loc"] and isinstance(error["loc"][0], int)
            else error["msg"]
            for error in exc.errors()
        ]
        raise ScriptError("; ".join(problems)) from None


def load_script(path: Path) -> list[ScriptStep]:
    """Steps from a JSON script file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ScriptError(f"{path}: not JSON ({exc})") from None
    return parse_script(data)


def script_from_lines(lines: Sequence[str]) -> list[ScriptStep]:
    """One `say` step per line, as `--say` gives them."""
    return parse_script([{"say": line} for line in lines])

"""A scenario: one simulated caller, what it knows, how it says it, and what the call must end in.

Scenarios are YAML files, `tests/eval/scenarios/<agent>/<id>.yaml`:

    id: appt-three-facts-at-once        # = the file's stem
    agent: appointment_scheduler        # examples/<agent>.json
    today: "2026-12-01"                 # relative dates resolve against it (this is the default)
    description: One line.
    facts: {service: cleaning, date: "2026-12-04", time: "15:00"}   # the truth, by field
    say: {date: ["this friday"], time: ["three in the afternoon", "three pm"]}
    topics: {service: ["treatment"]}    # optional: more words that point at a field
    knowledge: dental_clinic            # optional: examples/knowledge/<name>.json, looked up
    script:                             # optional moves, each used once, in order
      - {on: start, say: "Hi, a cleaning this Friday at three.", hangup: false}
      - {on: next, say: "Are you open Saturdays?", answer_has: [["9", "nine"]], answer_lacks: ["$"]}
    expect: {complete: true}

`load_scenario` reads a file and `parse_scenario` YAML text (a scenario posted to the API, or
a file's contents); both check the shape. Aliases (`*name`) are refused: a few kilobytes of
nested aliases expand to billions of nodes, and scenarios reach the worker from the API.
`Scenario.truths` checks every field name and fact against the agent the scenario runs with,
each error naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.fields import DataField
from workers.eval.truth import Truth, TruthError, parse_truth

DEFAULT_TODAY = dt.date(2026, 12, 1)
POSTED: Final = "scenario"
"""Where the errors of a scenario sent as text say it came from (a file's name the file)."""
SCENARIO_SUFFIXES = (".yaml", ".yml")
TRIGGER_PATTERN = r"^(start|next|readback|ask:[a-z][a-z0-9_]*)$"


class ScenarioError(ValueError):
    """A scenario file that cannot be run, with the file and the key at fault."""

    def __init__(self, path: Path | str, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")
        self.path = Path(path)
        self.key = key


class ScriptMove(BaseModel):
    """A line the caller says once, when its trigger comes (after the moves before it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on: Annotated[str, Field(pattern=TRIGGER_PATTERN)]
    """`start`, `next` (the very next caller turn), `readback` or `ask:<field>`."""
    say: Annotated[str, Field(min_length=1)]
    hangup: bool = False
    answer_has: list[list[str]] = Field(default_factory=list)
    """Groups of words; the agent's reply to this line holds one of each group (a question
    answered from knowledge: `[["saturday"], ["9", "nine"]]`)."""
    answer_lacks: list[str] = Field(default_factory=list)
    """Words the agent's reply to this line must not hold (a price it must not discuss)."""

    @field_validator("answer_has", mode="before")
    @classmethod
    def _groups(cls, value: Any) -> Any:
        # A bare word is a group of one; YAML reads `9` as a number.
        if not isinstance(value, list):
            return value
        return [[str(w) for w in _as_list(g)] for g in value]

    @field_validator("answer_lacks", mode="before")
    @classmethod
    def _words(cls, value: Any) -> Any:
        return [str(w) for w in value] if isinstance(value, list) else value

    def check_answer(self, reply: str) -> list[str]:
        """What the agent's `reply` to this line misses or says that it must not."""
        said = reply.lower()
        problems = [
            f"the answer to {self.say!r} has none of {group}"
            for group in self.answer_has
            if not any(word.lower() in said for word in group)
        ]
        problems += [
            f"the answer to {self.say!r} says {word!r}"
            for word in self.answer_lacks
            if word.lower() in said
        ]
        return problems

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, value: Any) -> Any:
        # YAML 1.1 reads the key `on` as the boolean true.
        if isinstance(value, Mapping) and True in value:
            value = {("on" if key is True else key): item for key, item in value.items()}
        return value

    @property
    def asked_field(self) -> str | None:
        """The field of an `ask:<field>` trigger."""
        return self.on.removeprefix("ask:") if self.on.startswith("ask:") else None


class Expectation(BaseModel):
    """What the call must end in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    complete: bool = True
    """Whether the agent's goals are met when the call ends."""


class Scenario(BaseModel):
    """One simulated caller against one agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=120)]
    agent: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    today: dt.date = DEFAULT_TODAY
    description: str = ""
    knowledge: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    """A domain file, `examples/knowledge/<knowledge>.json`, that the agent answers from."""
    facts: dict[str, Any] = Field(default_factory=dict)
    say: dict[str, list[str]] = Field(default_factory=dict)
    topics: dict[str, list[str]] = Field(default_factory=dict)
    script: list[ScriptMove] = Field(default_factory=list)
    expect: Expectation = Field(default_factory=Expectation)
    source: Path | None = Field(None, exclude=True)
    """The file it was read from (for error messages)."""

    @field_validator("say", mode="before")
    @classmethod
    def _phrasings(cls, value: Any) -> Any:
        # YAML reads `yes` as True and `4` as 4; a caller says them as words.
        if not isinstance(value, Mapping):
            return value
        return {key: [_spoken(item) for item in _as_list(items)] for key, items in value.items()}

    @field_validator("topics", mode="before")
    @classmethod
    def _topic_lists(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {key: [str(item) for item in _as_list(items)] for key, items in value.items()}

    def truths(self, fields: Mapping[str, DataField]) -> dict[str, Truth]:
        """The facts checked against the agent's `fields`; ScenarioError names the bad key."""
        where = self.source or self.id
        for section, names in (("facts", self.facts), ("say", self.say), ("topics", self.topics)):
            for name in names:
                if name not in fields:
                    raise ScenarioError(
                        where, f"{section}.{name}", f"no such field ({_known(fields)})"
                    )
        for index, move in enumerate(self.script):
            asked = move.asked_field
            if asked is not None and asked not in fields:
                raise ScenarioError(
                    where, f"script[{index}].on", f"no such field {asked!r} ({_known(fields)})"
                )
            if move.on == "start" and index != 0:
                raise ScenarioError(where, f"script[{index}].on", "`start` is the first move only")
        truths: dict[str, Truth] = {}
        for name, raw in self.facts.items():
            try:
                truths[name] = parse_truth(fields[name], raw)
            except TruthError as exc:
                raise ScenarioError(where, f"facts.{name}", str(exc)) from None
        return truths


def load_scenario(path: Path) -> Scenario:
    """The scenario in the YAML file at `path`, whose id is the file's stem; ScenarioError if
    it is malformed."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioError(path, "", str(exc)) from exc
    scenario = parse_scenario(text, path)
    if scenario.id != path.stem:
        raise ScenarioError(path, "id", f"{scenario.id!r} is not the file's stem {path.stem!r}")
    return scenario


def parse_scenario(text: str, path: Path | None = None) -> Scenario:
    """The scenario in YAML `text`, read from the file at `path` (None: sent as text, as to the
    API); ScenarioError naming the file (or POSTED) and the key at fault."""
    where: Path | str = POSTED if path is None else path
    yaml = _yaml()
    try:
        document = yaml.load(text, Loader=_loader())
    except _AliasRefused as exc:
        raise ScenarioError(where, "", str(exc)) from None
    except yaml.YAMLError as exc:
        # A file's error shows its name and PyYAML's position; text sent to the API is told
        # what kind of error it has.
        message = str(exc) if path is not None else f"not valid YAML: {exc}"
        raise ScenarioError(where, "", message) from None
    if not isinstance(document, dict):
        raise ScenarioError(where, "", "a scenario is a YAML mapping")
    document.pop("source", None)  # where a scenario was read from: not its author's to say
    try:
        return Scenario.model_validate({**document, "source": path})
    except ValidationError as exc:
        error = exc.errors()[0]
        key = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        ).lstrip(".")
        raise ScenarioError(where, key, error["msg"]) from None


def find_scenarios(paths: Iterable[Path]) -> list[Path]:
    """The scenario files among `paths`, folders searched recursively, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in SCENARIO_SUFFIXES)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


class _AliasRefused(Exception):
    """An alias in a scenario (see `_loader`)."""


@functools.cache
def _loader() -> Any:
    """PyYAML's safe loader, refusing aliases before it follows one (PyYAML is imported late:
    a dev dependency, so the class is made on first use)."""
    yaml = _yaml()
    safe_loader: Any = yaml.SafeLoader

    class NoAliasLoader(safe_loader):  # type: ignore[misc]
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                mark = event.start_mark
                raise _AliasRefused(
                    f"YAML aliases (*{event.anchor}) are not allowed "
                    f"(line {mark.line + 1}, column {mark.column + 1}): write the value out"
                )
            return super().compose_node(parent, index)

    return NoAliasLoader


def _yaml() -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError as exc:  # a dev dependency: the platform itself never reads YAML
        raise ScenarioError("", "", "reading scenarios needs PyYAML: pip install pyyaml") from exc
    return yaml


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _spoken(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | dt.date):
        return str(value)
    return value


def _known(fields: Mapping[str, DataField]) -> str:
    return "the agent has " + ", ".join(fields)

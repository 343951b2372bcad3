"""GoalManager: which data a call still needs, which goals it has met, and what to do next.

Pure and deterministic — no I/O, clock or randomness — because the same code runs inside the
Temporal `CallWorkflow` (the durable authority on goal completion) and in the realtime process
(which keeps a local copy so the audio path never waits on Temporal). Both must reach the same
answer from the same captures.

Rules:

- A field is identified by its name across all goals: the same name in two goals is one value,
  captured once and counted for both. Where two goals declare it differently, the first goal's
  declaration (type, description, options) is the one used.
- Success criteria, per value (fields found by `core.goals.criteria.fields_for_criterion` over
  the goal's own required data):
  `true` or a field's name — met when every field the criterion is about is captured;
  `false` — the criterion is switched off: always met, never asked for on its own account;
  a number — met when every field it is about holds a number ≥ that number.
  A criterion about no field is never met (validation refuses such agents; a goal that cannot be
  decided must not be reported as done). A goal with no criteria is complete when all of its
  required data is captured.
- A goal is complete when all its criteria are met. Completion is reported once per goal
  (`CaptureResult.newly_completed`), so the workflow sends one `goal.completed` webhook even if
  a later correction unmeets and remeets a threshold.
- The next action: ask for the first missing field of the first incomplete goal (goal order,
  then `required_data` order); a goal that is complete with all its fields captured has its
  unconfirmed fields confirmed when the walk reaches it; fields that complete goals still lack
  are asked once no incomplete goal has anything left to ask; then whatever is still
  unconfirmed is confirmed; then close. "close" does not mean every goal is met: a goal whose
  threshold the caller's answer missed cannot be helped by asking again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from core.agents.spec import CriterionValue, GoalSpec
from core.fields import DataField, field_description
from core.fields.values import FieldScalar, normalise_value
from core.goals.criteria import fields_for_criterion

SNAPSHOT_VERSION = 1

ActionKind = Literal["ask", "confirm", "close"]


@dataclass(frozen=True)
class NextAction:
    """What the agent should do next: ask for a field, confirm captured ones, or close."""

    kind: ActionKind
    goal: str | None
    """The goal the action serves; None for "close" and for a confirmation spanning goals."""
    field: str | None
    """For "ask": the field to ask for."""
    fields: tuple[str, ...] = ()
    """For "confirm": the captured, unconfirmed fields to read back (for "ask": the one field)."""
    description: str = ""
    """The field's description (for "confirm", the fields' descriptions joined), for phrasing."""


@dataclass(frozen=True)
class CaptureResult:
    """The outcome of `GoalManager.track_progress` for one captured value."""

    field: str
    accepted: bool
    value: FieldScalar | None
    """The canonical value stored; None when refused."""
    reason: str
    """Why the value was refused; "" when accepted."""
    newly_completed: list[str]
    """Goals that became complete with this capture (each goal is reported once, ever)."""


@dataclass(frozen=True)
class CriterionState:
    """One success criterion: the fields it is about and whether it is met."""

    name: str
    fields: tuple[str, ...]
    met: bool


@dataclass(frozen=True)
class GoalState:
    """One goal's progress."""

    name: str
    complete: bool
    criteria: tuple[CriterionState, ...]
    missing_fields: tuple[str, ...]
    """Required data not yet captured, in `required_data` order."""


@dataclass(frozen=True)
class _Criterion:
    name: str
    value: CriterionValue
    fields: tuple[str, ...]


@dataclass(frozen=True)
class _Goal:
    name: str
    fields: tuple[str, ...]
    criteria: tuple[_Criterion, ...]


class GoalManager:
    """Tracks captured data against an ordered list of goals and decides the next action."""

    def __init__(self, goals: Sequence[GoalSpec]) -> None:
        """Prepare the goals' fields and criteria; no data is captured yet."""
        self._fields: dict[str, DataField] = {}
        self._goals: list[_Goal] = []
        for goal in goals:
            names = tuple(f.name for f in goal.required_data)
            for data_field in goal.required_data:
                self._fields.setdefault(data_field.name, data_field)
            criteria = tuple(
                _Criterion(name, value, tuple(fields_for_criterion(name, value, names)))
                for name, value in goal.success_criteria.items()
            )
            self._goals.append(_Goal(goal.name, names, criteria))
        self._captured: dict[str, FieldScalar] = {}
        self._confirmed: set[str] = set()
        self._reported: set[str] = set()

    # -- state -------------------------------------------------------------------------------

    @property
    def captured(self) -> dict[str, FieldScalar]:
        """Captured values by field name, in canonical form (a copy)."""
        return dict(self._captured)

    @property
    def confirmed(self) -> frozenset[str]:
        """Names of captured fields the caller has confirmed."""
        return frozenset(self._confirmed)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every known field, in first-declared order."""
        return tuple(self._fields)

    @property
    def fields(self) -> Mapping[str, DataField]:
        """Every known field's declaration (the first goal's wins), in first-declared order."""
        return MappingProxyType(self._fields)

    def snapshot(self) -> dict[str, Any]:
        """The captured state as plain JSON-safe data, for `from_snapshot` (goals not included)."""
        return {
            "version": SNAPSHOT_VERSION,
            "captured": dict(self._captured),
            "confirmed": sorted(self._confirmed),
            "completed": sorted(self._reported),
        }

    @classmethod
    def from_snapshot(cls, goals: Sequence[GoalSpec], snapshot: Mapping[str, Any]) -> GoalManager:
        """A manager over `goals` with the state `snapshot()` recorded.

        Values are checked again on the way in, so a snapshot that does not fit the goals
        (a field unknown to them, a value their types refuse) raises ValueError rather than
        quietly restoring something the goals never accepted.
        """
        version = snapshot.get("version")
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported goal snapshot version {version!r}")
        manager = cls(goals)
        for name, raw in dict(snapshot.get("captured", {})).items():
            if name not in manager._fields:
                raise ValueError(f"snapshot field {name!r} is not required data of these goals")
            result = normalise_value(manager._fields[name], raw)
            if not result.accepted or result.value is None:
                raise ValueError(f"snapshot value for {name!r} is refused: {result.reason}")
            manager._captured[name] = result.value
        manager._confirmed = {str(n) for n in snapshot.get("confirmed", [])} & set(
            manager._captured
        )
        known_goals = {goal.name for goal in manager._goals}
        manager._reported = {str(n) for n in snapshot.get("completed", [])} & known_goals
        return manager

    # -- the seed's methods ------------------------------------------------------------------

    def start_conversation(self) -> NextAction:
        """The opening action: for a fresh manager, the first field to ask for.

        State is kept, so a manager restored mid-call resumes where it was.
        """
        return self.get_next_action()

    def track_progress(self, field: str, value: object) -> CaptureResult:
        """Record `value` for `field` if its type accepts it; report goals it completed.

        A new value for an already captured field is a correction: it replaces the old one and
        clears the field's confirmation (the caller confirmed the old value, not this one).
        Repeating the same value keeps the confirmation.
        """
        data_field = self._fields.get(field)
        if data_field is None:
            known = ", ".join(self._fields) or "none"
            reason = f"unknown field {field!r}; the goals' fields are: {known}"
            return CaptureResult(field, False, None, reason, [])
        result = normalise_value(data_field, value)
        if not result.accepted or result.value is None:
            return CaptureResult(field, False, None, result.reason, [])
        if self._captured.get(field) != result.value:
            self._confirmed.discard(field)
        self._captured[field] = result.value
        newly = [
            goal.name
            for goal in self._goals
            if goal.name not in self._reported and self._goal_complete(goal)
        ]
        self._reported.update(newly)
        return CaptureResult(field, True, result.value, "", newly)

    def confirm(self, fields: Iterable[str] | None = None) -> list[str]:
        """Mark captured fields as confirmed by the caller (all captured ones if None).

        Names not captured are ignored: there is nothing to confirm. Returns the fields that
        were newly confirmed, in capture order.
        """
        wanted = set(self._captured) if fields is None else set(fields)
        newly = [n for n in self._captured if n in wanted and n not in self._confirmed]
        self._confirmed.update(newly)
        return newly

    def check_completion(self) -> bool:
        """Whether every goal is complete."""
        return all(self._goal_complete(goal) for goal in self._goals)

    def goal_states(self) -> list[GoalState]:
        """Every goal's progress, in goal order."""
        return [
            GoalState(
                name=goal.name,
                complete=self._goal_complete(goal),
                criteria=tuple(
                    CriterionState(c.name, c.fields, self._criterion_met(c)) for c in goal.criteria
                ),
                missing_fields=self._missing(goal),
            )
            for goal in self._goals
        ]

    def get_next_action(self) -> NextAction:
        """Ask, confirm or close, by the order described in this module's docstring."""
        deferred: NextAction | None = None
        for goal in self._goals:
            missing = self._missing(goal)
            complete = self._goal_complete(goal)
            if missing and not complete:
                return self._ask(goal.name, missing[0])
            if missing:
                # A complete goal's remaining data waits until no incomplete goal needs asking.
                deferred = deferred or self._ask(goal.name, missing[0])
                continue
            unconfirmed = self._unconfirmed(goal.fields)
            if complete and unconfirmed:
                return self._confirm(goal.name, unconfirmed)
        if deferred is not None:
            return deferred
        # Left: fields of goals that cannot complete (a missed threshold, a criterion about no
        # field), which asking again cannot help; read them back before closing all the same.
        unconfirmed = self._unconfirmed(self._fields)
        if unconfirmed:
            return self._confirm(None, unconfirmed)
        return NextAction(kind="close", goal=None, field=None)

    # -- internals ---------------------------------------------------------------------------

    def _missing(self, goal: _Goal) -> tuple[str, ...]:
        return tuple(name for name in goal.fields if name not in self._captured)

    def _unconfirmed(self, names: Iterable[str]) -> tuple[str, ...]:
        return tuple(n for n in names if n in self._captured and n not in self._confirmed)

    def _criterion_met(self, criterion: _Criterion) -> bool:
        value = criterion.value
        if value is False:
            return True
        if not criterion.fields:
            return False
        if isinstance(value, bool | str):
            return all(name in self._captured for name in criterion.fields)
        threshold = float(value)
        for name in criterion.fields:
            captured = self._captured.get(name)
            # Only a number can clear a threshold; a bool is an int to Python, not to a caller.
            if not isinstance(captured, float) or captured < threshold:
                return False
        return True

    def _goal_complete(self, goal: _Goal) -> bool:
        if not goal.criteria:
            return not self._missing(goal)
        return all(self._criterion_met(c) for c in goal.criteria)

    def _describe(self, name: str) -> str:
        return self._fields[name].description or field_description(name)

    def _ask(self, goal: str, name: str) -> NextAction:
        return NextAction(
            kind="ask", goal=goal, field=name, fields=(name,), description=self._describe(name)
        )

    def _confirm(self, goal: str | None, names: tuple[str, ...]) -> NextAction:
        descriptions = [self._describe(n) for n in names]
        if len(descriptions) > 1:
            text = f"{', '.join(descriptions[:-1])} and {descriptions[-1]}"
        else:
            text = descriptions[0]
        return NextAction(kind="confirm", goal=goal, field=None, fields=names, description=text)

"""Judging one call against its scenario: did the goals end as expected, was each fact right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.fields import FieldScalar, FieldType
from workers.eval.cases import EvalCase
from workers.eval.record import CallRecord
from workers.eval.truth import Truth, matches


@dataclass(frozen=True)
class FieldCheck:
    """One fact: its truth, what the agent recorded, and whether they agree."""

    name: str
    type: FieldType
    truth: Truth
    recorded: FieldScalar | None
    correct: bool

    def as_dict(self) -> dict[str, Any]:
        """The check for the JSON report."""
        return {
            "field": self.name,
            "type": self.type.value,
            "truth": self.truth,
            "recorded": self.recorded,
            "correct": self.correct,
        }


@dataclass(frozen=True)
class ScenarioResult:
    """One scenario's call and its verdict."""

    case: EvalCase
    record: CallRecord
    checks: list[FieldCheck]

    @property
    def id(self) -> str:
        """The scenario's id."""
        return self.case.scenario.id

    @property
    def expected_complete(self) -> bool:
        """Whether the scenario expects the agent's goals met."""
        return self.case.scenario.expect.complete

    @property
    def passed(self) -> bool:
        """The goals ended as expected, questions were answered as expected, and the call did
        not fail on the way."""
        return (
            self.record.completed == self.expected_complete
            and self.record.failure is None
            and not self.record.answer_problems
        )

    @property
    def why_failed(self) -> str:
        """In words, why the scenario did not pass ("" if it did)."""
        if self.record.failure is not None:
            return self.record.failure
        if self.record.completed != self.expected_complete:
            return (
                "goals not met" if self.expected_complete else "goals met, but expected not to be"
            ) + f" ({self.record.end_reason})"
        if self.record.answer_problems:
            return "; ".join(self.record.answer_problems)
        return ""


def judge(case: EvalCase, record: CallRecord) -> ScenarioResult:
    """The verdict on `record`, a call played for `case`."""
    checks = [
        FieldCheck(
            name,
            case.fields[name].type,
            truth,
            record.captured.get(name),
            matches(case.fields[name], truth, record.captured.get(name)),
        )
        for name, truth in case.truths.items()
    ]
    return ScenarioResult(case, record, checks)

"""Goals: how a goal's success criteria relate to the data it collects."""

from core.fields.values import FieldScalar, FieldValue, normalise_value
from core.goals.manager import (
    CaptureResult,
    CriterionState,
    GoalManager,
    GoalState,
    NextAction,
)

__all__ = [
    "CaptureResult",
    "CriterionState",
    "FieldScalar",
    "FieldValue",
    "GoalManager",
    "GoalState",
    "NextAction",
    "normalise_value",
]

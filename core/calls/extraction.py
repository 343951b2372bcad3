"""The deterministic post-call extractor: what the call captured, plus what plain patterns find
in the caller's words for fields still missing (emails, phone numbers, times, numbers), all
checked by the same value rules as live captures. Used when no LLM is configured, and as the
fallback when the LLM fails."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.agents.spec import GoalSpec
from core.calls.types import CallAnalysis, GoalResult, Speaker, TurnEvent
from core.fields import FieldType
from core.goals.manager import GoalManager

_PATTERNS: dict[FieldType, re.Pattern[str]] = {
    FieldType.EMAIL: re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    FieldType.PHONE: re.compile(r"\+?\d[\d\s().-]{6,}\d"),
    FieldType.TIME: re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d\b"),
    FieldType.DATE: re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    FieldType.NUMBER: re.compile(r"\$?\d[\d,]*(?:\.\d+)?k?\b"),
}
SUMMARY_QUOTE_CHARS = 160


def analyse(
    goals: Sequence[GoalSpec], transcript: Sequence[TurnEvent], captured: Mapping[str, Any]
) -> CallAnalysis:
    """Extracted data, a per-goal verdict and a short factual summary, without an LLM."""
    manager = GoalManager(goals)
    for name, value in captured.items():
        manager.track_progress(name, value)
    caller_text = " ".join(t.text for t in transcript if t.speaker is Speaker.CALLER)
    fields = {f.name: f for goal in goals for f in goal.required_data}
    for name, data_field in fields.items():
        pattern = _PATTERNS.get(data_field.type)
        if name in manager.captured or pattern is None:
            continue
        for match in pattern.finditer(caller_text):
            if manager.track_progress(name, match.group(0)).accepted:
                break
    return CallAnalysis(
        summary=summarise(goals, transcript, manager),
        extracted=dict(manager.captured),
        goals=goal_results(manager),
        method="deterministic",
    )


def goal_results(manager: GoalManager) -> list[GoalResult]:
    """The verdict per goal from a manager's state."""
    return [
        GoalResult(name=g.name, success=g.complete, missing_fields=list(g.missing_fields))
        for g in manager.goal_states()
    ]


def summarise(
    goals: Sequence[GoalSpec], transcript: Sequence[TurnEvent], manager: GoalManager
) -> str:
    """A few plain sentences: length, goals met, data captured, what the caller first said."""
    states = manager.goal_states()
    met = [g.name for g in states if g.complete]
    parts = [f"{len(transcript)} turns."]
    if goals:
        parts.append(f"Goals met: {', '.join(met)}." if met else "No goal was met.")
    if manager.captured:
        captured = ", ".join(f"{k} = {v}" for k, v in manager.captured.items())
        parts.append(f"Captured: {captured}.")
    first = next((t.text for t in transcript if t.speaker is Speaker.CALLER and t.text), None)
    if first:
        quote = first if len(first) <= SUMMARY_QUOTE_CHARS else first[:SUMMARY_QUOTE_CHARS] + "…"
        parts.append(f'The caller opened with: "{quote}"')
    return " ".join(parts)

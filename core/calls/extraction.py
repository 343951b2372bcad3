"""The deterministic post-call extractor: what the call captured, plus what the field readers
(`core.fields.reading`, the same ones the guided brain uses live) find in the caller's words for
fields still missing — "next Tuesday", "half past four", "five five five, oh one two three" —
all checked by the same value rules as live captures. Used when no LLM is configured, as the
fallback when the LLM fails, and to read the LLM's own answers when it gives words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.agents.spec import GoalSpec
from core.calls.types import CallAnalysis, GoalResult, Speaker, TurnEvent
from core.fields import DataField
from core.fields.phrasing import label, question
from core.fields.reading import ReadContext, read_value
from core.fields.speech import normalise
from core.goals.manager import GoalManager

SUMMARY_QUOTE_CHARS = 160


def call_day(transcript: Sequence[TurnEvent]) -> dt.date:
    """The day the call took place, from its first timed turn (else today, UTC)."""
    for turn in transcript:
        if turn.started_at:
            try:
                return dt.datetime.fromisoformat(turn.started_at).date()
            except ValueError:
                continue
    return dt.datetime.now(dt.UTC).date()


def read_answer(data_field: DataField, words: str, today: dt.date) -> object | None:
    """A field's value as its reader finds it in `words` (the caller's or an LLM's), or None."""
    reading = read_value(data_field, normalise(words), ReadContext(today=today, asked=True))
    return None if reading is None else reading.value


def _was_asked(data_field: DataField, agent_words: str) -> bool:
    said = agent_words.lower()
    return question(data_field).lower() in said or bool(
        re.search(rf"\b{re.escape(label(data_field))}\b", said)
    )


def analyse(
    goals: Sequence[GoalSpec], transcript: Sequence[TurnEvent], captured: Mapping[str, Any]
) -> CallAnalysis:
    """Extracted data, a per-goal verdict and a short factual summary, without an LLM."""
    manager = GoalManager(goals)
    for name, value in captured.items():
        manager.track_progress(name, value)
    today = call_day(transcript)
    fields = {f.name: f for goal in goals for f in goal.required_data}
    agent_words = ""
    for turn in transcript:
        if turn.speaker is not Speaker.CALLER:
            agent_words = turn.text
            continue
        text = normalise(turn.text)
        for name, data_field in fields.items():
            if name in captured:
                continue  # live captures, confirmed or corrected on the call, always win
            asked = _was_asked(data_field, agent_words)
            reading = read_value(data_field, text, ReadContext(today=today, asked=asked))
            if reading is not None:
                manager.track_progress(name, reading.value)  # a later answer corrects
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

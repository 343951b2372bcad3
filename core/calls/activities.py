"""The activities a call needs, by name and payload. Workflows name activities by these
strings (they never import `activities/`); the activity classes register under them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.calls.types import CallAnalysis, DeliveryInput, Direction, TurnEvent

RECORD_CALL_STARTED = "record_call_started"
RECORD_TURNS = "record_turns"
RECORD_CALL_ENDED = "record_call_ended"
ANALYZE_CALL = "analyze_call"
HANG_UP_CALL = "hang_up_call"
RECORD_WEBHOOK_DELIVERY = "record_webhook_delivery"
DELIVER_WEBHOOK = "deliver_webhook"
FINISH_WEBHOOK_DELIVERY = "finish_webhook_delivery"
COLLECT_SPOOLED = "collect_spooled"


@dataclass
class CallStarted:
    """Input of `record_call_started`."""

    call_sid: str
    workflow_id: str
    agent_id: int | None
    direction: Direction
    from_number: str
    to_number: str
    agent_snapshot: dict[str, Any]


@dataclass
class TurnsToRecord:
    """Input of `record_turns` (idempotent by turn `seq`)."""

    call_sid: str
    turns: list[TurnEvent]


@dataclass
class CallFinished:
    """Input of `record_call_ended`."""

    call_sid: str
    outcome: str
    end_reason: str
    analysis: CallAnalysis
    started: CallStarted | None = None
    """The call's start, so its row is created here if `record_call_started` never got in."""


@dataclass
class AnalysisInput:
    """Input of `analyze_call`: the transcript, the goals and what was captured live."""

    call_sid: str
    goals: list[dict[str, Any]]
    transcript: list[TurnEvent]
    captured: dict[str, Any]
    completed_goals: list[str] = field(default_factory=list)


@dataclass
class HangUp:
    """Input of `hang_up_call`."""

    call_sid: str
    reason: str


@dataclass
class DeliveryRecord:
    """Input of `record_webhook_delivery`: the delivery row, created once per webhook id."""

    delivery: DeliveryInput


@dataclass
class DeliveryFinished:
    """Input of `finish_webhook_delivery`."""

    webhook_id: str
    delivered: bool
    error: str | None = None

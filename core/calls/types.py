"""Payloads of the call workflow: one dataclass in, one dataclass out (fields can be added
backwards-compatibly). Shared by the workflow, its activities, the API and the realtime process;
they travel through Temporal with the pydantic data converter (`core.calls.temporal`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import TypeAdapter

from core.agents.snapshot import AgentSnapshot


def call_workflow_id(call_sid: str) -> str:
    """The workflow id of a call: `call-<CallSid>`."""
    return f"call-{call_sid}"


class Direction(StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Speaker(StrEnum):
    """Who spoke a turn."""

    CALLER = "caller"
    AGENT = "agent"


class CallStatus(StrEnum):
    """Where a call is in its life."""

    IN_PROGRESS = "in_progress"
    ANALYSING = "analysing"
    COMPLETED = "completed"


@dataclass
class WebhookRetry:
    """How long and how often a webhook is retried (Temporal owns the retries)."""

    initial_interval_s: float = 5.0
    maximum_interval_s: float = 3600.0
    deadline_s: float = 24 * 3600.0


@dataclass
class CallInput:
    """A call's frozen start: the agent as it was configured when the call began, plus the
    call's metadata, so the call and its later analysis always use the config it ran with."""

    call_sid: str
    agent: AgentSnapshot
    compiled_prompt: str
    direction: Direction = Direction.INBOUND
    from_number: str = ""
    to_number: str = ""
    webhook_urls: list[str] = field(default_factory=list)
    max_call_seconds: float = 1800.0
    inactivity_seconds: float = 120.0
    webhook_retry: WebhookRetry = field(default_factory=WebhookRetry)
    test: bool = False
    """A test call from the web console, not a caller: its webhooks say `"test": true`, so a
    business system can tell a trial booking from a real one."""


@dataclass
class TurnEvent:
    """One finished turn, sent by the realtime process; idempotent by `seq`."""

    seq: int
    speaker: Speaker
    text: str
    interrupted: bool = False
    # Milliseconds per stage: end_of_turn, stt, brain_first_token, tts_first_audio, first_frame…
    latency_ms: dict[str, float] = field(default_factory=dict)
    started_at: str | None = None
    breaches: list[str] = field(default_factory=list)
    """Don'ts an agent sentence broke; the sentence was dropped before it was spoken."""


@dataclass
class FieldEvent:
    """A piece of required data the caller gave; checked against its field's type."""

    name: str
    value: Any
    turn_seq: int | None = None
    event_id: str | None = None
    """Unique within the call (`<turn seq>:<name>:<n>`): a re-sent event is applied once."""


class EndSource(StrEnum):
    """Who said the call is over."""

    REALTIME = "realtime"
    """The media stream's session: the agent closed, or the caller hung up (`stop`)."""
    TWILIO = "twilio"
    """A final status callback; the realtime's last turns may still be on their way."""
    API = "api"
    TIMER = "timer"


@dataclass
class CallEnded:
    """The call is over: the caller hung up, the agent closed, an admin ended it…"""

    reason: str
    source: EndSource = EndSource.REALTIME


@dataclass
class StreamAttached:
    """A realtime node started (or resumed) the call's media stream."""

    stream_sid: str
    node_id: str = ""
    resumed: bool = False


@dataclass
class StreamDetached:
    """A media stream ended while the call goes on (its node is draining or lost it)."""

    stream_sid: str
    reason: str = ""


@dataclass
class CallResume:
    """The answer of the `resume` query: what a new stream needs to pick the call up."""

    call_sid: str
    live: bool
    last_seq: int
    captured: dict[str, Any]
    transcript: list[TurnEvent]
    streams: int
    """How many media streams the call has had (the first one included)."""
    end_reason: str | None = None


@dataclass
class FieldCaptureResult:
    """What became of a field event (the answer of the `capture_field` update)."""

    name: str
    accepted: bool
    value: Any = None
    reason: str = ""
    newly_completed: list[str] = field(default_factory=list)


@dataclass
class CriterionProgress:
    """One success criterion and whether it is met."""

    name: str
    fields: list[str]
    met: bool


@dataclass
class GoalProgress:
    """One goal: complete or not, its criteria, the data still missing."""

    name: str
    complete: bool
    criteria: list[CriterionProgress]
    missing_fields: list[str]


@dataclass
class CallProgress:
    """The answer of the `progress` query: everything an operator or the API shows live."""

    call_sid: str
    status: CallStatus
    goals: list[GoalProgress]
    captured: dict[str, Any]
    rejected: list[FieldCaptureResult]
    next_action: dict[str, Any]
    turns: int
    end_reason: str | None = None
    outcome: str | None = None


@dataclass
class GoalResult:
    """Post-call verdict on one goal."""

    name: str
    success: bool
    missing_fields: list[str]


@dataclass
class CallAnalysis:
    """Post-call analysis: a summary, the extracted required data, a verdict per goal."""

    summary: str
    extracted: dict[str, Any]
    goals: list[GoalResult]
    method: str  # "llm" or "deterministic"


@dataclass
class CallResult:
    """What a finished call workflow returns."""

    call_sid: str
    outcome: str
    end_reason: str
    goals_completed: int
    analysis: CallAnalysis


class WebhookEvent(StrEnum):
    """Events business systems receive."""

    GOAL_COMPLETED = "goal.completed"
    CALL_COMPLETED = "call.completed"


@dataclass
class DeliveryInput:
    """One webhook to deliver: the same `webhook_id` on every attempt, so receivers dedupe."""

    webhook_id: str
    event_type: WebhookEvent
    url: str
    payload: dict[str, Any]
    call_sid: str | None = None
    retry: WebhookRetry = field(default_factory=WebhookRetry)
    organization_id: int | None = None
    """Whose endpoint this is (its secret, whether private addresses are allowed); None only in
    deliveries started before organizations, signed with the platform's fallback secret."""


@dataclass
class DeliveryResult:
    """How a delivery ended."""

    webhook_id: str
    delivered: bool
    attempts: int
    error: str | None = None


@dataclass
class SpooledSignals:
    """What a lost realtime process left unsent in a call's spool (`collect_spooled`)."""

    turns: list[TurnEvent] = field(default_factory=list)
    fields: list[FieldEvent] = field(default_factory=list)


SIGNAL_PAYLOADS: Final[dict[str, type[Any]]] = {
    "turn_completed": TurnEvent,
    "field_captured": FieldEvent,
    "call_ended": CallEnded,
    "stream_attached": StreamAttached,
    "stream_detached": StreamDetached,
}
"""The call workflow's signals, by name, with their payload types."""


def encode_signal(payload: Any) -> dict[str, Any]:
    """A signal's payload as JSON-able data (to spool it)."""
    data: dict[str, Any] = TypeAdapter(type(payload)).dump_python(payload, mode="json")
    return data


def decode_signal(name: str, data: dict[str, Any]) -> Any:
    """A spooled signal's payload as the dataclass the workflow takes; KeyError for a name
    that is not one of the call workflow's signals."""
    return TypeAdapter(SIGNAL_PAYLOADS[name]).validate_python(data)

"""Prometheus metrics of the realtime process, served at `/metrics`.

Per turn, each stage is measured from the moment the caller's speech ended (the last voiced
VAD frame) to the moment the stage finished, so the stages read as a timeline:
`end_of_turn` (the turn was judged over) → `stt` (final transcript) → `brain_first_token` →
`tts_first_audio` → `first_frame` (the first agent audio left for Twilio). The last one is the
figure callers feel, also exported alone as `callwright_response_latency_seconds`.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from realtime.twilio_protocol import BadFrame

REGISTRY: Final = CollectorRegistry()
"""The realtime process's own registry (not the global one: tests run several servers)."""

STAGES: Final = ("end_of_turn", "stt", "brain_first_token", "tts_first_audio", "first_frame")

_BUCKETS: Final = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)

TURN_STAGE_SECONDS: Final = Histogram(
    "callwright_turn_stage_seconds",
    "Seconds from the end of the caller's speech to the end of each stage of the agent's answer.",
    ["stage"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
RESPONSE_LATENCY_SECONDS: Final = Histogram(
    "callwright_response_latency_seconds",
    "Seconds from the end of the caller's speech to the agent's first audio frame sent.",
    buckets=_BUCKETS,
    registry=REGISTRY,
)
BARGE_IN_SECONDS: Final = Histogram(
    "callwright_barge_in_seconds",
    "Seconds from the caller's speech onset to the agent's audio being cleared.",
    buckets=_BUCKETS,
    registry=REGISTRY,
)
ACTIVE_CALLS: Final = Gauge(
    "callwright_active_calls", "Media streams being served now.", registry=REGISTRY
)
CALLS_TOTAL: Final = Counter(
    "callwright_calls_total", "Media streams by outcome.", ["outcome"], registry=REGISTRY
)
BAD_FRAMES_TOTAL: Final = Counter(
    "callwright_bad_frames_total",
    "Inbound frames dropped as malformed, unexpected or too fast, by reason.",
    ["reason"],
    registry=REGISTRY,
)
# Every reason is a series from the start; no frame can add one (the labels are a fixed set).
for _reason in BadFrame:
    BAD_FRAMES_TOTAL.labels(reason=_reason.value)
LLM_FALLBACKS_TOTAL: Final = Counter(
    "callwright_brain_fallbacks_total",
    "Turns the guided brain answered because the LLM failed or was late.",
    registry=REGISTRY,
)


def observe_turn(latency_ms: dict[str, float]) -> None:
    """Record one answered turn's stage timeline (milliseconds, as on the turn event)."""
    for stage in STAGES:
        if stage in latency_ms:
            TURN_STAGE_SECONDS.labels(stage=stage).observe(latency_ms[stage] / 1000)
    if "first_frame" in latency_ms:
        RESPONSE_LATENCY_SECONDS.observe(latency_ms["first_frame"] / 1000)

"""Post-call analysis through an OpenAI-compatible server (a local one speaking the real
chat-completions protocol on a real socket), and without one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import AsyncOpenAI
from starlette.types import Receive, Scope, Send

from activities.analysis import AnalysisActivities
from core.calls.activities import AnalysisInput
from core.calls.types import Speaker, TurnEvent
from tests.conftest import EXAMPLES_DIR
from tests.local_server import read_body, serve

GOALS = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())["goals"]
TRANSCRIPT = [
    TurnEvent(seq=1, speaker=Speaker.AGENT, text="How can I help?"),
    TurnEvent(seq=2, speaker=Speaker.CALLER, text="This is Ana Diaz, I need a cleaning."),
    TurnEvent(
        seq=3, speaker=Speaker.CALLER, text="Friday December 4th at 10:15, call me on 415 555 0199"
    ),
]


class ChatServer:
    """Answers POST /v1/chat/completions with a scripted message, or fails."""

    def __init__(self, content: str, status: int = 200) -> None:
        self.content = content
        self.status = status
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        self.requests.append(json.loads(body))
        payload = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "local",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.content},
                    "finish_reason": "stop",
                }
            ],
        }
        data = json.dumps(payload if self.status == 200 else {"error": {"message": "boom"}})
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data.encode()})


def request(captured: dict[str, Any] | None = None) -> AnalysisInput:
    return AnalysisInput(
        call_sid="CA1", goals=GOALS, transcript=TRANSCRIPT, captured=captured or {}
    )


async def test_without_an_llm_the_deterministic_extractor_answers() -> None:
    analysis = await AnalysisActivities(None, "x").analyze_call(
        request({"service_type": "cleaning"})
    )
    assert analysis.method == "deterministic"
    assert analysis.extracted["service_type"] == "cleaning"
    assert analysis.extracted["preferred_time"] == "10:15"  # found in the caller's words
    assert analysis.extracted["phone_number"] == "4155550199"
    assert analysis.extracted["preferred_date"] == "2026-12-04"  # "Friday December 4th"
    assert analysis.extracted["customer_name"] == "Ana Diaz"  # "This is Ana Diaz"
    assert analysis.goals[0].success
    assert "Ana Diaz" in analysis.summary


async def test_the_deterministic_extractor_reads_words_against_the_day_of_the_call() -> None:
    plan_goal = {"name": "book", "success_criteria": {"has_date": True, "has_time": True}}
    transcript = [
        TurnEvent(
            seq=1,
            speaker=Speaker.AGENT,
            text="What day would work best for you?",
            started_at="2026-12-01T15:00:00+00:00",  # a Tuesday
        ),
        TurnEvent(seq=2, speaker=Speaker.CALLER, text="Next Tuesday, around half past four."),
        TurnEvent(seq=3, speaker=Speaker.CALLER, text="Sorry, no, make that Wednesday."),
    ]
    analysis = await AnalysisActivities(None, "x").analyze_call(
        AnalysisInput(call_sid="CA2", goals=[plan_goal], transcript=transcript, captured={})
    )
    assert analysis.extracted == {"date": "2026-12-02", "time": "16:30"}
    assert analysis.goals[0].success


@pytest.fixture
def llm_answer() -> dict[str, Any]:
    return {
        "summary": "Ana Diaz booked a cleaning for Friday 4 December at 10:15.",
        "data": {
            "customer_name": "Ana Diaz",
            "preferred_date": "2026-12-04",
            "preferred_time": "10:15",
            "service_type": "dental cleaning",
            "phone_number": "not a phone",
        },
    }


async def test_llm_extraction_passes_the_value_rules_and_live_captures_win(
    llm_answer: dict[str, Any],
) -> None:
    server = ChatServer(json.dumps(llm_answer))
    async with serve(server) as url:
        base_url = url + "/v1"
        llm = AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
        analysis = await AnalysisActivities(llm, "local").analyze_call(
            request({"service_type": "cleaning"})
        )
    assert analysis.method == "llm"
    assert analysis.summary == llm_answer["summary"]
    assert analysis.extracted["service_type"] == "cleaning"  # captured live: kept
    assert analysis.extracted["preferred_date"] == "2026-12-04"
    assert "phone_number" not in analysis.extracted  # refused by the phone rule
    assert analysis.goals[0].success
    sent = server.requests[0]
    assert sent["response_format"] == {"type": "json_object"}
    assert "preferred_date: date" in sent["messages"][0]["content"]


async def test_llm_failure_falls_back_to_the_deterministic_extractor() -> None:
    async with serve(ChatServer("", status=500)) as url:
        base_url = url + "/v1"
        llm = AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
        analysis = await AnalysisActivities(llm, "local").analyze_call(request())
    assert analysis.method == "deterministic"
    assert analysis.extracted["preferred_time"] == "10:15"


@pytest.mark.parametrize("content", ["[1, 2]", '{"data": [1]}', "not json"])
async def test_malformed_llm_answers_fall_back(content: str) -> None:
    async with serve(ChatServer(content)) as url:
        llm = AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        analysis = await AnalysisActivities(llm, "local").analyze_call(request())
    assert analysis.method == "deterministic"

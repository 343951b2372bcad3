"""A whole booking call, by phone audio, through the real platform."""

from __future__ import annotations

from standardwebhooks import Webhook

from realtime.engines.piper_tts import PiperModel
from realtime.engines.silero_vad import SileroModel
from realtime.engines.whisper_stt import WhisperRunner
from tests.scenarios.conftest import PlatformFactory, finished_call
from workers.bench import BOOKING  # the benchmark's booking call: one script for both
from workers.caller.voice import AgentTranscriber


async def test_a_booking_call_completes_the_goal_and_sends_signed_webhooks(
    platform: PlatformFactory,
) -> None:
    world = await platform()
    await AgentTranscriber().load()  # the caller's own model (not the server's), loaded now
    loads = (SileroModel.loads, WhisperRunner.loads, PiperModel.loads)
    report = await world.call(BOOKING)
    # Models are loaded once per process, never per call.
    assert (SileroModel.loads, WhisperRunner.loads, PiperModel.loads) == loads

    assert report.ended_by == "agent", report
    goal = await world.receiver.wait_for("/goal", timeout=30)
    done = await world.receiver.wait_for("/call", timeout=60)
    endpoints = {e["url"]: e["id"] for e in (await world.api.get("/api/webhooks/endpoints")).json()}
    for path, received in (("/goal", goal[-1]), ("/call", done[-1])):
        endpoint = endpoints[f"{world.receiver.url}{path}"]
        secret = (await world.api.get(f"/api/webhooks/endpoints/{endpoint}/secret")).json()
        # Each endpoint has its own secret; raises if unsigned or forged.
        Webhook(secret["secret"]).verify(received.body, received.headers)
    assert goal[-1].json["type"] == "goal.completed"
    body = done[-1].json
    assert body["type"] == "call.completed"
    extracted = body["data"]["extracted_data"] if "extracted_data" in body["data"] else body["data"]
    assert "preferred_date" in str(extracted)

    # The API's transcript is the call as it was spoken: caller lines in order.
    call = await finished_call(world, report.call_sid)
    said = [t["text"].lower() for t in call["transcript"] if t["speaker"] == "caller"]
    assert len(said) == len(BOOKING), said
    assert "smith" in said[0] and "tuesday" in said[2]
    agent = [t for t in call["transcript"] if t["speaker"] == "agent"]
    assert "goodbye" in agent[-1]["text"].lower() and not agent[-1]["interrupted"], agent[-1]
    assert call["end_reason"] == "completed", call["end_reason"]
    answers = [t for t in agent if t["latency"]]
    assert len(answers) == len(BOOKING), [(a["text"], a["latency"]) for a in agent]
    assert answers and all(a["latency"]["first_frame"] > 0 for a in answers)

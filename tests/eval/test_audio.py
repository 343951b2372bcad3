"""`callwright eval --audio`: a scenario by phone audio through the whole running platform.

The adaptive caller hears the agent through Whisper and speaks with Piper over Twilio's Media
Streams protocol; the verdict is the platform's own record of the call.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.scenarios.conftest import PlatformFactory
from workers.caller.voice import AgentTranscriber
from workers.eval.audio import Stack, run_audio_eval
from workers.eval.cases import load_cases

TOMORROW = dt.date.today() + dt.timedelta(days=1)
SCENARIO = f"""\
id: audio-cleaning-tomorrow
agent: appointment_scheduler
today: "{dt.date.today().isoformat()}"
description: Books a cleaning for tomorrow at three, one answer at a time.
facts:
  service: cleaning
  date: "{TOMORROW.isoformat()}"
  time: "15:00"
say:
  service: ["a cleaning please", "a teeth cleaning"]
  date: ["tomorrow", "tomorrow please"]
  time: ["three in the afternoon", "three pm"]
"""


async def test_a_scenario_by_phone_audio_is_judged_on_the_platform_s_record(
    platform: PlatformFactory, tmp_path: Path
) -> None:
    world = await platform()
    await AgentTranscriber().load()  # the caller's own Whisper, loaded before the clock runs
    path = tmp_path / "audio-cleaning-tomorrow.yaml"
    path.write_text(SCENARIO)
    stack = Stack(
        api_url=world.api_url,
        api_key=str(world.api.headers["Authorization"]).removeprefix("Bearer "),
        auth_token=world.settings.twilio_auth_token.get_secret_value(),
    )

    report = await run_audio_eval(load_cases([path]), stack, brain="guided")

    (result,) = report.results
    assert report.level == "audio"
    assert result.passed, report.render(verbose=True)
    assert report.accuracy.value == 1.0, report.render(verbose=True)
    # The agent was the platform's own (found by name), and every answer was timed.
    assert report.latency_p50_ms is not None and report.latency_p50_ms > 0
    agent_lines = [line for line in result.record.transcript if line.speaker == "agent"]
    assert agent_lines[0].text  # the greeting, as Whisper heard it
    assert all(line.latency_ms for line in agent_lines[1:]), report.render(verbose=True)

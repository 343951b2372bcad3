"""The realtime process's engines: chosen by settings, loaded once, shared by calls."""

from __future__ import annotations

import pytest

from core.calls.types import CallInput
from core.settings import Settings
from realtime.brains.guided import GuidedBrain
from realtime.brains.openai_chat import OpenAIChatBrain
from realtime.runtime import Engines
from tests.realtime.test_guided_brain import scheduler


def call(sid: str) -> CallInput:
    return CallInput(call_sid=sid, agent=scheduler(), compiled_prompt="You book appointments.")


def test_the_guided_brain_is_the_default_and_each_call_gets_its_own() -> None:
    engines = Engines.from_settings(Settings())
    first, second = engines.new_call(call("CA1")), engines.new_call(call("CA2"))
    assert isinstance(first.brain, GuidedBrain) and first.brain is not second.brain
    assert first.brain.manager is not second.brain.manager
    assert first.detector is not second.detector
    assert engines.session.turn.end_of_turn_ms == Settings().end_of_turn_silence_ms


def test_llm_calls_share_one_client_and_a_missing_endpoint_fails_at_start() -> None:
    settings = Settings.model_validate({"BRAIN": "openai", "LLM_BASE_URL": "http://127.0.0.1:9/v1"})
    engines = Engines.from_settings(settings)
    first, second = engines.new_call(call("CA1")).brain, engines.new_call(call("CA2")).brain
    assert isinstance(first, OpenAIChatBrain) and isinstance(second, OpenAIChatBrain)
    assert first.client is second.client
    with pytest.raises(ValueError, match="LLM_BASE_URL"):
        Engines.from_settings(Settings.model_validate({"BRAIN": "openai"}))

"""The whole scenario suite against the guided brain: the bar the brain must clear.

Every scenario under tests/eval/scenarios is called at the text level with the adaptive caller;
goal completion and field accuracy must both reach 95%. On failure the message holds the
transcript of every failed or inaccurate call.
"""

from __future__ import annotations

from pathlib import Path

from core.settings import BrainName, Settings
from workers.eval.cases import load_cases
from workers.eval.suite import run_text_eval

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
MIN_COMPLETION = 0.95
MIN_ACCURACY = 0.95


async def test_the_guided_brain_completes_the_suite_and_records_facts_right() -> None:
    report = await run_text_eval(load_cases([SCENARIOS]), BrainName.GUIDED, Settings())
    completion, accuracy = report.completion.value, report.accuracy.value
    assert completion is not None and accuracy is not None
    assert completion >= MIN_COMPLETION and accuracy >= MIN_ACCURACY, report.render()

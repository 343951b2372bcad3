"""The figures of a run: goal completion, field accuracy per type, turns, and the JSON form."""

from __future__ import annotations

import json
from typing import Any

from core.fields import FieldScalar
from tests.eval.fakes import case
from workers.eval.outcome import judge
from workers.eval.record import Breach, CallRecord
from workers.eval.report import EvalReport

FACTS = {"date": "2026-12-04", "time": "19:00", "party_size": 4}


def result(
    captured: dict[str, FieldScalar],
    *,
    completed: bool,
    expect: bool = True,
    turns: int = 4,
    failure: str | None = None,
    **record: Any,
) -> Any:
    call = CallRecord(
        captured=captured,
        completed=completed,
        caller_turns=turns,
        failure=failure,
        end_reason="the agent ended the call",
        **record,
    )
    call.say("agent", "What day?")
    call.say("caller", "friday", "heard: ask date")
    return judge(case(facts=FACTS, expect={"complete": expect}), call)


def report() -> EvalReport:
    right = {"date": "2026-12-04", "time": "19:00", "party_size": 4.0}
    return EvalReport(
        [
            result(right, completed=True, turns=4),
            result({**right, "time": "07:00"}, completed=True, turns=6),
            result({"date": "2026-12-04"}, completed=False, turns=8),
            result({"date": "2026-12-04"}, completed=False, expect=False, turns=2),
        ],
        brain="guided",
    )


def test_completion_counts_only_scenarios_that_expect_it() -> None:
    completion = report().completion
    assert (completion.hits, completion.total) == (2, 3)


def test_accuracy_counts_every_fact_and_per_type() -> None:
    run = report()
    assert (run.accuracy.hits, run.accuracy.total) == (7, 12)
    by_type = {kind: (rate.hits, rate.total) for kind, rate in run.accuracy_by_type.items()}
    assert by_type == {"date": (4, 4), "time": (1, 4), "number": (2, 4)}
    assert run.turns_per_call == 5.0


def test_a_scenario_passes_when_completion_is_as_expected_and_nothing_failed() -> None:
    run = report()
    assert [r.passed for r in run.results] == [True, True, False, True]
    assert run.results[2].why_failed.startswith("goals not met")
    looping = result({}, completed=False, expect=False, failure="stuck in a loop: …")
    assert not looping.passed and looping.why_failed == "stuck in a loop: …"


def test_exit_rule_every_scenario_or_the_thresholds() -> None:
    run = report()
    assert not run.met(min_completion=None, min_accuracy=None)
    assert run.met(min_completion=0.6, min_accuracy=0.5)
    assert not run.met(min_completion=0.95, min_accuracy=None)
    assert not run.met(min_completion=None, min_accuracy=0.95)


def test_json_report_has_the_figures_and_the_transcripts_of_failures() -> None:
    data = json.loads(json.dumps(report().as_dict()))
    assert data["goal_completion"] == {"hits": 2, "total": 3, "rate": 0.6667}
    assert data["field_accuracy"]["by_type"]["time"]["rate"] == 0.25
    assert (data["scenarios"], data["passed"], data["failed"]) == (4, 3, 1)
    first, wrong_time, failed, _ = data["results"]
    assert "transcript" not in first
    assert "transcript" in wrong_time  # passed, but a fact was recorded wrong
    assert failed["transcript"][1] == {
        "speaker": "caller",
        "text": "friday",
        "note": "heard: ask date",
    }
    assert {
        "field": "time",
        "type": "time",
        "truth": "19:00",
        "recorded": "07:00",
        "correct": False,
    } in wrong_time["fields"]


def test_text_report_shows_failures_with_transcripts_then_the_figures() -> None:
    run = EvalReport(
        [
            result(
                {"date": "2026-12-04"},
                completed=False,
                breaches=[Breach("Don't discuss pricing", "It's $40.", "pricing")],
            )
        ],
        brain="guided",
    )
    text = run.render()
    assert "FAIL: goals not met" in text
    assert "caller: friday   (heard: ask date)" in text
    assert "wrong  time: expected '19:00', recorded None" in text
    assert "breach Don't discuss pricing: \"It's $40.\" (pricing)" in text
    assert text.splitlines()[-1].startswith("Don't breaches    1")
    assert "Goal completion   0/1 = 0.0%" in text

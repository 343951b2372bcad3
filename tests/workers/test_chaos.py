"""`make chaos`'s bookkeeping, without a stack: which turns a record must hold, which webhooks a
call must cause, the faults by name, the table and the RELIABILITY.md section; and the process
handling DevStack uses to crash a part and clean up after it."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.calls.types import Speaker
from core.settings import Settings
from workers.caller.report import CallReport, Reconnection, TranscriptEntry
from workers.caller.sink import ReceivedWebhook
from workers.chaos.checks import (
    CallCheck,
    FaultResult,
    HeardTurn,
    WebhookTally,
    call_verdict,
    expected_turns,
    goals_met,
    match_turns,
    tally_webhooks,
)
from workers.chaos.command import command_line
from workers.chaos.faults import FAULTS, Fault, Injection, parse_faults
from workers.chaos.report import SECTION, chaos_section, replace_section, table_rows
from workers.chaos.run import DEFAULT_SCENARIOS, ChaosOptions
from workers.eval.cases import load_cases
from workers.eval.outcome import ScenarioResult
from workers.eval.record import CallRecord
from workers.stack import DevStack, ProcessId, StackPorts, descendants, kill_tree, process_tree

AGENT, CALLER = Speaker.AGENT, Speaker.CALLER


def said(
    speaker: Speaker, text: str, at_s: float, audio_s: float = 2.0, **kw: Any
) -> TranscriptEntry:
    return TranscriptEntry(speaker, text, at_ms=at_s * 1000, audio_ms=int(audio_s * 1000), **kw)


def call_report(
    transcript: list[TranscriptEntry],
    losses: list[tuple[float, float | None]] = (),  # type: ignore[assignment]
) -> CallReport:
    return CallReport(
        call_sid="CA1",
        stream_sid="MZ1",
        custom_parameters={},
        transcript=transcript,
        turns=[],
        marks=[],
        clears=[],
        ended_by="agent",
        closed_by_server=True,
        close_code=1000,
        close_reason="",
        duration_ms=60_000,
        frames_sent=0,
        max_send_lag_ms=0,
        steps_run=0,
        steps_total=0,
        streams=1 + len(losses),
        reconnections=[
            Reconnection(lost * 1000, lost * 1000 + 50, None if heard is None else heard * 1000)
            for lost, heard in losses
        ],
    )


def recorded(*turns: tuple[Speaker, str]) -> list[dict[str, Any]]:
    return [
        {"seq": n + 1, "speaker": speaker.value, "text": text, "interrupted": False}
        for n, (speaker, text) in enumerate(turns)
    ]


# -- turns ------------------------------------------------------------------------------------


def test_a_crash_mid_reply_makes_that_reply_partial_and_the_line_said_into_it_unanswered() -> None:
    report = call_report(
        [
            said(AGENT, "How can I help you today?", 0.5),
            said(CALLER, "a cleaning on friday", 4.0),
            said(AGENT, "Thanks.", 7.0, audio_s=0.8),  # the node dies 0.3 s after this piece
            said(CALLER, "hello?", 8.0),  # into the dead stream: nobody answered it there
            said(AGENT, "Sorry about that, we got cut off. What time?", 9.0),
            said(CALLER, "three pm", 13.0),
            said(AGENT, "Got it, you're all set.", 15.0),
        ],
        losses=[(8.1, 9.0)],
    )
    turns = expected_turns(report)
    assert [(t.speaker, t.text, t.partial) for t in turns] == [
        (AGENT, "How can I help you today?", False),
        (CALLER, "a cleaning on friday", False),
        (AGENT, "Thanks.", True),
        (AGENT, "Sorry about that, we got cut off. What time?", False),
        (CALLER, "three pm", False),
        (AGENT, "Got it, you're all set.", False),
    ]


def test_a_turn_that_ended_well_before_the_loss_is_whole_and_a_talked_over_one_partial() -> None:
    report = call_report(
        [
            said(AGENT, "What day works for you?", 0.0, audio_s=2.0),
            said(CALLER, "friday", 3.0),
            said(AGENT, "Got it, Friday", 5.0, interrupted=True),  # barge-in
            said(CALLER, "no wait, thursday", 5.5),
            said(AGENT, "Thursday it is.", 8.0),
        ],
        losses=[(20.0, 21.0)],
    )
    partial = {t.text: t.partial for t in expected_turns(report) if t.speaker is AGENT}
    assert partial == {
        "What day works for you?": False,
        "Got it, Friday": True,
        "Thursday it is.": False,
    }


def test_turns_pair_by_words_and_a_misheard_line_still_pairs_by_its_place() -> None:
    heard = [
        HeardTurn(AGENT, "hello you've reached dental clinic booking", 0),
        HeardTurn(CALLER, "Benedetti, B E N E D E T T I", 3),
        HeardTurn(AGENT, "got it car with any daddy what's the best number", 6),
    ]
    record = recorded(
        (AGENT, "Hello, you've reached Dental Clinic Booking."),
        (CALLER, "Benny daddy, BGs and EDG"),  # the platform's ear misheard it: still the turn
        (AGENT, "Got it, Carla Benny Daddy. What's the best number to reach you on?"),
    )
    assert match_turns(heard, record) == []


def test_a_turn_missing_from_the_record_is_found_and_the_others_stay_paired() -> None:
    heard = [
        HeardTurn(AGENT, "what day works best for you", 0),
        HeardTurn(CALLER, "friday please", 2),
        HeardTurn(AGENT, "and what time would suit you", 4),
        HeardTurn(CALLER, "three in the afternoon", 6),
        HeardTurn(AGENT, "great you're all set goodbye", 8),
    ]
    record = recorded(
        (AGENT, "What day works best for you?"),
        (CALLER, "Friday, please."),
        (AGENT, "And what time would suit you?"),
        (AGENT, "Great, you're all set. Goodbye!"),
    )
    assert match_turns(heard, record) == [heard[3]]


def test_a_fragment_cut_by_a_crash_gives_way_to_the_whole_turn_the_caller_misheard() -> None:
    heard = [
        HeardTurn(CALLER, "a cleaning this friday at three", 5),
        HeardTurn(AGENT, "thanks?", 11, partial=True),  # the node died mid-reply
        HeardTurn(AGENT, "the time?", 12),  # the re-entry line, badly transcribed
        HeardTurn(CALLER, "yes", 22),
    ]
    record = recorded(
        (CALLER, "A cleaning this Friday at 3."),
        (AGENT, "Sorry about that, we got cut off. Let me read that back: Friday at 3 PM."),
        (CALLER, "Yes."),
    )
    assert match_turns(heard, record) == [heard[1]]


def test_a_reply_heard_whole_as_its_node_died_gives_way_to_the_re_entry_that_repeats_it() -> None:
    # The node died before recording the read-back; the re-entry line reads it back again.
    heard = [
        HeardTurn(CALLER, "three o'clock", 16),
        HeardTurn(AGENT, "let me read that back thursday december 10th at 3 pm", 18, True),
        HeardTurn(AGENT, "the time?", 25),  # the re-entry line, as the caller's Whisper heard it
        HeardTurn(CALLER, "actually make it four", 35),
    ]
    record = recorded(
        (CALLER, "Three o'clock."),
        (AGENT, "Sorry about that, we got cut off. Let me read that back: Thursday at 3 PM."),
        (CALLER, "Actually make it four."),
    )
    assert match_turns(heard, record) == [heard[1]]


def test_a_reply_heard_in_two_pieces_pairs_with_its_one_recorded_turn() -> None:
    heard = [
        HeardTurn(AGENT, "thanks let me read that back", 0),
        HeardTurn(AGENT, "friday december 4th at 3 pm is that correct", 3),
        HeardTurn(CALLER, "yes", 6),
    ]
    record = recorded(
        (
            AGENT,
            "Thanks. Let me read that back: Friday, December 4th at 3 PM. Is that all correct?",
        ),
        (CALLER, "Yes."),
    )
    assert match_turns(heard, record) == []


def test_a_repeated_line_is_not_found_twice_in_one_recorded_turn() -> None:
    heard = [HeardTurn(AGENT, "could you spell your name", 0)] * 2 + [HeardTurn(CALLER, "no", 5)]
    record = recorded((AGENT, "Could you spell your name, letter by letter?"), (CALLER, "No."))
    assert len(match_turns(heard, record)) == 1


# -- webhooks ---------------------------------------------------------------------------------


def webhook(kind: str, call_sid: str, webhook_id: str, goal: str | None = None) -> ReceivedWebhook:
    data: dict[str, Any] = {"call_sid": call_sid}
    if goal is not None:
        data["goal"] = goal
    body = json.dumps({"type": kind, "data": data}).encode()
    return ReceivedWebhook(
        "/hook", {"webhook-id": webhook_id}, body, datetime.now(UTC), verified=True
    )


def test_each_event_once_is_whole_and_a_retry_of_the_same_id_is_no_duplicate() -> None:
    received = [
        webhook("goal.completed", "CA1", "call-CA1.goal.completed.0", "book"),
        webhook("call.completed", "CA1", "call-CA1.call.completed.0"),
        webhook("call.completed", "CA1", "call-CA1.call.completed.0"),  # retried
        webhook("call.completed", "CA2", "call-CA2.call.completed.0"),  # another call's
    ]
    assert tally_webhooks("CA1", received, ["book"]) == WebhookTally([], [], 1, 0)


def test_a_missing_event_is_lost_and_a_second_id_for_one_event_a_duplicate() -> None:
    received = [
        webhook("call.completed", "CA1", "call-CA1.call.completed.0"),
        webhook("call.completed", "CA1", "call-CA1-run2.call.completed.0"),
    ]
    tally = tally_webhooks("CA1", received, ["book"])
    assert tally.lost == ["goal.completed book"]
    assert tally.duplicates == ["call.completed"]
    assert tally_webhooks("CA3", received, []).lost == ["call.completed"]


def test_a_bad_signature_is_counted() -> None:
    bad = webhook("call.completed", "CA1", "w1")
    bad.verified = False
    assert tally_webhooks("CA1", [bad], []).unverified == 1


def test_the_goals_met_come_from_the_records_analysis() -> None:
    record = {"analysis": {"goals": [{"name": "book", "success": True}, {"name": "x"}]}}
    assert goals_met(record) == ["book"]
    assert goals_met({"analysis": {}}) == []


def scenario_result(*, goals_met: bool, failure: str | None = None) -> ScenarioResult:
    (case,) = load_cases([DEFAULT_SCENARIOS[1]])
    record = CallRecord(failure=failure, completed=goals_met)
    return ScenarioResult(case, record, [])


def test_a_call_is_lost_when_it_failed_or_ended_broken_not_when_it_missed_its_goals() -> None:
    assert call_verdict(scenario_result(goals_met=True), "", "completed") == (True, True, "")
    # A time misheard, the agent closed the call politely: not lost, goals not met.
    missed = call_verdict(scenario_result(goals_met=False), "", "field_not_understood")
    assert missed == (True, False, "")
    assert call_verdict(scenario_result(goals_met=False), "", "stream_lost") == (
        False,
        False,
        "the platform ended it as broken (stream_lost)",
    )
    assert call_verdict(
        scenario_result(goals_met=True, failure="the call passed its time limit"), "", "completed"
    ) == (False, True, "the call passed its time limit")
    assert call_verdict(None, "the caller failed: ConnectError()", "") == (
        False,
        False,
        "the caller failed: ConnectError()",
    )


# -- a fault's sum and the report -------------------------------------------------------------


def check(**changes: Any) -> CallCheck:
    values: dict[str, Any] = {
        "call_sid": "CA1",
        "scenario": "appt-x",
        "completed": True,
        "goals_met": True,
        "streams": 2,
        "gaps_ms": [431.0],
        "turns": 10,
        "facts": 3,
        "facts_right": 3,
        "finalised": True,
    }
    values.update(changes)
    return CallCheck(**values)


def test_a_fault_is_ok_only_when_every_call_came_through_whole() -> None:
    assert FaultResult("x", "done", [check(), check(gaps_ms=[900.0, None])]).ok
    lost_turn = HeardTurn(CALLER, "friday", 3)
    for bad in (
        check(completed=False, why="goals not met"),
        check(finalised=False),
        check(turns_lost=[lost_turn]),
        check(webhooks=WebhookTally(["call.completed"], [], 0, 0)),
        check(webhooks=WebhookTally([], ["call.completed"], 0, 0)),
    ):
        assert not FaultResult("x", "done", [check(), bad]).ok
    assert not FaultResult("x", "done", [check()], problems=["worker died"]).ok
    assert not FaultResult("x", "done", []).ok
    # A reply cut off mid-word is reported, not a loss.
    assert FaultResult("x", "done", [check(cut_off=[HeardTurn(AGENT, "thanks", 7, True)])]).ok


def test_the_table_counts_and_shows_a_dash_without_reconnections() -> None:
    results = [
        FaultResult("realtime-kill9", "kill -9 realtime", [check(), check(gaps_ms=[900.0])]),
        FaultResult(
            "api-kill9",
            "kill -9 api",
            [check(streams=1, gaps_ms=[], turns_lost=[HeardTurn(CALLER, "hi", 1)])],
        ),
    ]
    assert table_rows(results) == [
        [
            "realtime-kill9",
            "2",
            "2/2",
            "2/2",
            "6/6",
            "2",
            "0 of 20",
            "0",
            "0",
            "0",
            "2/2",
            "900 ms",
        ],
        ["api-kill9", "1", "1/1", "1/1", "3/3", "0", "1 of 10", "0", "0", "0", "1/1", "—"],
    ]


def test_the_section_names_the_command_the_day_and_the_machine_and_lists_findings() -> None:
    results = [
        FaultResult(
            "worker-kill9",
            "kill -9 worker, exit code -9; serving again after 5 s",
            [
                check(completed=False, why="the call passed its time limit", streams=1),
                check(call_sid="CA2", goals_met=False, end_reason="field_not_understood"),
            ],
        )
    ]
    section = chaos_section(
        results,
        command="python -m workers.chaos --calls 3 --markdown RELIABILITY.md",
        calls=3,
        cores=2,
        when=dt.date(2026, 12, 1),
        down_s=5,
        drain_s=3,
    )
    assert section.startswith(f"{SECTION}\n")
    assert "`python -m workers.chaos --calls 3 --markdown RELIABILITY.md`" in section
    assert "measured 2026-12-01 on 2 CPU cores" in section
    assert "| worker-kill9 | 2 | 1/2 | 1/2 | 6/6 | 1 |" in section
    assert "Not every call came through whole" in section
    assert "appt-x (CA1) did not complete: the call passed its time limit" in section
    assert "appt-x (CA2) ended cleanly (field_not_understood) without its goals met" in section


def test_the_chaos_section_is_replaced_in_place_and_the_soak_section_kept() -> None:
    soak = "## Webhook soak\n\nsoak figures\n"
    document = f"# Reliability\n\n{soak}\n## Chaos\n\nold\n\n## Later\n\nkept\n"
    updated = replace_section(document, "## Chaos\n\nnew\n")
    assert updated == f"# Reliability\n\n{soak}\n## Chaos\n\nnew\n\n## Later\n\nkept\n"
    appended = replace_section(f"# Reliability\n\n{soak}", "## Chaos\n\nnew\n")
    assert appended == f"# Reliability\n\n{soak}\n## Chaos\n\nnew\n"


# -- faults -----------------------------------------------------------------------------------


def test_faults_are_chosen_by_name_in_the_order_given() -> None:
    assert parse_faults(None) == list(FAULTS)
    assert [f.name for f in parse_faults("api-kill9, realtime-kill9")] == [
        "api-kill9",
        "realtime-kill9",
    ]
    with pytest.raises(ValueError, match="unknown fault 'disk-full'.*realtime-sigterm"):
        parse_faults("disk-full")
    names = {f.name for f in FAULTS}
    assert names >= {
        "realtime-kill9",
        "worker-kill9",
        "api-kill9",
        "temporal-restart",
        "postgres-restart",
        "realtime-sigterm",
    }


def test_an_injection_says_what_was_hit_and_how_long_it_was_down() -> None:
    fault = next(f for f in FAULTS if f.name == "realtime-sigterm")
    assert (
        Injection(fault, "realtime", 3, 0, 12.4).describe()
        == "SIGTERM realtime (3 calls on it), exit code 0; serving again after 12 s"
    )
    assert Fault("baseline", "nothing", "none", "").service is False
    postgres = next(f for f in FAULTS if f.name == "postgres-restart")
    assert postgres.service and Injection(postgres, "postgres", None, None, 5.2).describe() == (
        "kill -9 postgres; serving again after 5 s"
    )


def test_the_command_quoted_reproduces_the_run() -> None:
    everything = ChaosOptions(calls=3, faults=parse_faults(None))
    assert command_line(everything, Path("RELIABILITY.md")) == (
        "python -m workers.chaos --calls 3 --markdown RELIABILITY.md"
    )
    scenario = DEFAULT_SCENARIOS[1]
    some = ChaosOptions(
        calls=1, faults=parse_faults("worker-kill9,api-kill9"), scenarios=(scenario,), down_s=2
    )
    assert command_line(some, None) == (
        "python -m workers.chaos --calls 1 --faults worker-kill9,api-kill9 --scenario "
        "tests/eval/scenarios/appointment_scheduler/appt-three-facts-at-once.yaml --down 2"
    )


# -- DevStack: several realtime nodes, processes killed with what they started ----------------


def test_a_stack_names_its_realtime_nodes_and_checks_every_port(tmp_path: Path) -> None:
    ports = StackPorts(1, 2, 3, 4, 5, 6, more_realtime=(7,))
    stack = DevStack(Settings(), data_dir=tmp_path, ports=ports)
    assert stack.realtime_ports == [6, 7]
    assert stack.realtime_names == ["realtime", "realtime-2"]
    assert stack.realtime_process is None and stack.failed_child() is None


def test_a_killed_tree_leaves_nothing_and_a_leftover_is_known_by_its_start_time() -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "time.sleep(60)",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while len(process_tree(parent.pid)) < 2:
            assert time.monotonic() < deadline, "the grandchild never started"
            time.sleep(0.05)
        (child,) = descendants(parent.pid)
        assert child.is_alive()
        assert not ProcessId(child.pid, child.started + 1).is_alive()  # same pid, another process
        kill_tree(parent.pid)
        assert parent.wait(5) == -9
        deadline = time.monotonic() + 5
        while child.is_alive():  # killed; reaped by init once it notices
            assert time.monotonic() < deadline, "the grandchild outlived kill_tree"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()

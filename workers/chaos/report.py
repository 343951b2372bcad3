"""The chaos run's findings: a table on the terminal, and the `## Chaos` section of
RELIABILITY.md (written in place, the document's other sections kept)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.table import Table

from workers.chaos.checks import FaultResult

__all__ = ["SECTION", "chaos_section", "render", "replace_section", "table_rows", "write_section"]

SECTION: Final = "## Chaos"
COLUMNS: Final = (
    "fault",
    "calls",
    "completed",
    "goals met",
    "facts right",
    "reconnected",
    "turns lost",
    "cut off",
    "webhooks lost",
    "duplicate webhooks",
    "records final",
    "max gap heard",
)


def _gap(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.0f} ms"


def table_rows(results: Sequence[FaultResult]) -> list[list[str]]:
    """One row per fault, in `COLUMNS`' order."""
    return [
        [
            r.fault,
            str(len(r.calls)),
            f"{r.completed}/{len(r.calls)}",
            f"{r.goals_met}/{len(r.calls)}",
            f"{r.facts_right}/{r.facts}",
            str(r.reconnected),
            f"{r.turns_lost} of {r.turns}",
            str(r.cut_off),
            str(r.webhooks_lost),
            str(r.webhook_duplicates),
            f"{r.finalised}/{len(r.calls)}",
            _gap(r.max_gap_ms),
        ]
        for r in results
    ]


def render(results: Sequence[FaultResult], console: Console) -> None:
    """The table, then what each fault did and every problem found."""
    table = Table(title="Calls through faults")
    for column in COLUMNS:
        if column == "fault":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for result, row in zip(results, table_rows(results), strict=True):
        style = None if result.ok else "red"
        table.add_row(*row, style=style)
    console.print(table)
    for line in _findings(results):
        console.print(line, markup=False, highlight=False)


def _findings(results: Sequence[FaultResult]) -> list[str]:
    lines: list[str] = []
    for result in results:
        lines.append(f"- **{result.fault}**: {result.action}.")
        for problem in result.problems:
            lines.append(f"  - problem: {problem}")
        for call in result.calls:
            where = f"{call.scenario} ({call.call_sid})"
            if not call.completed:
                lines.append(f"  - {where} did not complete: {call.why}")
            elif not call.goals_met:
                lines.append(f"  - {where} ended cleanly ({call.end_reason}) without its goals met")
            if not call.finalised:
                lines.append(f"  - {where}: the record was not closed")
            lines += [f"  - {where} lost a turn: {turn}" for turn in call.turns_lost]
            lines += [f"  - {where} cut off: {turn}" for turn in call.cut_off]
            lines += [f"  - {where} webhook lost: {event}" for event in call.webhooks.lost]
            lines += [
                f"  - {where} webhook duplicated: {event}" for event in call.webhooks.duplicates
            ]
            if call.webhooks.unverified:
                lines.append(f"  - {where}: {call.webhooks.unverified} unverified signatures")
            if any(gap is None for gap in call.gaps_ms):
                lines.append(f"  - {where}: the agent was not heard again after a reconnection")
    return lines


def chaos_section(
    results: Sequence[FaultResult],
    *,
    command: str,
    calls: int,
    cores: int | None,
    when: dt.date,
    down_s: float,
    drain_s: float,
) -> str:
    """The `## Chaos` section: how it was measured, the table, the definitions, the findings."""
    header = "| " + " | ".join(COLUMNS) + " |"
    rule = "|" + " --- |" * len(COLUMNS)
    rows = ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    verdict = (
        "Every call came through every fault whole."
        if all(r.ok for r in results)
        else "**Not every call came through whole**: see the findings below."
    )
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (measured {when.isoformat()} on {cores or '?'} CPU cores: "
        "Temporal, PostgreSQL, Redis, the API, a worker and two realtime nodes as processes of "
        "one `DevStack`, the callers in the measuring process, all on this machine).",
        "",
        f"For each fault, {calls} simulated callers phone in at once by audio (the eval's "
        "adaptive caller, on the audio-proven booking scenarios, `CALLWRIGHT_TODAY=2026-12-01`; "
        "agents' webhooks go to a local receiver). Once every call has captured a field, the "
        f"fault is injected; a killed part stays down {down_s:g} s and is then started again "
        f"on the same data (a realtime node drains for {drain_s:g} s). Then every call, its "
        "record and its webhooks are awaited and checked.",
        "",
        header,
        rule,
        *rows,
        "",
        verdict,
        "",
        "- **completed**: the call was not lost: no failure on the caller's side (an error, a "
        "time limit, a loop, no final record) and the platform ended it as a conversation ends "
        "(the agent closed it or the caller hung up), not as a broken one (stream lost, no "
        "room, a timer, caller silence); **goals met**: the goals ended as the scenario "
        "expects; **facts right**: the scenarios' facts (name, date, time, service…) the final "
        "record holds right. The speech path mishears some words without any fault (a time "
        "not understood leaves a goal unmet): the baseline row shows its rate; "
        "**reconnected**: calls whose audio moved to another stream (Twilio's `<Redirect>` to "
        "`/twilio/continue`).",
        "- **turns lost**: agent turns the caller heard, and caller turns the agent answered on "
        "the stream that heard them, missing from the call's final transcript (paired in order, "
        "by speaker and shared words); **cut off**: agent turns the caller heard only in part "
        "(talked over, or their stream lost while they played) that the transcript does not "
        "hold: an interrupted reply is recorded from its first whole clause on, and a process "
        "killed mid-reply records nothing of it (reported, not counted as lost).",
        "- **webhooks lost**: a call without its `call.completed` webhook, or a goal met "
        "without its `goal.completed`; **duplicate webhooks**: an event received under two "
        "webhook ids (the same id again is a retry, which receivers dedupe).",
        "- **records final**: records that reached status `completed`; **max gap heard**: the "
        "longest silence a caller heard from a lost stream to the agent's voice on the next "
        "one (— where no call reconnected).",
        "",
        "What each fault did, and every problem found:",
        "",
        *_findings(results),
    ]
    return "\n".join(lines) + "\n"


def replace_section(document: str, section: str, heading: str = SECTION) -> str:
    """`document` with the section under `heading` replaced by `section` (appended if none)."""
    lines = document.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        head = document.rstrip("\n")
        return (head + "\n\n" if head else "") + section
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "".join(lines[end:])
    return "".join(lines[:start]) + section + ("\n" + tail if tail else "")


def write_section(path: Path, section: str) -> None:
    """Write or replace the `## Chaos` section of `path` (made with a title if missing)."""
    document = path.read_text() if path.exists() else "# Reliability\n"
    path.write_text(replace_section(document, section))

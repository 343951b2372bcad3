"""`make bench`: response latency and memory of the realtime process, measured by phone calls.

Starts a throw-away embedded stack (Temporal, PostgreSQL, Redis, API, worker, realtime — each its
own process, as in production), creates the Dental Clinic Booking agent (a booking with name,
phone, day, time and service: five answers and a confirmation), then places scripted booking
calls through the simulated caller: first one call at a time, then `--concurrency` calls at
once. For every answered caller turn it reports

- **response**: the caller's last audible word → the first agent audio received, measured on the
  caller's side of the WebSocket (what a person on the phone would feel, minus the network);
- **the server's stage timeline** for the same turn, from the turn event the realtime process
  sent to the workflow (end of speech → end of turn, transcript, brain first token, first TTS
  audio, first frame sent);

as per-turn rows and p50/p95, plus the realtime process's resident memory (peak RSS, sampled
every 100 ms from /proc) while serving 1 and N calls. The callers skip transcribing the agent, so
the measurement leaves both cores to the server; they still synthesize their lines with Piper
before ringing.

    .venv/bin/python -m workers.bench [--rounds 3] [--concurrency 8] [--markdown FILE] [--logs DIR]

`--only retrieval` instead times knowledge retrieval at 1k and 100k items (no calls; see
`workers.retrieval_bench`, where the corpus is made): `python -m workers.bench --only retrieval`.
`--only questions` instead compares booking calls with and without questions answered from
knowledge (`workers.question_bench`): `python -m workers.bench --only questions [--pairs 5]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from realtime.metrics import STAGES
from workers.caller.caller import SimulatedCaller
from workers.caller.records import finished_call
from workers.caller.report import CallReport
from workers.caller.script import parse_script
from workers.retrieval_bench import bench_retrieval, retrieval_markdown
from workers.services import find_free_port
from workers.stack import DevStack, StackPorts, local_settings

console = Console(stderr=True)
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "dental_clinic.json"
QUESTION_PAIRS = 5

# One line answers each of the agent's questions, in its order (name, phone, day, time,
# service), then the read-back is confirmed. The service is said in words Whisper hears
# reliably from the caller's Piper voice ("teeth cleaning" was not; see `workers.demo`).
BOOKING: list[dict[str, Any]] = [
    {"say": "Hi, my name is Jane Smith."},
    {"say": "My number is five five five, one two three, four five six seven."},
    {"say": "Next Tuesday, please."},
    {"say": "At three in the afternoon."},
    {"say": "A dental cleaning, please."},
    {"say": "Yes, that's right."},
]


BARGE_IN: list[dict[str, Any]] = [
    {"say": "Hi, my name is Jane Smith."},
    {"say": "Sorry, one moment please.", "barge_in_after_ms": 700},
]


@dataclass
class TurnRow:
    """One answered caller turn."""

    concurrency: int
    call: int
    turn: int
    said: str
    response_ms: float
    stages: dict[str, float] = field(default_factory=dict)


@dataclass
class Results:
    """Everything measured."""

    rows: list[TurnRow] = field(default_factory=list)
    peak_rss_mb: dict[int, float] = field(default_factory=dict)
    idle_rss_mb: float = 0.0
    calls_placed: dict[int, int] = field(default_factory=dict)
    calls_completed: dict[int, int] = field(default_factory=dict)
    barge_in_clear_ms: list[float] = field(default_factory=list)
    barge_in_stopped_ms: list[float] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    """Calls the agent did not close, each as the server's transcript (what went wrong)."""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def sample_peak_rss(pid: int, stop: asyncio.Event) -> float:
    """The highest RSS seen every 100 ms until `stop` is set."""
    peak = rss_mb(pid)
    while not stop.is_set():
        peak = max(peak, rss_mb(pid))
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except TimeoutError:
            pass
    return peak


def server_stages(call: dict[str, Any]) -> list[dict[str, float]]:
    """The latency breakdown of each answered turn, as the workflow recorded it."""
    return [
        t["latency"]
        for t in call.get("transcript", [])
        if t["speaker"] == "agent" and t["latency"] and "first_frame" in t["latency"]
    ]


def server_transcript(call: dict[str, Any], report: CallReport) -> str:
    """A call as the server heard it, one line per turn, with how it ended."""
    lines = [
        f"call {report.call_sid} (ended by {report.ended_by}; server: {call.get('status')}, "
        f"{call.get('end_reason')})"
    ]
    for turn in call.get("transcript", []):
        cut = " [interrupted]" if turn.get("interrupted") else ""
        lines.append(f"  {turn['speaker']}: {turn['text']}{cut}")
    return "\n".join(lines)


async def call_record(api: httpx.AsyncClient, call_sid: str) -> dict[str, Any]:
    """The call's final record; what there is of it if its workflow never finishes."""
    try:
        return await finished_call(api, call_sid)
    except TimeoutError as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        record: dict[str, Any] = (await api.get(f"/api/calls/{call_sid}")).json()
        return record


async def place(
    api_url: str, token: str, agent_id: int, script: list[dict[str, Any]] = BOOKING
) -> CallReport:
    """One scripted call, not transcribing the agent (the cores stay with the server)."""
    caller = SimulatedCaller(
        api_url, parse_script(script), auth_token=token, agent_id=agent_id, transcribe=False
    )
    return await caller.run()


async def run_round(
    stack: DevStack,
    api: httpx.AsyncClient,
    token: str,
    agent_id: int,
    concurrency: int,
    first_call: int = 1,
) -> tuple[list[TurnRow], float, list[str]]:
    """`concurrency` simultaneous calls (numbered from `first_call`): their turns, the server's
    peak RSS, and the calls the agent did not close (as the server's transcripts)."""
    assert stack.info is not None and stack.realtime_process is not None
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_peak_rss(stack.realtime_process.pid, stop))
    reports = await asyncio.gather(
        *(place(stack.info.api_url, token, agent_id) for _ in range(concurrency))
    )
    stop.set()
    peak = await sampler
    rows: list[TurnRow] = []
    unfinished: list[str] = []
    for index, report in enumerate(reports):
        record = await call_record(api, report.call_sid)
        stages = server_stages(record)
        if report.ended_by != "agent":
            unfinished.append(server_transcript(record, report))
        answered = [t for t in report.turns if t.response_ms is not None]
        for number, turn in enumerate(answered):
            assert turn.response_ms is not None
            rows.append(
                TurnRow(
                    concurrency=concurrency,
                    call=first_call + index,
                    turn=number + 1,
                    said=turn.text,
                    response_ms=turn.response_ms,
                    stages=stages[number] if number < len(stages) else {},
                )
            )
    return rows, peak, unfinished


async def bench(rounds: int, concurrency: int, logs: Path | None = None) -> Results:
    """Start the stack, measure, stop it; with `logs`, keep the processes' logs there."""
    settings = local_settings().model_copy(update={"database_url": None, "redis_url": None})
    results = Results()
    with tempfile.TemporaryDirectory(prefix="callwright-bench-") as tmp:
        ports = StackPorts(*(find_free_port() for _ in range(6)))
        # The node admits the calls the bench places at once, whatever its default capacity.
        child_env = {"BRAIN": "guided", "MAX_CONCURRENT_CALLS": str(max(concurrency, 1))}
        stack = DevStack(
            settings, data_dir=Path(tmp), ports=ports, headless=True, child_env=child_env
        )
        try:
            # DevStack is synchronous (it runs its own event loop for the dev key): off this
            # loop. Inside the try, so a stack that fails to start still leaves its logs.
            await asyncio.to_thread(stack.start)
            assert stack.info is not None and stack.dev_key is not None
            assert stack.realtime_process is not None
            headers = {"Authorization": f"Bearer {stack.dev_key}"}
            async with httpx.AsyncClient(
                base_url=stack.info.api_url, headers=headers, timeout=30
            ) as api:
                created = await api.post("/api/agents", json=json.loads(EXAMPLE.read_text()))
                created.raise_for_status()
                agent_id = int(created.json()["id"])
                token = settings.twilio_auth_token.get_secret_value()
                # One call to warm every path (first-use costs are not what we measure).
                await place(stack.info.api_url, token, agent_id)
                results.idle_rss_mb = rss_mb(stack.realtime_process.pid)
                for _ in range(rounds):
                    console.print("barge-in call…")
                    report = await place(stack.info.api_url, token, agent_id, BARGE_IN)
                    for turn in report.turns:
                        if turn.kind == "barge_in" and turn.clear_ms is not None:
                            results.barge_in_clear_ms.append(turn.clear_ms)
                        if turn.kind == "barge_in" and turn.agent_stopped_ms is not None:
                            results.barge_in_stopped_ms.append(turn.agent_stopped_ms)
                for level in sorted({1, concurrency}):
                    for number in range(rounds if level == 1 else 1):
                        console.print(f"round {number + 1}: {level} concurrent call(s)…")
                        placed = results.calls_placed.get(level, 0)
                        rows, peak, unfinished = await run_round(
                            stack, api, token, agent_id, level, first_call=placed + 1
                        )
                        results.rows.extend(rows)
                        results.peak_rss_mb[level] = max(results.peak_rss_mb.get(level, 0), peak)
                        results.calls_placed[level] = placed + level
                        results.calls_completed[level] = (
                            results.calls_completed.get(level, 0) + level - len(unfinished)
                        )
                        results.unfinished += unfinished
        finally:
            await asyncio.to_thread(stack.stop)
            if logs is not None and stack.log_dir.is_dir():
                shutil.copytree(stack.log_dir, logs, dirs_exist_ok=True)
                console.print(f"logs kept in {logs}")
    return results


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (inclusive method), or NaN with no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summary_markdown(results: Results, command: str) -> str:
    """The figures as Markdown, for BENCHMARKS.md."""
    lines = [f"Command: `{command}`", ""]
    lines += [
        "| calls at once | turns | response p50 | response p95 | "
        + " | ".join(f"{s} p50" for s in STAGES)
        + " | realtime peak RSS | calls closed by the agent |",
        "| --- " * (6 + len(STAGES)) + "|",
    ]
    for level in sorted({r.concurrency for r in results.rows}):
        rows = [r for r in results.rows if r.concurrency == level]
        response = [r.response_ms for r in rows]
        stage_p50 = [percentile([r.stages[s] for r in rows if s in r.stages], 50) for s in STAGES]
        closed = f"{results.calls_completed.get(level, 0)} of {results.calls_placed.get(level, 0)}"
        lines.append(
            f"| {level} | {len(rows)} | {percentile(response, 50):.0f} ms | "
            f"{percentile(response, 95):.0f} ms | "
            + " | ".join(f"{v:.0f} ms" for v in stage_p50)
            + f" | {results.peak_rss_mb.get(level, 0):.0f} MB"
            + f" | {closed} |"
        )
    lines += ["", f"Realtime RSS after warm-up, idle: {results.idle_rss_mb:.0f} MB.", ""]
    clear, stopped = results.barge_in_clear_ms, results.barge_in_stopped_ms
    lines += [
        f"Barge-in ({len(clear)} calls, caller speaks 700 ms into the agent's answer): "
        f"caller speech onset → `clear` received p50 {percentile(clear, 50):.0f} ms, "
        f"max {max(clear, default=float('nan')):.0f} ms; → last agent audio received p50 "
        f"{percentile(stopped, 50):.0f} ms, max {max(stopped, default=float('nan')):.0f} ms.",
        "",
    ]
    for transcript in results.unfinished:
        lines += ["A call the agent did not close, as the server heard it:", "", "```"]
        lines += [transcript, "```", ""]
    lines += ["Per turn (1 call at a time):", ""]
    lines += [
        "| call | turn | caller said | response | " + " | ".join(STAGES) + " |",
        "| --- " * (4 + len(STAGES)) + "|",
    ]
    for row in (r for r in results.rows if r.concurrency == 1):
        stages = " | ".join(f"{row.stages[s]:.0f}" if s in row.stages else "—" for s in STAGES)
        lines.append(
            f"| {row.call} | {row.turn} | {row.said} | {row.response_ms:.0f} ms | {stages} |"
        )
    return "\n".join(lines) + "\n"


def render(results: Results) -> None:
    """A terminal table of the summary."""
    table = Table(title="Caller's last word → first agent audio (ms)")
    for column in ("calls at once", "turns", "p50", "p95", "peak RSS (MB)", "closed by the agent"):
        table.add_column(column, justify="right")
    for level in sorted({r.concurrency for r in results.rows}):
        response = [r.response_ms for r in results.rows if r.concurrency == level]
        table.add_row(
            str(level),
            str(len(response)),
            f"{percentile(response, 50):.0f}",
            f"{percentile(response, 95):.0f}",
            f"{results.peak_rss_mb.get(level, 0):.0f}",
            f"{results.calls_completed.get(level, 0)} of {results.calls_placed.get(level, 0)}",
        )
    console.print(table)
    for transcript in results.unfinished:
        # The transcript is the callers' words: never Rich markup ("[interrupted]" is text).
        console.print("[yellow]not closed by the agent:[/yellow] " + escape(transcript))


def run_retrieval(markdown_path: Path | None) -> None:
    """The knowledge retrieval bench: its figures to stdout (and `markdown_path`)."""
    markdown = retrieval_markdown(
        asyncio.run(bench_retrieval()), "python -m workers.bench --only retrieval"
    )
    if markdown_path:
        markdown_path.write_text(markdown)
    sys.stdout.write(markdown)


def run_questions(pairs: int, markdown_path: Path | None, logs: Path | None) -> None:
    """The knowledge questions bench: its figures to stdout (and `markdown_path`)."""
    # Imported here: that module builds on this one's helpers.
    from workers.question_bench import bench_questions, questions_markdown

    command = "python -m workers.bench --only questions" + (
        f" --pairs {pairs}" if pairs != QUESTION_PAIRS else ""
    )
    markdown = questions_markdown(asyncio.run(bench_questions(pairs, logs)), command)
    if markdown_path:
        markdown_path.write_text(markdown)
    sys.stdout.write(markdown)


def main() -> None:
    """Entry point of `make bench`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="one-call rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="calls at once (default 8)")
    parser.add_argument("--markdown", type=Path, help="also write the figures here (Markdown)")
    parser.add_argument("--logs", type=Path, help="keep the stack's process logs in this folder")
    parser.add_argument(
        "--only",
        choices=["calls", "retrieval", "questions"],
        default="calls",
        help="calls (default): response latency by phone calls; retrieval: knowledge search; "
        "questions: calls with and without questions answered from knowledge",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=QUESTION_PAIRS,
        help=f"--only questions: calls of each agent (default {QUESTION_PAIRS})",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    if args.only == "retrieval":
        run_retrieval(args.markdown)
        console.print(f"bench took {time.perf_counter() - started:.0f} s")
        return
    if args.only == "questions":
        run_questions(args.pairs, args.markdown, args.logs)
        console.print(f"bench took {time.perf_counter() - started:.0f} s")
        return
    results = asyncio.run(bench(args.rounds, args.concurrency, args.logs))
    render(results)
    command = "make bench" + (
        f" BENCH_ARGS='--rounds {args.rounds} --concurrency {args.concurrency}'"
        if (args.rounds, args.concurrency) != (3, 8)
        else ""
    )
    markdown = summary_markdown(results, command)
    if args.markdown:
        args.markdown.write_text(markdown)
    sys.stdout.write(markdown)
    console.print(f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

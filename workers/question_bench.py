"""`python -m workers.bench --only questions`: the response latency that answering callers'
questions from knowledge adds to a call.

One throw-away stack (as `workers.bench`) and the plan's Appointment Scheduler twice: agent A
from its document without a domain, agent B linked to the sample dental clinic
(`examples/knowledge/dental_clinic.json`, imported as `medical_appointments` and indexed
first, as `make demo` does). Both book the demo's appointment with its lines
(`workers.demo.BOOKING_LINES`); B's caller also asks three short questions before and between
them. After one untimed call of each, `pairs` calls of each are placed one at a time, A and B
alternating so both share the machine's noise.

What a call of B costs is measured as no cache would hide it on a caller's first words: every
call asks its own questions (`QUESTION_SETS`, cycled past six calls), and the Redis caches of
retrieval (query embeddings and results) are emptied before each B call, so B's other turns
search the database too. The booking lines are the same in every call of A and B, as their
transcripts' embeddings (which the brain computes for every turn, knowledge or not) are cached
in the realtime process alike.

Reported per group (A's turns, B's question turns, B's other turns): response (the caller's
last word → first agent audio, on the caller's side) and the server's stage stamps, including
`knowledge` (the end of speech → the retrieval ready for the brain); and how many questions the
agent answered from knowledge rather than saying it didn't know.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import redis.asyncio as aioredis
from rich.console import Console

from core.cache import KEY_PREFIX
from realtime.brains.guided import NO_ANSWER
from realtime.metrics import STAGES
from workers.bench import call_record, percentile, place, server_transcript
from workers.demo import BOOKING_LINES, DEMO_AGENT_FILE, load_sample_knowledge
from workers.services import find_free_port
from workers.stack import DevStack, StackPorts, local_settings

console = Console(stderr=True)
AGENT_DOCUMENT: Final = Path(__file__).resolve().parent.parent / "examples" / DEMO_AGENT_FILE

# Three questions a call (before the day, before the time, before the service), a new set each
# call: none names a day, a time or a service (the brain reads every open field from every
# line), and none asks for a booking ("can I get ..." is a request the values answer).
QUESTION_SETS: Final = (
    ("Are you open on Saturdays?", "Where do I park?", "Do you take credit cards?"),
    ("Are you open on Sundays?", "Is there parking nearby?", "Can I pay with Apple Pay?"),
    ("What are your opening hours?", "Where are you located?", "Do you take MetLife insurance?"),
    ("Are you open on the weekend?", "Is there a bus stop nearby?", "Is there an elevator?"),
    ("Are you taking new patients?", "Where can I leave my car?", "Is there free Wi-Fi?"),
    ("Are you open on holidays?", "Is there wheelchair access?", "Do you accept cash?"),
)
RETRIEVAL_CACHES: Final = ("embedding", "hits")
STAMPS: Final = (*STAGES[:2], "knowledge", *STAGES[2:])
GROUPS: Final = (
    ("A: no knowledge, all turns", "A", False),
    ("B: with knowledge, question turns", "B", True),
    ("B: with knowledge, other turns", "B", False),
)


@dataclass
class QuestionTurn:
    """One answered caller turn of a call of A or B."""

    agent: str
    call: int
    said: str
    question: bool
    response_ms: float
    stages: dict[str, float] = field(default_factory=dict)
    heard: str = ""
    answer: str = ""


@dataclass
class QuestionResults:
    """Everything measured."""

    turns: list[QuestionTurn] = field(default_factory=list)
    placed: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)

    def group(self, agent: str, question: bool) -> list[QuestionTurn]:
        """The turns of one agent, its question turns or its others."""
        return [t for t in self.turns if t.agent == agent and t.question == question]


def script(questions: Sequence[str]) -> list[dict[str, Any]]:
    """The booking lines, with `questions` asked before the first ones."""
    lines: list[str] = []
    for number, line in enumerate(BOOKING_LINES):
        if number < len(questions):
            lines.append(questions[number])
        lines.append(line)
    return [{"say": line} for line in lines]


def answered_turns(record: dict[str, Any]) -> list[tuple[dict[str, float], str, str]]:
    """Each answered caller turn's stage stamps, words as the server heard them and the agent's
    answer, from the call's record."""
    answered: list[tuple[dict[str, float], str, str]] = []
    heard = ""
    for turn in record.get("transcript", []):
        if turn["speaker"] != "agent":
            heard = turn["text"]
        elif turn["latency"] and "first_frame" in turn["latency"]:
            answered.append((turn["latency"], heard, turn["text"]))
    return answered


async def empty_retrieval_caches(redis_url: str) -> None:
    """Drop every cached query embedding and retrieval result (`core.context`)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        for kind in RETRIEVAL_CACHES:
            keys = [key async for key in client.scan_iter(match=f"{KEY_PREFIX}*:{kind}:*")]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


async def create_agent(api: httpx.AsyncClient, document: dict[str, Any]) -> int:
    """The agent's id, created from `document`."""
    created = await api.post("/api/agents", json=document)
    created.raise_for_status()
    return int(created.json()["id"])


async def measured_call(
    stack: DevStack,
    api: httpx.AsyncClient,
    token: str,
    agent: tuple[str, int],
    number: int,
    questions: Sequence[str],
    results: QuestionResults,
) -> None:
    """One call of agent `agent` (its letter and id); its turns added to `results`."""
    assert stack.info is not None
    letter, agent_id = agent
    if questions:
        await empty_retrieval_caches(stack.info.redis_url)
    report = await place(stack.info.api_url, token, agent_id, script(questions))
    record = await call_record(api, report.call_sid)
    results.placed[letter] = results.placed.get(letter, 0) + 1
    if report.ended_by == "agent":
        results.closed[letter] = results.closed.get(letter, 0) + 1
    else:
        results.unfinished.append(server_transcript(record, report))
    server = answered_turns(record)
    answered = [t for t in report.turns if t.response_ms is not None]
    for index, turn in enumerate(answered):
        assert turn.response_ms is not None
        stages, heard, answer = server[index] if index < len(server) else ({}, "", "")
        results.turns.append(
            QuestionTurn(
                agent=letter,
                call=number,
                said=turn.text,
                question=turn.text in questions,
                response_ms=turn.response_ms,
                stages=stages,
                heard=heard,
                answer=answer,
            )
        )


async def bench_questions(pairs: int, logs: Path | None = None) -> QuestionResults:
    """Start the stack, place one untimed call of A and B, then `pairs` calls of each, A and B
    alternating; stop the stack (with `logs`, keep the processes' logs there)."""
    settings = local_settings().model_copy(update={"database_url": None, "redis_url": None})
    results = QuestionResults()
    with tempfile.TemporaryDirectory(prefix="callwright-questions-") as tmp:
        ports = StackPorts(*(find_free_port() for _ in range(6)))
        child_env = {"BRAIN": "guided", "MAX_CONCURRENT_CALLS": "1"}
        stack = DevStack(
            settings, data_dir=Path(tmp), ports=ports, headless=True, child_env=child_env
        )
        try:
            await asyncio.to_thread(stack.start)
            assert stack.info is not None and stack.dev_key is not None
            headers = {"Authorization": f"Bearer {stack.dev_key}"}
            async with httpx.AsyncClient(
                base_url=stack.info.api_url, headers=headers, timeout=30
            ) as api:
                await load_sample_knowledge(api, console)
                document: dict[str, Any] = json.loads(AGENT_DOCUMENT.read_text())
                with_knowledge = await create_agent(api, document)
                plain = {k: v for k, v in document.items() if k != "domain"}
                plain["name"] = f"{document['name']} (no knowledge)"
                without = await create_agent(api, plain)
                token = settings.twilio_auth_token.get_secret_value()
                # One call of each to warm every path (first-use costs are not measured).
                console.print("warm-up calls…")
                await place(stack.info.api_url, token, without, script(()))
                await empty_retrieval_caches(stack.info.redis_url)
                warm_up = QUESTION_SETS[-1]
                await place(stack.info.api_url, token, with_knowledge, script(warm_up))
                for number in range(1, pairs + 1):
                    questions = QUESTION_SETS[(number - 1) % len(QUESTION_SETS)]
                    console.print(f"pair {number} of {pairs}: A, then B…")
                    await measured_call(stack, api, token, ("A", without), number, (), results)
                    await measured_call(
                        stack, api, token, ("B", with_knowledge), number, questions, results
                    )
        finally:
            await asyncio.to_thread(stack.stop)
            if logs is not None and stack.log_dir.is_dir():
                shutil.copytree(stack.log_dir, logs, dirs_exist_ok=True)
                console.print(f"logs kept in {logs}")
    return results


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q):.0f} ms" if values else "—"


def _change(after: float, before: float) -> str:
    return f"{after - before:+.0f} ms ({(after - before) / before * 100:+.1f} %)"


def questions_markdown(results: QuestionResults, command: str) -> str:
    """The figures as Markdown, for BENCHMARKS.md."""
    lines = [f"Command: `{command}`", ""]
    lines += [
        "| turns | count | response p50 | response p95 | "
        + " | ".join(f"{s} p50" for s in STAMPS)
        + " |",
        "| --- " * (4 + len(STAMPS)) + "|",
    ]
    for title, agent, question in GROUPS:
        rows = results.group(agent, question)
        response = [r.response_ms for r in rows]
        stamps = [_ms([r.stages[s] for r in rows if s in r.stages], 50) for s in STAMPS]
        lines.append(
            f"| {title} | {len(rows)} | {_ms(response, 50)} | {_ms(response, 95)} | "
            + " | ".join(stamps)
            + " |"
        )
    plain = [r.response_ms for r in results.group("A", False)]
    asked = results.group("B", True)
    other = results.group("B", False)
    calls = " and ".join(
        f"{agent}: {results.closed.get(agent, 0)} of {results.placed.get(agent, 0)}"
        for agent in ("A", "B")
    )
    lines.append("")
    if plain and asked:
        response = [r.response_ms for r in asked]
        lines.append(
            "Added response latency, B's question turns against A's turns: p50 "
            f"{_change(percentile(response, 50), percentile(plain, 50))}, p95 "
            f"{_change(percentile(response, 95), percentile(plain, 95))}."
        )
    if plain and other:
        response = [r.response_ms for r in other]
        lines.append(
            "B's other turns against A's turns: p50 "
            f"{_change(percentile(response, 50), percentile(plain, 50))}, p95 "
            f"{_change(percentile(response, 95), percentile(plain, 95))}."
        )
    for title, rows in (("question turns", asked), ("other turns", other)):
        ready = [r.stages["knowledge"] for r in rows if "knowledge" in r.stages]
        waited = [
            r.stages["knowledge"] - r.stages["stt"]
            for r in rows
            if "knowledge" in r.stages and "stt" in r.stages
        ]
        lines.append(
            f"Retrieval on B's {title}: ready {_ms(ready, 50)} p50, {_ms(ready, 95)} p95 after "
            f"the end of speech; the brain waited for it after the transcript {_ms(waited, 50)} "
            f"p50, {_ms(waited, 95)} p95."
        )
    from_knowledge = sum(1 for r in asked if r.answer and NO_ANSWER not in r.answer)
    lines += [
        f"Questions answered from knowledge: {from_knowledge} of {len(asked)}. "
        f"Calls closed by the agent: {calls}.",
        "",
    ]
    for transcript in results.unfinished:
        lines += ["A call the agent did not close, as the server heard it:", "", "```"]
        lines += [transcript, "```", ""]
    lines += [
        "Per turn:",
        "",
        "| agent | call | caller said | server heard | response | "
        + " | ".join(STAMPS)
        + " | agent said |",
        "| --- " * (6 + len(STAMPS)) + "|",
    ]
    for row in results.turns:
        cells = " | ".join(f"{row.stages[s]:.0f}" if s in row.stages else "—" for s in STAMPS)
        lines.append(
            f"| {row.agent} | {row.call} | {row.said} | {row.heard} | {row.response_ms:.0f} ms | "
            f"{cells} | "
            f"{row.answer} |"
        )
    return "\n".join(lines) + "\n"

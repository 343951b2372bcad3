"""The eval activity (`run_agent_eval`): scenarios sent as YAML text, run at the text level
against an agent snapshot with the guided brain, as `callwright eval --agent` runs them.

`POST /api/agents/{id}/eval` reaches it through `AgentEvalWorkflow` (`core.evals`). Every
scenario is read and checked against the agent's fields first; if any cannot run, none runs and
the result lists what is wrong with each (the API answers 422). Differences from the CLI, both
because the agent is the stored one, as a call gets it: a scenario's `agent:` is ignored, and so
is its `knowledge:`: the agent answers questions from its own domains, searched in the platform's
database as on a phone call, not from an example file loaded into a private PostgreSQL.

The calls run in a thread with an event loop of its own: the guided brain reads each line on the
CPU (and loads its models on a cold worker, seconds), which must not stall the worker's loop and
the call workflows it serves. One eval runs at a time per worker: another one arriving
meanwhile fails at once (`EVAL_BUSY`, not retried; the API answers 503) rather than waiting
without heartbeats, and the worker counts as busy until the thread has really finished, even
when the activity was cancelled (the thread then stops before its next scenario).
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.agents.snapshot import AgentSnapshot
from core.context import ContextManager, KnowledgeSearch
from core.db.session import make_async_engine, make_sessionmaker
from core.evals import (
    EVAL_BUSY,
    RUN_AGENT_EVAL_ACTIVITY,
    SCENARIOS_UNREADABLE,
    AgentEvalRequest,
    AgentEvalResult,
    EvalTranscriptLine,
    InvalidScenario,
    ScenarioOutcome,
)
from core.fields import DataField
from core.goals.manager import GoalManager
from core.settings import BrainName, Settings
from workers.eval.brains import BrainFactory
from workers.eval.caller import AdaptiveCaller
from workers.eval.cases import EvalCase
from workers.eval.conversation import run_text_call
from workers.eval.outcome import ScenarioResult, judge
from workers.eval.report import EvalReport
from workers.eval.scenario import ScenarioError, parse_scenario

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY_S: Final = 5.0
KNOWLEDGE_TIMEOUT_S: Final = 5.0
"""What a turn waits for its knowledge lookup: the CLI's figure, not a live call's 0.3 s, so a
busy worker does not turn a question into an unanswered one."""
BUSY_MESSAGE: Final = "another scenario run is in progress on the worker; try again in a moment"
STORED_AGENT: Final = Path("<stored agent>")
"""`EvalCase.agent_file` for a stored agent (only audio runs read that file)."""


class AgentEvalActivities:
    """Runs eval scenarios for the API; built with the worker's settings and database."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        """`sessions`' database is the one an agent's knowledge is searched in."""
        self.settings = settings
        bind = sessions.kw.get("bind")
        self.database_url: str | None = (
            bind.url.render_as_string(hide_password=False) if bind is not None else None
        )
        self._running: asyncio.Future[AgentEvalResult] | None = None
        """The eval thread's future while it runs (cleared when it has finished)."""

    @activity.defn(name=RUN_AGENT_EVAL_ACTIVITY)
    async def run_agent_eval(self, request: AgentEvalRequest) -> AgentEvalResult:
        """Every scenario's call and verdict, with the run's figures; or the scenarios that
        cannot run, with none run. EVAL_BUSY at once while another eval runs here."""
        if self._running is not None:
            raise ApplicationError(BUSY_MESSAGE, type=EVAL_BUSY, non_retryable=True)
        stop = threading.Event()
        run = asyncio.ensure_future(
            asyncio.to_thread(
                lambda: asyncio.run(
                    run_agent_eval(request, self.settings, self.database_url, stop=stop)
                )
            )
        )
        self._running = run
        run.add_done_callback(self._finished)
        try:
            while True:
                done, _ = await asyncio.wait({run}, timeout=HEARTBEAT_EVERY_S)
                if done:
                    return run.result()
                activity.heartbeat()
        except asyncio.CancelledError:
            stop.set()  # the thread stops before its next scenario; the worker is busy till then
            run.add_done_callback(_report_abandoned)
            raise

    def _finished(self, _run: asyncio.Future[AgentEvalResult]) -> None:
        """The thread is done: the worker may take another eval."""
        self._running = None


def _report_abandoned(run: asyncio.Future[AgentEvalResult]) -> None:
    """A cancelled eval's thread has ended: its failure, if any, has nobody else to tell."""
    if not run.cancelled() and (exc := run.exception()) is not None:
        logger.warning("a cancelled eval's thread failed: %r", exc)


async def run_agent_eval(
    request: AgentEvalRequest,
    settings: Settings,
    database_url: str | None,
    *,
    stop: threading.Event | None = None,
) -> AgentEvalResult:
    """Read `request`'s scenarios, then play each against its agent (`stop`: before the next)."""
    agent = request.agent
    fields = GoalManager(agent.goals).fields
    cases, invalid = read_cases(request.scenarios, agent, fields)
    if invalid:
        return AgentEvalResult(invalid=invalid)
    searchable = [d.id for d in agent.domains if d.id is not None]
    engine = make_async_engine(database_url, pool_size=2) if searchable and database_url else None
    search = KnowledgeSearch(make_sessionmaker(engine)) if engine is not None else None
    factory = BrainFactory(BrainName.GUIDED, settings)
    results: list[ScenarioResult] = []
    try:
        for case in cases:
            if stop is not None and stop.is_set():
                break
            context = (
                ContextManager(case.agent, search=search, timeout_s=KNOWLEDGE_TIMEOUT_S)
                if search is not None
                else None
            )
            brain = factory(case.agent, today=case.scenario.today)
            caller = AdaptiveCaller(case.scenario, case.fields, case.truths)
            results.append(judge(case, await run_text_call(brain, caller, case.agent, context)))
    finally:
        await factory.aclose()
        if engine is not None:
            await engine.dispose()
    report = EvalReport(results, brain=BrainName.GUIDED.value, level="text")
    return AgentEvalResult(
        passed=len(report.passed),
        failed=len(report.failed),
        completion=_rounded(report.completion.value),
        field_accuracy=_rounded(report.accuracy.value),
        results=[outcome(result) for result in results],
    )


def read_cases(
    texts: Sequence[str], agent: AgentSnapshot, fields: Mapping[str, DataField]
) -> tuple[list[EvalCase], list[InvalidScenario]]:
    """The scenarios in `texts` made ready to run against `agent`, and every one that cannot
    be (its index, the key at fault and why)."""
    _require_yaml()
    cases: list[EvalCase] = []
    invalid: list[InvalidScenario] = []
    seen: dict[str, int] = {}
    for index, text in enumerate(texts):
        try:
            scenario = parse_scenario(text)
            if scenario.id in seen:
                raise ScenarioError(
                    scenario.id,
                    "id",
                    f"{scenario.id!r} is also the id of scenario {seen[scenario.id]}",
                )
            seen[scenario.id] = index
            truths = scenario.truths(fields)
        except ScenarioError as exc:
            invalid.append(InvalidScenario(index, exc.key, _message(exc)))
            continue
        cases.append(EvalCase(scenario, agent, STORED_AGENT, fields, truths))
    return cases, invalid


def outcome(result: ScenarioResult) -> ScenarioOutcome:
    """A scenario's verdict for the API: what went wrong, in words, and its transcript."""
    record = result.record
    problems: list[str] = []
    if record.failure is not None:
        problems.append(record.failure)
    elif record.completed != result.expected_complete:
        problems.append(result.why_failed)
    problems += record.answer_problems
    problems += [
        f"{check.name}: expected {check.truth!r}, recorded {check.recorded!r}"
        for check in result.checks
        if not check.correct
    ]
    problems += [
        f"a sentence breaking {breach.instruction!r} was not said: {breach.sentence!r}"
        for breach in record.breaches
    ]
    problems += [f"unused script move {move!r}" for move in record.unused_moves]
    return ScenarioOutcome(
        id=result.id,
        description=result.case.scenario.description,
        passed=result.passed,
        problems=problems,
        transcript=[EvalTranscriptLine(line.speaker, line.text) for line in record.transcript],
    )


def _message(exc: ScenarioError) -> str:
    """The error without the file and key ScenarioError puts first (the API names both)."""
    text = str(exc).removeprefix(f"{exc.path}: ")
    return text.removeprefix(f"{exc.key}: ") if exc.key else text


def _require_yaml() -> None:
    """A worker without PyYAML fails the eval as such (retrying cannot help), rather than
    calling every scenario invalid."""
    if importlib.util.find_spec("yaml") is None:  # a dev dependency: the platform never reads YAML
        raise ApplicationError(
            "reading scenarios needs PyYAML on the worker: pip install pyyaml",
            type=SCENARIOS_UNREADABLE,
            non_retryable=True,
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

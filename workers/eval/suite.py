"""Running scenarios at the text level: one simulated call per scenario, judged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.settings import BrainName, Settings
from workers.eval.brains import BrainFactory
from workers.eval.caller import AdaptiveCaller
from workers.eval.cases import EvalCase
from workers.eval.conversation import run_text_call
from workers.eval.knowledge import KnowledgeWorld
from workers.eval.outcome import ScenarioResult, judge
from workers.eval.report import EvalReport


async def run_case(
    case: EvalCase, make_brain: BrainFactory, world: KnowledgeWorld | None = None
) -> ScenarioResult:
    """Play `case`'s call against a fresh brain and judge it; a scenario with `knowledge`
    talks to an agent that answers from that domain, loaded in `world`."""
    agent = case.agent
    context = None
    if case.scenario.knowledge is not None:
        assert world is not None, "a scenario with knowledge needs a KnowledgeWorld"
        agent = world.agent_with(agent, case.scenario.knowledge)
        context = world.context_for(agent)
    brain = make_brain(agent, today=case.scenario.today)
    caller = AdaptiveCaller(case.scenario, case.fields, case.truths)
    return judge(case, await run_text_call(brain, caller, agent, context))


async def run_cases(
    cases: Sequence[EvalCase], make_brain: BrainFactory, *, concurrency: int = 1
) -> list[ScenarioResult]:
    """Every case's result, in the cases' order; up to `concurrency` calls at once. The domain
    files the cases name are loaded first into a private PostgreSQL (a few seconds)."""
    gate = asyncio.Semaphore(max(concurrency, 1))
    names = {case.scenario.knowledge for case in cases if case.scenario.knowledge is not None}

    async with KnowledgeWorld(names) as world:

        async def one(case: EvalCase) -> ScenarioResult:
            async with gate:
                return await run_case(case, make_brain, world)

        return list(await asyncio.gather(*(one(case) for case in cases)))


async def run_text_eval(
    cases: Sequence[EvalCase], brain: BrainName, settings: Settings, *, concurrency: int = 1
) -> EvalReport:
    """Every case played at the text level against brains of kind `brain`, as a report."""
    factory = BrainFactory(brain, settings)
    try:
        results = await run_cases(cases, factory, concurrency=concurrency)
    finally:
        await factory.aclose()
    return EvalReport(results, brain=brain.value, level="text")

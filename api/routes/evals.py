"""`POST /api/agents/{id}/eval`: run `callwright eval` scenarios against a stored agent and
answer pass/fail with transcripts (the console's test page).

The eval code lives with the worker, so the API starts `AgentEvalWorkflow` (by name, `core.evals`)
on the worker's task queue and waits for its answer, at most `EVAL_TIMEOUT` (120 s). A worker
runs one eval at a time: another sent meanwhile is a 503 at once ("try again in a moment").
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta
from typing import Any, Final

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeout

from api.deps import CurrentKey, IdPath, SessionDep, authorize
from api.schemas.evals import AgentEvalCreate, AgentEvalPublic
from api.temporal import TemporalConnector
from core.agents.builder import AgentBuilder
from core.auth import Scope
from core.evals import (
    AGENT_EVAL_WORKFLOW,
    EVAL_BUSY,
    EVAL_TIMEOUT,
    SCENARIOS_UNREADABLE,
    AgentEvalRequest,
    AgentEvalResult,
    agent_eval_workflow_id,
)
from core.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/agents", tags=["agents"], dependencies=[Depends(authorize(Scope.AGENTS_WRITE))]
)

EVAL_WAIT_S: Final = EVAL_TIMEOUT.total_seconds()
RPC_TIMEOUT: Final = timedelta(seconds=5)
TIMED_OUT: Final = (
    f"the scenarios did not finish within {EVAL_TIMEOUT.total_seconds():.0f} s: send fewer at "
    "a time, and check that a worker is running (`callwright worker`, or `callwright dev`)"
)


@router.post(
    "/{agent_id}/eval",
    response_model=AgentEvalPublic,
    responses={
        404: {"description": "No such agent"},
        422: {"description": "A scenario cannot be read or run (`loc`: its index)"},
        503: {
            "description": "Temporal cannot be reached, no worker is running, the worker "
            "cannot read scenarios, or it is running another eval"
        },
        504: {"description": "The scenarios did not finish within 120 s"},
    },
)
async def eval_agent(
    request: Request,
    session: SessionDep,
    key: CurrentKey,
    agent_id: IdPath,
    body: AgentEvalCreate,
) -> AgentEvalPublic:
    """Run each scenario (the YAML text of one `callwright eval` scenario file) as a simulated
    call, at the text level with the guided brain, against this agent as a call would get it
    now (its stored goals, instructions and domains), and answer each one's verdict, problems
    and transcript with the run's figures.

    As with `callwright eval --agent`, every scenario runs against THIS agent: a scenario's
    `agent:` naming another (an example agent) is ignored. So is its `knowledge:`: the agent
    answers questions from its own domains, as on a call. A scenario whose facts, phrasings or
    script name a field this agent does not have cannot run. If any scenario cannot be read or
    run, none is: 422 with one error per such scenario, `loc` `["body", "scenarios", index]`
    and `msg` naming the scenario's key at fault. At most 120 s (504 beyond)."""
    builder = AgentBuilder(session, key.organization_id, cache=request.app.state.cache)
    compiled = await builder.compiled(agent_id)  # NotFoundError: 404
    await session.close()  # the run may take a while: give the connection back meanwhile
    result = await _run(
        request, agent_id, AgentEvalRequest(agent=compiled.agent, scenarios=body.scenarios)
    )
    if result.invalid:
        raise RequestValidationError(
            [
                {
                    "type": "invalid_scenario",
                    "loc": ("body", "scenarios", problem.index),
                    "msg": f"{problem.key}: {problem.message}" if problem.key else problem.message,
                }
                for problem in result.invalid
            ]
        )
    data = dataclasses.asdict(result)
    del data["invalid"]
    return AgentEvalPublic.model_validate(data)


async def _run(request: Request, agent_id: int, job: AgentEvalRequest) -> AgentEvalResult:
    """Start the eval workflow and wait for its result, within `EVAL_WAIT_S`."""
    settings: Settings = request.app.state.settings
    temporal: TemporalConnector = request.app.state.temporal
    try:
        client = await temporal.get()
        listening = await _worker_listening(client, settings.temporal_task_queue)
    except Exception as exc:
        logger.warning("agent %s: cannot start an eval (%s: %s)", agent_id, type(exc).__name__, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal cannot be reached; try again shortly"
        ) from None
    if not listening:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"no worker is running on task queue {settings.temporal_task_queue!r}: start one "
            "(`callwright worker`, or `callwright dev`) to run scenarios",
        )
    try:
        handle: WorkflowHandle[Any, AgentEvalResult] = await client.start_workflow(
            AGENT_EVAL_WORKFLOW,
            job,
            id=agent_eval_workflow_id(agent_id),
            task_queue=settings.temporal_task_queue,
            execution_timeout=EVAL_TIMEOUT,
            result_type=AgentEvalResult,
            rpc_timeout=RPC_TIMEOUT,
        )
    except Exception as exc:
        logger.warning("agent %s: cannot start an eval (%s: %s)", agent_id, type(exc).__name__, exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal cannot be reached; try again shortly"
        ) from None
    try:
        return await asyncio.wait_for(handle.result(), EVAL_WAIT_S)
    except TimeoutError:
        await _give_up(handle)
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, TIMED_OUT) from None
    except WorkflowFailureError as exc:
        raise _failed(agent_id, exc) from None


async def _worker_listening(client: Client, task_queue: str) -> bool:
    """Whether a worker has polled `task_queue` for activities lately (Temporal remembers
    pollers for a few minutes): without one, the eval would only wait out its 120 s."""
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        ),
        timeout=RPC_TIMEOUT,
    )
    return len(described.pollers) > 0


async def _give_up(handle: WorkflowHandle[Any, Any]) -> None:
    """End a run nobody waits for any more (its workflow would time out on its own anyway)."""
    try:
        await handle.terminate("the API stopped waiting", rpc_timeout=RPC_TIMEOUT)
    except Exception as exc:
        logger.info("eval %s not terminated (%s)", handle.id, exc)


def _failed(agent_id: int, exc: WorkflowFailureError) -> HTTPException:
    """The answer for an eval that failed in the worker."""
    cause: BaseException | None = exc.cause
    while cause is not None:
        if isinstance(cause, TemporalTimeout):
            return HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, TIMED_OUT)
        if isinstance(cause, ApplicationError) and cause.type in (SCENARIOS_UNREADABLE, EVAL_BUSY):
            return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, cause.message)
        cause = cause.__cause__
    logger.error("agent %s: the eval failed in the worker: %s", agent_id, exc.cause)
    return HTTPException(
        status.HTTP_502_BAD_GATEWAY, f"the worker could not run the scenarios: {exc.cause}"
    )

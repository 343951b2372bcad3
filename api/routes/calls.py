"""`/api/calls`: place outbound calls, list calls, watch one live, end one."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode
from twilio.base.exceptions import TwilioRestException

from api.deps import CurrentKey, OverLimit, SessionDep, authorize, count_against
from api.schemas.calls import CallCreate, CallDetail, CallEnd, CallPublic, CallStarted, TurnPublic
from core.agents.builder import AgentBuilder
from core.auth import Scope
from core.calls.erase import CallIsLive, erase_call
from core.calls.types import CallEnded, CallInput, Direction, EndSource, call_workflow_id
from core.db.models import Call, CallTurn, Organization
from core.errors import NotFoundError
from core.organizations import CallNotAllowedError, check_outbound_number
from core.ratelimit import Limiter
from core.search_attributes import call_start_attributes
from core.settings import Settings
from core.twilio_rest import create_outbound_call

router = APIRouter(
    prefix="/api/calls", tags=["calls"], dependencies=[Depends(authorize(Scope.CALLS_WRITE))]
)

CallKey = Annotated[str, Path(min_length=1, max_length=64, description="call id or CallSid")]
LIST_LIMIT = 200
CALLS_WINDOW_S = 3600.0
PROGRESS_TIMEOUT = timedelta(seconds=2)  # no worker running must not stall the API


async def start_call_workflow(
    client: Client,
    call: CallInput,
    *,
    task_queue: str,
    id_reuse_policy: WorkflowIDReusePolicy = WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    caller: str | None = None,
) -> str:
    """Start `CallWorkflow` for a call (by name: the API does not import workflows); `caller`
    names the caller in the Temporal UI's memo when there is no number (a console test call)."""
    handle = await client.start_workflow(
        "CallWorkflow",
        call,
        id=call_workflow_id(call.call_sid),
        id_reuse_policy=id_reuse_policy,
        task_queue=task_queue,
        search_attributes=call_start_attributes(call.agent.id, call.agent.name, call.direction),
        memo={
            "caller": caller or call.from_number,
            "callee": call.to_number,
            "agent": call.agent.name,
        },
    )
    return handle.id


async def hit_call_quota(limiter: Limiter, organization: Organization) -> OverLimit | None:
    """Count one call the organization places (an outbound call, a console test call); None
    within its calls per hour, the toll-fraud limit."""
    limit = organization.calls_per_hour
    return await count_against(
        limiter,
        f"calls:{organization.id}",
        limit=limit,
        window_s=CALLS_WINDOW_S,
        message=f"this organization may place {limit} calls per hour",
    )


def temporal_ui_url(settings: Settings, workflow_id: str) -> str | None:
    """The workflow's page in the Temporal UI, when TEMPORAL_UI_URL is set."""
    ui = settings.temporal_ui_url
    if not ui:
        return None
    return f"{ui.rstrip('/')}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"


async def _get_call(session: SessionDep, api_key: CurrentKey, key: str) -> Call:
    try:
        condition = Call.id == uuid.UUID(key)
    except ValueError:
        condition = Call.call_sid == key
    call = await session.scalar(
        select(Call).where(condition, Call.organization_id == api_key.organization_id)
    )
    if call is None:
        raise NotFoundError("call", key)
    return call


@router.post("", response_model=CallStarted, status_code=status.HTTP_201_CREATED)
async def create_call(
    session: SessionDep, key: CurrentKey, request: Request, body: CallCreate
) -> CallStarted:
    """Place an outbound call through Twilio and start its workflow. The number must start with
    one of the organization's allowed prefixes, within its calls per hour (toll fraud)."""
    builder = AgentBuilder(session, key.organization_id, cache=request.app.state.cache)
    await builder.load_agent(body.agent_id)  # 404 before anything is dialled
    organization = await session.get(Organization, key.organization_id)
    assert organization is not None
    try:
        check_outbound_number(organization, body.to)
    except CallNotAllowedError as exc:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            [{"loc": ["body", exc.field], "msg": str(exc), "type": "call_not_allowed"}],
        ) from exc
    over = await hit_call_quota(request.app.state.limiter, organization)
    if over is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            over.message,
            headers={"Retry-After": over.retry_after},
        )
    settings: Settings = request.app.state.settings
    twilio = request.app.state.twilio
    from_number = body.from_number or settings.twilio_from_number
    if twilio is None or not from_number or not settings.public_base_url:
        # 409, not 5xx: nothing is broken, this deployment is not set up to dial out yet.
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "outbound calls need TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, PUBLIC_BASE_URL and a "
            "caller id (`from` or TWILIO_FROM_NUMBER)",
        )
    base = settings.public_base_url.rstrip("/")
    try:
        call_sid = await asyncio.to_thread(
            create_outbound_call,
            twilio,
            to=body.to,
            from_=from_number,
            url=f"{base}/twilio/voice?agent={body.agent_id}",
            status_callback=f"{base}/twilio/status",
        )
    except TwilioRestException as exc:
        if exc.status >= 500:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"Twilio failed: {exc.msg}") from exc
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["body", "to"],
                    "msg": f"Twilio refused the call: {exc.msg}",
                    "type": "twilio",
                }
            ],
        ) from exc
    call = await builder.call_input(
        body.agent_id,
        call_sid=call_sid,
        direction=Direction.OUTBOUND,
        from_number=from_number,
        to_number=body.to,
    )
    try:
        workflow_id = await start_call_workflow(
            await request.app.state.temporal.get(), call, task_queue=settings.temporal_task_queue
        )
    except Exception:
        # A live call with no workflow would be an unrecorded call: hang it up.
        await asyncio.to_thread(lambda: twilio.calls(call_sid).update(status="completed"))
        raise
    return CallStarted(call_sid=call_sid, workflow_id=workflow_id)


@router.get("", response_model=list[CallPublic])
async def list_calls(
    session: SessionDep,
    key: CurrentKey,
    agent_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    call_status: Annotated[str | None, Query(alias="status", max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=64)] = None,
) -> list[Call]:
    """Calls, newest first, filtered by agent, status or outcome."""
    query = (
        select(Call)
        .where(Call.organization_id == key.organization_id)
        .order_by(Call.started_at.desc())
        .limit(LIST_LIMIT)
    )
    if agent_id is not None:
        query = query.where(Call.agent_id == agent_id)
    if call_status is not None:
        query = query.where(Call.status == call_status)
    if outcome is not None:
        query = query.where(Call.outcome == outcome)
    return list(await session.scalars(query))


@router.get("/{call_key}", response_model=CallDetail)
async def get_call(
    session: SessionDep, key: CurrentKey, request: Request, call_key: CallKey
) -> CallDetail:
    """The stored record, and the workflow's live progress while the call runs."""
    call = await _get_call(session, key, call_key)
    turns = await session.scalars(
        select(CallTurn).where(CallTurn.call_id == call.id).order_by(CallTurn.seq)
    )
    progress = None
    if call.status != "completed":
        try:
            client: Client = await request.app.state.temporal.get()
            live = await client.get_workflow_handle(call.workflow_id).query(
                "progress", rpc_timeout=PROGRESS_TIMEOUT
            )
            progress = dict(live) if isinstance(live, dict) else asdict(live)
        except (RPCError, TimeoutError, OSError):
            progress = None  # the record still answers when Temporal does not
    settings: Settings = request.app.state.settings
    return CallDetail.model_validate(
        {
            **CallPublic.model_validate(call).model_dump(),
            "summary": call.summary,
            "extracted_data": call.extracted_data,
            "analysis": call.analysis,
            "transcript": [TurnPublic.model_validate(t) for t in turns],
            "progress": progress,
            "temporal_ui_url": temporal_ui_url(settings, call.workflow_id),
        }
    )


@router.post("/{call_key}/end", status_code=status.HTTP_202_ACCEPTED)
async def end_call(
    session: SessionDep,
    key: CurrentKey,
    request: Request,
    call_key: CallKey,
    body: CallEnd | None = None,
) -> dict[str, str]:
    """Ask a running call to end; the workflow wraps it up (analysis, webhooks)."""
    call = await _get_call(session, key, call_key)
    over = HTTPException(status.HTTP_409_CONFLICT, f"call {call.call_sid} is already over")
    if call.status == "completed":
        raise over
    client: Client = await request.app.state.temporal.get()
    handle = client.get_workflow_handle(call.workflow_id)
    try:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            raise over
        await handle.signal(
            "call_ended", CallEnded(reason=(body or CallEnd()).reason, source=EndSource.API)
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise over from exc
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal did not answer") from exc
    return {"call_sid": call.call_sid, "status": "ending"}


@router.delete("/{call_key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_call(
    session: SessionDep, key: CurrentKey, request: Request, call_key: CallKey
) -> None:
    """Erase the call everywhere: its record, transcript, webhook deliveries and attempts, and
    its Temporal histories. 409 while the call is live: end it first."""
    call = await _get_call(session, key, call_key)
    try:
        client: Client = await request.app.state.temporal.get()
        await erase_call(session, client, call_id=call.id, organization_id=key.organization_id)
    except CallIsLive as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except (RPCError, TimeoutError, OSError) as exc:
        # Temporal is erased first: the rows that name its executions are all still there.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal did not answer; try again"
        ) from exc

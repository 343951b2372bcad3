"""Twilio's webhooks: `POST /twilio/voice` answers a call with TwiML that connects its audio to a
realtime node with room; `POST /twilio/continue` decides what happens when a media stream closes;
`POST /twilio/status` turns the end of a call into `call_ended`.

All check `X-Twilio-Signature` against TWILIO_AUTH_TOKEN and the URL as Twilio called it
(PUBLIC_BASE_URL + path + query); anything unsigned or badly signed gets 403.

Resuming a call. Twilio runs the verb after `<Connect>` when the stream closes, for whatever
reason: the agent said goodbye, or the realtime process holding the audio crashed or is being
deployed. So every `<Connect><Stream>` is followed by a `<Redirect>` to `/twilio/continue`,
which asks the call's workflow: over → `<Hangup/>`; still live → a new `<Connect><Stream>` to a
node with room (never the one that just lost it), whose session picks the conversation up from
the workflow. The caller hears a short gap, not a dial tone.

Admission. Realtime nodes register in Redis with their capacity (`core.calls.nodes`); a call is
connected only to a node that has a free slot, reserved atomically. When none has, the caller
hears a polite busy message instead of silence. Without REDIS_URL there is one node, the
configured REALTIME_PUBLIC_URL, and its own MAX_CONCURRENT_CALLS check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Final
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, Response, status
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import HTTPConnection
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from twilio.twiml.voice_response import Connect, Redirect, VoiceResponse

from api.deps import SessionDep
from api.routes.calls import start_call_workflow
from core.agents.builder import AgentBuilder
from core.calls.cleaning import clean_number
from core.calls.media import media_stream_url as media_url
from core.calls.nodes import NO_CAPACITY, Admission, NodeInfo, call_over
from core.calls.tokens import issue_call_token
from core.calls.types import CallEnded, CallResume, Direction, EndSource, call_workflow_id
from core.db.models import AgentConfig
from core.errors import NotFoundError
from core.settings import Settings
from core.twilio_signature import twilio_signature_valid

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", tags=["twilio"])

TWIML = "application/xml"
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
BUSY_MESSAGE: Final = (
    "Sorry, all of our lines are busy right now. Please call back in a few minutes. Goodbye."
)
LOST_MESSAGE: Final = "Sorry, we're having trouble on our end. Please call back shortly. Goodbye."
# Reconnections of one call before giving up: a crash and a deploy need one each; a loop of
# streams that close at once (a node refusing the call) must end.
MAX_RESUMES: Final = 5
QUERY_TIMEOUT_S: Final = 3.0
CONTINUE_PATH: Final = "/twilio/continue"


def public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio called, as it signed it: the public base, this path and the query."""
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


def media_stream_url(settings: Settings, connection: HTTPConnection) -> str:
    """The one realtime node's media WebSocket when nodes are not registered (no REDIS_URL)."""
    base = settings.realtime_public_url or settings.public_base_url or str(connection.base_url)
    return media_url(base)


async def signed_form(request: Request) -> dict[str, str]:
    """The request's form, once its Twilio signature is checked (403 otherwise)."""
    settings: Settings = request.app.state.settings
    form = {key: str(value) for key, value in (await request.form()).items()}
    signature = request.headers.get("x-twilio-signature", "")
    token = settings.twilio_auth_token.get_secret_value()
    if not twilio_signature_valid(token, public_url(settings, request), form, signature):
        logger.warning("refused an unsigned or badly signed Twilio request to %s", request.url.path)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid X-Twilio-Signature")
    return form


def twiml(response: VoiceResponse) -> Response:
    """A TwiML answer."""
    return Response(str(response), media_type=TWIML)


async def _agent_for(builder: AgentBuilder, request: Request, called: str) -> AgentConfig | None:
    agent_param = request.query_params.get("agent")
    if agent_param is not None:
        try:
            return await builder.load_agent(int(agent_param))
        except (ValueError, NotFoundError):
            return None
    return await builder.agent_for_number(called) if called else None


def _said(text: str) -> Response:
    answer = VoiceResponse()
    answer.say(text)
    answer.hangup()
    return twiml(answer)


def _hang_up() -> Response:
    answer = VoiceResponse()
    answer.hangup()
    return twiml(answer)


async def call_state(client: Client, redis: Redis | None, call_sid: str) -> tuple[bool, str | None]:
    """Whether the call's workflow still holds a live call, and why it ended if not. A node that
    ended the call says so in Redis first; a workflow whose worker does not answer the query in
    time is taken as live while it runs: a caller is never hung up on because the worker is
    restarting."""
    if redis is not None:
        try:
            ended = await call_over(redis, call_sid)
        except RedisError as exc:
            logger.warning("call %s: Redis did not answer (%s)", call_sid, exc)
            ended = None
        if ended is not None:
            return False, ended
    handle = client.get_workflow_handle(call_workflow_id(call_sid))
    try:
        description = await handle.describe()
    except RPCError:
        return False, None  # no such call
    if description.status != WorkflowExecutionStatus.RUNNING:
        return False, None
    try:
        resume = await asyncio.wait_for(
            handle.query("resume", result_type=CallResume), QUERY_TIMEOUT_S
        )
    except (TimeoutError, RPCError) as exc:
        logger.warning("call %s: resume query failed (%s); taking it as live", call_sid, exc)
        return True, None
    return bool(resume.live), resume.end_reason


async def end_call(client: Client, call_sid: str, reason: str) -> None:
    """Tell a call's workflow the call is over (a failure is logged: it may be over already)."""
    try:
        await client.get_workflow_handle(call_workflow_id(call_sid)).signal(
            "call_ended", CallEnded(reason=reason, source=EndSource.API)
        )
    except RPCError as exc:
        logger.info("call %s: could not signal %s: %s", call_sid, reason, exc)


async def choose_node(
    connection: HTTPConnection, call_sid: str, exclude: Collection[str]
) -> NodeInfo | None:
    """A realtime node with a slot reserved for this call, or None when all are full. Used
    for phone calls and the web console's test calls alike (`api/routes/console.py`)."""
    settings: Settings = connection.app.state.settings
    redis = connection.app.state.redis
    if redis is None:
        return NodeInfo(
            node_id="",
            media_url=media_stream_url(settings, connection),
            capacity=settings.max_concurrent_calls,
            calls=0,
            draining=False,
        )
    return await Admission(redis).reserve(call_sid, exclude=exclude)


async def _connect(
    request: Request, call_sid: str, agent_id: int, *, attempt: int, exclude: Collection[str]
) -> Response:
    """TwiML that streams the call's audio to a node with room, then comes back to
    `/twilio/continue` when that stream closes; the busy message when no node has room."""
    settings: Settings = request.app.state.settings
    client: Client = await request.app.state.temporal.get()
    node = await choose_node(request, call_sid, exclude)
    if node is None:
        logger.warning("call %s: every realtime node is full; the caller hears busy", call_sid)
        await end_call(client, call_sid, NO_CAPACITY if attempt == 0 else "stream_lost")
        return _said(BUSY_MESSAGE if attempt == 0 else LOST_MESSAGE)
    token = issue_call_token(
        settings.call_token_secret.get_secret_value(), call_sid=call_sid, agent_id=agent_id
    )
    answer = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=node.media_url)
    stream.parameter(name="token", value=token)
    stream.parameter(name="agent_id", value=str(agent_id))
    if attempt:
        stream.parameter(name="resume", value=str(attempt))
    answer.append(connect)
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    query = urlencode({"agent": agent_id, "node": node.node_id, "attempt": attempt + 1})
    answer.append(Redirect(f"{base}{CONTINUE_PATH}?{query}", method="POST"))
    return twiml(answer)


@router.post("/voice", response_class=Response)
async def voice(session: SessionDep, request: Request) -> Response:
    """Answer a call: start (or join) its workflow and connect its audio to a realtime node."""
    form = await signed_form(request)
    settings: Settings = request.app.state.settings
    call_sid = form.get("CallSid", "")
    if not call_sid:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "CallSid is missing")
    builder = AgentBuilder(session, cache=request.app.state.cache)
    agent = await _agent_for(builder, request, form.get("To", ""))
    if agent is None:
        logger.warning("call %s: no agent answers the number called", call_sid)
        logger.debug("call %s: no agent answers %s", call_sid, form.get("To"))
        return _said("Sorry, this number is not in service.")

    outbound = form.get("Direction", "inbound").startswith("outbound")
    call = await builder.call_input(
        agent.id,
        call_sid=call_sid,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        from_number=clean_number(form.get("From", "")),
        to_number=clean_number(form.get("To", "")),
    )
    client: Client = await request.app.state.temporal.get()
    try:
        await start_call_workflow(
            client,
            call,
            task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        # An outbound call's workflow was started when it was placed, and Twilio retries a
        # webhook it did not see answered. A call that is over stays over: a replayed webhook
        # must not start a second run that overwrites its record and its webhooks.
        live, _ = await call_state(client, request.app.state.redis, call_sid)
        if not live:
            logger.warning("call %s: voice webhook for a finished call; hanging up", call_sid)
            return _hang_up()
    return await _connect(request, call_sid, agent.id, attempt=0, exclude=())


@router.post("/continue", response_class=Response)
async def continue_call(request: Request) -> Response:
    """A media stream closed: hang up a finished call, reconnect a live one to another node."""
    form = await signed_form(request)
    call_sid = form.get("CallSid", "")
    if not call_sid:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "CallSid is missing")
    try:
        agent_id = int(request.query_params.get("agent", ""))
        attempt = int(request.query_params.get("attempt", "1"))
    except ValueError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "agent and attempt must be numbers"
        ) from None
    client: Client = await request.app.state.temporal.get()
    live, end_reason = await call_state(client, request.app.state.redis, call_sid)
    if not live:
        # A node at capacity refused the call's first stream (no fleet registry to ask).
        return _said(BUSY_MESSAGE) if end_reason == NO_CAPACITY else _hang_up()
    if attempt > MAX_RESUMES:
        logger.error("call %s: its stream closed %s times; giving up", call_sid, attempt)
        await end_call(client, call_sid, "stream_lost")
        return _said(LOST_MESSAGE)
    lost = request.query_params.get("node", "")
    logger.warning("call %s: its stream on node %s closed; resuming", call_sid, lost or "-")
    return await _connect(
        request, call_sid, agent_id, attempt=attempt, exclude={lost} if lost else set()
    )


@router.post("/status", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def call_status(request: Request) -> Response:
    """A status callback: a call that reached a final status ends its workflow."""
    form = await signed_form(request)
    call_status_value = form.get("CallStatus", "")
    call_sid = form.get("CallSid", "")
    if call_sid and call_status_value in FINAL_STATUSES:
        client: Client = await request.app.state.temporal.get()
        try:
            await client.get_workflow_handle(call_workflow_id(call_sid)).signal(
                "call_ended",
                CallEnded(
                    reason=f"twilio_{call_status_value.replace('-', '_')}",
                    source=EndSource.TWILIO,
                ),
            )
        except RPCError as exc:
            # The workflow may be over already, or never started (a call nobody answered).
            logger.info("status %s for %s not signalled: %s", call_status_value, call_sid, exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

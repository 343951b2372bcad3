"""Twilio's webhooks: `POST /twilio/voice` answers a call with TwiML that connects its audio to
the realtime server; `POST /twilio/status` turns the end of a call into `call_ended`.

Both check `X-Twilio-Signature` against TWILIO_AUTH_TOKEN and the URL as Twilio called it
(PUBLIC_BASE_URL + path + query); anything unsigned or badly signed gets 403.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response, status
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Connect, VoiceResponse

from api.deps import SessionDep
from api.routes.calls import start_call_workflow
from core.agents.builder import AgentBuilder
from core.calls.tokens import issue_call_token
from core.calls.types import CallEnded, Direction, call_workflow_id
from core.db.models import AgentConfig
from core.errors import NotFoundError
from core.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", tags=["twilio"])

TWIML = "application/xml"
FINAL_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}


def public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio called, as it signed it: the public base, this path and the query."""
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


def media_stream_url(settings: Settings, request: Request) -> str:
    """Where Twilio opens the call's media WebSocket: wss for an https base, ws for http."""
    if settings.realtime_public_url:
        base = settings.realtime_public_url.rstrip("/")
    else:
        base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return f"{base}/twilio/media"


async def signed_form(request: Request) -> dict[str, str]:
    """The request's form, once its Twilio signature is checked (403 otherwise)."""
    settings: Settings = request.app.state.settings
    form = {key: str(value) for key, value in (await request.form()).items()}
    signature = request.headers.get("x-twilio-signature", "")
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not signature or not validator.validate(public_url(settings, request), form, signature):
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


@router.post("/voice", response_class=Response)
async def voice(session: SessionDep, request: Request) -> Response:
    """Answer a call: start (or join) its workflow and connect its audio to the realtime server."""
    form = await signed_form(request)
    settings: Settings = request.app.state.settings
    call_sid = form.get("CallSid", "")
    if not call_sid:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "CallSid is missing")
    builder = AgentBuilder(session)
    agent = await _agent_for(builder, request, form.get("To", ""))
    if agent is None:
        logger.warning("call %s to %s: no agent answers this number", call_sid, form.get("To"))
        refusal = VoiceResponse()
        refusal.say("Sorry, this number is not in service.")
        refusal.hangup()
        return twiml(refusal)

    outbound = form.get("Direction", "inbound").startswith("outbound")
    call = await builder.call_input(
        agent.id,
        call_sid=call_sid,
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        from_number=form.get("From", ""),
        to_number=form.get("To", ""),
    )
    client: Client = await request.app.state.temporal.get()
    try:
        await start_call_workflow(client, call, task_queue=settings.temporal_task_queue)
    except WorkflowAlreadyStartedError:
        pass  # an outbound call's workflow was started when it was placed; Twilio may retry too

    token = issue_call_token(
        settings.call_token_secret.get_secret_value(), call_sid=call_sid, agent_id=agent.id
    )
    answer = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=media_stream_url(settings, request))
    stream.parameter(name="token", value=token)
    stream.parameter(name="agent_id", value=str(agent.id))
    answer.append(connect)
    return twiml(answer)


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
                "call_ended", CallEnded(reason=f"twilio_{call_status_value.replace('-', '_')}")
            )
        except RPCError as exc:
            # The workflow may be over already, or never started (a call nobody answered).
            logger.info("status %s for %s not signalled: %s", call_status_value, call_sid, exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

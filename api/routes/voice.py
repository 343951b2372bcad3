"""`POST /api/agents/voice-preview`: the builder's "Play test phrase".

The voice lives in the realtime process, which the API does not import: the API checks the
voice as an agent's voice is checked (`validate_voice`: 422 at `voice.speed`, …), then asks a
realtime node to speak the phrase (`POST /voice/preview`, `core.agents.voice_preview`) with a
preview token, and hands back the node's WAV. Choosing the node reads the registry and reserves
nothing: a preview takes no call slot, and the node itself refuses one while it is busy.
"""

from __future__ import annotations

import logging
from typing import Final

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import Response
from redis.exceptions import RedisError

from api.deps import CurrentKey, authorize
from api.routes.twilio import media_stream_url
from core.agents.validation import validate_voice
from core.agents.voice_preview import WAV_MEDIA_TYPE, VoicePreviewRequest, preview_url
from core.auth import Scope
from core.calls.nodes import Admission
from core.calls.tokens import issue_preview_token
from core.errors import InvalidConfigError
from core.settings import Settings

logger = logging.getLogger(__name__)

PREVIEW_TIMEOUT_S: Final = 12.0
"""A little over the node's own synthesis limit, so its clearer 503 arrives first."""
MAX_NODES_TRIED: Final = 3
NO_NODE: Final = "no realtime node could speak the phrase"

router = APIRouter(
    prefix="/api/agents", tags=["agents"], dependencies=[Depends(authorize(Scope.AGENTS_WRITE))]
)


async def _preview_urls(request: Request) -> list[str]:
    """The nodes to ask, the one with the most room first (at most MAX_NODES_TRIED)."""
    settings: Settings = request.app.state.settings
    redis = request.app.state.redis
    if redis is None:
        return [preview_url(media_stream_url(settings, request))]
    try:
        nodes = await Admission(redis).nodes()
    except (RedisError, OSError) as exc:
        logger.error("voice preview: Redis did not answer: %s", exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"{NO_NODE}: the node registry did not answer"
        ) from exc
    live = sorted((n for n in nodes if not n.draining), key=lambda n: n.calls - n.capacity)
    return [preview_url(n.media_url) for n in live[:MAX_NODES_TRIED]]


@router.post(
    "/voice-preview",
    response_class=Response,
    responses={
        200: {"content": {WAV_MEDIA_TYPE: {}}, "description": "16-bit PCM, mono, 8 kHz"},
        503: {"description": "no realtime node could speak the phrase"},
    },
)
async def voice_preview(body: VoicePreviewRequest, request: Request, key: CurrentKey) -> Response:
    """The phrase `text` spoken in `voice` as a caller would hear it (a WAV), before the agent
    is saved. 422 names the field at fault (`voice.speed`); 503 when no realtime node answers."""
    problems = validate_voice(body.voice.model_dump(), path="voice")
    if problems:
        raise InvalidConfigError(problems)
    settings: Settings = request.app.state.settings
    secret = settings.call_token_secret.get_secret_value()
    urls = await _preview_urls(request)
    reason = "none is registered"
    async with httpx.AsyncClient(timeout=PREVIEW_TIMEOUT_S) as client:
        for url in urls:
            token = issue_preview_token(secret, organization_id=key.organization_id)
            try:
                answer = await client.post(
                    url,
                    json=body.model_dump(mode="json"),
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TimeoutException:
                logger.warning("voice preview: %s did not answer in time", url)
                reason = "the node took too long"
                break  # the request's time is spent: another node would make it longer still
            except httpx.TransportError as exc:
                logger.warning("voice preview: %s could not be reached: %s", url, exc)
                reason = "the node could not be reached"
                continue
            if answer.status_code == status.HTTP_200_OK:
                return Response(
                    answer.content,
                    media_type=WAV_MEDIA_TYPE,
                    headers={"Cache-Control": "no-store"},
                )
            if answer.status_code == status.HTTP_422_UNPROCESSABLE_CONTENT:
                # The node checks what this route checked; what is left is the phrase itself.
                return Response(
                    answer.content,
                    status_code=answer.status_code,
                    media_type="application/json",
                )
            logger.warning("voice preview: %s answered %d", url, answer.status_code)
            reason = (
                "the node is busy"
                if answer.status_code == status.HTTP_503_SERVICE_UNAVAILABLE
                else f"the node answered {answer.status_code}"
            )
    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"{NO_NODE}: {reason}; try again")

"""`POST /voice/preview`: a test phrase spoken as a call would speak it (the builder's "Play test
phrase"; the contract is `core.agents.voice_preview`).

The phrase goes through exactly what an agent's sentence goes through on a call: the TTS handle
`Engines.tts_for` gives a call with that voice (Piper at the voice's speed; Chatterbox with its
voice profile and emotion style), the profile and emotion passed as `CallSession` passes them,
then the phone-audio path (`realtime.audio.phone_speech`, the one a call's replies take) down
to μ-law. The μ-law is decoded again into a 16-bit 8 kHz WAV, so the admin
hears what a caller hears, telephone band and companding included.

Only the API may ask: the request carries a short-lived preview token (its own audience, signed
with CALL_TOKEN_SECRET), taken once. Previews are kept small beside calls: MAX_PARALLEL at a
time on a node (a busy node answers 503 at once rather than queueing), none while the node
drains or is full of calls, the text bounded by MAX_TEXT_CHARS and the synthesis by
SYNTHESIS_TIMEOUT_S. On a GPU node a preview's sentences still join Chatterbox's queue at a
call's priority (the engine interface has no priority yet), so one preview can delay a call's
later sentences by its own length at most.
Refusals are logged, rate-limited, and counted in `callwright_voice_previews_total`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections.abc import Callable
from typing import Any, Final

import numpy as np
from prometheus_client import Counter
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.agents.snapshot import AgentSnapshot
from core.agents.spec import VoiceSpec
from core.agents.validation import validate_voice
from core.agents.voice_preview import WAV_MEDIA_TYPE, VoicePreviewRequest
from core.calls.token_uses import TokenUses
from core.calls.tokens import InvalidPreviewToken, verify_preview_token
from core.calls.types import CallInput
from realtime.audio import TWILIO_SAMPLE_RATE, phone_speech, ulaw_decode
from realtime.engines.base import TTSEngine
from realtime.metrics import REGISTRY
from realtime.stream_guard import LogLimiter

__all__ = ["MAX_PARALLEL", "SYNTHESIS_TIMEOUT_S", "VoicePreview", "phone_audio", "wav_bytes"]

_LOGGER = logging.getLogger(__name__)

MAX_PARALLEL: Final = 1
SYNTHESIS_TIMEOUT_S: Final = 10.0
MAX_BODY_BYTES: Final = 8 * 1024
"""Far more than MAX_TEXT_CHARS and a voice take; a bigger body is refused unread."""
PREVIEW_CALL_SID: Final = "voice-preview"

PREVIEWS_TOTAL: Final = Counter(
    "callwright_voice_previews_total",
    "Voice preview requests (the builder's test phrase), by outcome.",
    ["outcome"],
    registry=REGISTRY,
)

_REFUSALS_LOG: Final = LogLimiter(per_s=1.0, burst=10.0)


def _warn(message: str, *args: object) -> None:
    """A refusal, rate-limited process-wide."""
    _REFUSALS_LOG.warning(_LOGGER, message, *args)


def preview_call(voice: VoiceSpec) -> CallInput:
    """A call of an agent that has nothing but this voice: what `Engines.tts_for` reads."""
    agent = AgentSnapshot(name="Voice preview", template_name="", base_prompt="", voice=voice)
    return CallInput(call_sid=PREVIEW_CALL_SID, agent=agent, compiled_prompt="")


async def phone_audio(tts: TTSEngine, text: str, voice: VoiceSpec) -> bytes:
    """`text` spoken by `tts` in `voice` as 8 kHz μ-law, the bytes a call's frames carry."""
    frames: list[bytes] = []
    speech = phone_speech(tts, text, voice)
    try:
        async for _chunk, chunk_frames in speech:
            frames += chunk_frames
    finally:
        await speech.aclose()  # on a timeout too: the synthesis stops with the request
    return b"".join(frames)


def wav_bytes(ulaw: bytes) -> bytes:
    """μ-law bytes as a WAV file: 16-bit PCM, mono, 8 kHz."""
    pcm = np.asarray(ulaw_decode(ulaw), dtype="<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(TWILIO_SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


def _problem(status_code: int, outcome: str, detail: Any) -> JSONResponse:
    PREVIEWS_TOTAL.labels(outcome=outcome).inc()
    headers = {"Retry-After": "1"} if status_code == 503 else None
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


class VoicePreview:
    """The node's preview route: checks, then one bounded synthesis (see the module docstring).

    `tts_for` is the engines' per-call TTS factory; `refusal` says why the node cannot take a
    preview now (draining, full of calls), or None.
    """

    def __init__(
        self,
        *,
        secret: str,
        tts_for: Callable[[CallInput], TTSEngine],
        token_uses: TokenUses,
        refusal: Callable[[], str | None],
        max_parallel: int = MAX_PARALLEL,
        timeout_s: float = SYNTHESIS_TIMEOUT_S,
    ) -> None:
        self._secret = secret
        self._tts_for = tts_for
        self._token_uses = token_uses
        self._refusal = refusal
        self._slots = asyncio.Semaphore(max_parallel)
        self._timeout_s = timeout_s

    async def handle(self, request: Request) -> Response:
        """`POST /voice/preview`."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            _warn("voice preview refused: no preview token")
            return _problem(401, "unauthenticated", "a preview token is required")
        try:
            claims = verify_preview_token(self._secret, token.strip())
        except InvalidPreviewToken as exc:
            _warn("voice preview refused: %s", exc)
            return _problem(403, "bad_token", "invalid preview token")
        if not await self._token_uses.claim(token.strip()):
            _warn("voice preview refused: its token was used already")
            return _problem(403, "token_reused", "preview token already used")
        parsed = await self._parse(request)
        if isinstance(parsed, Response):
            return parsed
        refusal = self._refusal()
        if refusal is not None:
            _warn("voice preview refused: %s", refusal)
            return _problem(503, "busy", f"this node cannot preview now: {refusal}")
        if self._slots.locked():
            _warn("voice preview refused: another preview is being spoken")
            return _problem(503, "busy", "another preview is being spoken; try again")
        async with self._slots:
            return await self._speak(parsed, claims.organization_id)

    async def _parse(self, request: Request) -> VoicePreviewRequest | Response:
        body = b""
        async for part in request.stream():
            body += part
            if len(body) > MAX_BODY_BYTES:
                return _problem(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        try:
            parsed = VoicePreviewRequest.model_validate_json(body)
        except ValidationError as error:
            detail = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in error.errors(include_url=False, include_context=False, include_input=False)
            ]
            return _problem(422, "invalid", detail)
        problems = validate_voice(parsed.voice.model_dump(), path="voice")
        if problems:
            detail = [
                {"loc": ["body", *p.path.split(".")], "msg": p.message, "type": "invalid_config"}
                for p in problems
            ]
            return _problem(422, "invalid", detail)
        return parsed

    async def _speak(self, preview: VoicePreviewRequest, organization_id: int) -> Response:
        tts = self._tts_for(preview_call(preview.voice))
        try:
            async with asyncio.timeout(self._timeout_s):
                ulaw = await phone_audio(tts, preview.text, preview.voice)
        except TimeoutError:
            _LOGGER.warning("voice preview: no audio within %.0f s", self._timeout_s)
            return _problem(503, "timeout", "the voice engine took too long; try again")
        except Exception:  # noqa: BLE001 - a failing engine answers this request, nothing more
            _LOGGER.exception("voice preview: the TTS engine failed")
            return _problem(500, "engine_error", "the voice engine failed")
        if not ulaw:
            return _problem(422, "silent", [{"loc": ["body", "text"], "msg": "nothing to say"}])
        PREVIEWS_TOTAL.labels(outcome="spoken").inc()
        _LOGGER.info(
            "voice preview for organization %s: %d chars, %.1f s of audio",
            organization_id,
            len(preview.text),
            len(ulaw) / TWILIO_SAMPLE_RATE,
        )
        return Response(
            wav_bytes(ulaw), media_type=WAV_MEDIA_TYPE, headers={"Cache-Control": "no-store"}
        )

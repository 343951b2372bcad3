"""`/codec/decode` and `/codec/encode`: Temporal's remote codec protocol, so a Temporal UI (or
`temporal` CLI, `--codec-endpoint`) can show the payloads `core.codec` seals, to people holding
an API key with the `admin` scope and no one else.

The protocol: a POST of `{"payloads": [<Payload in proto3 JSON: base64 metadata values and
data>]}` answered with the same shape. Browsers call it cross-origin from the UI, so its origins
(`CODEC_CORS_ORIGINS`, and only they) get CORS headers on these two paths.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from pydantic import BaseModel, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import AdminKey
from core.codec import EncryptionCodec, PayloadDecryptionError, PayloadKeys
from core.settings import Settings

PREFIX = "/codec"
MAX_PAYLOADS = 1000
# What the Temporal UI sends: its namespace header, and the user's token when told to pass it.
CODEC_HEADERS = ["Authorization", "Content-Type", "X-Namespace"]

router = APIRouter(prefix=PREFIX, tags=["codec"])


class CodecPayloads(BaseModel):
    """Payloads as Temporal's codec protocol carries them (proto3 JSON of `Payload`)."""

    payloads: list[dict[str, Any]] = Field(max_length=MAX_PAYLOADS)


def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec | None = getattr(request.app.state, "payload_codec", None)
    if codec is None:
        settings: Settings = request.app.state.settings
        keys = PayloadKeys.parse(settings.payload_encryption_keys.get_secret_value())
        codec = request.app.state.payload_codec = EncryptionCodec(keys)
    return codec


def _parse(body: CodecPayloads) -> list[Payload]:
    try:
        parsed = ParseDict({"payloads": body.payloads}, Payloads())
    except ParseError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"not Temporal payloads: {exc}"
        ) from None
    return list(parsed.payloads)


def _answer(payloads: list[Payload]) -> CodecPayloads:
    return CodecPayloads(
        payloads=[MessageToDict(p, preserving_proto_field_name=True) for p in payloads]
    )


@router.post("/decode", response_model=CodecPayloads)
async def decode(body: CodecPayloads, request: Request, _: AdminKey) -> CodecPayloads:
    """Open sealed payloads (others come back as they are)."""
    try:
        opened = await _codec(request).decode(_parse(body))
    except PayloadDecryptionError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return _answer(opened)


@router.post("/encode", response_model=CodecPayloads)
async def encode(body: CodecPayloads, request: Request, _: AdminKey) -> CodecPayloads:
    """Seal payloads with the current key (the UI's signal and reset inputs)."""
    return _answer(await _codec(request).encode(_parse(body)))


class CodecCors:
    """CORS for the codec paths only: the Temporal UI's origins may call `/codec/*` from the
    browser; every other path keeps the same-origin policy."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["POST"],
            allow_headers=CODEC_HEADERS,
            allow_credentials=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX + "/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

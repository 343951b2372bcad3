"""The voice preview contract: the builder's "Play test phrase", between the API and a node.

`POST /api/agents/voice-preview` (the API) takes a `VoicePreviewRequest`, checks the voice as an
agent's voice is checked, and forwards it to a realtime node's `POST /voice/preview` with a
preview token (`core.calls.tokens.issue_preview_token`) as `Authorization: Bearer`. The node
speaks the text with its TTS engine as a call with that voice would, through the phone-audio
path, and answers `audio/wav`: 16-bit PCM, mono, 8 kHz, what a caller hears.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.agents.spec import VoiceSpec
from core.calls.media import MEDIA_PATH

PREVIEW_PATH: Final = "/voice/preview"
MAX_TEXT_CHARS: Final = 300
"""A sentence or two: enough to judge a voice, too little to use a node as a TTS service."""
DEFAULT_TEXT: Final = "Hi, thanks for calling. How can I help you today?"
WAV_MEDIA_TYPE: Final = "audio/wav"


class VoicePreviewRequest(BaseModel):
    """A phrase to speak and the voice to speak it in (an agent's `voice`, as written)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(DEFAULT_TEXT, min_length=1, max_length=MAX_TEXT_CHARS)
    voice: VoiceSpec = Field(default_factory=VoiceSpec)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("type a phrase to speak")
        return text.strip()


def preview_url(media_url: str) -> str:
    """A node's preview route from the media WebSocket URL it registers (`wss://host/twilio/media`
    → `https://host/voice/preview`)."""
    base = media_url.rstrip("/").removesuffix(MEDIA_PATH)
    for socket, plain in (("wss://", "https://"), ("ws://", "http://")):
        if base.startswith(socket):
            base = plain + base.removeprefix(socket)
            break
    return f"{base.rstrip('/')}{PREVIEW_PATH}"

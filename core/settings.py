"""Settings for every Callwright process, read from the environment (and an optional `.env`).

Every variable is documented in README.md ("Configuration"). Production is the default
environment: a process that nobody told otherwise refuses the published example secrets and
weak ones. Development (example secrets accepted) is chosen explicitly, by `callwright dev`,
`demo`, the local tools and the tests; `test` keeps production's rules for secrets.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.codec import PayloadKeys

DEV_TWILIO_AUTH_TOKEN = "dev-twilio-auth-token"
# A Standard Webhooks secret is `whsec_` + base64 of random bytes; this one is public.
DEV_WEBHOOK_SIGNING_SECRET = "whsec_ZGV2LXdlYmhvb2stc2lnbmluZy1zZWNyZXQtMzJi"  # noqa: S105
MIN_SECRET_LENGTH = 16
SECRETS_DIR = Path("/run/secrets")
# Standard Webhooks: a secret is 24 to 64 random bytes; fewer is guessable offline from one
# signed message.
WEBHOOK_SECRET_MIN_BYTES = 24
WEBHOOK_SECRET_PREFIX = "whsec_"
CALL_TOKEN_SECRET_MIN_LENGTH = 32
DEV_CALL_TOKEN_SECRET = "dev-call-token-secret-change-me-0123456789"  # noqa: S105
# `id:base64 of 32 bytes` (core/codec.py); public: what it seals is not secret.
DEV_PAYLOAD_ENCRYPTION_KEYS = "dev:Y2FsbHdyaWdodC1kZXYtcGF5bG9hZC1rZXktMzJieXQ="  # noqa: S105


# The secrets each long-running process uses; outside development it refuses to start without
# them (`Settings.require_secrets`). Other processes (migrate, apikey, org) need none, so the
# compose file gives each service only its own.
SECRETS_BY_PROCESS: dict[str, tuple[str, ...]] = {
    "api": ("TWILIO_AUTH_TOKEN", "CALL_TOKEN_SECRET", "PAYLOAD_ENCRYPTION_KEYS"),
    "worker": ("TWILIO_AUTH_TOKEN", "WEBHOOK_SIGNING_SECRET", "PAYLOAD_ENCRYPTION_KEYS"),
    "realtime": ("TWILIO_AUTH_TOKEN", "CALL_TOKEN_SECRET", "PAYLOAD_ENCRYPTION_KEYS"),
}


class MissingSecret(SecretStr):
    """A secret left unset outside development. It has no value: using it raises, naming the
    variable, so a process that was not given a secret can never fall back to the published
    development example."""

    def __init__(self, name: str) -> None:
        super().__init__("")
        self.name = name

    def get_secret_value(self) -> str:
        raise MissingSecretError(self.name)


class MissingSecretError(RuntimeError):
    """A process used a secret it was not given."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not set (outside development every secret must be given)")
        self.name = name


class Environment(StrEnum):
    """Where a process runs. `production` (the default) refuses example and weak secrets and,
    in the API and the worker, a missing Twilio account; `test` keeps production's rules for
    secrets (so tests exercise them) but needs no Twilio account (tests fake Twilio's cloud);
    only `development` accepts the example secrets, and only when chosen explicitly."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SttEngineName(StrEnum):
    """Speech-to-text engines."""

    WHISPER = "whisper"


class TtsEngineName(StrEnum):
    """Text-to-speech engines."""

    PIPER = "piper"
    CHATTERBOX = "chatterbox"


class BrainName(StrEnum):
    """Agent brains: an LLM through the OpenAI-compatible API, or the LLM-free guided brain."""

    GUIDED = "guided"
    OPENAI = "openai"


class Settings(BaseSettings):
    """Configuration shared by the API, the worker, the realtime server and the CLI."""

    # Secrets may also be files named after their variable in /run/secrets (compose secrets,
    # Kubernetes secret volumes): the environment wins over them, as it does over `.env`.
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        frozen=True,
        secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None,
    )

    environment: Environment = Field(Environment.PRODUCTION, alias="CALLWRIGHT_ENV")
    data_dir: Path = Field(Path(".callwright"), alias="CALLWRIGHT_DATA_DIR")
    log_level: str = Field("INFO", alias="LOG_LEVEL")

    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    temporal_address: str = Field("127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field("default", alias="TEMPORAL_NAMESPACE")
    temporal_task_queue: str = Field("calls", alias="TEMPORAL_TASK_QUEUE")
    temporal_ui_url: str | None = Field(None, alias="TEMPORAL_UI_URL")

    api_host: str = Field("127.0.0.1", alias="API_HOST")
    api_port: int = Field(8000, ge=1, le=65535, alias="API_PORT")
    public_base_url: str | None = Field(None, alias="PUBLIC_BASE_URL")
    realtime_public_url: str | None = Field(None, alias="REALTIME_PUBLIC_URL")
    console_dir: str | None = Field(None, alias="CONSOLE_DIR")
    """The built web console; unset, `console/dist` beside the source (api/console.py)."""
    max_request_bytes: int = Field(1_048_576, ge=1024, alias="MAX_REQUEST_BYTES")
    knowledge_upload_max_bytes: int = Field(5_242_880, ge=1024, alias="KNOWLEDGE_UPLOAD_MAX_BYTES")
    """The largest document (a file, or a JSON list of items) one knowledge import may send;
    the import route alone takes bodies this large, every other keeps MAX_REQUEST_BYTES."""

    twilio_account_sid: str | None = Field(None, alias="TWILIO_ACCOUNT_SID")
    twilio_api_base_url: str | None = Field(None, alias="TWILIO_API_BASE_URL")
    twilio_from_number: str | None = Field(None, alias="TWILIO_FROM_NUMBER")
    twilio_auth_token: SecretStr = Field(
        SecretStr(DEV_TWILIO_AUTH_TOKEN), alias="TWILIO_AUTH_TOKEN"
    )
    webhook_signing_secret: SecretStr = Field(
        SecretStr(DEV_WEBHOOK_SIGNING_SECRET), alias="WEBHOOK_SIGNING_SECRET"
    )
    call_token_secret: SecretStr = Field(
        SecretStr(DEV_CALL_TOKEN_SECRET), alias="CALL_TOKEN_SECRET"
    )
    payload_encryption_keys: SecretStr = Field(
        SecretStr(DEV_PAYLOAD_ENCRYPTION_KEYS), alias="PAYLOAD_ENCRYPTION_KEYS"
    )
    """AES-256 keys sealing every Temporal payload, `id:base64key,…`: the first seals, all open."""
    codec_cors_origins: str = Field("", alias="CODEC_CORS_ORIGINS")
    """Origins (comma-separated) of Temporal UIs allowed to call `/codec` from the browser."""
    redact_patterns: list[str] = Field(default_factory=list, alias="REDACT_PATTERNS")
    """Regular expressions (a JSON list) whose matches are redacted from stored transcripts and
    webhook payloads, on top of card numbers, which always are."""
    webhook_allow_private: bool | None = Field(None, alias="WEBHOOK_ALLOW_PRIVATE")
    """Whether every organization's webhooks may go to private, loopback and link-local
    addresses (a single-tenant install whose receivers live on its own network). Unset: only in
    development. An organization can be allowed on its own (`allow_private_webhooks`)."""
    webhook_rotation_grace_s: float = Field(86_400.0, ge=0, alias="WEBHOOK_ROTATION_GRACE_S")
    """After an endpoint's secret is rotated, how long the old one keeps signing alongside."""

    llm_base_url: str | None = Field(None, alias="LLM_BASE_URL")
    llm_api_key: SecretStr | None = Field(None, alias="LLM_API_KEY")
    llm_model: str = Field("gpt-4o-mini", alias="LLM_MODEL")
    llm_first_token_timeout_s: float = Field(1.2, alias="LLM_FIRST_TOKEN_TIMEOUT_S", gt=0)
    llm_max_tokens: int = Field(200, ge=16, alias="LLM_MAX_TOKENS")
    """The most tokens one LLM reply may take: a spoken answer is a sentence or three."""
    llm_history_turns: int = Field(12, ge=2, alias="LLM_HISTORY_TURNS")
    """Conversation turns the LLM is sent in full; older ones are folded into one summary line."""

    brain: BrainName = Field(BrainName.GUIDED, alias="BRAIN")
    stt_engine: SttEngineName = Field(SttEngineName.WHISPER, alias="STT_ENGINE")
    tts_engine: TtsEngineName = Field(TtsEngineName.PIPER, alias="TTS_ENGINE")
    chatterbox_model_path: Path | None = Field(None, alias="CHATTERBOX_MODEL_PATH")
    max_concurrent_calls: int = Field(8, ge=1, alias="MAX_CONCURRENT_CALLS")
    """Calls one realtime node takes. 8 is what `make bench` measured a 2-core node to carry with
    every call completed (BENCHMARKS.md, "Capacity"); measure yours and set it."""
    voice_cache_size: int = Field(32, ge=1, alias="VOICE_CACHE_SIZE")

    realtime_host: str = Field("127.0.0.1", alias="REALTIME_HOST")
    realtime_port: int = Field(8765, ge=1, le=65535, alias="REALTIME_PORT")
    realtime_drain_s: float = Field(20.0, ge=0, alias="REALTIME_DRAIN_S")
    """On SIGTERM, how long calls may finish on their own before they are handed over."""
    media_start_timeout_s: float = Field(5.0, gt=0, alias="MEDIA_START_TIMEOUT_S")
    """How long a media socket may stay open without a valid `start` (Twilio sends it at once)."""
    media_max_pending_sockets: int = Field(32, ge=1, alias="MEDIA_MAX_PENDING_SOCKETS")
    """Media sockets a node holds open at once before their `start` has been checked."""
    media_max_bad_frames: int = Field(20, ge=1, alias="MEDIA_MAX_BAD_FRAMES")
    """Malformed, unexpected or too-fast frames a media socket may send before it is closed."""
    whisper_model_path: Path | None = Field(None, alias="WHISPER_MODEL_PATH")
    whisper_device: str = Field("cpu", alias="WHISPER_DEVICE")
    whisper_audio_context_s: float = Field(10.0, ge=1.0, le=30.0, alias="WHISPER_AUDIO_CONTEXT_S")
    end_of_turn_silence_ms: int = Field(400, ge=100, le=5000, alias="END_OF_TURN_SILENCE_MS")
    stt_context: bool = Field(False, alias="STT_CONTEXT")
    today: dt.date | None = Field(None, alias="CALLWRIGHT_TODAY")
    """The day calls take place on, for evals and tests that need a fixed calendar (relative
    dates such as "next Tuesday" resolve against it); None = the real date."""
    silence_reprompt_s: float = Field(8.0, gt=0, alias="SILENCE_REPROMPT_S")

    @property
    def webhooks_private_allowed(self) -> bool:
        """`WEBHOOK_ALLOW_PRIVATE`, or in development when it is unset."""
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.environment is Environment.DEVELOPMENT

    @property
    def webhooks_require_https(self) -> bool:
        """Webhook URLs must be https in production (tests and development use local http)."""
        return self.environment is Environment.PRODUCTION

    @field_validator("payload_encryption_keys")
    @classmethod
    def _payload_keys_parse(cls, value: SecretStr) -> SecretStr:
        PayloadKeys.parse(value.get_secret_value())
        return value

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"REDACT_PATTERNS: {pattern!r} is not a regex: {exc}") from None
        return patterns

    @property
    def codec_origins(self) -> list[str]:
        """`CODEC_CORS_ORIGINS` as a list."""
        return [o.strip() for o in self.codec_cors_origins.split(",") if o.strip()]

    @model_validator(mode="after")
    def _refuse_example_secrets(self) -> Self:
        if self.environment is Environment.DEVELOPMENT:
            return self
        examples = {
            "TWILIO_AUTH_TOKEN": (self.twilio_auth_token, DEV_TWILIO_AUTH_TOKEN),
            "WEBHOOK_SIGNING_SECRET": (self.webhook_signing_secret, DEV_WEBHOOK_SIGNING_SECRET),
            "CALL_TOKEN_SECRET": (self.call_token_secret, DEV_CALL_TOKEN_SECRET),
            "PAYLOAD_ENCRYPTION_KEYS": (self.payload_encryption_keys, DEV_PAYLOAD_ENCRYPTION_KEYS),
        }
        given = {type(self).model_fields[name].alias for name in self.model_fields_set}
        fields = {field.alias: name for name, field in type(self).model_fields.items()}
        for name in [name for name in examples if name not in given]:
            # Frozen model: set once, here, before anyone reads it.
            object.__setattr__(self, fields[name], MissingSecret(name))
            del examples[name]
        unsafe = [name for name, (value, ex) in examples.items() if value.get_secret_value() == ex]
        if unsafe:
            raise ValueError(
                f"{', '.join(unsafe)} still hold the development example value; "
                f"set real secrets when CALLWRIGHT_ENV={self.environment.value}"
            )
        short = [
            name
            for name, (value, _) in examples.items()
            if len(value.get_secret_value()) < MIN_SECRET_LENGTH
        ]
        if short:
            raise ValueError(f"{', '.join(short)} must be at least {MIN_SECRET_LENGTH} characters")
        # HS256 wants a key at least as long as its hash (RFC 7518 §3.2).
        if (
            "CALL_TOKEN_SECRET" in examples
            and len(self.call_token_secret.get_secret_value()) < CALL_TOKEN_SECRET_MIN_LENGTH
        ):
            raise ValueError(
                f"CALL_TOKEN_SECRET must be at least {CALL_TOKEN_SECRET_MIN_LENGTH} characters"
            )
        if "WEBHOOK_SIGNING_SECRET" in examples:
            check_webhook_secret(self.webhook_signing_secret.get_secret_value())
        if "PAYLOAD_ENCRYPTION_KEYS" in examples:
            # Not even as an old key that still opens payloads: everyone can read what it sealed.
            keys = PayloadKeys.parse(self.payload_encryption_keys.get_secret_value()).keys
            if set(keys.values()) & set(
                PayloadKeys.parse(DEV_PAYLOAD_ENCRYPTION_KEYS).keys.values()
            ):
                raise ValueError("PAYLOAD_ENCRYPTION_KEYS lists the development example key")
        return self

    def require_secrets(self, process: str) -> None:
        """Refuse (ValueError naming each) the secrets `process` uses that were not given."""
        missing = [
            name
            for name in SECRETS_BY_PROCESS[process]
            if isinstance(getattr(self, name.lower()), MissingSecret)
        ]
        if missing:
            raise ValueError(
                f"{', '.join(missing)} not set: `callwright {process}` needs "
                f"{'it' if len(missing) == 1 else 'them'} when CALLWRIGHT_ENV="
                f"{self.environment.value} (CALLWRIGHT_ENV=development, and only it, runs with "
                "published example secrets)"
            )


def check_webhook_secret(secret: str) -> None:
    """Refuse a webhook secret that is not `whsec_` + base64 of at least 24 bytes."""
    advice = (
        f"WEBHOOK_SIGNING_SECRET must be `{WEBHOOK_SECRET_PREFIX}` + base64 of at least "
        f"{WEBHOOK_SECRET_MIN_BYTES} random bytes (Standard Webhooks), e.g. "
        '`python -c "import base64, secrets; '
        "print('whsec_' + base64.b64encode(secrets.token_bytes(32)).decode())\"`"
    )
    if not secret.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError(advice)
    try:
        key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{advice}; this one is not valid base64") from None
    if len(key) < WEBHOOK_SECRET_MIN_BYTES:
        raise ValueError(f"{advice}; this one decodes to {len(key)} bytes")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

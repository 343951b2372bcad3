"""The realtime process's engines, loaded once and shared by every call.

`Engines.from_settings` picks and loads the configured engines (models are loaded here, at
start, never per call); `new_call` gives one call its own cheap per-call parts: VAD state,
a TTS handle at the agent's speed, and a brain over the agent's goals.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core import embeddings
from core.cache import Cache, namespace_for
from core.calls.types import CallInput
from core.context import ContextManager, KnowledgeSearch
from core.db.session import make_async_engine, make_sessionmaker
from core.settings import BrainName, Settings, TtsEngineName
from realtime.brains.base import Brain
from realtime.brains.guided import GuidedBrain
from realtime.brains.guided import warm_up as warm_up_guided_brain
from realtime.engines.base import STTEngine, TTSEngine
from realtime.engines.silero_vad import SileroVAD, shared_silero_model
from realtime.engines.whisper_stt import WhisperSTT
from realtime.session import SessionSettings
from realtime.turns import TurnDetector, TurnSettings

_LOGGER = logging.getLogger(__name__)

VAD_SAMPLE_RATE = 8000  # Twilio's own rate: no resampling on the per-frame path


@dataclass(frozen=True)
class CallParts:
    """What one call owns: its turn detector, its TTS handle, its brain and its context."""

    detector: TurnDetector
    tts: TTSEngine
    brain: Brain
    context: ContextManager


@dataclass
class Engines:
    """Shared engines plus the factories for per-call parts."""

    stt: STTEngine
    tts_for: Callable[[CallInput], TTSEngine]
    brain_for: Callable[[CallInput], Brain]
    session: SessionSettings
    knowledge: KnowledgeSearch | None = None
    """Retrieval from the agents' domains (None without a database: calls go on without it)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Engines:
        """Load the configured engines (this takes seconds; do it once, at start)."""
        shared_silero_model()
        if embeddings.available():
            embeddings.load()  # the guided brain's intent and option matching
        stt = WhisperSTT(
            settings.whisper_model_path,
            device=settings.whisper_device,
            audio_context_s=settings.whisper_audio_context_s,
        )
        session = SessionSettings(
            turn=TurnSettings(end_of_turn_ms=settings.end_of_turn_silence_ms),
            reprompt_after_s=settings.silence_reprompt_s,
            stt_context=settings.stt_context,
        )
        return cls(
            stt=stt,
            tts_for=_tts_factory(settings),
            brain_for=_brain_factory(settings),
            session=session,
            knowledge=_knowledge_search(settings),
        )

    def new_call(self, call: CallInput) -> CallParts:
        """One call's own parts (cheap: models are shared)."""
        detector = TurnDetector(SileroVAD(VAD_SAMPLE_RATE), self.session.turn)
        context = ContextManager(
            call.agent,
            compiled_prompt=call.compiled_prompt,
            search=self.knowledge,
            call_sid=call.call_sid,
        )
        return CallParts(
            detector=detector, tts=self.tts_for(call), brain=self.brain_for(call), context=context
        )

    async def close(self) -> None:
        """Close the knowledge search's database pool and cache."""
        if self.knowledge is not None:
            await self.knowledge.close()

    async def warm_up(self, sample: CallInput | None = None) -> None:
        """Run each engine once so the first caller pays no start-up cost."""
        await self.stt.transcribe(np.zeros(self.stt.sample_rate // 2, dtype=np.float32))
        warm_up_guided_brain()  # on this thread, where the brain runs
        if sample is not None:
            await self.tts_for(sample).warm_up()


def _knowledge_search(settings: Settings) -> KnowledgeSearch | None:
    """Retrieval for calls when there is a database to search and the model to embed with."""
    if not settings.database_url or not embeddings.available():
        _LOGGER.info(
            "no knowledge retrieval on calls: %s",
            "no DATABASE_URL" if not settings.database_url else "MiniLM not installed",
        )
        return None
    # Each call runs at most one lookup at a time: a small pool serves many calls.
    database = make_async_engine(settings.database_url, pool_size=5)
    cache = Cache.from_url(
        settings.redis_url,
        namespace=namespace_for(database.url.render_as_string(hide_password=True)),
    )
    return KnowledgeSearch(make_sessionmaker(database), cache)


def _tts_factory(settings: Settings) -> Callable[[CallInput], TTSEngine]:
    if settings.tts_engine is TtsEngineName.CHATTERBOX:
        from realtime.engines.chatterbox_tts import ChatterboxEngine

        engine = ChatterboxEngine.from_settings(settings)  # one GPU model for every call
        return lambda _call: engine
    from realtime.engines.piper_tts import PiperEngine

    PiperEngine()  # loads the shared voice now rather than on the first call
    return lambda call: PiperEngine(speed=call.agent.voice.speed)


def _brain_factory(settings: Settings) -> Callable[[CallInput], Brain]:
    def today(_call: CallInput) -> dt.date:
        # The process's local date (or CALLWRIGHT_TODAY); agents carry no time zone yet.
        return settings.today or dt.date.today()

    if settings.brain is BrainName.OPENAI:
        from realtime.brains.openai_chat import OpenAIChatBrain

        client = OpenAIChatBrain.client_from_settings(settings)  # one pool for every call
        return lambda call: OpenAIChatBrain.from_settings(
            settings, call, today=today(call), client=client
        )
    return lambda call: GuidedBrain(call.agent, today=today(call))

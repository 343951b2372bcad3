"""`CallSession`: one media stream's conversation, from caller audio to agent audio.

    media → μ-law decode (8 kHz) → TurnDetector (Silero VAD) ─ pause ─▶ early transcription
                                                      └─ end of turn ─▶ transcript → brain
    brain events → Say → InstructionEngine check → TTS → TwilioAudioEncoder → Playout (paced)

What happens when:
- **The caller pauses**: transcription starts on what was said and, when the brain can fork
  (the guided brain), a copy of it answers and the first clause is synthesized, all held back;
  if the pause becomes the end of the turn, the copy is adopted and its audio goes out at once;
  if the caller goes on, the copy and the early transcript are dropped.
- **The turn ends**: the caller's turn is recorded, the brain answers; each `Say` is checked
  against the agent's don'ts (a breaching sentence is dropped, logged and reported on the turn
  event) and spoken at once, sentence by sentence.
- **The caller speaks over the agent** (barge-in): Twilio is told to `clear`, the brain and TTS
  are cancelled, and the agent's turn is recorded as interrupted with the words actually heard.
- **Silence**: after `reprompt_after_s` of quiet the agent nudges (the brain's reprompt); after as
  long again, it says goodbye and ends the call.
- **Keypad**: digits are collected until a pause (or `#`) and go to the brain as one turn.
- **A typed turn** (the web console's test calls only): a caller turn without VAD or STT; it
  interrupts the agent as speech would and is answered as a spoken turn is. Its latency stamps
  start when the text arrives (no end-of-turn or STT stage) and stay out of the phone latency
  metrics.
- **A resumed call** (its previous stream was lost to a crash or a deploy): the session starts
  from the workflow's record — turn numbers go on from the last one, the brain takes the fields
  already captured — and says the brain's re-entry line instead of the greeting.
- **Hand-over** (the process is draining): the session lets go without ending the call; the
  stream closes, and Twilio's next verb resumes the call on another node.

The audio path never waits for Temporal: turn and field events go to `WorkflowSignals`, which
delivers them in the background. Engines are shared by the process; a session owns only its
per-call state (VAD state, playout, brain).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import numpy as np

from core.calls.types import (
    CallInput,
    CallResume,
    FieldEvent,
    Speaker,
    StreamAttached,
    StreamDetached,
    TurnEvent,
)
from core.context import ContextManager
from core.instructions.engine import InstructionEngine
from realtime.audio import decode_inbound, phone_speech, resample
from realtime.brains.base import Brain, CallerTurn, Captured, EndCall, FirstToken, Rejected, Say
from realtime.brains.guided import GuidedBrain
from realtime.engines.base import Audio, STTEngine, TTSEngine
from realtime.metrics import BARGE_IN_SECONDS, LLM_FALLBACKS_TOTAL, observe_turn
from realtime.playout import DEFAULT_LEAD_S, Playout
from realtime.signals import WorkflowSignals
from realtime.turns import Paused, Resumed, SpeechStarted, TurnDetector, TurnEnded, TurnSettings

_LOGGER = logging.getLogger(__name__)

GOODBYE_SILENT: Final = "I haven't heard anything, so I'll let you go. Goodbye!"
CANNOT_SAY: Final = "Sorry, I can't help with that. Is there anything else?"
CANCEL_TIMEOUT_S: Final = 2.0  # cancellation always has a time limit
MAX_DTMF_DIGITS: Final = 32
"""Keys held for one keypad turn; a caller (or a peer) pressing more loses the oldest."""
MAX_PENDING_TRANSCRIPTIONS: Final = 2
"""Transcriptions one call may have waiting for the shared recogniser; a newer one drops the
oldest, so one call's audio can never fill the queue every call shares."""

_T = TypeVar("_T")


@asynccontextmanager
async def _closing(iterator: AsyncIterator[_T]) -> AsyncIterator[AsyncIterator[_T]]:
    """Close an async generator on exit (cancellation included), so a brain's HTTP stream or a
    TTS job stops with the turn; interfaces promise only AsyncIterator, hence not `aclosing`."""
    try:
        yield iterator
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


@dataclass
class _Reply:
    """One answer in the making: the brain giving it, its latency stamps, and whether its
    effects (speech, records, signals) may reach the world yet. A speculative reply holds them
    until the turn really ends the way it guessed; then `commit` releases them in order."""

    brain: Brain
    committed: asyncio.Event
    stamps: dict[str, float] = field(default_factory=dict)
    held: list[Callable[[], None]] = field(default_factory=list)
    typed: bool = False
    """An answer to a typed turn: its stamps are not a phone call's, so no metric takes them."""

    @classmethod
    def now(cls, brain: Brain) -> _Reply:
        """A reply that acts at once."""
        reply = cls(brain, asyncio.Event())
        reply.committed.set()
        return reply

    def do(self, action: Callable[[], None]) -> None:
        """Run `action` now if committed, else when committed."""
        if self.committed.is_set():
            action()
        else:
            self.held.append(action)

    def commit(self) -> None:
        """Release everything held, in order; act at once from now on."""
        held, self.held = self.held, []
        for action in held:
            action()
        self.committed.set()


@dataclass
class _Early:
    """Work started at the caller's pause: the transcript, and maybe a speculative answer."""

    audio_samples: int
    transcript: asyncio.Task[str]
    reply: _Reply | None = None
    answer: asyncio.Task[None] | None = None

    def cancel(self) -> None:
        self.transcript.cancel()
        if self.answer is not None:
            self.answer.cancel()


@dataclass(frozen=True)
class SessionSettings:
    """Conversation timing of a call."""

    turn: TurnSettings = field(default_factory=TurnSettings)
    reprompt_after_s: float = 8.0
    dtmf_gap_s: float = 1.0
    playout_lead_s: float = DEFAULT_LEAD_S
    stt_context: bool = False
    """Give the speech recogniser the brain's `listening_context` (the question just asked)."""


class CallSession:
    """One call's conversation (see the module docstring). Feed it the stream's messages."""

    def __init__(
        self,
        *,
        call: CallInput,
        stream_sid: str,
        send: Callable[[str], Awaitable[None]],
        brain: Brain,
        detector: TurnDetector,
        stt: STTEngine,
        tts: TTSEngine,
        signals: WorkflowSignals,
        settings: SessionSettings | None = None,
        resume: CallResume | None = None,
        node_id: str = "",
        context: ContextManager | None = None,
    ) -> None:
        self.call = call
        self.context = context or ContextManager(call.agent, compiled_prompt=call.compiled_prompt)
        """Knowledge lookups (started at the caller's pause) and the goal state."""
        self.resumed = resume
        """The call so far, when this stream picks up one whose previous stream was lost."""
        self.node_id = node_id
        self.stream_sid = stream_sid
        self.brain = brain
        self.detector = detector
        self.stt = stt
        self.tts = tts
        self.signals = signals
        self.settings = settings or SessionSettings()
        self.playout = Playout(send, stream_sid, lead_s=self.settings.playout_lead_s)
        self.rules = InstructionEngine(call.agent.instructions)
        self.finished = asyncio.Event()
        """Set when the call is over (the agent closed it or the caller left)."""
        self.end_reason: str | None = None
        self.transcript: list[TurnEvent] = list(resume.transcript) if resume else []
        self._seq = resume.last_seq if resume else 0
        """Turn numbers go on across streams: the workflow applies each number once."""
        self._field_events: dict[tuple[int, str], int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._answer: asyncio.Task[Any] | None = None
        self._early: _Early | None = None
        self._dtmf: list[str] = []
        self._dtmf_timer: asyncio.Task[None] | None = None
        self._transcriptions: list[asyncio.Task[str]] = []
        self._idle_since: float | None = None
        self._reprompts = 0
        self._clock_offset = 0.0  # wall time minus caller-audio time

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sender tasks and greet the caller (or pick a resumed call up)."""
        self.signals.attached(
            StreamAttached(self.stream_sid, node_id=self.node_id, resumed=self.resumed is not None)
        )
        self._spawn(self.playout.run(), "playout")
        self._spawn(self.signals.run(), "signals")
        self._spawn(self._watch_silence(), "silence")
        if self.resumed is not None:
            line = self.brain.resume(self.resumed.captured, self.resumed.transcript)
            self._answer = self._spawn(self._speak_turn(None, line), "re-entry")
        else:
            self._answer = self._spawn(self._speak_turn(None, self.brain.greeting()), "greeting")

    @property
    def quiet(self) -> bool:
        """Nobody is speaking and no answer is being prepared: a good moment to hand over."""
        answering = self._answer is not None and not self._answer.done()
        return not (answering or self.playout.active or self.detector.speaking or self._early)

    async def hand_over(self, reason: str) -> None:
        """Let go of the call without ending it (the process is draining, or the stream was
        lost): what was heard is recorded, the workflow is told the stream left, and the call
        goes on wherever Twilio reconnects it."""
        if self.end_reason is not None:
            return
        answer, self._answer = self._answer, None
        await self._interrupt(answer, onset=None)
        self.end_reason = f"handed_over:{reason}"
        self.signals.detached(StreamDetached(self.stream_sid, reason=reason))
        self.finished.set()
        await self._cancel_tasks()

    async def stop(self, reason: str) -> None:
        """The stream ended (caller hung up, server shutdown): record what was heard, wrap up."""
        if self.end_reason is None:
            answer, self._answer = self._answer, None
            await self._interrupt(answer, onset=None)
            self._finish(reason)
        await self._cancel_tasks()

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in self._tasks if t.get_name() != "signals"]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=CANCEL_TIMEOUT_S) if tasks else None

    async def drain_signals(self, timeout_s: float) -> None:
        """Give the background sender up to `timeout_s` to deliver what is queued."""
        sender = next((t for t in self._tasks if t.get_name() == "signals"), None)
        if sender is not None:
            _done, pending = await asyncio.wait([sender], timeout=timeout_s)
            for task in pending:
                task.cancel()

    # -- inbound ----------------------------------------------------------------------------------

    def on_media(self, payload: bytes) -> None:
        """Twenty milliseconds of caller audio."""
        if self.end_reason is not None:
            return
        pcm = decode_inbound(payload, to_rate=self.detector.sample_rate)
        events = self.detector.push(pcm)
        self._clock_offset = time.monotonic() - self.detector.received_s
        for event in events:
            if isinstance(event, SpeechStarted):
                answer, self._answer = self._answer, None
                onset = event.at + self._clock_offset
                self._spawn(self._interrupt(answer, onset=onset), "barge-in")
                self._idle_since = None
            elif isinstance(event, Paused):
                self._start_early(event.audio, event.speech_end + self._clock_offset)
            elif isinstance(event, Resumed):
                self._drop_early()
            elif isinstance(event, TurnEnded):
                self._end_turn(event, event.speech_end + self._clock_offset)

    def on_mark(self, name: str) -> None:
        """Twilio played up to this mark."""
        self.playout.on_mark(name)

    def on_dtmf(self, digit: str) -> None:
        """A keypress: interrupts the agent; digits are answered after a short gap (or `#`)."""
        if self.end_reason is not None:
            return
        self._drop_early()
        answer, self._answer = self._answer, None
        self._spawn(self._interrupt(answer, onset=time.monotonic()), "barge-in")
        self._idle_since = None
        if digit != "#":
            if len(self._dtmf) >= MAX_DTMF_DIGITS:
                del self._dtmf[0]
                _LOGGER.warning(
                    "call %s: more than %d keys in one turn; dropped the oldest",
                    self.call.call_sid,
                    MAX_DTMF_DIGITS,
                )
            self._dtmf.append(digit)
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
        delay = 0.0 if digit == "#" else self.settings.dtmf_gap_s
        self._dtmf_timer = self._spawn(self._flush_dtmf(delay), "dtmf")

    def on_text(self, text: str) -> None:
        """A typed caller turn (the web console's test call): interrupts the agent, as speech
        would, and is answered as a spoken turn is, minus VAD and STT."""
        text = text.strip()
        if self.end_reason is not None or not text:
            return
        self._drop_early()
        # Keys pressed just before belong to no turn now: one reply, to the typed line.
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
            self._dtmf_timer = None
        self._dtmf.clear()
        answer, self._answer = self._answer, None
        self._idle_since = None
        self._answer = self._spawn(self._typed_turn(answer, text), "typed-turn")

    async def _typed_turn(self, interrupted: asyncio.Task[Any] | None, text: str) -> None:
        # In this task, not one of its own (as a barge-in is): the reply below must not start
        # playing before the interrupted one's audio is cleared.
        # No onset: a typed line is not a caller talking over the agent, and stays out of the
        # phone's barge-in histogram.
        await self._interrupt(interrupted, onset=None)
        reply = _Reply.now(self.brain)
        reply.typed = True
        await self._answer_text(text, time.monotonic(), reply)

    # -- turns ------------------------------------------------------------------------------------

    def _start_early(self, audio: Audio, speech_end: float) -> None:
        """At a pause: transcribe what was said and, if the brain can fork, answer it
        speculatively, so the reply is (nearly) ready if the pause turns out to end the turn."""
        self._drop_early()
        early = _Early(audio.size, self._queue_transcription(audio, "early-stt"))
        # Look the words up as soon as they are known, whether or not the brain speculates.
        early.transcript.add_done_callback(self._look_up_early)
        idle = self._answer is None or self._answer.done()
        fork = self.brain.fork() if idle else None
        if fork is not None:
            early.reply = _Reply(fork, asyncio.Event())
            early.answer = self._spawn(
                self._speculate(early.transcript, speech_end, early.reply), "speculative-turn"
            )
        self._early = early

    def _look_up_early(self, transcript: asyncio.Task[str]) -> None:
        if not transcript.cancelled() and transcript.exception() is None:
            self.context.prefetch(transcript.result())

    def _drop_early(self) -> None:
        if self._early is not None:
            self._early.cancel()
            self._early = None

    def _end_turn(self, event: TurnEnded, speech_end: float) -> None:
        early, self._early = self._early, None
        _LOGGER.info(
            "call %s: caller turn ended: %.2f s of speech%s",
            self.call.call_sid,
            event.audio.size / self.detector.sample_rate,
            ", answer prepared at the pause" if early and early.reply else "",
        )
        if early is not None and early.audio_samples != event.audio.size:
            early.cancel()
            early = None
        if early is not None and early.reply is not None and early.answer is not None:
            # The turn ended as guessed at the pause: adopt the speculative answer.
            early.reply.stamps["end_of_turn"] = _ms_since(speech_end)
            self.brain = early.reply.brain
            early.reply.commit()
            self._answer = early.answer
            return
        transcript = early.transcript if early is not None else None
        self._answer = self._spawn(self._caller_turn(event, speech_end, transcript), "turn")

    def _queue_transcription(self, audio: Audio, name: str) -> asyncio.Task[str]:
        """Transcribe `audio` in a task of its own; past MAX_PENDING_TRANSCRIPTIONS of this
        call's, the oldest is cancelled (one not yet started leaves the recogniser's queue)."""
        self._transcriptions = [t for t in self._transcriptions if not t.done()]
        while len(self._transcriptions) >= MAX_PENDING_TRANSCRIPTIONS:
            oldest = self._transcriptions.pop(0)
            oldest.cancel()
            _LOGGER.warning(
                "call %s: %d transcriptions waiting; dropped the oldest",
                self.call.call_sid,
                MAX_PENDING_TRANSCRIPTIONS,
            )
        task = self._spawn(self._transcribe(audio), name)
        self._transcriptions.append(task)
        return task

    async def _transcribe(self, audio: Audio) -> str:
        # The detector keeps VAD-rate audio (8 kHz); Whisper wants 16 kHz, resampled in one
        # piece (frame by frame would click at every edge).
        samples = (
            resample(audio, self.detector.sample_rate, self.stt.sample_rate)
            if audio.size
            else np.zeros(0, dtype=np.float32)
        )
        context = self.brain.listening_context() if self.settings.stt_context else ""
        return (await self.stt.transcribe(samples, context=context)).text.strip()

    async def _speculate(
        self, transcript: asyncio.Task[str], speech_end: float, reply: _Reply
    ) -> None:
        text = await transcript
        reply.stamps["stt"] = _ms_since(speech_end)
        await self._answer_text(text, speech_end, reply)

    async def _caller_turn(
        self, event: TurnEnded, speech_end: float, early: asyncio.Task[str] | None
    ) -> None:
        reply = _Reply.now(self.brain)
        reply.stamps["end_of_turn"] = _ms_since(speech_end)
        text: str | None = None
        if early is not None:
            try:
                text = await early
            except Exception:  # noqa: BLE001 - transcribe again below rather than lose the turn
                _LOGGER.warning("call %s: early transcription failed", self.call.call_sid)
        if text is None:
            try:
                text = await self._queue_transcription(event.audio, "stt")
            except Exception:  # noqa: BLE001 - a failing engine must not leave the caller in silence
                _LOGGER.exception("call %s: transcription failed", self.call.call_sid)
                reply.stamps["stt"] = _ms_since(speech_end)
                await self._respond(CallerTurn(text=""), speech_end, reply)  # "didn't catch that"
                return
        reply.stamps["stt"] = _ms_since(speech_end)
        await self._answer_text(text, speech_end, reply)

    async def _answer_text(self, text: str, speech_end: float, reply: _Reply) -> None:
        if not text:
            _LOGGER.info("call %s: an utterance with no words; ignored", self.call.call_sid)
            reply.do(self._mark_idle)
            return
        reply.do(lambda: self._record(Speaker.CALLER, text))
        knowledge = await self.context.get_domain_context(text)
        if self.context.last_ms is not None:
            reply.stamps["knowledge"] = _ms_since(speech_end)
        await self._respond(CallerTurn(text=text, knowledge=tuple(knowledge)), speech_end, reply)

    async def _flush_dtmf(self, delay: float) -> None:
        await asyncio.sleep(delay)
        digits, self._dtmf = "".join(self._dtmf), []
        if not digits:
            return
        self._record(Speaker.CALLER, f"[keypad {digits}]")
        self.detector.reset()
        self._answer = asyncio.current_task()
        await self._respond(CallerTurn(digits=digits), time.monotonic(), _Reply.now(self.brain))

    async def _respond(self, turn: CallerTurn, speech_end: float, reply: _Reply) -> None:
        said: list[str] = []
        breaches: list[str] = []
        end: EndCall | None = None
        stamps = reply.stamps
        reply.do(self.playout.new_reply)
        async with _closing(reply.brain.reply(turn)) as events:
            async for event in events:
                if isinstance(event, FirstToken):
                    stamps["brain_first_token"] = _ms_since(speech_end)
                    if event.source == "guided" and not isinstance(reply.brain, GuidedBrain):
                        LLM_FALLBACKS_TOTAL.inc()
                elif isinstance(event, Captured):
                    reply.do(functools.partial(self._signal_field, event))
                elif isinstance(event, Rejected):
                    # The reason may quote the caller's words: only at DEBUG.
                    _LOGGER.info("call %s: %s not taken", self.call.call_sid, event.name)
                    _LOGGER.debug("call %s: %s: %s", self.call.call_sid, event.name, event.reason)
                elif isinstance(event, EndCall):
                    end = event
                elif isinstance(event, Say):
                    text = self._allowed(event.text, breaches)
                    if text:
                        said.append(text)
                        await self._speak(text, speech_end, reply)
        if not said:
            said.append(CANNOT_SAY)
            await self._speak(CANNOT_SAY, speech_end, reply)
        await self._finish_reply(" ".join(said), speech_end, reply, breaches, end)

    async def _speak_turn(self, end_reason: str | None, text: str) -> None:
        """Say `text` as a turn of its own (greeting, reprompt, goodbye)."""
        reply = _Reply.now(self.brain)
        self.playout.new_reply()
        await self._speak(text, None, reply)
        await self._finish_reply(text, None, reply, [], EndCall(end_reason) if end_reason else None)

    async def _speak(self, text: str, speech_end: float | None, reply: _Reply) -> None:
        # A speculative reply never shares encoder state with one being spoken: each utterance
        # has its own (`phone_speech`).
        speech = phone_speech(self.tts, text, self.call.agent.voice)
        async with _closing(speech) as chunks:
            async for chunk, frames in chunks:
                if speech_end is not None and "tts_first_audio" not in reply.stamps:
                    reply.stamps["tts_first_audio"] = _ms_since(speech_end)
                reply.do(functools.partial(self.playout.speak, frames, chunk.text or text))

    async def _finish_reply(
        self,
        text: str,
        speech_end: float | None,
        reply: _Reply,
        breaches: list[str],
        end: EndCall | None,
    ) -> None:
        await reply.committed.wait()
        await self.playout.wait_played()
        stamps = reply.stamps
        if speech_end is not None and self.playout.first_frame_at is not None:
            stamps["first_frame"] = (self.playout.first_frame_at - speech_end) * 1000
            if not reply.typed:
                observe_turn(stamps)
        self._record(Speaker.AGENT, text, latency=stamps, breaches=breaches)
        reply.brain.heard(text, interrupted=False)
        self._mark_idle()
        if end is not None:
            self._finish(end.reason or "completed")

    def _signal_field(self, event: Captured) -> None:
        # After the caller's turn is recorded, so `_seq` is that turn; the id is unique in the
        # call (seq counts across streams), so a re-sent event is applied once.
        self.context.update_context({event.name: event.value})
        key = (self._seq, event.name)
        self._field_events[key] = count = self._field_events.get(key, 0) + 1
        event_id = f"{self._seq}:{event.name}:{count}"
        self.signals.field(
            FieldEvent(event.name, event.value, turn_seq=self._seq, event_id=event_id)
        )

    def _mark_idle(self) -> None:
        self._idle_since = time.monotonic()

    def _allowed(self, text: str, breaches: list[str]) -> str:
        found = self.rules.validate_response(text)
        if not found:
            return text
        for breach in found:
            # The sentence may repeat what the caller said: its words only at DEBUG.
            _LOGGER.warning(
                "call %s: dropped a sentence that breaks %r",
                self.call.call_sid,
                breach.instruction.text,
            )
            _LOGGER.debug("call %s: dropped %r (%s)", self.call.call_sid, text, breach.reason)
            breaches.append(breach.instruction.text)
        return ""

    async def _interrupt(self, answer: asyncio.Task[Any] | None, onset: float | None) -> None:
        """Stop the agent mid-reply (barge-in, keypress, hang-up); record what was heard.

        `answer` is the reply task as it was when the caller spoke, taken synchronously: by the
        time this runs, a new turn may already be the current answer.
        """
        speaking = self.playout.active
        # A reply can be between two pieces (all played, the next one still synthesizing):
        # nothing is playing, yet the caller has heard part of it.
        answering = answer is not None and not answer.done()
        if answering and answer is not asyncio.current_task():
            assert answer is not None
            answer.cancel()
            await asyncio.wait([answer], timeout=CANCEL_TIMEOUT_S)
        if not (speaking or answering):
            return
        heard = await self.playout.clear() if speaking else self.playout.heard()
        if onset is not None and speaking:
            BARGE_IN_SECONDS.observe(max(time.monotonic() - onset, 0.0))
        if not heard:
            return  # nothing of this reply reached the caller: no agent turn to record
        self._record(Speaker.AGENT, heard, interrupted=True)
        self.brain.heard(heard, interrupted=True)

    # -- silence ----------------------------------------------------------------------------------

    async def _watch_silence(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            idle = self._idle_since
            if idle is None or self.detector.speaking or self.playout.active:
                continue
            if time.monotonic() - idle < self.settings.reprompt_after_s:
                continue
            self._idle_since = None
            self._reprompts += 1
            if self._reprompts == 1:
                self._answer = self._spawn(self._speak_turn(None, self.brain.reprompt()), "nudge")
            else:
                self._answer = self._spawn(
                    self._speak_turn("caller_silent", GOODBYE_SILENT), "goodbye"
                )

    # -- bookkeeping ------------------------------------------------------------------------------

    def _record(
        self,
        speaker: Speaker,
        text: str,
        *,
        interrupted: bool = False,
        latency: dict[str, float] | None = None,
        breaches: list[str] | None = None,
    ) -> None:
        self._seq += 1
        if speaker is Speaker.CALLER:
            self._reprompts = 0
        event = TurnEvent(
            seq=self._seq,
            speaker=speaker,
            text=text,
            interrupted=interrupted,
            latency_ms={k: round(v, 1) for k, v in (latency or {}).items()},
            breaches=list(breaches or []),
        )
        self.transcript.append(event)
        self.signals.turn(event)

    def _finish(self, reason: str) -> None:
        if self.end_reason is not None:
            return
        self.end_reason = reason
        self.context.close()
        self.signals.ended(reason)
        self.finished.set()

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Every task of the session is named, tracked and logged if it fails."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            _LOGGER.error(
                "call %s: task %s failed", self.call.call_sid, task.get_name(), exc_info=exc
            )


def _ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000

"""`SimulatedCaller`: a phone call placed against the running platform, with Twilio's side
played exactly: the signed voice webhook, then a bidirectional Media Stream on a real WebSocket.

The line itself (20 ms pacing, playback, marks, `clear`) is `PhoneLine`; this module rings,
runs the script against what the caller hears, and writes the report. Speech is synthesized
before ringing and agent turns are transcribed on worker threads, so neither touches the line's
20 ms clock.

The caller's lines come from a fixed script, or from `respond`: a callback that hears the
agent's transcribed words each time the agent has finished answering, and returns the next
steps (none: hang up). Its lines are synthesized when chosen, on a worker thread, during the
caller's pause before speaking; the latency the report measures starts at the caller's last
word, so that thinking time is not counted against the agent.

    report = await SimulatedCaller(
        "http://127.0.0.1:8000",
        parse_script([{"say": "Hi, I need a cleaning next week."}]),
        auth_token=settings.twilio_auth_token.get_secret_value(),
        agent_id=1,
    ).run()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Final, TypeAlias
from urllib.parse import urlencode

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from core.calls.twilio_peer import new_sid
from core.twilio_signature import twilio_signature
from workers.caller.answer import (
    VOICE_PATH,
    HangupVerb,
    PauseVerb,
    RedirectVerb,
    SayVerb,
    StreamAnswer,
    Verb,
    parse_twiml,
    parse_verbs,
    post_twiml,
    voice_form,
)
from workers.caller.conversation import AgentTurn
from workers.caller.errors import MediaStreamError
from workers.caller.line import FRAME_S, PhoneLine
from workers.caller.report import CallerTurnKind, CallReport, EndedBy, Reconnection
from workers.caller.script import DtmfStep, HangupStep, SayStep, ScriptStep, SilenceStep
from workers.caller.voice import (
    AgentTranscriber,
    CallerUtterance,
    CallerVoice,
    shared_caller_voice,
)

__all__ = ["DEFAULT_FROM_NUMBER", "DEFAULT_TO_NUMBER", "Responder", "SimulatedCaller"]

Responder: TypeAlias = Callable[[str], Awaitable[Sequence[ScriptStep]]]
"""Chooses the caller's next steps from the agent's words since the caller's last action (as
the caller's Whisper heard them); no steps means hang up."""

_LOGGER = logging.getLogger(__name__)

# Numbers from the range reserved for fiction (555-01xx).
DEFAULT_FROM_NUMBER: Final = "+14155550100"
DEFAULT_TO_NUMBER: Final = "+14155550199"
# A person answers a beat after the question ends; with the turn-end gap (AGENT_TURN_GAP_S)
# the caller takes the floor about 0.9 s after the agent's last sound.
REPLY_PAUSE_S: Final = 0.2
# An agent turn longer than this is a stuck stream, not a turn; the script moves on.
MAX_AGENT_TURN_S: Final = 120.0
# Every wait at the end of a call is bounded: a server that never closes cannot hang the caller.
CLOSE_TIMEOUT_S: Final = 5.0
# Redirects followed without a stream between them before the caller gives up.
MAX_REDIRECTS: Final = 10
TRANSCRIBE_TIMEOUT_S: Final = 60.0


class SimulatedCaller:
    """One simulated phone call to the platform; `run()` places it and returns its report.

    `api_url` is where the voice webhook is posted; `public_base_url` (default `api_url`) is the
    URL the platform believes Twilio called, which the signature covers. The agent is chosen by
    `agent_id` (`?agent=`) or by the number called (`to_number`). `media_url` replaces the
    TwiML's stream URL (for a public `wss://` address the caller cannot reach). `http` is the
    transport seam: any `httpx.AsyncClient`, e.g. one on an ASGI app. `voice` and `transcriber`
    default to the process's caller voice (shared Piper model, lines cached across calls) and a
    one-thread Whisper; `transcribe=False` skips
    transcription (benchmarks that want every core for the server). `answer_timeout_s` bounds
    each wait for the agent to start a turn; `max_call_s` bounds the whole call. `respond`
    chooses the next steps whenever `script` has run out (it needs transcription).
    """

    def __init__(
        self,
        api_url: str,
        script: Sequence[ScriptStep],
        *,
        auth_token: str,
        agent_id: int | None = None,
        to_number: str | None = None,
        from_number: str = DEFAULT_FROM_NUMBER,
        public_base_url: str | None = None,
        media_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        voice: CallerVoice | None = None,
        transcriber: AgentTranscriber | None = None,
        transcribe: bool = True,
        answer_timeout_s: float = 20.0,
        max_call_s: float = 300.0,
        respond: Responder | None = None,
    ) -> None:
        if agent_id is None and not to_number:
            raise ValueError("say which agent to call: agent_id or to_number")
        if respond is not None and not transcribe:
            raise ValueError("a caller that responds to the agent must transcribe it")
        self.api_url = api_url
        self.script = list(script)
        self.respond = respond
        self.agent_id = agent_id
        self.to_number = to_number or DEFAULT_TO_NUMBER
        self.from_number = from_number
        self.public_base_url = public_base_url or api_url
        self.media_url = media_url
        self.answer_timeout_s = answer_timeout_s
        self.max_call_s = max_call_s
        self.call_sid = new_sid("CA")
        self.account_sid = new_sid("AC")
        self.stream_sid = new_sid("MZ")
        self._auth_token = auth_token
        self._http = http
        self._voice = voice or shared_caller_voice()
        self._transcriber = (transcriber or AgentTranscriber()) if transcribe else None
        self._ran = False
        self._utterances: dict[str, CallerUtterance] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._transcriptions: list[asyncio.Task[None]] = []
        self._transcribing: dict[int, asyncio.Task[None]] = {}  # by agent turn index
        # Agent turns the caller had already heard when it last spoke or pressed keys: the
        # agent has answered once there are more.
        self._expect_after = 0
        self._steps_run = 0
        self._steps_total = len(self.script)
        self._notes: list[str] = []
        self._twilio_said: list[str] = []
        self._reconnections: list[Reconnection] = []

    async def run(self) -> CallReport:
        """Place the call, follow the script, hang up (or be hung up on); report what happened.

        Raises a `CallerError` if the call never got a media stream; from then on, whatever the
        server does is recorded in the report instead.
        """
        if self._ran:
            raise RuntimeError("a SimulatedCaller places one call; make another for the next")
        self._ran = True
        lines = sorted({step.say for step in self.script if isinstance(step, SayStep)})
        # Synthesized (and Whisper loaded) before ringing: nothing slow may happen mid-call.
        spoken = await asyncio.gather(*(self._voice.utterance(line) for line in lines))
        self._utterances = dict(zip(lines, spoken, strict=True))
        if self._transcriber is not None:
            await self._transcriber.load()
        path = VOICE_PATH + (
            f"?{urlencode({'agent': self.agent_id})}" if self.agent_id is not None else ""
        )
        twiml = await self._post(self.public_base_url.rstrip("/") + path, self._form("ringing"))
        answer = parse_twiml(twiml)  # CallRejected, with what it said, if no stream comes
        verbs = parse_verbs(twiml)
        ahead = verbs[: verbs.index(answer)]
        self._twilio_said += [v.text for v in ahead if isinstance(v, SayVerb)]
        ws = await self._open(answer, first=True)
        assert ws is not None
        line = PhoneLine(
            ws,
            stream_sid=self.stream_sid,
            call_sid=self.call_sid,
            account_sid=self.account_sid,
            on_turn_end=self._transcribe,
            on_note=self._note,
        )
        try:
            ended_by = await self._converse(line, answer, verbs[verbs.index(answer) + 1 :])
        finally:
            await self._shutdown(line)
        return await self._report(line, answer, ended_by)

    def _form(self, status: str) -> dict[str, str]:
        form = voice_form(
            call_sid=self.call_sid,
            account_sid=self.account_sid,
            from_number=self.from_number,
            to_number=self.to_number,
        )
        return {**form, "CallStatus": status}

    async def _post(self, signed_url: str, form: dict[str, str]) -> str:
        """A signed webhook as Twilio sends it; `signed_url` is the public URL, posted to the
        API's own address."""
        public = self.public_base_url.rstrip("/")
        target = signed_url
        if signed_url.startswith(public):
            target = self.api_url.rstrip("/") + signed_url.removeprefix(public)
        kwargs: dict[str, Any] = {
            "signed_url": signed_url,
            "target": target,
            "auth_token": self._auth_token,
            "form": form,
        }
        if self._http is not None:
            return await post_twiml(self._http, **kwargs)
        async with httpx.AsyncClient() as http:
            return await post_twiml(http, **kwargs)

    async def _open(self, answer: StreamAnswer, *, first: bool) -> ClientConnection | None:
        """The media stream's socket; for a later stream, None if it cannot be opened (Twilio
        then goes on with the next verb). The upgrade is signed as Twilio signs it: over the URL
        the TwiML gave (which the platform checks), wherever the socket really goes."""
        url = (self.media_url if first else None) or answer.url
        signature = twilio_signature(self._auth_token, answer.url, {})
        try:
            return await connect(
                url,
                compression=None,
                open_timeout=10,
                close_timeout=2,
                additional_headers={"X-Twilio-Signature": signature},
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            if first:
                raise MediaStreamError(f"could not open the media stream at {url}: {exc}") from exc
            self._note(f"could not open the next media stream at {url}: {exc}")
            return None

    async def _converse(self, line: PhoneLine, answer: StreamAnswer, after: list[Verb]) -> EndedBy:
        await line.start(answer.parameters)
        pacing = self._spawn(line.pace(), "pace")
        receiving = self._spawn(line.receive(), "receive")
        pending = {pacing, receiving, self._spawn(self._run_script(line), "script")}
        deadline = time.monotonic() + self.max_call_s
        # The line is up until the pacing loop ends: after the caller's `stop`, or once the
        # platform has ended the call. A task that fails fails the call (a bug, not a finding).
        while not pacing.done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._note(f"the call passed its {self.max_call_s:.0f} s limit; hanging up")
                line.hangup_requested.set()
                await asyncio.wait({pacing}, timeout=CLOSE_TIMEOUT_S)
                return "timeout"
            done, pending = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                task.result()
            if receiving in done and not line.hanging_up:
                # The stream closed: Twilio goes on with the TwiML after <Connect>.
                lost_at = time.monotonic()
                following = await self._follow(after)
                if following is None:
                    await line.end()
                    continue
                ws, answer, after = following
                self.stream_sid = new_sid("MZ")
                line.attach(ws, self.stream_sid)
                self._reconnections.append(
                    Reconnection(
                        lost_at_ms=line.conversation.ms(lost_at),
                        connected_at_ms=line.conversation.ms(time.monotonic()),
                    )
                )
                await line.start(answer.parameters)
                receiving = self._spawn(line.receive(), "receive")
                pending.add(receiving)
        return "agent" if line.closed else "caller"

    async def _follow(
        self, verbs: list[Verb]
    ) -> tuple[ClientConnection, StreamAnswer, list[Verb]] | None:
        """Run TwiML verbs as Twilio does until one connects a new stream (its socket, its
        answer and the verbs after it) or the call ends (None)."""
        queue = list(verbs)
        redirects = 0
        while queue:
            verb = queue.pop(0)
            if isinstance(verb, SayVerb):
                self._twilio_said.append(verb.text)
                self._note(f"Twilio said: {verb.text!r}")
            elif isinstance(verb, PauseVerb):
                await asyncio.sleep(verb.seconds)
            elif isinstance(verb, HangupVerb):
                return None
            elif isinstance(verb, RedirectVerb):
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    self._note("too many redirects in a row; Twilio would give up here")
                    return None
                queue = parse_verbs(await self._post(verb.url, self._form("in-progress")))
            else:
                ws = await self._open(verb, first=False)
                if ws is not None:
                    return ws, verb, queue
        return None  # the document ran out: Twilio hangs up

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start a task named after the call, tracked so that shutdown can stop it."""
        task = asyncio.create_task(coro, name=f"caller-{self.call_sid[:10]}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _shutdown(self, line: PhoneLine) -> None:
        if not line.closed:
            line.hanging_up = True  # whatever closes the socket from here on, it was us
        if line.ws is not None:
            await line.ws.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)

    # --- the script -------------------------------------------------------------------------

    async def _run_script(self, line: PhoneLine) -> None:
        steps: deque[ScriptStep] = deque(self.script)
        number = 0
        while not line.closed:
            if not steps:
                chosen = await self._next_steps(line, number + 1)
                if not chosen:
                    break
                steps.extend(chosen)
                self._steps_total += len(chosen)
            step = steps.popleft()
            number += 1
            if isinstance(step, HangupStep):
                await self._wait_for_agent(line, number, into_turn_ms=step.after_ms)
                self._steps_run += 1
                break
            if isinstance(step, SayStep):
                utterance = await self._utterance(step.say)
                # Barging in at N ms means the caller's first sound is heard at N ms.
                await self._wait_for_agent(
                    line,
                    number,
                    into_turn_ms=step.barge_in_after_ms,
                    lead_in_s=utterance.first_audible * FRAME_S,
                )
                kind: CallerTurnKind = "say" if step.barge_in_after_ms is None else "barge_in"
                turn = line.conversation.caller_turn(kind, step.say)
                await line.speak(utterance, turn)
                self._expect_after = len(line.conversation.agent_turns)
            elif isinstance(step, DtmfStep):
                await self._wait_for_agent(line, number)
                await line.press(
                    step.dtmf, line.conversation.caller_turn("dtmf", f"DTMF {step.dtmf}")
                )
                self._expect_after = len(line.conversation.agent_turns)
            elif isinstance(step, SilenceStep):
                # Not an action: the agent's answer to the last one still counts afterwards.
                await self._wait_for_agent(line, number)
                await asyncio.sleep(step.silence)
            self._steps_run += 1
        line.hangup_requested.set()

    async def _next_steps(self, line: PhoneLine, number: int) -> Sequence[ScriptStep]:
        """After the agent's answer has finished: the steps `respond` chooses from its words,
        or none (the script is over, or there is no `respond`)."""
        since = self._expect_after
        await self._wait_for_agent(line, number, pause=False)
        if self.respond is None or line.closed:
            return ()
        return await self.respond(await self._heard_since(line, since))

    async def _heard_since(self, line: PhoneLine, first_turn: int) -> str:
        """The agent's words, transcribed, in its turns from `first_turn` on."""
        turns = line.conversation.agent_turns[first_turn:]
        pending = [self._transcribing[t.index] for t in turns if t.index in self._transcribing]
        if pending:
            await asyncio.wait(pending, timeout=TRANSCRIBE_TIMEOUT_S)
        return " ".join(t.text.strip() for t in turns if t.text.strip())

    async def _utterance(self, text: str) -> CallerUtterance:
        """A line's speech: synthesized before ringing, or now for a line `respond` chose."""
        if text not in self._utterances:
            self._utterances[text] = await self._voice.utterance(text)
        return self._utterances[text]

    async def _wait_for_agent(
        self,
        line: PhoneLine,
        step: int,
        *,
        into_turn_ms: int | None = None,
        lead_in_s: float = 0.0,
        pause: bool = True,
    ) -> None:
        """Wait for the agent's answer to the caller's last action: until it has finished and a
        short pause has passed or, with `into_turn_ms`, until that far into its audio. A stream
        lost meanwhile is waited out, and the agent heard out again on the next one (its
        re-entry line), as a person on a line that went quiet would."""
        conversation = line.conversation
        losses = line.losses
        await self._wait_for_answer(
            line, step, into_turn_ms=into_turn_ms, lead_in_s=lead_in_s, pause=pause
        )
        if line.losses != losses and not line.closed:
            await line.until(lambda: line.ws is not None or line.closed, self.answer_timeout_s)
            self._expect_after = len(conversation.agent_turns)
            await self._wait_for_agent(line, step, pause=pause)

    async def _wait_for_answer(
        self,
        line: PhoneLine,
        step: int,
        *,
        into_turn_ms: int | None,
        lead_in_s: float,
        pause: bool,
    ) -> None:
        conversation = line.conversation
        expected = self._expect_after
        answered = await line.until(
            lambda: len(conversation.agent_turns) > expected or line.closed,
            self.answer_timeout_s,
        )
        if line.closed:
            return
        if not answered:
            self._note(f"step {step}: the agent did not speak within {self.answer_timeout_s:.0f} s")
            return
        if into_turn_ms is not None:
            at = conversation.agent_turns[expected].started_at + into_turn_ms / 1000.0 - lead_in_s
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            return
        finished = await line.until(
            lambda: conversation.open_turn is None or line.closed, MAX_AGENT_TURN_S
        )
        if not finished:
            self._note(f"step {step}: the agent was still talking after {MAX_AGENT_TURN_S:.0f} s")
        if pause:
            await asyncio.sleep(REPLY_PAUSE_S)

    # --- results ----------------------------------------------------------------------------

    def _note(self, note: str) -> None:
        _LOGGER.info("call %s: %s", self.call_sid, note)
        self._notes.append(note)

    def _transcribe(self, turn: AgentTurn) -> None:
        """Transcribe a finished agent turn on a worker thread, off the pacing loop."""
        transcriber = self._transcriber
        if transcriber is None:
            return

        async def transcribe() -> None:
            try:
                turn.text = await transcriber.transcribe(bytes(turn.heard))
            except Exception as exc:  # a transcript is a nicety; the report must still come
                self._note(f"agent turn {turn.index + 1} could not be transcribed: {exc}")

        # Not through `_spawn`: shutdown must not cancel these; `_report` waits for them.
        task = asyncio.create_task(transcribe())
        self._transcriptions.append(task)
        self._transcribing[turn.index] = task

    async def _report(self, line: PhoneLine, answer: StreamAnswer, ended_by: EndedBy) -> CallReport:
        conversation = line.conversation
        now = time.monotonic()
        last = conversation.hang_up(now, audio_pending=not line.playback.empty)
        if last is not None:
            self._transcribe(last)
        if self._transcriptions:
            _, late = await asyncio.wait(self._transcriptions, timeout=TRANSCRIBE_TIMEOUT_S)
            if late:
                self._note(f"{len(late)} agent turns were not transcribed in time")
        return CallReport(
            call_sid=self.call_sid,
            stream_sid=self.stream_sid,
            custom_parameters=_redacted(answer.parameters),
            transcript=conversation.transcript(),
            turns=conversation.latencies(),
            marks=conversation.marks,
            clears=conversation.clears,
            ended_by=ended_by,
            closed_by_server=ended_by == "agent",
            close_code=line.close_code,
            close_reason=line.close_reason,
            duration_ms=conversation.ms(now),
            frames_sent=line.frames_sent,
            max_send_lag_ms=round(line.max_lag_s * 1000.0, 1),
            steps_run=self._steps_run,
            steps_total=self._steps_total,
            notes=self._notes,
            streams=line.streams,
            reconnections=[self._heard_again(r, line) for r in self._reconnections],
            twilio_said=self._twilio_said,
            clock_origin_s=conversation.started_at,
        )

    @staticmethod
    def _heard_again(reconnection: Reconnection, line: PhoneLine) -> Reconnection:
        """The reconnection with when the agent was heard again after it."""
        conversation = line.conversation
        lost_at = conversation.started_at + reconnection.lost_at_ms / 1000.0
        after = [t for t in conversation.agent_turns if t.started_at > lost_at]
        if after:
            reconnection.agent_heard_at_ms = conversation.ms(after[0].started_at)
        return reconnection


# `<Parameter>`s that are credentials: a report is printed and saved, the call token is not.
SECRET_PARAMETERS: Final = frozenset({"token"})


def _redacted(parameters: dict[str, str]) -> dict[str, str]:
    return {k: "<redacted>" if k in SECRET_PARAMETERS else v for k, v in parameters.items()}

"""OpenAIChatBrain: the agent's words from an LLM behind the OpenAI-compatible chat API.

Each caller turn is one streamed `chat.completions` request: the system message is the agent's
compiled prompt plus a short "where we are" section from the GoalManager (what is captured, what
to do next), and the model reports the data it hears through two tools, `record_field` and
`end_call`. Text is spoken as soon as a clause or sentence of it is complete.

The caller never hears silence: if the request fails or no first token arrives within the
deadline, the `GuidedBrain` answers the turn, over the same GoalManager, so it continues exactly
where the LLM left off. Servers that ignore tools (llama.cpp) still get their data captured: when
the model records nothing, the guided brain's extraction reads the caller's words instead.

Limits, so a model (or a caller steering it) cannot run away with a call: every request asks
for at most LLM_MAX_TOKENS; the history sent is the last LLM_HISTORY_TURNS exchanges (a caller
turn and the agent's answer), older ones folded into one line of the system message (what they
settled is in "Captured so far"); `end_call` takes only a reason from `END_REASONS`; a
`record_field` value is stored only if the field's own reader and checks accept it. Anything
refused goes back to the model as the tool's answer ("refused: …"), so it can try again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Final

from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionChunk,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from core.calls.cleaning import clean_reason
from core.calls.types import CallInput, Speaker, TurnEvent
from core.context import inject_context
from core.fields import DataField, normalise_value
from core.fields.phrasing import question, speak_value
from core.fields.reading import ReadContext, read_value
from core.fields.speech import normalise
from core.fields.values import FieldScalar
from core.goals.manager import NextAction
from core.settings import Settings
from realtime.brains.base import (
    Brain,
    BrainEvent,
    CallerTurn,
    Captured,
    EndCall,
    FirstToken,
    Rejected,
    Say,
)
from realtime.brains.guided import GuidedBrain
from realtime.brains.intents import Intent, classify
from realtime.speech_text import split_for_speech, split_sentences

logger = logging.getLogger(__name__)

# A stream that stalls after its first token still has to end: this bounds every read.
STREAM_TIMEOUT_S: Final = 10.0
# Closing a stream on barge-in must not hold up the next turn.
CLOSE_TIMEOUT_S: Final = 1.0
CUT_OFF_MARK: Final = "[cut off: the caller interrupted here]"
GOODBYE: Final = "Thank you for calling. Goodbye!"
# Local servers (llama.cpp, vLLM, Ollama) want no key, but the client refuses to start without one.
NO_KEY: Final = "unused"
DEFAULT_MAX_TOKENS: Final = 200
DEFAULT_HISTORY_TURNS: Final = 12
END_REASONS: Final[Mapping[str, str]] = {
    "completed": "the call's purpose is done",
    "caller_request": "the caller asked to end the call or said goodbye",
    "caller_declined": "the caller does not want to go on",
    "wrong_number": "the caller meant to reach someone else",
    "cannot_help": "the caller needs something this agent cannot do",
}
"""The reasons the model may give `end_call` (short codes, as `clean_reason` writes them)."""
MAX_VALUE_CHARS: Final = 200
"""The longest value `record_field` takes: far beyond any name, date or address said aloud."""
RECORDING_RULE: Final = (
    "Whenever the caller gives or corrects a detail, call record_field with it (dates as "
    "YYYY-MM-DD, times as HH:MM, 24-hour), and always say your reply in the same response."
)


class _NoReply(Exception):
    """The stream ended without a word or a tool call."""


@dataclass
class _ToolCall:
    id: str
    name: str = ""
    arguments: str = ""


@dataclass
class _Outcome:
    """What one LLM turn produced so far."""

    said: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCall] = field(default_factory=dict)


@dataclass
class _Verdict:
    """What one turn's tool calls did."""

    captured: dict[str, FieldScalar] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    end_reason: str | None = None
    recorded: bool = False
    """Whether the model called `record_field` at all (if not, the backstop reads the words)."""
    results: list[tuple[_ToolCall, str]] = field(default_factory=list)
    """Each well-formed call with the answer the model gets for it."""


class OpenAIChatBrain(Brain):
    """An LLM brain with the guided brain as its backstop and fallback, one per call."""

    def __init__(
        self,
        compiled_prompt: str,
        *,
        client: AsyncOpenAI,
        model: str,
        fallback: GuidedBrain,
        first_token_timeout_s: float = 1.2,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        history_turns: int = DEFAULT_HISTORY_TURNS,
    ) -> None:
        """Talk as the agent `fallback` was built for; `client` should have its retries off.

        The fallback's GoalManager is this brain's manager: one local copy of the goal progress
        per call, so a turn the guided brain answers continues where the LLM left off.
        """
        self.compiled_prompt = compiled_prompt
        self.client = client
        self.model = model
        self.fallback = fallback
        self.first_token_timeout_s = first_token_timeout_s
        self.max_tokens = max_tokens
        self.history_turns = max(history_turns, 1)
        self.manager = fallback.manager
        self._fields = fallback.manager.fields
        self._tools = _tools(list(self._fields.values()))
        self._messages: list[ChatCompletionMessageParam] = []
        self._last_reply: ChatCompletionAssistantMessageParam | None = None
        self._folded = 0
        """Exchanges dropped from the history (see the module docstring)."""

    @staticmethod
    def client_from_settings(settings: Settings) -> AsyncOpenAI:
        """The client for `LLM_BASE_URL` (or OpenAI); one per process is enough (it pools)."""
        if settings.llm_base_url is None and settings.llm_api_key is None:
            raise ValueError("BRAIN=openai needs LLM_BASE_URL or LLM_API_KEY")
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else NO_KEY
        # Retries off: a retry would blow the first-token deadline; the fallback answers instead.
        return AsyncOpenAI(
            api_key=key, base_url=settings.llm_base_url, max_retries=0, timeout=STREAM_TIMEOUT_S
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        call_input: CallInput,
        *,
        today: dt.date,
        client: AsyncOpenAI | None = None,
    ) -> OpenAIChatBrain:
        """A brain for one call, reaching `LLM_BASE_URL` (or OpenAI) with `LLM_MODEL`; pass the
        process's `client` to share its connection pool."""
        return cls(
            call_input.compiled_prompt,
            client=client or cls.client_from_settings(settings),
            model=settings.llm_model,
            fallback=GuidedBrain(call_input.agent, today=today),
            first_token_timeout_s=settings.llm_first_token_timeout_s,
            max_tokens=settings.llm_max_tokens,
            history_turns=settings.llm_history_turns,
        )

    # -- the Brain interface ----------------------------------------------------------------------

    def greeting(self) -> str:
        """The guided brain's opening (instant, no request), kept in the history."""
        text = self.fallback.greeting()
        self._remember_reply(text)
        return text

    def reprompt(self) -> str:
        """The guided brain's nudge with the open question, kept in the history."""
        text = self.fallback.reprompt()
        self._remember_reply(text)
        return text

    def resume(self, captured: Mapping[str, FieldScalar], transcript: Sequence[TurnEvent]) -> str:
        """The conversation so far back in the history, and the guided brain's re-entry line
        (instant: no request while the caller waits after the gap)."""
        for turn in transcript:
            if turn.speaker is Speaker.CALLER:
                self._messages.append({"role": "user", "content": turn.text})
            else:
                self._remember_reply(turn.text + (f" {CUT_OFF_MARK}" if turn.interrupted else ""))
        text = self.fallback.resume(captured, transcript)
        self._remember_reply(text)
        return text

    def listening_context(self) -> str:
        """The LLM's last reply (what the caller is answering), else the guided brain's."""
        reply = self._last_reply.get("content") if self._last_reply is not None else None
        return reply if isinstance(reply, str) and reply else self.fallback.listening_context()

    def heard(self, text: str, *, interrupted: bool) -> None:
        """Make the history hold what the caller heard, marked as cut off when interrupted."""
        if not interrupted:
            return
        heard = f"{text.strip()} {CUT_OFF_MARK}".strip()
        if self._last_reply is None:
            self._remember_reply(heard)
        else:
            self._last_reply["content"] = heard

    async def reply(self, turn: CallerTurn) -> AsyncIterator[BrainEvent]:
        """The LLM's streamed answer to `turn`, or the guided brain's when the LLM fails it."""
        caller_words = turn.text.strip()
        content = f"(caller pressed keys: {turn.digits})" if turn.digits else caller_words
        self._messages.append({"role": "user", "content": content})
        self._fold_history()
        self._last_reply = None
        action = self.manager.get_next_action()
        before = self.manager.captured
        # The items found for the caller's words go after the unchanging prefix, so a server's
        # prompt cache still holds the compiled prompt.
        system = inject_context(self._system_message(action), turn.knowledge)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": system},
            *self._messages,
        ]
        try:
            stream, first = await self._open(messages)
        except Exception as exc:  # any failure is answered by the fallback
            logger.warning("LLM failed the turn (%s); the guided brain answers it", _why(exc))
            async with aclosing(self._fallback_turn(turn)) as events:
                async for event in events:
                    yield event
            return
        yield FirstToken("llm")
        outcome = _Outcome()
        finished = False
        try:
            async with aclosing(self._stream_text(stream, first, outcome)) as pieces:
                async for piece in pieces:
                    yield piece
            finished = True
        finally:
            await _close(stream)
            if not finished:
                # Barge-in: the caller heard at most what was yielded; `heard` refines it.
                self._remember_reply(" ".join(outcome.said))
        words = caller_words or turn.digits  # typed digits can be a phone number to the backstop
        async with aclosing(self._finish_turn(outcome, action, before, words)) as events:
            async for event in events:
                yield event

    # -- one LLM turn -----------------------------------------------------------------------------

    async def _open(
        self, messages: list[ChatCompletionMessageParam]
    ) -> tuple[AsyncStream[ChatCompletionChunk], ChatCompletionChunk]:
        """The stream and its first chunk with a word or a tool call, within the deadline."""
        stream: AsyncStream[ChatCompletionChunk] | None = None
        try:
            # Nothing is yielded inside this block: a timeout here cancels only this request.
            async with asyncio.timeout(self.first_token_timeout_s):
                stream = await self.client.chat.completions.create(
                    model=self.model,
                    messages=messages,
                    tools=self._tools,
                    max_tokens=self.max_tokens,
                    stream=True,
                )
                while True:
                    try:
                        chunk = await stream.__anext__()
                    except StopAsyncIteration:
                        raise _NoReply("the stream ended without a word") from None
                    if _has_output(chunk):
                        return stream, chunk
        except BaseException:
            if stream is not None:
                await _close(stream)
            raise

    async def _stream_text(
        self,
        stream: AsyncStream[ChatCompletionChunk],
        first: ChatCompletionChunk,
        outcome: _Outcome,
    ) -> AsyncGenerator[Say, None]:
        """Speak each clause as it completes; collect tool-call fragments by index."""
        pending = ""
        chunk: ChatCompletionChunk | None = first
        try:
            while chunk is not None:
                for choice in chunk.choices[:1]:
                    for call in choice.delta.tool_calls or ():
                        # Weak servers send no id; the history needs one, unique in the call.
                        made_up = f"call_{self._folded}_{len(self._messages)}_{call.index}"
                        slot = outcome.tool_calls.setdefault(
                            call.index, _ToolCall(call.id or made_up)
                        )
                        if call.function is not None:
                            slot.name += call.function.name or ""
                            slot.arguments += call.function.arguments or ""
                    pending += choice.delta.content or ""
                pieces, pending = _complete_pieces(pending, first=not outcome.said)
                for piece in pieces:
                    outcome.said.append(piece)
                    yield Say(piece)
                chunk = await anext(stream, None)
        except Exception as exc:  # a dead stream ends the turn with what was said
            logger.warning("LLM stream broke off mid-turn (%s); keeping what was said", _why(exc))
            return
        if pending.strip():
            outcome.said.append(pending.strip())
            yield Say(pending.strip())

    async def _finish_turn(
        self, outcome: _Outcome, action: NextAction, before: dict[str, FieldScalar], words: str
    ) -> AsyncGenerator[BrainEvent, None]:
        """Apply the tool calls, run the backstop, then make sure something is said and ended."""
        verdict = self._apply_tools(outcome.tool_calls.values())
        if not verdict.recorded and words:
            captured, rejected = self.fallback.capture(words)
            verdict.captured.update(captured)
            verdict.rejected.update(rejected)
        # No tool confirms a read-back: a plain yes that changed none of its values does.
        if action.kind == "confirm" and classify(normalise(words)) is Intent.YES:
            after = self.manager.captured
            if all(after.get(n) == before.get(n) for n in action.fields):
                self.manager.confirm(action.fields)
        for name, value in verdict.captured.items():
            yield Captured(name, value)
        for name, reason in verdict.rejected.items():
            yield Rejected(name, reason)
        text = " ".join(outcome.said)
        if not text:
            # Tools only, or a stream that died before a whole clause: the caller still hears one.
            text = GOODBYE if verdict.end_reason else self.fallback.next_line(verdict.captured)
            yield Say(text)
        self._remember_reply(text, verdict.results)
        end_reason = verdict.end_reason
        if end_reason is None and self._fields and self.manager.get_next_action().kind == "close":
            end_reason = "completed"
        if end_reason is not None:
            yield EndCall(end_reason)

    def _apply_tools(self, calls: Iterable[_ToolCall]) -> _Verdict:
        """Track `record_field` calls in the manager and note `end_call`; skip malformed calls."""
        verdict = _Verdict()
        for call in calls:
            try:
                args = json.loads(call.arguments or "{}")
            except json.JSONDecodeError:
                args = None
            name = args.get("name") if isinstance(args, dict) else None
            if call.name == "end_call" and isinstance(args, dict):
                reason = clean_reason(args.get("reason") or "completed")
                if reason in END_REASONS:
                    verdict.end_reason = reason
                    verdict.results.append((call, "the call will end after your reply"))
                else:
                    allowed = ", ".join(END_REASONS)
                    verdict.results.append(
                        (call, f"refused: the reason must be one of {allowed}; the call goes on")
                    )
            elif call.name == "record_field" and isinstance(args, dict) and isinstance(name, str):
                verdict.recorded = True
                name, value = name[:64], args.get("value")
                if not isinstance(value, str | int | float) or len(str(value)) > MAX_VALUE_CHARS:
                    reason = f"the value must be a string of at most {MAX_VALUE_CHARS} characters"
                    verdict.rejected[name] = reason
                    verdict.results.append((call, f"refused: {reason}"))
                    continue
                result = self.manager.track_progress(name, self._as_field(name, value))
                if result.accepted and result.value is not None:
                    verdict.captured[name] = result.value
                    verdict.results.append((call, f"recorded {result.value!r}"))
                else:
                    verdict.rejected[name] = result.reason
                    verdict.results.append((call, f"refused: {result.reason}"))
            else:
                # Kept out of the history too: servers refuse a past tool call they cannot parse.
                # Its arguments may carry the caller's details: only at DEBUG.
                logger.warning("ignoring LLM tool call %r", call.name[:64])
                logger.debug("ignored tool call %r arguments: %r", call.name, call.arguments)
        return verdict

    def _as_field(self, name: str, value: object) -> object:
        """A model's value as the field's own reader understands it ("next Tuesday" → a date),
        when it is words rather than the canonical form the tool asks for."""
        data_field = self._fields.get(name)
        if data_field is None or not isinstance(value, str):
            return value
        if normalise_value(data_field, value).accepted:
            return value  # already in the field's own form ("19:00", "2026-12-08")
        context = ReadContext(today=self.fallback.today, asked=True)
        reading = read_value(data_field, normalise(value), context)
        return value if reading is None else reading.value

    async def _fallback_turn(self, turn: CallerTurn) -> AsyncGenerator[BrainEvent, None]:
        """The guided brain's answer, as `FirstToken("guided")` and its events."""
        said: list[str] = []
        async for event in self.fallback.reply(turn):  # a plain loop: it never awaits I/O
            if isinstance(event, Say):
                said.append(event.text)
            yield event
        self._remember_reply(" ".join(said))

    # -- history and prompt -----------------------------------------------------------------------

    def _fold_history(self) -> None:
        """Keep the last `history_turns` exchanges (each from a caller turn on, so a tool call
        and its answer stay together); count the older ones for the summary line."""
        starts = [i for i, m in enumerate(self._messages) if m["role"] == "user"]
        if len(starts) <= self.history_turns:
            return
        cut = starts[-self.history_turns]
        self._folded += sum(1 for m in self._messages[:cut] if m["role"] == "user")
        del self._messages[:cut]

    def _remember_reply(
        self, text: str, results: list[tuple[_ToolCall, str]] | None = None
    ) -> None:
        reply: ChatCompletionAssistantMessageParam = {"role": "assistant", "content": text}
        if results:
            reply["tool_calls"] = [_tool_call(call) for call, _ in results]
        self._messages.append(reply)
        # Every tool call must be answered before the next user message, or the API refuses.
        for call, result in results or ():
            self._messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        self._last_reply = reply

    def _system_message(self, action: NextAction) -> str:
        """The compiled prompt (an unchanging prefix, so servers can cache it) + where we are."""
        today, captured = self.fallback.today, self.manager.captured
        spoken = {
            n: f"{self._describe(n)}: {speak_value(self._fields[n], v)}"
            for n, v in captured.items()
        }
        lines = [f"Today is {today:%A, %B} {today.day}, {today.year} ({today.isoformat()})."]
        if self._fields:
            known = "; ".join(spoken.values()) or "nothing yet"
            lines += [f"Captured so far: {known}.", f"Next: {self._next_step(action, spoken)}"]
            lines.append(RECORDING_RULE)
        if self._folded:
            lines.append(
                f"Earlier: {self._folded} earlier exchanges of this call are not shown; what the "
                "caller gave in them is under Captured so far."
            )
        return f"{self.compiled_prompt.rstrip()}\n\n## Where we are\n" + "\n".join(lines) + "\n"

    def _next_step(self, action: NextAction, spoken: dict[str, str]) -> str:
        if action.kind == "ask" and action.field is not None:
            kind = self._fields[action.field].type.value
            name = action.field
            asking = question(self._fields[name])
            return (
                f"ask the caller for the {self._describe(name)} ({kind}, field `{name}`), "
                f'for example: "{asking}"'
            )
        if action.kind == "confirm":
            read_back = "; ".join(spoken[n] for n in action.fields)
            return f"read these details back and ask the caller to confirm them: {read_back}."
        return "everything is captured and confirmed; thank the caller, say goodbye, call end_call."

    def _describe(self, name: str) -> str:
        return (self._fields[name].description or name.replace("_", " ")).strip().rstrip("?.")


# -- helpers --------------------------------------------------------------------------------------


def _tools(fields: list[DataField]) -> list[ChatCompletionToolParam]:
    """`record_field` (over the goals' fields, each described with its type and options; none
    without fields) and `end_call`."""
    field_names = [f.name for f in fields]
    value = {"type": "string", "description": "The value, as the caller gave it."}
    described = "; ".join(
        f"{f.name} ({f.type.value}{': ' + ', '.join(f.options) if f.options else ''})"
        + (f" — {f.description}" if f.description else "")
        for f in fields
    )
    record = _tool(
        "record_field",
        f"Record a detail the caller gave (or corrected). Fields: {described}.",
        {"name": {"type": "string", "enum": field_names}, "value": value},
    )
    reasons = "; ".join(f"{code}: {meaning}" for code, meaning in END_REASONS.items())
    end_call = _tool(
        "end_call",
        "Hang up once your reply has been spoken.",
        {
            "reason": {
                "type": "string",
                "enum": list(END_REASONS),
                "description": f"Why the call ends, one of: {reasons}.",
            }
        },
    )
    return [record, end_call] if field_names else [end_call]


def _tool(name: str, description: str, properties: dict[str, object]) -> ChatCompletionToolParam:
    parameters: dict[str, object] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _tool_call(call: _ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _has_output(chunk: ChatCompletionChunk) -> bool:
    return any(c.delta.content or c.delta.tool_calls for c in chunk.choices)


def _complete_pieces(pending: str, *, first: bool) -> tuple[list[str], str]:
    """The finished pieces of `pending` to speak now, and the unfinished rest.

    The last piece is never finished (the next token may extend it), so speech trails the
    stream by one token. Whitespace is normalised, but a trailing space is kept, so the next
    delta does not glue onto the last word.
    """
    text = " ".join(pending.split())
    pieces = split_for_speech(text) if first else split_sentences(text)
    if len(pieces) < 2:
        return [], pending
    return pieces[:-1], pieces[-1] + (" " if pending[-1:].isspace() else "")


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no first token in time"
    return f"{type(exc).__name__}: {exc}"


async def _close(stream: AsyncStream[ChatCompletionChunk]) -> None:
    """Release the HTTP connection, so a barge-in leaves no request running."""
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await stream.close()
    except Exception as exc:  # the turn is over either way
        logger.debug("closing the LLM stream failed: %s", exc)

"""One simulated call at the text level: the adaptive caller and a brain, turn by turn.

The brain is driven as the realtime session drives it (`realtime/session.py`): each caller line
is a `CallerTurn`; each `Say` is checked against the agent's don'ts and dropped if it breaks one
(the caller never hears it); a reply with nothing left to say is `CANNOT_SAY`; `EndCall` ends the
call once the reply is said. The call also ends when the caller hangs up, when the agent says the
same thing three times in a row, or after `MAX_CALLER_TURNS` caller turns (both loops: failures).
"""

from __future__ import annotations

import logging
from typing import Final

from core.agents.snapshot import AgentSnapshot
from core.context import ContextManager
from core.instructions.engine import InstructionEngine
from realtime.brains.base import Brain, CallerTurn, Captured, EndCall, Rejected, Say
from realtime.session import CANNOT_SAY
from workers.eval.caller import AdaptiveCaller
from workers.eval.record import Breach, CallRecord

logger = logging.getLogger(__name__)

MAX_CALLER_TURNS: Final = 30
REPEATS_FOR_LOOP: Final = 3

AGENT_ENDED: Final = "the agent ended the call"
CALLER_HUNG_UP: Final = "the caller hung up"


async def run_text_call(
    brain: Brain,
    caller: AdaptiveCaller,
    agent: AgentSnapshot,
    context: ContextManager | None = None,
) -> CallRecord:
    """Play one call between `caller` and `brain` (speaking for `agent`) to its end; with
    `context`, each caller line is looked up in the agent's knowledge, as on a phone call."""
    record = CallRecord()
    rules = InstructionEngine(agent.instructions)
    agent_text = brain.greeting()
    record.say("agent", agent_text)
    recent = [_normal(agent_text)]
    while True:
        if record.caller_turns >= MAX_CALLER_TURNS:
            record.end_reason = record.failure = (
                f"stuck in a loop: the call had not ended after {MAX_CALLER_TURNS} caller turns"
            )
            break
        line = caller.next_line(agent_text)
        record.caller_turns += 1
        record.say("caller", line.text, line.heard.note)
        if line.hangup:
            record.end_reason = CALLER_HUNG_UP
            record.failure = line.failure
            break
        try:
            knowledge = tuple(await context.get_domain_context(line.text)) if context else ()
            agent_text, ended = await _agent_turn(
                brain, caller, CallerTurn(text=line.text, knowledge=knowledge), rules, record
            )
            if line.move is not None:
                record.answer_problems += line.move.check_answer(agent_text)
        except Exception as exc:  # one broken call must not stop the whole run
            logger.exception("the brain failed a turn")
            record.end_reason = record.failure = f"the brain failed: {exc!r}"
            break
        if ended:
            record.end_reason = AGENT_ENDED
            break
        recent = [*recent, _normal(agent_text)][-REPEATS_FOR_LOOP:]
        if len(recent) == REPEATS_FOR_LOOP and len(set(recent)) == 1:
            record.end_reason = record.failure = (
                f"stuck in a loop: the agent said the same thing {REPEATS_FOR_LOOP} times in a row"
            )
            break
    record.captured = brain.manager.captured
    record.completed = brain.manager.check_completion()
    record.unused_moves = [f"{move.on}: {move.say}" for move in caller.unused_moves]
    return record


async def _agent_turn(
    brain: Brain,
    caller: AdaptiveCaller,
    turn: CallerTurn,
    rules: InstructionEngine,
    record: CallRecord,
) -> tuple[str, bool]:
    """The agent's answer to one caller line, as the caller hears it, and whether it ends."""
    said: list[str] = []
    notes: list[str] = []
    ended = False
    # Read to its end, so the brain's generator finishes (and closes) itself.
    async for event in brain.reply(turn):
        if isinstance(event, Captured):
            caller.note_captured(event.name, event.value)
            notes.append(f"recorded {event.name}={event.value!r}")
        elif isinstance(event, Rejected):
            notes.append(f"rejected {event.name}: {event.reason}")
        elif isinstance(event, EndCall):
            ended = True
        elif isinstance(event, Say):
            breaches = rules.validate_response(event.text)
            for breach in breaches:
                record.breaches.append(Breach(breach.instruction.text, event.text, breach.reason))
                notes.append(f"dropped {event.text!r}: breaks {breach.instruction.text!r}")
            if not breaches and event.text.strip():
                said.append(event.text.strip())
    agent_text = " ".join(said) or CANNOT_SAY
    brain.heard(agent_text, interrupted=False)
    record.say("agent", agent_text, "; ".join(notes))
    return agent_text, ended


def _normal(text: str) -> str:
    return " ".join(text.lower().split())

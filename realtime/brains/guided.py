"""GuidedBrain: a deterministic, LLM-free conversation driven by the GoalManager.

Every caller utterance is read twice: for its intent (`realtime.brains.intents`: yes, no, a
correction, "say that again", "hold on", goodbye, a question, asking for a person) and for the
value of every field still open (`core.fields.reading`), not only the one just asked, so "a
cleaning next Friday at 3" fills three fields at once. Then the brain acknowledges what it
understood and asks for what is still missing, in the GoalManager's order, reads everything
back, takes corrections, and closes when the goals are met.

Repair, so the caller is never stuck: a second failed try on a field asks again with an example
(a name is asked to be spelled); after that the field waits and the next one is asked, and the
brain comes back to it later; a field that still cannot be read after that is left for the team
to follow up. "Hold on" gets a quiet "take your time"; a question ("is there parking?") is answered
from the agent's knowledge in a sentence or two, then the call goes back to its goal (declined
when an answer would break a don't, and an honest "I don't have that information" when nothing
answers it); a goodbye before the goal is met is asked once whether to finish.

It runs when no LLM is configured and whenever the LLM brain fails a turn. Deterministic given
`today`: relative dates resolve against it, never against the wall clock.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from rapidfuzz import fuzz

from core import embeddings
from core.agents.snapshot import AgentSnapshot
from core.calls.types import TurnEvent
from core.context import asks_for_information, questions_in, spoken_answer
from core.fields import DataField, FieldScalar, FieldType
from core.fields.choices import SimilarityFunction, clean_answer, is_want_field
from core.fields.entities import entities
from core.fields.phrasing import acknowledge, label, question, read_back, recap, rephrase
from core.fields.reading import is_name_field, part_of_day_named, read_value, week_mentioned
from core.fields.speech import normalise
from core.goals.manager import GoalManager, NextAction
from core.instructions.engine import InstructionEngine
from core.knowledge import Hit
from realtime.brains.base import (
    CUT_OFF,
    Brain,
    BrainEvent,
    CallerTurn,
    Captured,
    EndCall,
    FirstToken,
    Rejected,
    Say,
)
from realtime.brains.intents import Intent, classify
from realtime.brains.reader import (
    ANY_ANSWER,
    SELF_CORRECTION,
    ReadingRules,
    UtteranceReader,
    opening_hour,
    written_as_name,
)

CLOSING: Final = "Thanks, you're all set. Goodbye!"
OPEN_QUESTION: Final = "How can I help you today?"
LEFT_EARLY: Final = "No problem. Thanks for calling, and goodbye!"
HANDED_OFF: Final = (
    "I'm sorry, I couldn't get that down. Someone from our team will call you back to finish "
    "up. Thanks for calling, goodbye!"
)
UNCONFIRMED: Final = (
    "I'll note what I have, and someone from the team will confirm the details with you. "
    "Thanks for calling, goodbye!"
)
NO_ANSWER: Final = (
    "I'm sorry, I don't have that information, but I can have someone from the team call you "
    "back about it."
)
# Said before an answer from knowledge: a short first piece is synthesized (and heard) at once,
# while the answer's own sentence, often long and full of numbers, is synthesized behind it.
# Neutral about the answer ("Sure." would sound like a yes to "do you take Humana?").
ANSWER_LEADS: Final = ("Good question.", "Glad you asked.", "Happy to help with that.")
READ_BACKS_REFUSED_AT_MOST: Final = 3
TRIES_BEFORE_MOVING_ON: Final = 2
FREE_TEXT_CORRECTION_WORDS: Final = 6
_NEGATION: Final = re.compile(
    r"^(?:(?:no|nope|nah|not quite|actually|sorry|oh|wait|i said|i meant|it's|it should be|"
    r"it was|should be)\b[\s,.]*)+"
)
_ABOUT_THE_READ_BACK: Final = frozenset(
    "not right wrong correct incorrect that's that it's it change all everything".split()
)
RESEMBLES_MIN: Final = 50.0
TRIES_IN_ALL: Final = 4
_GREETING_ONLY: Final = re.compile(
    r"^(?:hello|hi|hey|hiya|good (?:morning|afternoon|evening)|yes|yeah|hello there|hi there)"
    r"[\s,.!?]*(?:hello|hi|hey|there)?[\s,.!?]*$"
)
_WHO_IS_THIS: Final = re.compile(
    r"\b(?:who is this|who's this|who am i (?:speaking|talking) (?:to|with)|who are you|"
    r"what (?:company|business|place) is this|where are you calling from|who's calling)\b"
)


@dataclass(frozen=True)
class BrainReply:
    """What the agent says after one caller turn, and what that turn captured."""

    text: str
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    """Fields accepted this turn, in canonical form."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Fields the turn tried and failed to fill, with the reason."""
    end_call: bool = False
    end_reason: str = "completed"


@dataclass
class _Turn:
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    repeated: set[str] = field(default_factory=set)
    """Fields the caller said again with the value already held."""


def reply_events(answer: BrainReply, *, source: str = "guided") -> list[BrainEvent]:
    """A whole `BrainReply` as the events of the streaming brain interface."""
    events: list[BrainEvent] = [FirstToken(source)]
    events += [Captured(name, value) for name, value in answer.captured.items()]
    events += [Rejected(name, reason) for name, reason in answer.rejected.items()]
    events.append(Say(answer.text))
    if answer.end_call:
        events.append(EndCall(answer.end_reason))
    return events


_DONT: Final = re.compile(r"^\s*(?:don'?t|do not|never|avoid|no)\s+(.+?)[.!]*$", re.IGNORECASE)


def decline(dont: str) -> str:
    """How the agent declines what a don't forbids: "Don't discuss pricing" → "I'm sorry, I
    can't discuss pricing on the phone, but the team will be happy to help with that." """
    found = _DONT.match(dont)
    if found is None or found.group(1).split()[0].lower().endswith("ing"):
        return "I'm sorry, that's not something I can help with on the phone."
    return (
        f"I'm sorry, I can't {found.group(1)} on the phone, but the team will be happy to help "
        "with that."
    )


def _without_questions(text: str) -> str:
    """`text` with the questions that ask for information blanked out (their words are not
    answers to the agent's question)."""
    for asked in asks_for_information(text):
        text = text.replace(asked, " ")
    return " ".join(text.split())


def default_similarity() -> SimilarityFunction | None:
    """Sentence similarity from the bundled MiniLM when installed, else None (rules only)."""
    return embeddings.similarity if embeddings.available() else None


def warm_up() -> None:
    """Read one sentence the way a call does, so the first caller does not pay for loading
    Duckling's tables and embedding the intents' example phrases (seconds on a cold process)."""
    entities("next tuesday at half past three", dt.date.today(), ["time", "number", "email"])
    similarity = default_similarity()
    if similarity is not None:
        classify("could you maybe go over that one more time", similarity)


class GuidedBrain(Brain):
    """Reads every utterance for every open field and intent; asks, confirms, closes."""

    def __init__(
        self,
        agent: AgentSnapshot,
        *,
        today: dt.date,
        timezone_name: str = "UTC",
        similarity: SimilarityFunction | None = None,
    ) -> None:
        """Start a conversation for `agent`; relative dates resolve against `today`.

        `similarity` compares phrases by meaning (options said in other words, paraphrased
        intents); by default the bundled MiniLM when it is installed.
        """
        self.agent = agent
        self.today = today
        self.timezone_name = timezone_name
        """The zone `today` is in; kept for the caller's records (dates carry no zone)."""
        self.similarity = similarity if similarity is not None else default_similarity()
        self.manager = GoalManager(agent.goals)
        self._fields = self.manager.fields
        self._failures: dict[str, int] = {}
        self._given_up: set[str] = set()
        self._deferred: set[str] = set()
        self._asking: str | None = None
        """A field the caller chose to correct at the read-back, asked before anything else."""
        self._fixing = False
        """The caller said the read-back is wrong without saying what; the next turn says it."""
        self._offered_to_finish = False
        self._opening = True
        """The caller's first turn answers "How can I help?": nothing in it is a failed try."""
        self._read_backs_refused = 0
        self._said_as_written = ""
        """The caller's words as the recogniser wrote them (capitals mark names)."""
        self._knowledge: tuple[Hit, ...] = ()
        """The agent's knowledge found for this turn's words."""
        self._answers = 0
        """Questions answered from knowledge so far (the lead-ins take turns)."""
        self.rules = InstructionEngine(agent.instructions)
        """The agent's don'ts: an answer from knowledge that breaks one is declined instead."""
        self._last_said = ""
        self.reader = UtteranceReader(
            self._fields, today=today, opens_at=opening_hour(agent), similarity=self.similarity
        )
        """Which words of an utterance state which field (a bare "seven" is 7 AM at a clinic and
        7 PM at a bistro: the business's hours come from what the agent is)."""

    # -- the Brain interface ----------------------------------------------------------------------

    def greeting(self) -> str:
        """The opening line: the agent's greeting, then an open "How can I help you today?"
        (callers start with why they call, often with several of the details in it)."""
        opening = (self.agent.greeting or f"Hello, you've reached {self.agent.name}.").strip()
        action = self._next_action()
        if action.kind == "close":
            return self._said(opening)
        if opening.endswith("?"):
            self._opening = False
            return self._said(f"{opening}")
        return self._said(f"{opening} {OPEN_QUESTION}")

    async def reply(self, turn: CallerTurn) -> AsyncIterator[BrainEvent]:
        """`respond` (or `respond_dtmf` for keypad digits) as brain events.

        Worked out on the event loop's own thread (about 10 ms of CPU a turn): with the turn
        read on worker threads, eight calls at once crashed the realtime process (heap
        corruption between the native readers and the models), so the brain stays on one
        thread, as it was before the readers came."""
        answer = (
            self.respond_dtmf(turn.digits)
            if turn.digits
            else self.respond(turn.text, knowledge=turn.knowledge)
        )
        for event in reply_events(answer):
            yield event

    def fork(self) -> GuidedBrain:
        """A copy with its own goal progress and conversation state (the agent is shared)."""
        clone = copy.copy(self)
        clone.manager = copy.deepcopy(self.manager)
        clone._fields = clone.manager.fields
        clone.reader = copy.copy(self.reader)  # the week and the part of the day heard so far
        clone._failures = dict(self._failures)
        clone._given_up = set(self._given_up)
        clone._deferred = set(self._deferred)
        return clone

    def reprompt(self) -> str:
        """What to say when the caller has gone quiet: a nudge, then the open question again."""
        action = self._next_action()
        nudge = "Are you still there?"
        return self._said(nudge if action.kind == "close" else f"{nudge} {self._prompt(action)}")

    def resume(self, captured: Mapping[str, FieldScalar], transcript: Sequence[TurnEvent]) -> str:
        """Back after a lost stream: "Sorry about that, we got cut off. I have a cleaning on
        Tuesday, December 8. What time suits you?" — what the call was about, then the next
        question (a read-back, if everything was given: confirmations are asked again)."""
        for name, value in captured.items():
            if name in self._fields:
                self.manager.track_progress(name, value)
        known = self.manager.captured
        self._opening = not known and not any(t.text for t in transcript if t.seq > 1)
        if self._opening:
            return self._said(f"{CUT_OFF} {OPEN_QUESTION}")
        # The substance of the call, not the caller's own details read back to them.
        subject = [
            f
            for f in self._fields.values()
            if f.name in known
            and f.type not in (FieldType.PHONE, FieldType.EMAIL)
            and not is_name_field(f)
        ][:3]
        action = self._next_action()
        parts = [CUT_OFF]
        if subject and action.kind != "confirm":
            parts.append(f"So far I have {recap(subject, known)}.")
        parts.append(CLOSING if action.kind == "close" else self._prompt(action))
        return self._said(" ".join(parts))

    def listening_context(self) -> str:
        """The question just asked and the options of its field; nothing after a read-back,
        whose values (a phone number's digits) the recogniser would only echo back."""
        action = self._next_action()
        if action.kind != "ask" or action.field is None:
            return ""
        options = [f"{option}." for option in self._fields[action.field].options]
        return " ".join([question(self._fields[action.field]), *options])

    # -- for the LLM brain ------------------------------------------------------------------------

    def capture(self, caller_text: str) -> tuple[dict[str, FieldScalar], dict[str, str]]:
        """Track what `caller_text` clearly states into the manager, with no reply.

        A backstop for a brain whose model may not report what it heard: free text counts only
        when introduced ("my name is Ana"), typed fields wherever said; confirmed fields are
        left alone. Conversation state (retries, the pending question) is untouched.
        """
        confirmed = self.manager.confirmed
        open_fields = [n for n in self.manager.field_names if n not in confirmed]
        turn = self._read(normalise(caller_text), asked=None, names=open_fields)
        return turn.captured, turn.rejected

    def next_line(self, captured: Mapping[str, FieldScalar] | None = None) -> str:
        """What this brain says next: an acknowledgement of `captured`, then the open question,
        the read-back or the closing line."""
        return self._reply(_Turn(captured=dict(captured or {}))).text

    # -- turns ------------------------------------------------------------------------------------

    def respond(self, caller_text: str, *, knowledge: Sequence[Hit] = ()) -> BrainReply:
        """The agent's reply to one caller utterance (never empty). `knowledge`: the agent's
        items most relevant to the words, which answer a question in them."""
        self._said_as_written = caller_text
        self._knowledge = tuple(knowledge)
        text = normalise(caller_text)
        answer = self._respond(text)
        # "What do you have next week?" ... "Thursday": the Thursday of the week they named.
        self.reader.week_of = week_mentioned(text, self.today) or self.reader.week_of
        self._said(answer.text)
        return answer

    def _respond(self, text: str) -> BrainReply:
        action = self._next_action()
        if action.kind == "close":
            return BrainReply(CLOSING, end_call=True)
        if not text:
            return BrainReply(f"Sorry, I didn't catch that. {self._prompt(action)}")
        intent = classify(text, self.similarity)
        if self._opening and _GREETING_ONLY.match(text):
            return BrainReply(f"Hi there! {OPEN_QUESTION}")  # "Hello?" is no request yet
        if _WHO_IS_THIS.search(text):
            return BrainReply(f"This is {self.agent.name}. {self._prompt(action)}")
        if intent is Intent.HOLD and text.endswith("?"):
            intent = Intent.QUESTION  # "hang on, is that the 10th?" asks; it does not wait
        if intent is Intent.HOLD:
            return BrainReply("Sure, take your time.")
        if intent is Intent.REPEAT:
            return BrainReply(f"Of course. {self._prompt(action)}")  # the question, not the ack
        opening, self._opening = self._opening, False
        asked = action.field if action.kind == "ask" else None
        if opening:
            # "How can I help?" asks for what the caller wants, not for the first field; a
            # caller who answers with a name ("Graham Whitley") is giving the name.
            names_given = written_as_name(self._said_as_written)
            asked = self._first_name_field() if names_given else self._first_want()
        may_change = action.kind == "confirm" or intent is Intent.CORRECTION or self._fixing
        names = self._open_fields(include_captured=may_change, asked=asked)
        # At the read-back a question with a value in it ("is that the 10th?") corrects too.
        correction = intent in (Intent.NO, Intent.CORRECTION, Intent.QUESTION) and (
            action.kind == "confirm"
        )
        # A whole answer is free text only when it answers the question: not "no, that's not
        # right", not a question back, and in a long opening sentence only what a cue
        # introduces ("hi, I was hoping to get a cleaning on Friday").
        whole_answers = intent in (Intent.NONE, Intent.CORRECTION)
        if intent is Intent.QUESTION:
            asked = None  # "is there parking? I walked three blocks": no bare "three" is a time
        rules = ReadingRules(whole_answers=whole_answers, opening=opening)
        if action.kind == "confirm" and intent is Intent.YES and not SELF_CORRECTION.search(text):
            turn = _Turn()  # "yes" agrees with the read-back; it sets no option to "yes"
        else:
            # "Are you open on Saturday?" asks about Saturday; it does not book it. Values are
            # read from the rest of the words (at a read-back, "is that the 10th?" checks one).
            answers_questions = self._answers_questions()
            said = (
                _without_questions(text) if answers_questions and action.kind != "confirm" else text
            )
            turn = self._read(said, asked=asked, names=names, correcting=correction, rules=rules)
        answer = self._answer_from_knowledge(text, turn)
        if answer is not None and intent is Intent.GOODBYE:
            intent = Intent.QUESTION  # "do you do root canals or would I have to go see ..."
        if intent is Intent.GOODBYE or (self._offered_to_finish and intent is Intent.NO):
            return self._goodbye(turn)
        if answer is not None and action.kind != "confirm":
            return self._reply(turn, lead=answer)
        self._offered_to_finish = False
        if intent is Intent.HUMAN and not turn.captured:
            lead = (
                "I can't transfer you right now, but I'll make sure someone from the team gets "
                "back to you."
            )
            return self._reply(turn, lead=lead)
        if action.kind == "confirm":
            return self._respond_to_read_back(action, text, intent, turn, answer)
        if turn.captured:
            return self._reply(turn)
        # "Can I get an appointment?" is a question that asks for what this call is for.
        books = bool(questions_in(text)) and not asks_for_information(text, values_given=False)
        if (opening and intent is not Intent.QUESTION) or (intent is Intent.QUESTION and books):
            return self._reply(turn, lead="Sure, I can help with that.")
        if intent is Intent.QUESTION:
            return self._reply(turn, lead=NO_ANSWER)
        assert action.field is not None
        narrowed = self._narrow(action.field, text) if intent is Intent.NONE else None
        return narrowed or self._try_again(action.field, turn)

    def _answers_questions(self) -> bool:
        """Whether this agent answers questions from knowledge: it has a domain a call can
        search (a domain named in a document, with no database behind it, cannot)."""
        return bool(self._knowledge) or any(d.id is not None for d in self.agent.domains)

    def _answer_from_knowledge(self, text: str, turn: _Turn) -> str | None:
        """What to say to the questions in `text` from this turn's knowledge: the one or two
        most relevant sentences; a decline when the best of them breaks a don't ("Don't
        discuss pricing"); that the answer isn't known when nothing relevant was found and the
        turn gave nothing else. None when the turn asks for no information ("can I come in
        Friday?" asks for a booking, which its values answer)."""
        asked = asks_for_information(text, values_given=bool(turn.captured))
        if not asked or not self._answers_questions():
            return None
        sentences = spoken_answer(text, self._knowledge, self.similarity)
        if not sentences:
            return None if turn.captured else NO_ANSWER
        breaches = self.rules.validate_response(sentences[0])
        if breaches:
            return decline(breaches[0].instruction.text)
        lead = ANSWER_LEADS[self._answers % len(ANSWER_LEADS)]
        self._answers += 1
        return " ".join([lead, *(s for s in sentences if not self.rules.validate_response(s))])

    def _respond_to_read_back(
        self, action: NextAction, text: str, intent: Intent, turn: _Turn, answer: str | None
    ) -> BrainReply:
        if intent in (Intent.NO, Intent.CORRECTION):
            self._read_backs_refused += 1
            if self._read_backs_refused > READ_BACKS_REFUSED_AT_MOST:
                # Never a loop: the record stands as heard, marked for a person to check.
                return BrainReply(UNCONFIRMED, turn.captured, turn.rejected, True, "unconfirmed")
        if not turn.captured and intent is Intent.CORRECTION:
            # "No, make it four": a bare number corrects the time (else a count) just read back.
            for name in self._bare_number_targets(action.fields):
                reading = read_value(
                    self._fields[name],
                    text,
                    self.reader.context(asked=True),
                )
                if reading is not None:
                    self._track(turn, name, reading.value)
                    break
        if turn.captured:
            self._fixing = False
            return self._reply(turn)
        if intent in (Intent.NONE, Intent.NO, Intent.CORRECTION) and not turn.captured:
            # "A dental cleaning, please." to a read-back of the wrong service: words for the
            # one free-text field they resemble replace it.
            replaced = self._free_text_correction(action.fields, text)
            if replaced is not None:
                self._track(turn, *replaced)
                if turn.captured:
                    return self._reply(turn)
        if intent is Intent.YES or (intent is Intent.NONE and text in ("that's it", "all good")):
            self._fixing = False
            self.manager.confirm(action.fields)
            # "Yes, that's right. And what do I bring?": the answer, then the call goes on.
            return self._reply(turn, lead=answer if answer and answer != NO_ANSWER else "")
        named = [n for n in action.fields if self.reader.names_field(text, n)]
        if (
            named
            and intent in (Intent.NO, Intent.CORRECTION, Intent.NONE)
            or (named and self._fixing)
        ):
            self._fixing = False
            self._asking = named[0]
            return BrainReply(f"Sure. {question(self._fields[named[0]])}")
        if intent in (Intent.NO, Intent.CORRECTION):
            self._fixing = True
            labels = [label(self._fields[n]) for n in action.fields]
            which = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"
            return BrainReply(f"No problem. What should I change: the {which}?")
        if intent is Intent.QUESTION and turn.repeated:
            return BrainReply("Yes, that's right. Is everything else correct?")  # "the 10th?"
        if answer is not None and answer != NO_ANSWER:
            return BrainReply(f"{answer} {self._prompt(action)}")
        if intent is Intent.QUESTION:
            return BrainReply(f"{NO_ANSWER} {self._prompt(action)}")
        return BrainReply(f"Sorry, I didn't quite get that. {self._prompt(action)}")

    def _first_name_field(self) -> str | None:
        return next((n for n in self._missing() if is_name_field(self._fields[n])), None)

    def _first_want(self) -> str | None:
        """The missing free-text field that says what the caller wants (a service, a need, a
        reason), if the goals have one."""
        for name in self._missing():
            data_field = self._fields[name]
            if data_field.type is FieldType.TEXT and is_want_field(data_field):
                return name
        return None

    def _free_text_correction(self, names: Iterable[str], text: str) -> tuple[str, str] | None:
        """The free-text field a short answer at the read-back restates, with its new value:
        the only one there is, or the one whose value it sounds most like."""
        answer = clean_answer(_NEGATION.sub("", text))
        if not answer or len(answer.split()) > FREE_TEXT_CORRECTION_WORDS:
            return None
        if set(answer.split()) & _ABOUT_THE_READ_BACK:
            return None  # "no, that's not right" restates nothing
        if any(self.reader.names_field(answer, n) for n in names) and len(answer.split()) <= 2:
            return None  # "the service" names what to change; the next turn says how
        captured = self.manager.captured
        texts = [
            n
            for n in names
            if self._fields[n].type is FieldType.TEXT and not is_name_field(self._fields[n])
        ]
        if len(texts) == 1:
            return texts[0], answer
        scored = sorted(
            ((fuzz.token_set_ratio(answer, str(captured.get(n, ""))), n) for n in texts),
            reverse=True,
        )
        if scored and scored[0][0] >= RESEMBLES_MIN:
            return scored[0][1], answer
        return None

    def _bare_number_targets(self, names: Iterable[str]) -> list[str]:
        kinds = (FieldType.TIME, FieldType.NUMBER)
        return sorted(
            (n for n in names if self._fields[n].type in kinds),
            key=lambda n: kinds.index(self._fields[n].type),
        )

    def _goodbye(self, turn: _Turn) -> BrainReply:
        if self.manager.check_completion():
            self.manager.confirm()
            ack = acknowledge(self._declared(turn.captured), turn.captured) if turn.captured else ""
            return BrainReply(
                " ".join(p for p in (ack, CLOSING) if p), turn.captured, turn.rejected, True
            )
        if self._offered_to_finish:
            return BrainReply(LEFT_EARLY, turn.captured, turn.rejected, True, "caller_left")
        self._offered_to_finish = True
        missing = [label(self._fields[n]) for n in self._missing()]
        need = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        return BrainReply(
            f"Before you go, I just need the {need} to finish. Shall we do that now?",
            turn.captured,
            turn.rejected,
        )

    def _narrow(self, name: str, text: str) -> BrainReply | None:
        """Asked the time, "sometime in the afternoon" is half an answer: the question again,
        within that part of the day (whose clock the next answer is read in). The same part
        said again is no answer; a different one narrows again."""
        if self._fields[name].type is not FieldType.TIME:
            return None
        part = part_of_day_named(text)
        if part is None or part == self.reader.part_of_day:
            return None
        self.reader.part_of_day = part
        return BrainReply(f"Sure. What time in the {part} works for you?")

    def _try_again(self, name: str, turn: _Turn) -> BrainReply:
        count = self._failures.get(name, 0) + 1
        self._failures[name] = count
        rejected = {**turn.rejected, name: turn.rejected.get(name, "not understood")}
        others = [n for n in self._missing() if n != name and n not in self._given_up]
        if count >= TRIES_IN_ALL or (count >= TRIES_BEFORE_MOVING_ON and not others and count > 2):
            self._given_up.add(name)
            nxt = self._next_action()
            if nxt.kind == "close" or nxt.field == name:
                return BrainReply(HANDED_OFF, {}, rejected, True, "field_not_understood")
            return BrainReply(
                f"No problem, we'll leave that one for the team. {self._prompt(nxt)}", {}, rejected
            )
        if count == TRIES_BEFORE_MOVING_ON and others:
            self._deferred.add(name)
            nxt = self._next_action()
            return BrainReply(
                f"No problem, let's come back to that. {self._prompt(nxt)}", {}, rejected
            )
        return BrainReply(
            f"Sorry, I didn't catch that. {rephrase(self._fields[name])}", {}, rejected
        )

    def respond_dtmf(self, digits: str) -> BrainReply:
        """The reply to keypad digits: the answer itself, or 1 = yes / 2 = no on a read-back."""
        keys = re.sub(r"[^0-9]", "", digits)
        action = self._next_action()
        if action.kind == "close":
            return BrainReply(CLOSING, end_call=True)
        if action.kind == "confirm" or (
            action.field and self._fields[action.field].type is FieldType.BOOLEAN
        ):
            if keys in ("1", "2"):
                return self.respond("yes" if keys == "1" else "no")
        elif action.field is not None and keys:
            data_field = self._fields[action.field]
            raw: object = None
            if data_field.type in (FieldType.PHONE, FieldType.NUMBER):
                raw = keys
            elif data_field.type is FieldType.ENUM and 1 <= int(keys) <= len(data_field.options):
                raw = data_field.options[int(keys) - 1]
            if raw is not None:
                turn = _Turn()
                self._track(turn, action.field, raw)
                if turn.captured:
                    return self._reply(turn)
                return self._try_again(action.field, turn)
        hint = "Press 1 for yes or 2 for no." if action.kind == "confirm" else ""
        return BrainReply(
            f"Sorry, I couldn't use those keys. {hint} {self._prompt(action)}".replace("  ", " ")
        )

    # -- what to do next --------------------------------------------------------------------------

    def _missing(self) -> list[str]:
        captured = self.manager.captured
        return [n for n in self.manager.field_names if n not in captured]

    def _next_action(self) -> NextAction:
        """The GoalManager's next action, with the brain's repairs: a field the caller chose to
        correct comes first, a field that failed twice waits, one given up on is skipped."""
        if self._asking is not None:
            return self._ask(self._asking)
        action = self.manager.get_next_action()
        if action.kind != "ask" or action.field is None:
            return action
        missing = [n for n in self._missing() if n not in self._given_up]
        if action.field in self._given_up or action.field in self._deferred:
            fresh = [n for n in missing if n not in self._deferred]
            later = [n for n in missing if n in self._deferred]
            if fresh:
                return self._ask(fresh[0])
            if later:
                self._deferred.discard(later[0])
                return self._ask(later[0])
            unconfirmed = [n for n in self.manager.captured if n not in self.manager.confirmed]
            if unconfirmed:
                return NextAction("confirm", None, None, tuple(unconfirmed))
            return NextAction("close", None, None)
        return action

    def _ask(self, name: str) -> NextAction:
        return NextAction("ask", None, name, (name,), self._fields[name].description)

    def _open_fields(self, *, include_captured: bool, asked: str | None) -> list[str]:
        """The fields a turn is read for: the missing ones and the one asked; all of them when
        the caller may be correcting what was captured."""
        if include_captured:
            return list(self.manager.field_names)
        missing = self._missing()
        return missing if asked is None or asked in missing else [asked, *missing]

    # -- reading values ---------------------------------------------------------------------------

    def _read(
        self,
        text: str,
        *,
        asked: str | None,
        names: Iterable[str],
        correcting: bool = False,
        rules: ReadingRules = ANY_ANSWER,
    ) -> _Turn:
        """Every field in `names` that `text` states, tracked into the manager."""
        captured = self.manager.captured
        heard = self.reader.read(
            text,
            asked=asked,
            names=names,
            captured=captured,
            correcting=correcting,
            asking=self._asking,
            rules=rules,
        )
        turn = _Turn()
        for name, raw in heard.values.items():
            fixing = name == self._asking
            self._track(turn, name, raw)
            if name in turn.captured and captured.get(name) == turn.captured[name] and not fixing:
                del turn.captured[name]  # said again, unchanged: not news
                turn.repeated.add(name)
        return turn

    def _track(self, turn: _Turn, name: str, raw: object) -> None:
        result = self.manager.track_progress(name, raw)
        if result.accepted and result.value is not None:
            turn.captured[name] = result.value
            if self._fields[name].type is FieldType.TIME:
                self.reader.part_of_day = None  # it was for this answer; a change is its own
            if name == self._asking:
                self._asking = None
            self._failures.pop(name, None)
            self._deferred.discard(name)
        else:
            turn.rejected[name] = result.reason

    # -- phrasing ---------------------------------------------------------------------------------

    def _declared(self, names: Iterable[str]) -> list[DataField]:
        return [self._fields[n] for n in names]

    def _reply(self, turn: _Turn, *, lead: str = "") -> BrainReply:
        action = self._next_action()
        ack = acknowledge(self._declared(turn.captured), turn.captured) if turn.captured else ""
        if action.kind == "confirm" and ack:
            ack = "Thanks."  # the read-back says it all again straight away
        if action.kind == "close":
            text = " ".join(p for p in (lead, ack, CLOSING) if p)
            return BrainReply(text, turn.captured, turn.rejected, True)
        text = " ".join(p for p in (lead, ack, self._prompt(action)) if p)
        return BrainReply(text, turn.captured, turn.rejected)

    def _prompt(self, action: NextAction) -> str:
        if action.kind == "confirm":
            captured = self.manager.captured
            return read_back(self._declared(n for n in action.fields if n in captured), captured)
        assert action.field is not None
        return question(self._fields[action.field])

    def _said(self, text: str) -> str:
        self._last_said = text
        return text

"""What the caller means besides the values they give: yes, no, a correction, "say that
again", "hold on", goodbye, a question, asking for a person — or none of these.

Rules first: each intent has patterns for the ways people say it on the phone, checked in an
order that settles overlaps ("no, that's all" is a goodbye, not a no; "can you repeat that?" is
a repeat, not a question; "can we do five instead" is a correction). Words no rule covers are
compared with example phrases by sentence embedding (the bundled MiniLM), so a paraphrase
("I've got to dash") still lands; a weak likeness is no intent at all. No LLM is involved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Final

from core.context import questions_in
from core.fields.speech import YES_WORDS


class Intent(StrEnum):
    """What an utterance does in the conversation."""

    YES = "yes"
    NO = "no"
    CORRECTION = "correction"
    REPEAT = "repeat"
    HOLD = "hold"
    GOODBYE = "goodbye"
    QUESTION = "question"
    HUMAN = "human"
    NONE = "none"


_LEAD: Final = r"^(?:(?:oh|ok|okay|so|well|yeah|sorry|um|uh|and|but|hi|hey|excuse me),? )*"
_RULES: Final[tuple[tuple[Intent, re.Pattern[str]], ...]] = (
    (
        Intent.HUMAN,
        re.compile(
            r"\b(?:real person|a human|human being|operator|representative|receptionist|"
            r"(?:speak|talk) (?:to|with) (?:a |an |the |your )?(?:someone|somebody|person|"
            r"manager|staff|doctor|owner|front desk|people)|put me through|transfer me|"
            r"someone i can (?:actually )?(?:talk|speak)|^agent\b|\bagent please|live person)\b"
        ),
    ),
    (
        Intent.HOLD,
        re.compile(
            _LEAD + r"(?:hold on|hang on|one sec|one second|one moment|one minute|just a (?:sec|"
            r"second|moment|minute|tick)|give me a (?:sec|second|moment|minute)|wait a (?:sec|"
            r"second|moment|minute)|let me (?:check|see|look|think|find|grab|get|ask)|bear with "
            r"me|hold please|one tick|gimme a sec)\b"
        ),
    ),
    (
        Intent.REPEAT,
        re.compile(
            r"\b(?:say (?:that|it) again|repeat (?:that|it|the|what)|come again|what was that|"
            r"what did you (?:say|just say)|didn't (?:catch|hear|get) (?:that|you|it)|you cut out|"
            r"one more time|(?:can|could) you repeat|you broke up|didn't quite get)\b"
            r"|^(?:sorry|pardon|what|huh|excuse me|pardon me)\W*$"
        ),
    ),
    (
        Intent.GOODBYE,
        re.compile(
            r"\b(?:bye|goodbye|that's all|that is all|that's everything|that's it for now|"
            r"nothing else|i have to go|i've got to go|i gotta go|got to go|i need to go|i must go|"
            r"(?:have to|need to|gotta|got to) run(?! it| this| that| by| past)|"
            r"call (?:you )?back later|have a good (?:one|day|night|evening)|"
            r"talk (?:to you )?later|i'm done|we're done|"
            r"that'll be all|that's about it|all set thanks)\b"
        ),
    ),
    (
        Intent.CORRECTION,
        re.compile(
            r"\b(?:actually|i meant|i mean|i said|make it|make that|change (?:it|that|the)|"
            r"instead|oops|my mistake|scratch that|not \w+(?: \w+)?, (?!thanks|thank)|"
            r"should be|it's \w+ not|, not)\b|^no,? no\b|^no,? (?:it's|the|i|it|make|at|on)\b"
        ),
    ),
    (
        Intent.QUESTION,
        re.compile(
            _LEAD + r"(?:do|does|did|is|are|can|could|will|would|what|which|how|where|when|why|"
            r"who|have you|any chance)\b.*"
            r"|.*\?$"
        ),
    ),
    (
        Intent.NO,
        re.compile(
            r"^(?:no|nope|nah|not really|not quite|i don't think so|negative|incorrect|wrong|"
            r"that's (?:not|wrong)|that is not|that doesn't)\b"
        ),
    ),
    (
        Intent.YES,
        re.compile(
            _LEAD + r"(?:yes|yeah|yep|yup|yea|ya|correct|right|that's right|that's correct|"
            r"sounds good|sounds great|perfect|exactly|absolutely|sure|ok|okay|great|lovely|"
            r"you got it|spot on|all good|looks good|that works|go ahead|definitely|of course|"
            r"certainly|fine|good|brilliant|yes please|uh huh|mhm|affirmative|indeed)\b"
        ),
    ),
)

EXAMPLES: Final[dict[Intent, tuple[str, ...]]] = {
    Intent.YES: ("yes that's right", "that's all correct", "sounds good to me", "that's perfect"),
    Intent.NO: ("no that's not right", "that's wrong", "no it isn't"),
    Intent.REPEAT: ("could you say that again", "sorry I didn't hear you", "what did you say"),
    Intent.HOLD: ("hold on a moment", "let me check", "give me a second to look"),
    Intent.GOODBYE: ("I have to go now, goodbye", "that's all I needed, thanks", "I'll call back"),
    Intent.QUESTION: ("do you have parking", "how much does it cost", "what are your hours"),
    Intent.HUMAN: ("can I talk to a real person", "put me through to someone", "a human please"),
}
SEMANTIC_MIN: Final = 0.62

SimilarityFunction = Callable[[str, Sequence[str]], list[float]]


def classify(text: str, similarity: SimilarityFunction | None = None) -> Intent:
    """The intent of one caller utterance (normalised words); NONE for a plain answer."""
    said = text.strip(" ,.")
    if not said:
        return Intent.NONE
    for intent, pattern in _RULES:
        if pattern.search(said):
            if intent is Intent.QUESTION and _is_answer_with_question_mark(said):
                continue
            return intent
    if similarity is None or len(said.split()) < 2:
        return Intent.NONE
    phrases = [(intent, phrase) for intent, group in EXAMPLES.items() for phrase in group]
    scores = similarity(said, [phrase for _, phrase in phrases])
    best = max(range(len(scores)), key=scores.__getitem__)
    return phrases[best][0] if scores[best] >= SEMANTIC_MIN else Intent.NONE


def _is_answer_with_question_mark(text: str) -> bool:
    # A recogniser writes rising intonation as "?": "three pm?", "this friday?" are answers.
    first = text.split()[0]
    return text.endswith("?") and len(text.split()) <= 4 and first not in _QUESTION_WORDS


_QUESTION_WORDS: Final = frozenset(
    "do does did is are can could will would what which how where when why who".split()
)


def asks_question(text: str) -> bool:
    """Whether the utterance asks something anywhere in it (see `core.context.questions_in`)."""
    return bool(questions_in(text))


def is_affirmative(text: str) -> bool:
    """Whether the words open with agreement ("yes", "sure, that's fine")."""
    first = re.findall(r"[a-z']+", text)[:2]
    return bool(first) and (first[0] in YES_WORDS or " ".join(first) in ("uh huh", "that's right"))

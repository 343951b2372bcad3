"""Reading answers that are words, not quantities: one of a field's options, or free text.

Options are snapped to the nearest one by three kinds of evidence, strongest first: the option's
words said outright (also run together or split apart: "in doors" → indoors); what it sounds
like, for the recogniser's slips ("patty oh" → patio), with `rapidfuzz` (edit distance) and
`jellyfish` (Soundex codes); and, where the caller says it in other words ("outside" → patio),
a sentence similarity the realtime process supplies from the bundled MiniLM model. A guess that
is not clearly ahead of the next option is no answer: the agent asks again rather than book the
wrong thing. Free text is the caller's answer without its fillers and lead-ins ("um, I'd like
to book a cleaning" → "cleaning"); volunteered before it was asked, only after words that
introduce it ("I need a filling", "we need it by March").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

import jellyfish
from rapidfuzz import fuzz

from core.fields.declaration import DataField
from core.fields.speech import NO_WORDS, YES_WORDS, Reading

SimilarityFunction: TypeAlias = Callable[[str, Sequence[str]], list[float]]
"""Cosine similarity of a phrase to each of several others (sentence embeddings)."""

FUZZY_MIN: Final = 80.0
SOUNDS_LIKE_MIN: Final = 60.0
SEMANTIC_MIN: Final = 0.45
SEMANTIC_MARGIN: Final = 0.08
TEXT_MAX_WORDS: Final = 12

_LEAD_IN: Final = re.compile(
    r"^(?:(?:yes|yeah|yep|ok|okay|so|well|oh|and|but|right|sure|hi|hello|hey)\b[\s,]*|"
    r"(?:i'd|i would|we'd|we would) (?:like|love)(?: to (?:book|get|have|schedule|make|come in "
    r"for|set up))?\b\s*|(?:i|we) (?:want|need|wanted)(?: to (?:book|get|have|schedule))?\b\s*|"
    r"(?:i'm|i am|we're|we are) (?:looking for|calling about|calling for|after|interested in)\b"
    r"\s*|(?:i|we) (?:have|had|got)(?: got)?\b"
    r"\s*|(?:i'm|i am|we're|we are) (?:calling|ringing|phoning)(?: (?:to|about|for|because|"
    r"in))?\b\s*|(?:i was |we were |just )?wondering if (?:i|we|you) (?:could|can|might)\b"
    r"\s*|(?:can|could|may) (?:i|we)(?: please)?(?: (?:get|book|make|have|schedule))?\b"
    r"\s*|(?:i was|we were) (?:hoping|looking)(?: to (?:get|book)| for)?\b\s*|"
    r"(?:let's|let us|we'll|i'll|can we|could we) (?:do|say|go with|make it|book|have|try)\b"
    r"\s*|(?:how|what) about\b\s*|(?:i|we) (?:think|guess|suppose|reckon)\b[\s,]*|"
    r"i'd say\b\s*|go with\b\s*|"
    r"(?:it's|it is|it'd be|it would be|that's|that is|that'd be|that would be|just|"
    r"probably|maybe|for|to book|book|about|a|an|the|some|my|our)\b[\s,]*)"
)
_TRAILING: Final = re.compile(
    r"(?:[\s,]+(?:please|thanks|thank you|if possible|if you can|if you have it|on|at|for|this|"
    r"next|around|about|by|in|and|then|so|maybe|i think|i guess))+$"
)
_NOT_AN_ANSWER: Final = re.compile(
    r"^(?:hold on|hang on|one (?:sec|second|moment)|just a (?:sec|second|moment)|wait|"
    r"let me (?:check|think|see|look)|give me a (?:sec|second|moment)|i'm not sure|not sure|"
    r"i don't know|no idea|sorry|what|pardon|huh|can you|could you|do you|does|are you|is there|"
    r"how much|how long|where|why|when do you)\b"
)
# A question about the options ("is the patio heated?"), not a request phrased as one ("can I
# get a table on the patio?").
_QUESTION: Final = re.compile(
    r"^(?:is|are|do|does|can|could|will|would|what|which|how|where|why|when)\b"
    r"(?! (?:i|we) (?:said|say|get|have|sit|book|do|go|take|please))(?! you (?:put|book|give|get))"
)
_UNSURE: Final = re.compile(
    r"\b(?:not sure|don't know|do not know|no idea|can't remember|cannot remember|haven't "
    r"decided|not decided)\b"
)
_WANT_CUE: Final = re.compile(
    r"(?:\b(?:i'd like|i would like|i want|i need|we need|i'm looking for|looking for|"
    r"hoping (?:to get|for)|calling (?:about|for)|to book|book|booking|schedule|come in for|"
    r"in for|get|(?:appointment|booking|visit|slot) for)|^(?:just |it's |it is |that's )?for)\s+"
    r"(?:(?:to|in|for|come|get|book|have|make|schedule|see about)\s+)*(?:a |an |my |the |some |"
    r"our )?(?P<v>[a-z' -]+?)(?=$|[,.]| (?:on|at|for|this|next|tomorrow|today|please|around|"
    r"and|in the|some ?time|if|with|because|as|sometime|asap|soon)\b)"
)
# Words that name no service: "get it looked at", "can I get to you on the bus", "get there".
_PRONOUNS: Final = frozenset(
    "it that this them those these him her us one you me there here".split()
)
_RELATIVE: Final = re.compile(
    r"^(?:daughter|son|kids?|children|child|wife|husband|partner|mom|mum|dad|mother|father|"
    r"baby|boy|girl|family|friend|grandma|grandpa|grandmother|grandfather|sister|brother|"
    r"self|myself|us)\b"
)
# What a caller calls any booking: "I'd like to make an appointment" names no service.
_GENERIC_REQUEST: Final = frozenset(
    "a an the to make book booking schedule appointment appointments reservation booking "
    "table slot time visit something one come in get set up please some it that this them "
    "those these do say let's go with".split()
)
_WHEN: Final = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|spring|summer|fall|autumn|winter|"
    r"q[1-4]|christmas|the holidays|new year|year end|year-end|monday|tuesday|wednesday|"
    r"thursday|friday|next (?:week|month|quarter|year)|this (?:week|month|quarter|year)|"
    r"(?:the )?end of (?:the )?(?:week|month|quarter|year|q[1-4]|\w+)|"
    r"(?:the )?(?:first|second|third|fourth|next|last) quarter|tomorrow)"
)
_DURATION: Final = (
    r"(?:\w+ |a |an |a few |a couple of |the next |(?:about|around) \w+ )?"
    r"(?:days?|weeks?|months?|quarters?|years?)"
)
# A timeline is said with a time word: "by March", "within three months", "end of Q1", "ASAP";
# "in the range of 30 grand" is not one.
_TIMELINE_CUE: Final = re.compile(
    rf"\b(?P<v>(?:by|within|before|in|over|around|sometime in|early|late|mid|after) "
    rf"(?:the )?(?:{_WHEN}|{_DURATION})|as soon as possible|asap|right away|immediately|"
    rf"(?<=needed it )yesterday|(?<=need it )yesterday)\b"
)
_DECIDER_CUE: Final = re.compile(
    r"\b(?P<v>(?:i|me|my \w+(?: \w+)?|our \w+(?: \w+)?|the \w+(?: \w+)?))"
    r" (?:make|makes|will make|would make|do|does) the (?:decision|call|final call)\b|"
    r"\b(?:decision maker|decision|sign off|signs off) (?:is|would be|will be|comes from) "
    r"(?P<v2>[a-z' ]+)|"
    r"\b(?:run it (?:by|past)|check with|get (?:sign-?off|approval) from|approved by|"
    r"signed off by|sign-?off from) (?P<v3>(?:my|our|the) [a-z' ]+)"
)
_WANT_FIELDS: Final = frozenset(
    "service reason need needs issue problem purpose treatment request visit procedure".split()
)
# The recogniser writes a short answer's article before a consonant as "at" (Whisper wrote
# Piper's "a cleaning" as "at cleaning" in 7 of 8 syntheses): what a caller needs never starts
# with "at" and a bare noun, where "at the moment" or "at home" may start a real answer.
_HEARD_AS_AT: Final = re.compile(
    r"^at (?!(?:the|a|an|my|our|your|his|her|their|this|that|home|work|least|all|once|some|"
    r"any|first|last|night)\b)"
)
_TIMELINE_FIELDS: Final = frozenset("timeline timeframe deadline horizon".split())
_DECIDER_FIELDS: Final = frozenset("decision decider authority approver".split())


# Words callers use for common options in other words than the option's own. Each group is one
# idea; an option that shares a word with a group also answers to the group's other phrases.
# The embedding alone confuses opposites ("outside" sits closer to "indoors" than to "patio").
PARAPHRASES: Final = (
    ("outside", "outdoors", "out back", "terrace", "garden", "patio", "deck", "al fresco"),
    ("inside", "indoors", "indoor", "in doors", "dining room", "in the restaurant"),
    ("bar", "counter", "bar stool", "at the bar"),
    ("new", "first time", "never been", "haven't been", "never come", "first visit"),
    (
        "existing",
        "been before",
        "been there before",
        "been in before",
        "already a patient",
        "returning",
        "regular",
        "came in last",
        "been coming",
        "already been",
    ),
    ("cleaning", "clean", "hygiene", "polish"),
    ("checkup", "check up", "check-up", "exam", "examination", "routine"),
    ("filling", "filled", "cavity"),
    ("extraction", "pulled", "taken out", "removed", "take out", "pull out"),
    ("large", "big", "biggest", "largest"),
    ("small", "little", "smallest"),
    ("phone call", "call", "ring", "phone"),
    ("text message", "text", "sms"),
    ("email", "e-mail", "mail"),
    ("morning", "before lunch", "before noon", "early", "a m"),
    ("evening", "after work", "night", "after six", "after 6"),
    ("afternoon", "after lunch", "after noon"),
    ("delivery", "deliver", "bring it", "to my house", "drop it off"),
    ("pickup", "pick up", "pick it up", "collect", "collection"),
    ("amex", "american express"),
)


def _paraphrases(option: str) -> list[str]:
    """Other ways a caller says `option`, from the groups above."""
    said = option.lower()
    found: list[str] = []
    for group in PARAPHRASES:
        if said in group or any(re.search(rf"\b{re.escape(w)}\b", said) for w in group[:1]):
            found.extend(p for p in group if p != said)
    return found


# -- options ----------------------------------------------------------------------------------


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _ngrams(text: str, most: int = 3) -> list[str]:
    tokens = re.findall(r"[a-z0-9']+", text)
    return [" ".join(tokens[i : i + n]) for n in range(1, most + 1) for i in range(len(tokens))]


def _own_words(option: str, options: Sequence[str]) -> str:
    """The words of `option` no other option has ("existing patient" → "existing")."""
    shared = {w for other in options if other != option for w in other.lower().split()}
    own = [w for w in option.lower().split() if w not in shared]
    return " ".join(own) or option


def _sound_score(said: str, option: str) -> float:
    a, b = _compact(said), _compact(option)
    if len(a) < 3 or len(b) < 3:
        return 100.0 if a == b else 0.0
    score = fuzz.ratio(a, b)
    close_in_length = abs(len(a) - len(b)) <= 2
    if (
        close_in_length
        and jellyfish.soundex(a) == jellyfish.soundex(b)
        and score >= SOUNDS_LIKE_MIN
    ):
        score = max(score, FUZZY_MIN)
    return score


_YES_OPTIONS: Final = frozenset({"yes", "y", "true", "sure", "please"})
_NO_OPTIONS: Final = frozenset({"no", "n", "false", "none", "no thanks"})
_NO_PHRASES: Final = re.compile(
    r"\b(?:no|nope|nah|not|don't|do not|won't|will not|i'm good|i'm fine|we're good|"
    r"i'll (?:wait|manage|walk|drive)|no need|no thanks|(?:is|are|'s|'re) (?:picking|driving|"
    r"getting|grabbing) me|(?:get|getting) a ride|take an uber|my own)\b"
)
_YES_PHRASES: Final = re.compile(
    r"\b(?:yes|yeah|yep|yup|sure|please|absolutely|definitely|would be (?:great|good|nice|"
    r"helpful)|that'd be (?:great|good)|i'd (?:like|love|appreciate)|i (?:will|would|do) need|"
    r"i need|if you could|that would help)\b"
)


def _yes_no_options(options: Sequence[str]) -> tuple[str, str] | None:
    """The yes and the no option of a field whose options are a yes and a no."""
    yes = [o for o in options if o.strip().lower() in _YES_OPTIONS]
    no = [o for o in options if o.strip().lower() in _NO_OPTIONS]
    return (yes[0], no[0]) if len(options) == 2 and yes and no else None


def _read_yes_no_option(text: str, yes: str, no: str) -> Reading | None:
    """ "Nah, my wife's picking me up" → no; "yeah, a ride would be great" → yes."""
    said_no, said_yes = _NO_PHRASES.search(text), _YES_PHRASES.search(text)
    if said_no and (not said_yes or said_no.start() <= said_yes.start()):
        return Reading(no, said_no.start(), said_no.end())
    if said_yes:
        return Reading(yes, said_yes.start(), said_yes.end())
    return None


def read_enum(
    data_field: DataField,
    text: str,
    similarity: SimilarityFunction | None,
    *,
    asked: bool = True,
) -> Reading | None:
    """The option `text` names, said, mis-heard or paraphrased; None when unsure. A yes/no
    choice is read only as the answer to its question ("I need a tire rotation" says no yes)."""
    options = data_field.options
    if _QUESTION.match(text):
        return None  # "is the patio heated?" asks about an option, it does not choose one
    yes_no = _yes_no_options(options)
    if yes_no is not None:
        return _read_yes_no_option(text, *yes_no) if asked else None
    exact: list[tuple[int, str, re.Match[str]]] = []
    for option in options:
        pattern = r"\s*".join(re.escape(part) for part in _compact(option))
        match = re.search(rf"\b{pattern}\b", text)
        if match:
            exact.append((len(_compact(option)), option, match))
    if not exact:
        for option in options:
            for phrase in _paraphrases(_own_words(option, options)):
                match = re.search(rf"\b{re.escape(phrase)}\b", text)
                if match:
                    exact.append((len(phrase), option, match))
    if (
        exact
        and len({option for _, option, _ in exact}) == 1
        or exact
        and max(e[0] for e in exact) > sorted(e[0] for e in exact)[-2]
    ):
        _, option, match = max(exact, key=lambda e: e[0])
        return Reading(option, match.start(), match.end())
    grams = _ngrams(text)
    scored = sorted(
        (
            (max((_sound_score(g, _own_words(o, options)) for g in grams), default=0.0), o)
            for o in options
        ),
        reverse=True,
    )
    if scored and scored[0][0] >= FUZZY_MIN:
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        if scored[0][0] - runner_up >= 10:
            return Reading(scored[0][1], 0, len(text))
    if similarity is not None and options and not _NOT_AN_ANSWER.match(text):
        scores = similarity(text, list(options))
        ranked = sorted(zip(scores, options, strict=True), reverse=True)
        best, second = ranked[0][0], ranked[1][0] if len(ranked) > 1 else 0.0
        if best >= SEMANTIC_MIN and best - second >= SEMANTIC_MARGIN:
            return Reading(ranked[0][1], 0, len(text))
    return None


# -- free text --------------------------------------------------------------------------------


def clean_answer(text: str) -> str:
    """The answer without fillers, lead-ins ("I'd like", "it's") and trailing politeness."""
    answer = re.sub(r"\s+", " ", text).strip(" ,.!?")
    # "a cleaning. oh, and actually": a new sentence of no substance is no part of the answer.
    answer = re.sub(r"[.!?]\s+(?:(?:oh|and|so|actually|but|um|well|also)\W*)*$", "", answer)
    while True:
        stripped = _LEAD_IN.sub("", answer, count=1).strip(" ,.")
        stripped = _TRAILING.sub("", stripped).strip(" ,.")
        if stripped == answer:
            return answer
        answer = stripped


def _field_words(data_field: DataField) -> set[str]:
    return set(re.findall(r"[a-z]+", f"{data_field.name.replace('_', ' ')}"))


def _every_match(pattern: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """Matches starting anywhere, overlapping too: "book my daughter in for a checkup" has a
    match at "book" (no service) and one at "in for" (the service)."""
    found: list[re.Match[str]] = []
    position = 0
    while (match := pattern.search(text, position)) is not None:
        found.append(match)
        position = match.start() + 1
    return found


def is_want_field(data_field: DataField) -> bool:
    """Whether a text field holds what the caller wants: a service, a need, a reason."""
    return bool(_field_words(data_field) & _WANT_FIELDS)


def _the_caller(answer: str) -> str:
    """Who decides, when the caller says it is them: "me, I own the place" → "the caller
    (owner)", "me and our head of IT" → "the caller and our head of IT"."""
    if not _SELF.match(answer):
        return answer
    value = "the caller"
    others = re.search(r"\band (?P<o>(?:my|our|the) [a-z' ]+)", answer)
    if others:
        value += f" and {others['o'].strip()}"
    role = _ROLE.search(answer)
    if role and not others:
        value += f" ({'owner' if role[0] in ('own', 'owns') else role[0]})"
    return value


def read_text(data_field: DataField, text: str, *, asked: bool) -> Reading | None:
    """Free text: the answer itself when asked; before that, only what a cue introduces."""
    reading = _read_text(data_field, text, asked=asked)
    if reading is None or not _field_words(data_field) & _DECIDER_FIELDS:
        return reading
    return Reading(_the_caller(str(reading.value)), reading.start, reading.end)


_SELF: Final = re.compile(
    r"^(?:me|myself|i|i do|i am|i'm|that's me|that would be me|it's me|it'd be me|just me|"
    r"me and|me,|mine)\b"
)
_ROLE: Final = re.compile(
    r"\b(?:owner|own|owns|founder|co-?founder|ceo|cfo|cto|coo|president|director|partner|"
    r"manager|principal)\b"
)


def _read_text(data_field: DataField, text: str, *, asked: bool) -> Reading | None:
    kinds = _field_words(data_field)
    cue = None
    if kinds & _WANT_FIELDS:
        cue = _WANT_CUE
    elif kinds & _TIMELINE_FIELDS:
        cue = _TIMELINE_CUE
    elif kinds & _DECIDER_FIELDS:
        cue = _DECIDER_CUE
    if cue is not None:
        for match in _every_match(cue, text):
            group = next(g for g in ("v", "v2", "v3") if g in match.re.groupindex and match[g])
            value = clean_answer(match[group] or "")
            if kinds & _WANT_FIELDS:
                value = _HEARD_AS_AT.sub("", value)
            if not value or set(value.split()) <= _GENERIC_REQUEST:
                continue
            if value.split()[0] in _PRONOUNS or _RELATIVE.match(value):
                continue  # "get it looked at", "book my daughter in": no service named
            if value and not _NOT_AN_ANSWER.match(value) and value not in YES_WORDS:
                return Reading(value, match.start(group), match.end(group))
    if not asked:
        return None
    flat = re.sub(r"\s+", " ", text).strip(" ,.")
    if not flat or flat.endswith("?") or _NOT_AN_ANSWER.match(flat) or _UNSURE.search(flat):
        return None
    answer = clean_answer(flat)
    if kinds & _WANT_FIELDS:
        answer = _HEARD_AS_AT.sub("", answer)
    if set(answer.split()) <= _GENERIC_REQUEST:
        return None
    if _SELF.match(flat) and kinds & _DECIDER_FIELDS:
        answer = flat  # "me" is the answer here, not a lead-in to strip
    if not answer or answer in YES_WORDS or answer in NO_WORDS or _NOT_AN_ANSWER.match(answer):
        return None
    kept = answer.split()[:TEXT_MAX_WORDS] if len(answer.split()) > TEXT_MAX_WORDS else None
    value = " ".join(kept) if kept else answer
    start = text.find(value.split()[0])
    return Reading(value, max(start, 0), len(text))

"""Which field a question is about, judged from its words alone, as a person on the phone would.

Every field has topic phrases: the words of its name and description (less the filler every
question has), words its type implies (a date: "day", "date", "when"; a phone: "number",
"phone", "reach"…), words that go with well-known field names (budget: "spend", "invest";
decision maker: "decide", "sign off"…), an enum's options, and whatever a scenario adds. A
question scores each field by the phrases it contains, a phrase of two words counting twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from core.fields import DataField, FieldType

# Words in names and descriptions that say nothing about which field is meant.
_FILLER = frozenset(
    """a an the of to for and or in on at by with from as is are be been would will should can
    could do does it its this that these those your you their they them his her our we us
    caller callers caller's customer customers customer's client person they'd like want wants
    need needs needed what which how who when where please preferred best""".split()
)

_BY_TYPE: dict[FieldType, tuple[str, ...]] = {
    FieldType.DATE: ("day", "date", "when", "which day", "what day"),
    FieldType.TIME: ("time", "what time", "o'clock", "morning or afternoon"),
    FieldType.PHONE: ("number", "phone", "reach", "call you back", "callback", "contact number"),
    FieldType.EMAIL: ("email", "e-mail", "email address"),
    FieldType.NUMBER: ("how many", "how much"),
    FieldType.ENUM: ("options", "which one", "prefer"),
}

# Words that go with a field whose name holds the key word.
_BY_NAME_WORD: dict[str, tuple[str, ...]] = {
    "name": ("name", "your name", "who", "speaking with", "full name", "spell"),
    "company": ("company", "business", "organization", "organisation", "work for", "firm"),
    "size": ("how many", "people", "guests", "party"),
    "party": ("how many", "people", "guests", "party"),
    "guests": ("how many", "people", "guests"),
    "budget": ("budget", "spend", "invest", "price range", "afford", "how much"),
    "timeline": (
        "when",
        "timeline",
        "time frame",
        "timeframe",
        "in place",
        "how soon",
        "by when",
    ),
    "decision": ("decision", "decide", "sign off", "involved", "approve", "authority"),
    "maker": ("decision", "decide", "sign off", "involved", "approve", "authority"),
    "need": ("need", "looking for", "problem", "challenge", "help with", "solve", "pain"),
    "service": ("service", "come in for", "appointment for", "what kind", "help with", "book"),
    "reason": ("reason", "what brings", "why", "about"),
    "address": ("address", "where", "street"),
    "seating": ("sit", "seat", "seating", "indoors", "patio"),
}
# A name that is not a person's: it gets no "who are you" phrases.
_NOT_PEOPLE = frozenset({"company", "business", "product", "organization", "pet", "street"})


def topic_phrases(data_field: DataField, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The phrases that, heard in a question, point at `data_field`."""
    words = data_field.name.split("_") + _words(data_field.description)
    phrases: list[str] = [w for w in words if w not in _FILLER and len(w) > 1]
    phrases += _BY_TYPE.get(data_field.type, ())
    name_words = data_field.name.split("_")
    for word in name_words:
        if word != "name" or not _NOT_PEOPLE.intersection(name_words):
            phrases += _BY_NAME_WORD.get(word, ())
    for option in data_field.options:
        phrases.append(option.lower())
    if data_field.ask:
        # The author's own question is the clearest topic there is.
        phrases.append(_normal(data_field.ask).rstrip("?. "))
    phrases += [_normal(p) for p in extra]
    return tuple(dict.fromkeys(p for p in phrases if p))


def score(question: str, phrases: Sequence[str]) -> int:
    """How strongly `question` points at a field with these topic phrases."""
    text = f" {' '.join(_words(question))} "
    return sum(len(p.split()) for p in phrases if f" {' '.join(_words(p))} " in text)


def best_fields(question: str, topics: Mapping[str, Sequence[str]]) -> list[str]:
    """The fields `question` points at most strongly (ties in `topics` order); [] if none."""
    scores = {name: score(question, phrases) for name, phrases in topics.items()}
    top = max(scores.values(), default=0)
    return [name for name, value in scores.items() if value == top] if top else []


def _normal(text: str) -> str:
    return " ".join(_words(text))


def _words(text: str) -> list[str]:
    # "company's" is about the company: a possessive 's is dropped.
    text = re.sub(r"'s\b", "", text.lower().replace("’", "'"))
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", text)

"""Reading contact details from speech: phone numbers, email addresses and names.

Phone numbers are read word by word because callers say them in groups ("five five five, oh
one two three", "double five", "nine one seven, five five five..."), which no number parser
reads as one number. `phonenumbers` (Google's libphonenumber) then checks that a run of digits
said after "plus" is a number that can exist. Emails go to Duckling first ("jane dot doe at
example dot com"), then to a spelled-out reading ("sam underscore lee at ..."). Names are taken
after the phrases people introduce them with, and a name spelled letter by letter ("N G U Y E
N") wins over the recogniser's guess at it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

import phonenumbers
from rapidfuzz import fuzz

from core.fields.entities import entities
from core.fields.speech import FILLERS, Reading

PHONE_DIGITS: Final = (7, 15)
# How close the recogniser's try at a surname must be to its spelling to be taken for it.
SURNAME_AS_HEARD_MIN: Final = 50.0
# Letters spelled one by one, this many or more, are a name even when none was asked for.
SPELLED_AS_NAME: Final = 3
_DIGIT_WORDS: Final = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_TEENS: Final = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
_TENS: Final = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7",
    "eighty": "8", "ninety": "9",
}  # fmt: skip
_REPEATS: Final = {"double": 2, "triple": 3}
# Words a caller says between the groups of a number without ending it.
_PHONE_GLUE: Final = frozenset({"dash", "and", "then", "area", "code", "hyphen"})

_EMAIL: Final = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")

_NAME_LEAD: Final = re.compile(
    r"\b(?:my name is|my name's|the name is|the name's|name is|name's|'s name,?|it's under|"
    r"put it under|under the name(?: of)?|under|call me|this is|i'm|i am|it's|it is)\s+"
    r"(?P<name>[a-z][a-z' -]*)"
)
# "Jon without an h", "Lopez with a z": a note on the spelling, not letters of the name.
_SPELLING_NOTE: Final = re.compile(r"[, ]*\b(?:with|without) (?:an?|two|double) \w\b.*$")
_FIRST_LAST: Final = re.compile(
    r"\bfirst name(?: is)? (?P<first>[a-z'-]+),? (?:and )?(?:the )?(?:last name|surname)"
    r"(?: is)? (?P<last>[a-z'-]+)"
)
_STRONG_LEADS: Final = ("name", "it's under", "put it under", "call me")
_NOT_NAME: Final = frozenset(
    "and my i the a an phone number calling here speaking is from with at please yes no not "
    "know don't dont what sorry about for to would like need want okay ok just looking hoping "
    "trying going good fine great thanks thank you hi hello hey sure so well actually can "
    "could maybe that this it's is was be going a booking book appointment table reservation "
    "interested wondering calling ringing still there on back later tomorrow today".split()
)
# Letters said one by one: "k o w a l c z y k", "n-g-u-y-e-n"; never the "s" of "that's".
_SPELLED: Final = re.compile(r"(?<![\w'])(?:[a-z](?:[ ,.-]+|$)){2,}")
_NAME_TOKEN: Final = re.compile(r"[a-z][a-z'-]*")


# -- phone numbers ----------------------------------------------------------------------------


def _digits_of(tokens: list[str], index: int, started: bool) -> tuple[str, int] | None:
    """The digits the token at `index` says and how many tokens they took; None if none."""
    token = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    if token.isdigit():
        return token, 1
    if token in ("oh", "o") and not started and _DIGIT_WORDS.get(following, "x") == "x":
        return None  # "oh, it's…" opens a sentence; before other digits it is a zero
    if token in _DIGIT_WORDS:
        return _DIGIT_WORDS[token], 1
    if token in _TEENS:
        return _TEENS[token], 1
    if token in _TENS:  # "twenty three" → 23, "forty" → 40
        unit = _DIGIT_WORDS.get(following)
        if unit is not None and following not in ("oh", "o", "zero"):
            return _TENS[token] + unit, 2
        return _TENS[token] + "0", 1
    if token == "hundred" and started:
        return "00", 1
    return None


def read_digits(text: str) -> str:
    """Every digit said in `text`, in order, typed or spoken ("six one" → "61")."""
    tokens = re.findall(r"\d+|[a-z]+", text)
    digits, index, repeat = "", 0, 1
    while index < len(tokens):
        said = _digits_of(tokens, index, bool(digits) or repeat > 1)
        if said is None:
            repeat = _REPEATS.get(tokens[index], 1)
            index += 1
            continue
        digits += said[0] * repeat if len(said[0]) == 1 else said[0]
        index, repeat = index + said[1], 1
    return digits


def read_phone(text: str) -> Reading | None:
    """The longest run of 7–15 digits said in `text`, typed or spoken, with a "+" if said."""
    found = [(m[0], m.start(), m.end()) for m in re.finditer(r"\+|\d+|[a-z]+", text)]
    tokens = [token for token, _, _ in found]
    best: tuple[str, int, int] | None = None
    digits, plus, repeat, start, end = "", False, 1, -1, -1
    index = 0
    while index <= len(tokens):
        token = tokens[index] if index < len(tokens) else "<end>"
        said = _digits_of(tokens, index, bool(digits) or repeat > 1) if token != "<end>" else None
        if said is not None:
            piece, taken = said
            digits += piece * repeat if len(piece) == 1 else piece
            repeat = 1
            start = found[index][1] if start < 0 else start
            end = found[index + taken - 1][2]
            index += taken
            continue
        index += 1
        if token in _REPEATS:
            repeat = _REPEATS[token]
            continue
        if token in ("+", "plus") and not digits:
            plus, start = True, found[index - 1][1]
            continue
        if digits and (token in _PHONE_GLUE or token in FILLERS):
            continue
        if len(digits) >= PHONE_DIGITS[0] and (best is None or len(digits) > len(best[0])):
            best = (("+" if plus else "") + digits, start, end)
        digits, plus, repeat, start = "", False, 1, -1
    if best is None or len(best[0].lstrip("+")) > PHONE_DIGITS[1]:
        return None
    number, start, end = best
    if number.startswith("+") and not _possible(number):
        number = number[1:]
    return Reading(number, start, end)


def _possible(number: str) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(number, None)))
    except phonenumbers.NumberParseException:
        return False


# -- email ------------------------------------------------------------------------------------


def read_email(text: str) -> Reading | None:
    """An email address, typed or spoken: "jane dot doe at example dot com", "j doe 42 at
    gmail dot com", "b r i a n at yahoo dot com", "sam underscore lee at company dot co dot uk"."""
    typed = _EMAIL.search(text)
    if typed:
        return Reading(typed[0].rstrip("."), typed.start(), typed.end())
    spoken = _spoken_email(text)
    if spoken is not None:
        return spoken
    for entity in entities(text, dt.date(2000, 1, 1), ["email"]):
        value = entity.value.get("value")
        if isinstance(value, str) and _EMAIL.fullmatch(value.lower()):
            return Reading(value.lower(), entity.start, entity.end)
    return None


def _spoken_email(text: str) -> Reading | None:
    # Duckling reads "jane dot doe at …" but keeps only the last word of "j doe 42 at …", so the
    # words on each side of "at" are joined here: a local part runs back to the words that
    # introduce it ("my email is"), a domain to a pause (comma) or "please".
    tokens = [(m[0], m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+(?:'[a-z]+)?|,|\.", text)]
    ats = [i for i, (t, _, _) in enumerate(tokens) if t == "at"]
    for at in ats:
        local: list[str] = []
        index = at - 1
        while index >= 0 and tokens[index][0] not in _EMAIL_STOP and tokens[index][0] != ",":
            local.insert(0, tokens[index][0])
            index -= 1
        domain: list[str] = []
        last = at
        for index in range(at + 1, len(tokens)):
            token = tokens[index][0]
            if token in (",", ".") or token in _EMAIL_STOP or token in ("all", "one"):
                break
            domain.append(token)
            last = index
        address = f"{_join_email(local)}@{_join_email(domain)}"
        if local and domain and _EMAIL.fullmatch(address):
            start = tokens[at - len(local)][1]
            return Reading(address, start, tokens[last][2])
    return None


_EMAIL_STOP: Final = frozenset(
    "is it's its email e-mail address my me use send to should be and yes sure ok okay "
    "please thanks that's mail".split()
)
_EMAIL_WORDS: Final = {"dot": ".", "underscore": "_", "dash": "-", "hyphen": "-", "plus": "+"}


def _join_email(tokens: list[str]) -> str:
    return "".join(_EMAIL_WORDS.get(token, token) for token in tokens)


# -- names ------------------------------------------------------------------------------------


def _tidy_name(raw: str) -> str | None:
    kept: list[str] = []
    for token in _NAME_TOKEN.findall(raw):
        if token in _NOT_NAME or len(kept) == 3:
            break
        if token in FILLERS:
            continue
        kept.append(token)
    if not kept:
        return None
    return " ".join(_capitalise(token) for token in kept)


def _capitalise(token: str) -> str:
    parts = re.split(r"(['-])", token)
    titled = "".join(p.capitalize() for p in parts)
    return re.sub(r"^(O')([a-z])", lambda m: m[1] + m[2].upper(), titled)


def read_name(text: str, *, asked: bool) -> Reading | None:
    """A person's name: after "my name is", "it's under", "this is"…; spelled letters ("K I M")
    give its spelling; when the name was asked for, a short answer is the name itself."""
    text = _SPELLING_NOTE.sub("", text).strip(" ,")
    both = _FIRST_LAST.search(text)
    if both:
        return Reading(f"{_capitalise(both['first'])} {_capitalise(both['last'])}", 0, both.end())
    spelled = [m for m in _SPELLED.finditer(text) if len(re.sub(r"[^a-z]", "", m[0])) >= 2]
    lead = _NAME_LEAD.search(text)
    opening = lead is not None and re.fullmatch(
        r"(?:(?:hi|hello|hey|yes|yeah)[ ,]*)*", text[: lead.start()]
    )
    strong = lead is not None and (
        any(w in lead[0] for w in _STRONG_LEADS)
        or bool(opening and lead[0].startswith(("this is", "it's")))  # "Hi, this is Ana Diaz"
    )
    letters_said = any(len(re.sub(r"[^a-z]", "", m[0])) >= SPELLED_AS_NAME for m in spelled)
    if not asked and not strong and not letters_said:
        return None  # a name said unasked needs words that introduce it, or its spelling
    if spelled:
        letters = re.sub(r"[^a-z]", "", spelled[-1][0])
        if len(letters) >= 2:
            before = text[: spelled[-1].start()]
            first = _first_name_before(before, letters)
            spelt = f"{first} {_capitalise(letters)}" if first else _capitalise(letters)
            # "Maria, M A R I A, Lopez": a surname said after a spelled first name.
            after = [
                t for t in _NAME_TOKEN.findall(text[spelled[-1].end() :]) if t not in _NOT_NAME
            ]
            if not first and len(after) == 1 and len(after[0]) > 1:
                spelt = f"{spelt} {_capitalise(after[0])}"
            return Reading(spelt, 0, len(text) if after else spelled[-1].end())
    if lead is not None:
        introduced = _tidy_name(lead["name"])
        if introduced:
            return Reading(introduced, lead.start(), lead.end())
    tokens = [t for t in _NAME_TOKEN.findall(text) if t not in FILLERS]
    if not 1 <= len(tokens) <= 3 or any(t in _NOT_NAME for t in tokens) or re.search(r"\d", text):
        return None
    name = _tidy_name(" ".join(tokens))
    return Reading(name, 0, len(text)) if name else None


def _first_name_before(before: str, surname: str) -> str | None:
    """A first name said before a spelled surname ("Sarah Nguyen, N G U Y E N" → "Sarah")."""
    skip = ("spelled", "spelt", "that's", "thats", "it's", "its")
    tokens = [
        t
        for t in _NAME_TOKEN.findall(before)
        if t not in FILLERS and t not in _NOT_NAME and t not in skip
    ]
    if len(tokens) < 2 or fuzz.ratio(tokens[-1], surname) < SURNAME_AS_HEARD_MIN:
        return None  # the words before the letters are not "<first> <surname as heard>"
    return _capitalise(tokens[-2])

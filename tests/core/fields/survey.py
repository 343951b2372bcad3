"""How the candidate libraries read the phrase table, next to `core.fields`: the comparison
that `core.fields.reading`'s docstring quotes.

    .venv/bin/python -m tests.core.fields.survey [--misses]

For each value type in `phrases.yaml` every library that could read it runs on exactly the
entries of that type and is scored as `test_phrases.py` scores `core.fields` (its `_same`; an
entry expecting null is right when nothing is read). Every candidate gets the same input, the
caller's words after `core.fields.speech.normalise`. A time entry read by `dateparser` as
00:00 counts as no time (it gives no grain, so "midnight" cannot count for it); Duckling's
value counts as a time only at an hour or minute grain. `phonenumbers` gives the national
number (no "+44", no leading 1). The time is the median per phrase on a second pass, so that
loading each library is left out. `--misses` lists what each candidate got wrong.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dateparser  # type: ignore[import-untyped]
import phonenumbers
from dateparser.search import search_dates  # type: ignore[import-untyped]
from rapidfuzz import process
from text_to_num import alpha2digit  # type: ignore[import-untyped]

from core.fields.entities import entities
from core.fields.reading import ReadContext, read_value
from core.fields.speech import normalise
from core.fields.values import FieldScalar
from tests.core.fields.test_phrases import ENTRIES, TODAY, _field, _same


@dataclass(frozen=True)
class Phrase:
    entry: dict[str, Any]
    text: str  # normalised
    today: dt.date


Reader = Callable[[Phrase], FieldScalar | None]
_CLOCK_GRAINS = ("hour", "minute", "second")


def _moment(phrase: Phrase, moment: dt.datetime | None) -> str | None:
    """A date entry takes the day; a time entry the clock time, where 00:00 means none said."""
    if moment is None:
        return None
    if phrase.entry["type"] == "date":
        return moment.date().isoformat()
    return None if moment.time() == dt.time(0) else moment.strftime("%H:%M")


def _settings(phrase: Phrase) -> dict[str, Any]:
    base = dt.datetime.combine(phrase.today, dt.time())
    return {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}


def dateparser_parse(phrase: Phrase) -> str | None:
    return _moment(phrase, dateparser.parse(phrase.text, settings=_settings(phrase)))


def dateparser_search(phrase: Phrase) -> str | None:
    found = search_dates(phrase.text, settings=_settings(phrase))
    return _moment(phrase, found[0][1] if found else None)


def _duckling_value(phrase: Phrase, dims: list[str]) -> dict[str, Any]:
    """The first entity's single value, or the start of an interval ({} for none)."""
    found = entities(phrase.text, phrase.today, dims)
    value = found[0].value if found else {}
    return dict(value if "value" in value else value.get("from") or value.get("to") or {})


def duckling_moment(phrase: Phrase) -> str | None:
    value = _duckling_value(phrase, ["time"])
    if "value" not in value:
        return None
    moment = dt.datetime.fromisoformat(value["value"])
    if phrase.entry["type"] == "date":
        return moment.date().isoformat()
    return moment.strftime("%H:%M") if value.get("grain") in _CLOCK_GRAINS else None


def duckling_number(phrase: Phrase) -> float | None:
    value = _duckling_value(phrase, ["number", "amount-of-money"])
    return float(value["value"]) if "value" in value else None


def text2num_number(phrase: Phrase) -> float | None:
    found = re.search(r"\d[\d,]*(?:\.\d+)?", alpha2digit(phrase.text, "en"))
    return float(found[0].replace(",", "")) if found else None


def text2num_phone(phrase: Phrase) -> str | None:
    return re.sub(r"\D", "", alpha2digit(phrase.text, "en")) or None


def _matched_number(text: str) -> str | None:
    """The national number of the first number `phonenumbers` finds (US by default)."""
    for match in phonenumbers.PhoneNumberMatcher(text, "US"):
        return str(match.number.national_number)
    return None


def rapidfuzz_enum(phrase: Phrase) -> str | None:
    options = phrase.entry["options"]
    best = process.extractOne(phrase.text, options, score_cutoff=60)
    return str(best[0]) if best else None


def ours(phrase: Phrase) -> FieldScalar | None:
    context = ReadContext(today=phrase.today, asked=True)
    reading = read_value(_field(phrase.entry), phrase.text, context)
    return reading.value if reading else None


_DATES: list[tuple[str, Reader]] = [
    ("dateparser.parse", dateparser_parse),
    ("dateparser search_dates", dateparser_search),
    ("Duckling", duckling_moment),
]
CANDIDATES: dict[str, list[tuple[str, Reader]]] = {
    "date": _DATES,
    "time": _DATES,
    "number": [("Duckling", duckling_number), ("text2num", text2num_number)],
    "phone": [
        ("text2num", text2num_phone),
        ("phonenumbers", lambda p: _matched_number(p.text)),
        ("phonenumbers on text2num", lambda p: _matched_number(alpha2digit(p.text, "en"))),
        ("Duckling phone-number", lambda p: _duckling_value(p, ["phone-number"]).get("value")),
    ],
    "email": [("Duckling", lambda p: _duckling_value(p, ["email"]).get("value"))],
    "name": [],
    "enum": [("rapidfuzz", rapidfuzz_enum)],
    "text": [],
}


def survey(misses: bool) -> None:
    out = sys.stdout
    out.write(f"{'type':<8}{'candidate':<26}{'right':>9}{'%':>7}{'ms':>8}\n")
    for kind, candidates in CANDIDATES.items():
        phrases = [
            Phrase(e, normalise(e["text"]), dt.date.fromisoformat(str(e.get("today", TODAY))))
            for e in ENTRIES
            if e.get("type") == kind
        ]
        for name, reader in [*candidates, ("core.fields (ours)", ours)]:
            got = [reader(phrase) for phrase in phrases]  # also the warm-up
            wrong = [
                (p, g) for p, g in zip(phrases, got, strict=True) if not _same(p.entry["expect"], g)
            ]
            timings = []
            for phrase in phrases:
                start = time.perf_counter()
                reader(phrase)
                timings.append((time.perf_counter() - start) * 1000)
            right, total = len(phrases) - len(wrong), len(phrases)
            out.write(
                f"{kind:<8}{name:<26}{f'{right}/{total}':>9}{right / total:>7.0%}"
                f"{statistics.median(timings):>8.2f}\n"
            )
            for phrase, value in wrong if misses else []:
                out.write(
                    f"    {phrase.text!r}: expected {phrase.entry['expect']!r}, got {value!r}\n"
                )


if __name__ == "__main__":
    survey(misses="--misses" in sys.argv[1:])

"""Pulling typed values out of a caller's words, and speaking them back.

Pure functions of text (and, for relative dates, of `today`): dates and times with dateparser
and a few patterns for the phrasings callers use, numbers in digits or words, yes/no, names,
phones, emails, enum options and free text. Used by `GuidedBrain` and by any brain that needs
to read a value from speech.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import dateparser  # type: ignore[import-untyped]

from core.fields import DataField, FieldType
from core.fields.values import FieldScalar

_UNITS = {
    word: n
    for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())
}
_SCALES = {"hundred": 100, "thousand": 1_000, "grand": 1_000, "million": 1_000_000}
_DIGIT_WORDS = {w: str(n) for w, n in _UNITS.items() if n < 10} | {"oh": "0", "o": "0"}
_ORDINAL_WORDS = {
    w: i + 1
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth".split()
    )
} | {"twentieth": 20, "thirtieth": 30}

_HOUR = r"\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_MINUTE_WORD = (
    r"oh[\s-](?:one|two|three|four|five|six|seven|eight|nine)|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|"
    r"(?:twenty|thirty|forty|fifty)(?:[\s-](?:one|two|three|four|five|six|seven|eight|nine))?"
)
_MERIDIEM = r"am|pm|oclock|in the morning|in the afternoon|in the evening|at night|tonight"
_TIME_PATTERNS = (
    re.compile(rf"\b(?P<rel>half past|quarter past|quarter to|quarter till)\s+(?P<h>{_HOUR})\b"),
    re.compile(
        rf"\b(?P<h>{_HOUR})(?::(?P<m>\d{{2}})|\s+(?P<mw>{_MINUTE_WORD}))?\s*(?=(?:{_MERIDIEM})\b)"
    ),
    re.compile(r"\b(?P<h>\d{1,2}):(?P<m>\d{2})\b"),
    re.compile(rf"\bat\s+(?P<h>{_HOUR})(?:\s+(?P<mw>{_MINUTE_WORD}))?\b(?![:/])"),
    re.compile(r"\b(?P<noon>noon|midday|midnight)\b"),
)
_MERIDIEM_AFTER = re.compile(rf"\s*({_MERIDIEM})\b")

_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_ORD = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE_PATTERNS = (
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    re.compile(
        rf"\b(?:(?:{_WEEKDAY}),?\s+)?(?:the\s+)?{_ORD}\s+(?:of\s+)?(?:{_MONTH})\b(?:,?\s+\d{{4}})?"
    ),
    re.compile(
        rf"\b(?:(?:{_WEEKDAY}),?\s+)?(?:{_MONTH})\.?\s+(?:the\s+)?{_ORD}\b(?:,?\s+\d{{4}})?"
    ),
    re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"),
    re.compile(r"\b(?:the\s+)?day after tomorrow\b|\btoday\b|\btomorrow\b|\btonight\b"),
)
_WEEKDAY_DATE = re.compile(
    rf"\b(?:(?:next|this|coming|on)\s+)?(?P<wd>{_WEEKDAY})(?:,?\s+the\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th))?\b"
)
_DAY_OF_MONTH = re.compile(
    r"\b(?:on\s+)?the\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b|\b(?P<d2>\d{1,2})(?:st|nd|rd|th)\b"
)

_EMAIL = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_YES = frozenset(
    "yes yeah yep yup yea correct right sure absolutely exactly affirmative ok okay perfect "
    "definitely certainly great".split()
)
_NO = frozenset("no nope nah wrong incorrect not negative actually change".split())
_FILLERS = frozenset(
    "um umm uh uhh er erm hmm well so oh like okay ok yeah yes sure just please".split()
)
_FREE_TEXT_LEAD_INS = re.compile(
    r"^(?:(?:i'd|i would) like(?: to (?:book|get|have|schedule))?|i want(?: to (?:book|get))?|"
    r"i need|i'm looking for|looking for|it's|it is|that's|that is|that would be|"
    r"it would be|for|a|an|the|some)\b[\s,]*",
    re.I,
)
_NAME_STRONG = re.compile(
    r"\b(?:my name is|my name's|name is|call me)\s+(?P<n>[a-z][a-z' -]*)", re.I
)
_NAME_WEAK = re.compile(r"\b(?:this is|it's|it is|i'm|i am)\s+(?P<n>[a-z][a-z' -]*)", re.I)
_NOT_NAME = frozenset(
    "and my i the a an phone number calling here speaking is from with at please um uh yes no "
    "not know don't dont what sorry calling about for to would like need want okay ok".split()
)


# -- extraction: pure functions of the caller's words ---------------------------------------------


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9$.,'+-]+|[+]", text.lower().replace("-", " "))


def _lower(text: str) -> str:
    text = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("o'clock", "oclock")
    return re.sub(r"\b(\d{1,2})\s*([ap])\.?m\b", r"\1 \2m", text)


def words_to_number(tokens: Iterable[str]) -> float | None:
    """The value of spoken number words ("two hundred and fifty" → 250.0); None if none."""
    total, current, seen = 0.0, 0.0, False
    for token in tokens:
        if token in _UNITS:
            current += _UNITS[token]
        elif token in _TENS:
            current += _TENS[token]
        elif token == "hundred":
            current = (current or 1) * 100
        elif token in _SCALES:
            total += (current or 1) * _SCALES[token]
            current = 0
        elif token in ("and", "a") and seen:
            continue
        else:
            return None
        seen = True
    return total + current if seen else None


def extract_number(text: str) -> float | None:
    """The first amount in `text`: "$5,000", "12k", "1.5 million", "five thousand"."""
    lowered = text.lower()
    match = re.search(r"(\d[\d,]*(?:\.\d+)?)\s*(k|thousand|grand|million)?\b", lowered)
    if match:
        number = float(match[1].replace(",", ""))
        return number * _SCALES.get({"k": "thousand"}.get(match[2] or "", match[2] or ""), 1)
    number_words = set(_UNITS) | set(_TENS) | set(_SCALES) | {"and", "a"}
    run: list[str] = []
    for token in re.findall(r"[a-z]+", lowered):
        if token in number_words and (run or token not in ("and", "a")):
            run.append(token)
        elif run:
            break
    while run and run[-1] in ("and", "a"):
        run.pop()
    return words_to_number(run) if run else None


def extract_phone(text: str) -> str | None:
    """The 7–15 digit phone number in `text`, typed or spoken ("four one five, double five")."""
    tokens = re.findall(r"\+|\d+|[a-z]+", text.lower())
    best, digits, plus, repeat = "", "", False, 1
    for token in [*tokens, "end"]:
        if token.isdigit() or (token in _DIGIT_WORDS and (digits or token not in ("oh", "o"))):
            digits += (token if token.isdigit() else _DIGIT_WORDS[token]) * repeat
            repeat = 1
        elif token in ("double", "triple"):
            repeat = 2 if token == "double" else 3
        elif token in ("+", "plus") and not digits:
            plus = True
        elif token in ("um", "uh", "er", "dash", "and") and digits:
            continue
        else:
            if len(digits) > len(best):
                best = ("+" if plus else "") + digits
            digits, plus, repeat = "", False, 1
    return best if 7 <= len(best.lstrip("+")) <= 15 else None


def extract_email(text: str) -> str | None:
    """The email address in `text`, typed or spoken ("ana at example dot com")."""
    spoken = f" {text.lower()} "
    for word, symbol in ((" at sign ", "@"), (" at ", "@"), (" dot ", "."), (" underscore ", "_")):
        spoken = spoken.replace(word, symbol)
    spoken = re.sub(r" (?:dash|hyphen) ", "-", spoken)
    spoken = re.sub(r"\s*([@._-])\s*", r"\1", spoken)
    match = _EMAIL.search(spoken)
    return match[0].rstrip(".") if match else None


def extract_yes_no(text: str) -> bool | None:
    """True or False by the first yes-like or no-like word in `text`; None if neither."""
    lowered = text.lower().replace("that's not", "not").replace("isn't", "not")
    for token in re.findall(r"[a-z]+", lowered):
        if token in _YES:
            return True
        if token in _NO:
            return False
    return None


def _clean_name(raw: str) -> str | None:
    kept: list[str] = []
    for token in re.findall(r"[A-Za-z][A-Za-z'-]*", raw):
        if token.lower() in _NOT_NAME or len(kept) == 4:
            break
        kept.append(token if not token.islower() else token.capitalize())
    return " ".join(kept) or None


def extract_name(text: str, *, asked: bool) -> str | None:
    """A name after "my name is" or "call me"; when asked, also "it's Ana" or a short answer."""
    match = _NAME_STRONG.search(text) or (_NAME_WEAK.search(text) if asked else None)
    if match:
        return _clean_name(match["n"])
    if not asked:
        return None
    tokens = [t for t in re.findall(r"[A-Za-z][A-Za-z'-]*", text) if t.lower() not in _FILLERS]
    if not 1 <= len(tokens) <= 4 or any(t.lower() in _NOT_NAME for t in tokens):
        return None
    if re.search(r"\d", text):
        return None
    return _clean_name(" ".join(tokens))


def extract_enum(text: str, options: Iterable[str]) -> str | None:
    """The option `text` names: its whole words, else a word only that option has."""
    lowered = text.lower()
    options = list(options)
    hits = [o for o in options if re.search(rf"\b{re.escape(o.lower())}\b", lowered)]
    if hits:
        return max(hits, key=len)
    said = set(re.findall(r"[a-z0-9]+", lowered))
    words = {o: {w for w in re.findall(r"[a-z0-9]+", o.lower()) if len(w) > 3} for o in options}
    partial = [
        o for o in options if words[o] & said - set().union(*(words[p] for p in options if p != o))
    ]
    return partial[0] if len(partial) == 1 else None


def extract_free_text(text: str) -> str | None:
    """The answer without its fillers and lead-ins ("um, I'd like a cleaning" → "cleaning")."""
    answer = text.strip().strip(".!?,").strip()
    while True:
        tokens = answer.split(maxsplit=1)
        if tokens and tokens[0].lower().strip(",.") in _FILLERS:
            answer = tokens[1] if len(tokens) > 1 else ""
            continue
        stripped = _FREE_TEXT_LEAD_INS.sub("", answer, count=1) if answer else answer
        if stripped != answer and stripped:
            answer = stripped
            continue
        break
    answer = re.sub(r"[\s,]*please$", "", answer, flags=re.I).strip(" .!?,")
    return answer or None


def _hour_value(raw: str) -> int:
    return int(raw) if raw.isdigit() else _UNITS[raw]


def extract_time(text: str) -> tuple[str, tuple[int, int]] | None:
    """A time of day as HH:MM and where it was said. Without am/pm, 1–6 is taken as afternoon."""
    lowered = _lower(text)
    for pattern in _TIME_PATTERNS:
        match = pattern.search(lowered)
        if match is None:
            continue
        groups = match.groupdict()
        if groups.get("noon"):
            return ("00:00" if groups["noon"] == "midnight" else "12:00"), match.span()
        hour, minute = _hour_value(groups["h"]), 0
        if groups.get("m"):
            minute = int(groups["m"])
        elif groups.get("mw"):
            parts = groups["mw"].replace("-", " ").split()
            minute = int(words_to_number(p for p in parts if p != "oh") or 0)
        relation = groups.get("rel")
        if relation:
            if relation == "half past":
                minute = 30
            elif relation == "quarter past":
                minute = 15
            else:
                hour, minute = hour - 1 or 12, 45
        end = match.end()
        meridiem = _MERIDIEM_AFTER.match(lowered, end)
        word = meridiem[1] if meridiem else ""
        end = meridiem.end() if meridiem else end
        if hour > 23 or minute > 59:
            continue
        if word in ("am", "in the morning") and hour == 12:
            hour = 0
        elif word in ("pm", "in the afternoon", "in the evening", "at night", "tonight"):
            hour += 12 if hour < 12 else 0
        elif word not in ("am", "in the morning") and 1 <= hour <= 6:
            hour += 12  # business hours: "at three" is 15:00, not 03:00
        return f"{hour:02d}:{minute:02d}", (match.start(), end)
    return None


def _next_day_of_month(today: dt.date, day: int) -> dt.date | None:
    year, month = today.year, today.month
    for _ in range(13):
        try:
            candidate = dt.date(year, month, day)
        except ValueError:
            candidate = None
        if candidate is not None and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def extract_date(text: str, today: dt.date) -> str | None:
    """A calendar date as YYYY-MM-DD, resolved against `today` and preferring the future."""
    lowered = _lower(text)
    found = extract_time(lowered)
    if found:  # a time's digits must not read as a day of the month
        start, end = found[1]
        lowered = f"{lowered[:start]} {lowered[end:]}"
    lowered = re.sub(r"\bthirty[\s-]first\b", "31st", lowered)
    for word, number in _ORDINAL_WORDS.items():
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number, "th")
        lowered = re.sub(rf"\b(?:twenty[\s-]){word}\b", f"2{number}{suffix}", lowered)
        lowered = re.sub(rf"\b{word}\b", f"{number}{suffix}", lowered)
    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": dt.datetime.combine(today, dt.time()),
    }
    spans = [m[0] for p in _DATE_PATTERNS if (m := p.search(lowered))]
    weekday = _WEEKDAY_DATE.search(lowered)
    for span in spans:
        parsed = dateparser.parse(
            span.replace("tonight", "today"), languages=["en"], settings=settings
        )
        if isinstance(parsed, dt.datetime):
            return parsed.date().isoformat()
    if weekday and weekday["d"]:
        chosen = _next_day_of_month(today, int(weekday["d"]))
        return chosen.isoformat() if chosen else None
    if weekday:
        target = ("monday tuesday wednesday thursday friday saturday sunday".split()).index(
            weekday["wd"]
        )
        ahead = (target - today.weekday() - 1) % 7 + 1  # always a day still to come
        return (today + dt.timedelta(days=ahead)).isoformat()
    day = _DAY_OF_MONTH.search(lowered)
    if day:
        chosen = _next_day_of_month(today, int(day["d"] or day["d2"]))
        return chosen.isoformat() if chosen else None
    return None


# -- speaking values ------------------------------------------------------------------------------


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def speak_value(data_field: DataField, value: FieldScalar) -> str:
    """A captured value as the agent reads it back ("Tuesday, December 1st", "3:30 PM")."""
    if data_field.type is FieldType.DATE and isinstance(value, str):
        day = dt.date.fromisoformat(value)
        return f"{day:%A, %B} {_ordinal(day.day)}"
    if data_field.type is FieldType.TIME and isinstance(value, str):
        hour, minute = (int(p) for p in value.split(":"))
        clock = f"{hour % 12 or 12}" + (f":{minute:02d}" if minute else "")
        return f"{clock} {'AM' if hour < 12 else 'PM'}"
    if data_field.type is FieldType.PHONE and isinstance(value, str):
        digits = value.lstrip("+")
        groups = [digits[:3], digits[3:6], digits[6:]] if len(digits) == 10 else [digits]
        return ", ".join(" ".join(g) for g in groups if g)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    return value


def is_name_field(data_field: DataField) -> bool:
    return data_field.type is FieldType.TEXT and (
        data_field.name == "name" or data_field.name.endswith("_name")
    )


def field_hint(data_field: DataField) -> str:
    hints = {
        FieldType.DATE: "You can say a day, like next Tuesday or December 2nd.",
        FieldType.TIME: "You can say a time, like 3:30 PM.",
        FieldType.PHONE: "Please say the digits one by one, or type them on your keypad.",
        FieldType.EMAIL: "You can spell it like ana at example dot com.",
        FieldType.NUMBER: "Please say a number, like 5,000.",
        FieldType.BOOLEAN: "Please say yes or no.",
        FieldType.ENUM: f"Please choose one of: {', '.join(data_field.options)}.",
    }
    if is_name_field(data_field):
        return "Just your name is fine."
    return hints.get(data_field.type, "A few words are fine.")

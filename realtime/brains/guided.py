"""GuidedBrain: a deterministic, LLM-free conversation driven by the GoalManager.

It asks for the missing required data in the GoalManager's order, pulls typed values out of the
caller's words (dates and times, numbers, yes/no, names, phones, emails, enum options, free
text), reads the captures back for confirmation, takes corrections ("no, Wednesday") and closes
when the goals are met. It runs when no LLM is configured and whenever the LLM brain fails a
turn, so every path ends in something to say: the caller never hears silence.

Deterministic given `today`: relative dates ("next Tuesday") are resolved against it, never
against the wall clock, so a test (or a replay) hears the same answer every time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import dateparser  # type: ignore[import-untyped]

from core.agents.snapshot import AgentSnapshot
from core.agents.spec import DataField, FieldType
from core.goals.manager import GoalManager, NextAction
from core.goals.values import FieldScalar

CLOSING = "Thanks, you're all set. Goodbye!"

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


@dataclass(frozen=True)
class BrainReply:
    """What the agent says after one caller turn, and what that turn captured."""

    text: str
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    """Fields accepted this turn, in canonical form."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Fields the turn tried and failed to fill, with the reason."""
    end_call: bool = False


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


def _is_name_field(data_field: DataField) -> bool:
    return data_field.type is FieldType.TEXT and (
        data_field.name == "name" or data_field.name.endswith("_name")
    )


def _hint(data_field: DataField) -> str:
    hints = {
        FieldType.DATE: "You can say a day, like next Tuesday or December 2nd.",
        FieldType.TIME: "You can say a time, like 3:30 PM.",
        FieldType.PHONE: "Please say the digits one by one, or type them on your keypad.",
        FieldType.EMAIL: "You can spell it like ana at example dot com.",
        FieldType.NUMBER: "Please say a number, like 5,000.",
        FieldType.BOOLEAN: "Please say yes or no.",
        FieldType.ENUM: f"Please choose one of: {', '.join(data_field.options)}.",
    }
    if _is_name_field(data_field):
        return "Just your name is fine."
    return hints.get(data_field.type, "A few words are fine.")


# -- the brain ------------------------------------------------------------------------------------


@dataclass
class _Turn:
    captured: dict[str, FieldScalar] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)


class GuidedBrain:
    """Asks, extracts, confirms and closes by the GoalManager's order; no LLM, no clock."""

    def __init__(self, agent: AgentSnapshot, *, today: dt.date, timezone_name: str = "UTC") -> None:
        """Start a conversation for `agent`; relative dates resolve against `today`."""
        self.agent = agent
        self.today = today
        self.timezone_name = timezone_name
        """The zone `today` is in; kept for the caller's records (dates carry no zone)."""
        self.manager = GoalManager(agent.goals)
        self._fields: dict[str, DataField] = {}
        for goal in agent.goals:
            for data_field in goal.required_data:
                self._fields.setdefault(data_field.name, data_field)
        self._failures: dict[str, int] = {}
        self._correcting = False
        self._correcting_field: str | None = None

    # -- public -----------------------------------------------------------------------------------

    def greeting(self) -> str:
        """The opening line: the agent's greeting, then the first question."""
        opening = self.agent.greeting or f"Hello, you've reached {self.agent.name}."
        action = self.manager.get_next_action()
        return opening if action.kind == "close" else f"{opening} {self._prompt(action)}"

    def respond(self, caller_text: str) -> BrainReply:
        """The agent's reply to one caller utterance (never empty)."""
        text = caller_text.strip()
        action = self.manager.get_next_action()
        if action.kind == "close":
            return BrainReply(CLOSING, end_call=True)
        if not text:
            return BrainReply(f"Sorry, I didn't catch that. {self._prompt(action)}")
        if action.kind == "confirm":
            return self._respond_confirm(action, text)
        assert action.field is not None
        turn = self._extract(text, target=action.field, others=self._missing())
        if action.field not in turn.captured and not turn.captured:
            return self._reprompt(action, turn)
        return self._reply(turn)

    def respond_dtmf(self, digits: str) -> BrainReply:
        """The reply to keypad digits: the answer itself, or 1 = yes / 2 = no on a read-back."""
        keys = re.sub(r"[^0-9]", "", digits)
        action = self.manager.get_next_action()
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
                return self._reply(turn) if turn.captured else self._reprompt(action, turn)
        hint = "Press 1 for yes or 2 for no." if action.kind == "confirm" else ""
        return BrainReply(
            f"Sorry, I couldn't use those keys. {hint} {self._prompt(action)}".replace("  ", " ")
        )

    # -- turns ------------------------------------------------------------------------------------

    def _respond_confirm(self, action: NextAction, text: str) -> BrainReply:
        answer = extract_yes_no(text)
        if self._correcting_field is not None:
            target, self._correcting_field = self._correcting_field, None
            turn = self._extract(text, target=target, others=action.fields)
        else:
            turn = (
                self._extract(text, target=None, others=action.fields)
                if answer is not True
                else _Turn()
            )
        if turn.captured:
            self._correcting = False
            return self._reply(turn)
        if answer is True and not self._correcting:
            self.manager.confirm(action.fields)
            return self._reply(turn)
        if answer is False or self._correcting:
            named = [
                n for n in action.fields if self._describe(n) in text.lower() or n in text.lower()
            ]
            if named:
                self._correcting_field = named[0]
                self._correcting = False
                return BrainReply(
                    f"Sure. What should the {self._describe(named[0])} be?", rejected=turn.rejected
                )
            self._correcting = True
            return BrainReply("No problem. Which detail should I change?", rejected=turn.rejected)
        return BrainReply(
            f"Sorry, please say yes or no. {self._prompt(action)}", rejected=turn.rejected
        )

    def _reply(self, turn: _Turn) -> BrainReply:
        for name in turn.captured:
            self._failures.pop(name, None)
        action = self.manager.get_next_action()
        ack = self._acknowledge(turn.captured) if turn.captured else ""
        if action.kind == "close":
            return BrainReply(
                " ".join(p for p in (ack, CLOSING) if p), turn.captured, turn.rejected, True
            )
        prompt = self._prompt(action)
        return BrainReply(" ".join(p for p in (ack, prompt) if p), turn.captured, turn.rejected)

    def _reprompt(self, action: NextAction, turn: _Turn) -> BrainReply:
        assert action.field is not None
        count = self._failures.get(action.field, 0) + 1
        self._failures[action.field] = count
        lead = "Sorry, I didn't catch that." if count == 1 else "Sorry, I still didn't get that."
        reason = turn.rejected.get(action.field, "not understood")
        rejected = {**turn.rejected, action.field: reason}
        text = f"{lead} {_hint(self._fields[action.field])} {self._prompt(action)}"
        return BrainReply(text, {}, rejected)

    # -- extraction into the manager --------------------------------------------------------------

    def _missing(self) -> tuple[str, ...]:
        captured = self.manager.captured
        return tuple(n for n in self.manager.field_names if n not in captured)

    def _extract(self, text: str, *, target: str | None, others: Iterable[str]) -> _Turn:
        turn = _Turn()
        names = ([target] if target else []) + [n for n in others if n != target]
        for name in names:
            raw = self._value_for(self._fields[name], text, asked=name == target)
            if raw is not None:
                self._track(turn, name, raw)
        return turn

    def _track(self, turn: _Turn, name: str, raw: object) -> None:
        result = self.manager.track_progress(name, raw)
        if result.accepted and result.value is not None:
            turn.captured[name] = result.value
        else:
            turn.rejected[name] = result.reason

    def _value_for(self, data_field: DataField, text: str, *, asked: bool) -> object:
        kind = data_field.type
        if kind is FieldType.DATE:
            return extract_date(text, self.today)
        if kind is FieldType.TIME:
            found = extract_time(text)
            return found[0] if found else None
        if kind is FieldType.PHONE:
            return (
                extract_phone(text) if asked or re.search(r"\d{7,}|(?:\d\D?){7,}", text) else None
            )
        if kind is FieldType.EMAIL:
            return extract_email(text)
        if kind is FieldType.ENUM:
            return extract_enum(text, data_field.options)
        if kind is FieldType.NUMBER:
            return extract_number(text) if asked or "$" in text else None
        if kind is FieldType.BOOLEAN:
            return extract_yes_no(text) if asked else None
        if _is_name_field(data_field):
            return extract_name(text, asked=asked)
        return self._free_text(data_field, text, asked=asked)

    def _free_text(self, data_field: DataField, text: str, *, asked: bool) -> str | None:
        label = re.escape(self._describe(data_field.name))
        described = re.search(rf"\b{label}\s+(?:is|should be|would be)\s+(?P<v>.+)", text, re.I)
        if described:
            return extract_free_text(described["v"])
        return extract_free_text(text) if asked else None

    # -- phrasing ---------------------------------------------------------------------------------

    def _describe(self, name: str) -> str:
        data_field = self._fields[name]
        description = (data_field.description or name.replace("_", " ")).strip().rstrip("?.")
        return re.sub(
            r"^(?:the |your |customer |caller(?:'s)? )", "", description, flags=re.I
        ).lower()

    def _prompt(self, action: NextAction) -> str:
        if action.kind == "confirm":
            return self._confirmation(action.fields)
        assert action.field is not None
        data_field = self._fields[action.field]
        description = self._describe(action.field)
        question = (
            f"What is your {description}?"
            if len(description.split()) <= 4
            else f"Could you tell me {description}?"
        )
        if data_field.type is FieldType.ENUM:
            *rest, last = data_field.options
            question += f" The options are {', '.join(rest)} or {last}." if rest else ""
        return question

    def _confirmation(self, names: Iterable[str]) -> str:
        captured = self.manager.captured
        parts = [f"{self._describe(n)} {speak_value(self._fields[n], captured[n])}" for n in names]
        listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])}, and {parts[-1]}"
        return f"Let me confirm: {listed}. Is that right?"

    def _acknowledge(self, captured: Mapping[str, FieldScalar]) -> str:
        spoken = {n: speak_value(self._fields[n], v) for n, v in captured.items()}
        dates = [n for n in spoken if self._fields[n].type is FieldType.DATE]
        times = [n for n in spoken if self._fields[n].type is FieldType.TIME]
        if dates and times:
            spoken[dates[0]] = f"{spoken[dates[0]]} at {spoken.pop(times[0])}"
        return f"Got it, {', '.join(spoken.values())}."

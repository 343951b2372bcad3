"""Redaction of card numbers and configured patterns from what a call leaves behind: stored
turns, the call's summary and extracted data, webhook payloads.

Card numbers are found as the speech recogniser writes them: 13 to 19 digits, run together or in
groups split by spaces or dashes ("4111 1111 1111 1111", "4 1 1 1 …"), starting with a card
network's first digit (2–6) and passing the Luhn check, so a phone number or an order number
rarely matches. Other patterns come from `REDACT_PATTERNS` (regular expressions).

Luhn is written here rather than taken from python-stdnum: it is a ten-line public checksum,
and python-stdnum (LGPL) validates a whole string, while here every window of a digit run has to
be tried, which its API does not offer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

CARD_REDACTED: Final = "[card number redacted]"
REDACTED: Final = "[redacted]"
CARD_MIN_DIGITS: Final = 13
CARD_MAX_DIGITS: Final = 19
CARD_FIRST_DIGITS: Final = frozenset("23456")
# A run of digits where single spaces or dashes may separate groups ("4111-1111 1111 1111").
_DIGIT_RUN = re.compile(r"\d(?:[ \-]?\d)*")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check of card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Character spans within a digit run that hold a card number, longest first at each
    group start."""
    positions = [i for i, c in enumerate(run) if c.isdigit()]
    digits = "".join(run[i] for i in positions)
    group_starts = {0} | {n for n, i in enumerate(positions) if i and not run[i - 1].isdigit()}
    spans: list[tuple[int, int]] = []
    start = 0
    while start <= len(digits) - CARD_MIN_DIGITS:
        found = 0
        if start in group_starts and digits[start] in CARD_FIRST_DIGITS:
            for length in range(min(CARD_MAX_DIGITS, len(digits) - start), CARD_MIN_DIGITS - 1, -1):
                end = start + length
                # A card number ends where a group ends (or the run does).
                if (
                    end < len(digits)
                    and end not in group_starts
                    and run[positions[end] - 1].isdigit()
                ):
                    continue
                if luhn_valid(digits[start:end]):
                    found = length
                    break
        if found:
            spans.append((positions[start], positions[start + found - 1] + 1))
            start += found
        else:
            start += 1
    return spans


@dataclass(frozen=True)
class Redactor:
    """Replaces card numbers and the configured patterns' matches in text and JSON values."""

    patterns: tuple[re.Pattern[str], ...] = field(default=())

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> Redactor:
        """A redactor for `REDACT_PATTERNS` (already checked to compile by the settings)."""
        return cls(tuple(re.compile(p) for p in patterns))

    def text(self, text: str) -> str:
        """`text` with card numbers and pattern matches replaced."""
        text = _DIGIT_RUN.sub(self._redact_cards, text)
        for pattern in self.patterns:
            text = pattern.sub(REDACTED, text)
        return text

    def json(self, value: Any) -> Any:
        """A JSON-able value with every string in it redacted (keys are the platform's own)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value

    @staticmethod
    def _redact_cards(match: re.Match[str]) -> str:
        run = match.group()
        if sum(c.isdigit() for c in run) < CARD_MIN_DIGITS:
            return run
        parts, last = [], 0
        for start, end in _card_spans(run):
            parts += [run[last:start], CARD_REDACTED]
            last = end
        return "".join([*parts, run[last:]])

"""The caller's words as the readers see them, and the small word lists every reader shares.

A speech recogniser's transcript is not written text: it has fillers ("um", "uh"), spoken
punctuation, "a.m." and "A M", curly apostrophes. `normalise` turns it into one lower-case form
that every reader and the intent rules work on, so a span one reader takes can be blanked out
for the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from core.fields.values import FieldScalar

FILLERS: Final = frozenset("um umm uh uhh uhm er erm ah hmm mm mmm mhm".split())
YES_WORDS: Final = frozenset(
    "yes yeah yep yup yea ya correct right sure absolutely exactly affirmative ok okay perfect "
    "definitely certainly great fine good lovely brilliant".split()
)
NO_WORDS: Final = frozenset("no nope nah wrong incorrect negative".split())

_APOSTROPHES: Final = {
    "thats": "that's", "whats": "what's", "theres": "there's", "im": "i'm", "dont": "don't",
    "cant": "can't", "wont": "won't", "isnt": "isn't", "doesnt": "doesn't", "didnt": "didn't",
    "youre": "you're", "were": "were", "theyre": "they're", "ill": "ill", "id": "id",
    "ive": "i've", "itll": "it'll", "youll": "you'll", "its": "it's",
}  # fmt: skip
_FILLER_RUN = re.compile(rf"\b(?:{'|'.join(sorted(FILLERS))})\b[,.]?\s*")
_MERIDIEM = re.compile(r"\b([ap])\.?\s?m\b\.?")


@dataclass(frozen=True)
class Reading:
    """A value read from the caller's words, with where it was said (in the normalised text)."""

    value: FieldScalar
    start: int
    end: int


def normalise(text: str) -> str:
    """Lower case, straight apostrophes, no fillers, "a.m." → "am", single spaces."""
    lowered = text.lower().replace("’", "'").replace("‘", "'")
    lowered = _MERIDIEM.sub(lambda m: f"{m[1]}m", lowered)
    lowered = re.sub(r"\b(?:uh[- ]huh|mm[- ]hmm|mhm)\b", "yes", lowered)
    # Apostrophes a recogniser (or a texting caller) leaves out.
    lowered = re.sub(
        r"\b(that|it|what|there|i|you|we|they|don|can|won|isn|doesn|didn)(s|m|t|re|ll|d|ve)\b",
        lambda m: _APOSTROPHES.get(m[0], m[0]),
        lowered,
    )
    # The recogniser's usual slips on "half past" ("half pass 4", "have passed four").
    lowered = re.sub(r"\b(?:half|have) pas(?:s|sed|t)\b", "half past", lowered)
    lowered = _FILLER_RUN.sub("", lowered)
    lowered = re.sub(r"[!?;]+", lambda m: m[0][0], lowered)
    return re.sub(r"\s+", " ", lowered).strip(" ,")


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span replaced by spaces (positions stay where they were)."""
    chars = list(text)
    for start, end in spans:
        for index in range(max(start, 0), min(end, len(chars))):
            chars[index] = " "
    return "".join(chars)

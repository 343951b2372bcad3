"""Duckling, the entity reader under every typed field: times, dates, numbers, amounts, emails.

Duckling (Meta's rule-based parser, here through the `pyduckling-native-phihos` wheel, which
bundles the Haskell library) reads the way people say things rather than the way they write
them: "half past four in the afternoon", "a week from today", "the fifteenth of December",
"around fifty thousand dollars". It is deterministic, needs no model download and answers in
a fraction of a millisecond. On the phrase table it read 48 of 51 dates and 33 of 47 times where
`dateparser`, built for written dates, read 31 and 16 (it took "the 4th" for 1 April 2027 and
"a week from today" for a week ago) — see `core.fields.reading` and
`tests/core/fields/survey.py` for the whole comparison.

Every call is relative to the call's own day (`today`), never the wall clock, so a replay or a
test reads the same words the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

ZONEINFO_DIR: Final = "/usr/share/zoneinfo"
LOCALE: Final = "EN_US"


@dataclass(frozen=True)
class Entity:
    """One thing Duckling found: its kind (`time`, `number`, …), the words and their place."""

    dim: str
    body: str
    start: int
    end: int
    value: dict[str, Any]
    """Duckling's value object: `{"type": "value", "value": …, "grain": …}` or an interval."""
    latent: bool
    """Read without a clear cue ("seven" as a time of day): trust only when that was asked."""


class _Duckling:
    """The loaded library, entered from one thread only.

    The wheel runs Duckling's Haskell runtime inside this process; its objects (time zones,
    contexts) must be made, used and freed on one OS thread, whichever Python threads ask (the
    guided brain reads turns on worker threads). One single-thread executor does every call;
    the time zones are read once (about 0.1 s)."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duckling")
        self._thread.submit(self._load).result()

    def _load(self) -> None:
        import duckling  # type: ignore[import-untyped]

        self._lib = duckling
        self._zones = duckling.load_time_zones(ZONEINFO_DIR)
        self._locale = duckling.parse_locale(
            LOCALE, duckling.default_locale_lang(duckling.parse_lang("EN"))
        )

    def parse(
        self, text: str, today: dt.date, dims: Sequence[str], *, latent: bool
    ) -> list[dict[str, Any]]:
        return self._thread.submit(self._parse, text, today, dims, latent).result()

    def _parse(
        self, text: str, today: dt.date, dims: Sequence[str], latent: bool
    ) -> list[dict[str, Any]]:
        midnight = dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)
        reference = self._lib.parse_ref_time(self._zones, "UTC", int(midnight.timestamp()))
        context = self._lib.Context(reference, self._locale)
        found = self._lib.parse(text, context, self._lib.parse_dimensions(list(dims)), latent)
        return [dict(item) for item in found]


@lru_cache(maxsize=1)
def _duckling() -> _Duckling:
    return _Duckling()


def entities(
    text: str, today: dt.date, dims: Iterable[str], *, latent: bool = False
) -> list[Entity]:
    """What Duckling reads in `text` for the given dimensions, relative to `today` (UTC)."""
    if not text.strip():
        return []
    return [
        Entity(
            dim=item["dim"],
            body=item["body"],
            start=item["start"],
            end=item["end"],
            value=item["value"],
            latent=bool(item.get("latent", False)),
        )
        for item in _duckling().parse(text, today, tuple(dims), latent=latent)
    ]

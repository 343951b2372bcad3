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
import logging
import multiprocessing
import os
import signal
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from core.processes import die_with_parent

ZONEINFO_DIR: Final = "/usr/share/zoneinfo"
logger = logging.getLogger(__name__)
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
    """The library, in a process of its own.

    The wheel runs Duckling's Haskell runtime inside whatever process loads it, and that runtime
    corrupts the C heap when other native code works at the same time (measured: Duckling on one
    thread beside Whisper and Piper on others died with "corrupted size vs. prev_size" within a
    minute; the realtime process died the same way under eight calls). So one child process does
    every parse, started with `spawn` so it holds nothing else; a call costs a round trip of well
    under a millisecond, plus the parse."""

    def __init__(self) -> None:
        self._pool = self._start()

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_load,
            # The child goes when its parent does, even on kill -9 (a realtime node's crash).
            initargs=(os.getpid(),),
        )
        pool.submit(_parse, "warm up at noon", 0, ("time",), False).result()
        return pool

    def parse(
        self, text: str, today: dt.date, dims: Sequence[str], *, latent: bool
    ) -> list[dict[str, Any]]:
        midnight = dt.datetime.combine(today, dt.time(0, 0), tzinfo=dt.UTC)
        stamp = int(midnight.timestamp())
        try:
            return self._pool.submit(_parse, text, stamp, tuple(dims), latent).result()
        except BrokenProcessPool:
            # The child died (killed, out of memory): start another rather than leave every
            # later call unable to read a date or a time.
            logger.warning("Duckling's process died; starting a new one")
            self._pool = self._start()
            return self._pool.submit(_parse, text, stamp, tuple(dims), latent).result()


# -- in the child process --------------------------------------------------------------------

_LOADED: dict[str, Any] = {}


def _load(parent: int) -> None:
    die_with_parent(signal.SIGKILL, parent)
    import duckling  # type: ignore[import-untyped]

    _LOADED["lib"] = duckling
    _LOADED["zones"] = duckling.load_time_zones(ZONEINFO_DIR)
    _LOADED["locale"] = duckling.parse_locale(
        LOCALE, duckling.default_locale_lang(duckling.parse_lang("EN"))
    )


def _parse(text: str, stamp: int, dims: Sequence[str], latent: bool) -> list[dict[str, Any]]:
    lib = _LOADED["lib"]
    reference = lib.parse_ref_time(_LOADED["zones"], "UTC", stamp)
    context = lib.Context(reference, _LOADED["locale"])
    found = lib.parse(text, context, lib.parse_dimensions(list(dims)), latent)
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

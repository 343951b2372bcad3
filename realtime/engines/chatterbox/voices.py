"""The LRU of prepared voice conditionals, one entry a voice profile.

A voice profile's conditionals (speaker embedding and prompt tokens from its reference clip) are
computed once by the model's `prepare_conditionals` and kept here, VOICE_CACHE_SIZE entries at
most, so a returning voice costs nothing on the GPU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["VoiceConditionalsCache"]

_LOGGER = logging.getLogger(__name__)


class _Flight:
    """One computation that concurrent requests for the same key wait on."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class VoiceConditionalsCache:
    """An LRU of prepared voice conditionals, keyed by voice profile, single-flight.

    Thread-safe; concurrent requests for a voice not yet cached compute it once and share the
    result (or the error, which is not cached: the next request tries again).
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: str, compute: Callable[[], Any], *, timeout: float | None = None) -> Any:
        """The conditionals for `key`, computing them with `compute` on a miss."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
                self.misses += 1
        if not leader:
            if not flight.done.wait(timeout):
                raise TimeoutError(f"voice {key!r} still being prepared after {timeout} s")
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            value = compute()
        except BaseException as exc:
            flight.error = exc
            with self._lock:
                del self._flights[key]
            flight.done.set()
            raise
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.capacity:
                evicted, _ = self._entries.popitem(last=False)
                self.evictions += 1
                _LOGGER.debug("voice %r evicted from the conditionals cache", evicted)
            del self._flights[key]
        flight.value = value
        flight.done.set()
        return value

    def invalidate(self, key: str) -> None:
        """Forget `key` (its reference clip changed)."""
        with self._lock:
            self._entries.pop(key, None)

    def keys(self) -> list[str]:
        """Cached voices, least recently used first."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


# --------------------------------------------------------------------------------------------

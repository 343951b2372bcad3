"""A flood of refusals cannot flood the log: LogLimiter lets a burst through, then counts."""

from __future__ import annotations

import logging

import pytest

from realtime.stream_guard import LogLimiter


def test_warnings_past_the_burst_are_held_back_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.limiter")
    limiter = LogLimiter(per_s=0.0001, burst=2)
    with caplog.at_level(logging.WARNING, logger="test.limiter"):
        for n in range(5):
            limiter.warning(logger, "refused socket %d", n)
    assert [r.getMessage() for r in caplog.records] == ["refused socket 0", "refused socket 1"]
    assert limiter.suppressed == 3
    # When a line is let through again, it says how many were held back.
    limiter._tokens = 1.0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="test.limiter"):
        limiter.warning(logger, "refused socket %d", 5)
    assert [r.getMessage() for r in caplog.records] == [
        "refused socket 5 (3 similar lines held back)"
    ]

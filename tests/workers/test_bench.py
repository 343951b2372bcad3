"""The benchmark's report: figures from the rows it was given, failures shown, not hidden."""

from __future__ import annotations

import math

from workers.bench import Results, TurnRow, percentile, summary_markdown


def row(concurrency: int, call: int, response_ms: float) -> TurnRow:
    return TurnRow(concurrency, call, 1, "Hi.", response_ms, {"first_frame": response_ms - 150})


def test_percentiles_are_inclusive_and_nan_without_values() -> None:
    assert percentile([100.0, 200.0, 300.0], 50) == 200.0
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))


def test_the_summary_reports_calls_the_agent_did_not_close() -> None:
    results = Results(
        rows=[row(1, 1, 600), row(1, 2, 700), row(8, 1, 900), row(8, 2, 2000)],
        peak_rss_mb={1: 494.4, 8: 598.0},
        idle_rss_mb=446.0,
        calls_placed={1: 2, 8: 8},
        calls_completed={1: 2, 8: 7},
        unfinished=["call CA1 (ended by caller)\n  caller: in the afternoon."],
    )
    markdown = summary_markdown(results, "make bench")
    one, eight = (line for line in markdown.splitlines() if " MB |" in line)
    assert one.startswith("| 1 | 2 | 650 ms |") and one.endswith("| 494 MB | 2 of 2 |")
    assert eight.endswith("| 598 MB | 7 of 8 |")
    assert "caller: in the afternoon." in markdown

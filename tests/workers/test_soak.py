"""The webhook soak, short: deliveries to a receiver that fails at random all arrive, once each."""

from __future__ import annotations

from workers.chaos.soak import SECTION, SoakReport, replace_section, run_soak, summary_markdown
from workers.services import EmbeddedTemporal

EVENTS = 60


async def test_every_event_arrives_once_through_a_receiver_that_fails_at_random(
    database_url: str, temporal_server: EmbeddedTemporal
) -> None:
    report = await run_soak(
        EVENTS, database_url=database_url, temporal_address=temporal_server.address, seed=7
    )
    assert report.ok, summary_markdown(report, "test")
    assert (report.delivered, report.lost, report.duplicates) == (EVENTS, [], [])
    assert report.rows == {"delivered": EVENTS} and report.dead_letters == []
    assert report.answers["500"] > 0 and report.answers["held"] > 0  # the chaos did happen
    assert report.attempts > EVENTS and report.attempt_rows == report.attempts
    assert len(report.latency_ms) == EVENTS


def report(**changes: object) -> SoakReport:
    values: dict[str, object] = {
        "events": 3,
        "delivered": 3,
        "lost": [],
        "duplicates": [],
        "retried_receipts": 1,
        "attempts": 9,
        "answers": {"200": 4, "500": 4, "held": 1},
        "latency_ms": [100.0, 200.0, 300.0],
        "workflow_failures": 0,
        "unfinished": 0,
        "elapsed_s": 5.0,
        "started_s": 1.0,
        "http_timeout_s": 2.0,
        "seed": 1,
        "rows": {"delivered": 2, "failed": 1},
        "attempt_rows": 9,
        "dead_letters": [(7, "msg_x")],
    }
    values.update(changes)
    return SoakReport(**values)  # type: ignore[arg-type]


def test_the_report_fails_on_a_lost_or_duplicated_event_and_names_dead_letters() -> None:
    assert report().ok
    assert not report(lost=["e1"], delivered=2).ok
    assert not report(duplicates=["e2"]).ok
    markdown = summary_markdown(report(), "python -m workers.chaos.soak --events 3")
    assert "| 3 | 3 | 0 | 0 | 1 | 9 | 200 ms | 290 ms | 1 |" in markdown
    assert "7 (`msg_x`)" in markdown and "/api/webhooks/deliveries/{id}/replay" in markdown


def test_the_markdown_section_is_replaced_in_place_or_appended() -> None:
    new = f"{SECTION}\n\nnew figures\n"
    other = "## Worker crash\n\nkept\n"
    document = f"# Reliability\n\n{SECTION}\n\nold figures\n\n{other}"
    assert replace_section(document, new) == f"# Reliability\n\n{new}\n{other}"
    assert replace_section(f"# Reliability\n\n{other}", new) == f"# Reliability\n\n{other}\n{new}"
    assert replace_section("", new) == new

"""`callwright eval` from the command line: report, JSON, exit status and thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workers.cli import app

AGENT = {
    "name": "Day Booker",
    "template_id": 1,
    "greeting": "Hello!",
    "goals": [
        {
            "name": "book",
            "success_criteria": {"has_date": True},
            "required_data": [
                {"name": "date", "type": "date", "description": "the day of the visit"}
            ],
        }
    ],
}
BOOKS = """\
id: books
agent: ignored
description: Gives the day when asked.
facts: {date: "2026-12-04"}
say: {date: ["this friday", "friday the fourth"]}
"""
LEAVES = """\
id: leaves
agent: ignored
description: Hangs up at once, but the scenario expects a booking.
facts: {date: "2026-12-04"}
script:
  - {"on": start, say: "sorry, wrong number", hangup: true}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "agent.json").write_text(json.dumps(AGENT))
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "books.yaml").write_text(BOOKS)
    (tmp_path / "scenarios" / "leaves.yaml").write_text(LEAVES)
    return tmp_path


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["eval", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_one_passing_scenario_exits_0_with_the_figures(folder: Path) -> None:
    code, out, _ = run(folder / "scenarios" / "books.yaml", "--agent", folder / "agent.json")
    assert code == 0, out
    assert "PASS  books" in out
    assert "Goal completion   1/1 = 100.0%" in out
    assert "Field accuracy    1/1 = 100.0%" in out


def test_a_failure_exits_1_and_shows_its_transcript(folder: Path) -> None:
    code, out, _ = run(folder / "scenarios", "--agent", folder / "agent.json")
    assert code == 1
    assert "── leaves (ignored) FAIL: goals not met (the caller hung up)" in out
    assert "caller: sorry, wrong number" in out
    assert "Passed            1/2" in out


def test_thresholds_make_it_a_gate_on_the_figures(folder: Path) -> None:
    args = (folder / "scenarios", "--agent", folder / "agent.json")
    assert run(*args, "--min-completion", "0.5", "--min-accuracy", "0.5")[0] == 0
    assert run(*args, "--min-completion", "0.95")[0] == 1


def test_json_report_for_scripts(folder: Path) -> None:
    code, out, _ = run(folder / "scenarios", "--agent", folder / "agent.json", "--json", "-v")
    assert code == 1
    data = json.loads(out)
    assert data["goal_completion"] == {"hits": 1, "total": 2, "rate": 0.5}
    assert data["brain"] == "guided" and data["level"] == "text"
    books = next(r for r in data["results"] if r["id"] == "books")
    assert books["fields"][0]["correct"] is True
    assert books["transcript"][0]["speaker"] == "agent"  # --verbose: every transcript


def test_a_bad_scenario_exits_2_naming_file_and_key(folder: Path) -> None:
    bad = folder / "scenarios" / "books.yaml"
    bad.write_text(BOOKS.replace("{date:", "{day:", 1))
    code, _, err = run(bad, "--agent", folder / "agent.json")
    assert code == 2
    assert "books.yaml: facts.day: no such field" in " ".join(err.split())


def test_an_unknown_scenario_id_exits_2() -> None:
    code, _, err = run("no-such-scenario-anywhere")
    assert code == 2
    assert "no such file, folder or scenario id" in err


def test_audio_needs_a_running_stack_and_uses_its_brain(folder: Path) -> None:
    args = (folder / "scenarios" / "books.yaml", "--agent", folder / "agent.json", "--audio")
    code, _, err = run(*args, "--data-dir", folder)
    assert code == 2
    assert "no running stack" in " ".join(err.split())
    code, _, err = run(*args, "--brain", "openai")
    assert code == 2
    assert "the stack's brain answers" in " ".join(err.split())

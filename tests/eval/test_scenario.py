"""Scenario files: every committed one is valid; a bad one names its file and key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workers.eval.cases import load_cases
from workers.eval.scenario import (
    ScenarioError,
    ScriptMove,
    find_scenarios,
    load_scenario,
    parse_scenario,
)

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
AGENT = Path(__file__).resolve().parents[2] / "examples" / "restaurant_reservations.json"

GOOD = """\
id: {id}
agent: restaurant_reservations
description: A plain booking.
facts:
  date: "2026-12-04"
  time: "19:00"
  party_size: 4
say:
  date: ["this friday"]
  party_size: [4, "four of us"]
script:
  - on: start
    say: "Hi, a table please."
expect:
  complete: false
"""


def write(tmp_path: Path, text: str, name: str = "rest-plain") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace("{id}", name))
    return path


def test_every_scenario_file_is_valid() -> None:
    files = find_scenarios([SCENARIOS])
    assert files, "no scenario files found"
    cases = load_cases([SCENARIOS])  # raises ScenarioError naming the file and key
    assert len(cases) == len(files)
    for case in cases:
        assert case.scenario.facts, f"{case.scenario.source}: no facts"


def test_a_scenario_reads_as_written(tmp_path: Path) -> None:
    (case,) = load_cases([write(tmp_path, GOOD)], agent_file=AGENT)
    scenario = case.scenario
    assert scenario.id == "rest-plain"
    assert scenario.today.isoformat() == "2026-12-01"
    assert scenario.script[0].on == "start"  # a bare YAML `on:` key is the boolean true
    assert scenario.say["party_size"] == ["4", "four of us"]
    assert case.truths == {"date": "2026-12-04", "time": "19:00", "party_size": 4.0}
    assert scenario.expect.complete is False


@pytest.mark.parametrize(
    ("edit", "key", "message"),
    [
        (("  time:", "  tim:"), "facts.tim", "no such field"),
        (('  date: ["this', '  day: ["this'), "say.day", "no such field"),
        (("on: start", "on: ask:email"), "script[0].on", "no such field 'email'"),
        (("on: start", "on: later"), "script[0].on", "pattern"),
        (('time: "19:00"', "time: 19:00"), "facts.time", "quoted"),
        (("party_size: 4\n", "party_size: four\n"), "facts.party_size", "a number"),
        (("party_size: 4\n", "party_size: [[4, 5]]\n"), "facts.party_size", "not a list"),
        (("id: rest-plain", "id: other"), "id", "stem"),
        (("description:", "notes:"), "notes", "Extra inputs"),
    ],
)
def test_a_bad_scenario_names_its_file_and_key(
    tmp_path: Path, edit: tuple[str, str], key: str, message: str
) -> None:
    path = write(tmp_path, GOOD.replace("{id}", "rest-plain").replace(*edit))
    with pytest.raises(ScenarioError, match=message) as caught:
        load_cases([path], agent_file=AGENT)
    assert caught.value.key == key
    assert str(path) in str(caught.value)


def test_an_unknown_agent_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("restaurant_reservations", "nobody"))
    with pytest.raises(ScenarioError, match="nobody.json") as caught:
        load_cases([path])
    assert caught.value.key == "agent"


def test_two_scenarios_with_one_id_are_refused(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    (tmp_path / "more").mkdir()
    write(tmp_path / "more", GOOD)
    with pytest.raises(ScenarioError, match="also the id of"):
        load_cases([tmp_path], agent_file=AGENT)


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("- just a list\n")
    with pytest.raises(ScenarioError, match="a scenario is a YAML mapping"):
        load_scenario(path)


def test_a_scenario_sent_as_text_reads_as_its_file_does(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    sent = parse_scenario(path.read_text().replace("rest-plain", "any-id") + "source: /etc\n")
    assert sent.source is None  # where it came from is not the sender's to say
    assert sent.model_copy(update={"id": "rest-plain", "source": path}) == load_scenario(path)
    with pytest.raises(ScenarioError, match="^scenario: not valid YAML: "):
        parse_scenario("facts: {date: [unclosed\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, "facts: {date: [unclosed\n", "broken"))
    assert str(caught.value).startswith(f"{tmp_path / 'broken.yaml'}: while parsing")


def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs" scenario: each level is nine aliases of the one before (9**9 values
    once followed, in under 1 kB of YAML)."""
    lines = ["id: bomb", "agent: restaurant_reservations", "l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    lines.append(f"facts: {{party_size: *l{levels}}}")
    return "\n".join(lines) + "\n"


def test_yaml_aliases_are_refused_before_they_are_followed(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ScenarioError, match=r"^scenario: YAML aliases \(\*l0\) are not allowed"):
        parse_scenario(alias_bomb())
    assert time.monotonic() - started < 1
    # A file too, and an alias anywhere (a merge key is one).
    merged = GOOD.replace(
        "expect:\n  complete: false", "base: &base {complete: true}\nexpect: {<<: *base}"
    )
    path = write(tmp_path, merged)
    with pytest.raises(ScenarioError, match=r"YAML aliases \(\*base\) are not allowed") as caught:
        load_scenario(path)
    assert str(caught.value).startswith(str(path))


def test_a_script_move_checks_the_answer_to_it() -> None:
    move = ScriptMove.model_validate(
        {
            "on": "start",
            "say": "are you open saturdays?",
            "answer_has": [["saturday"], [9, "nine"]],
            "answer_lacks": ["$"],
        }
    )
    assert move.answer_has == [["saturday"], ["9", "nine"]]  # YAML's numbers are words here
    assert move.check_answer("Saturday: 9:00 am to 1:00 pm. What day works best?") == []
    problems = move.check_answer("A cleaning is $120. What day works best for you?")
    assert len(problems) == 3  # no Saturday, no hour, and a price

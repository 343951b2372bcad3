"""The starter templates a fresh installation offers."""

from __future__ import annotations

import json

from core.agents.spec import EMOTIONS, PITCH_RANGE, SPEED_RANGE, VoiceSpec
from core.agents.templates import STARTER_TEMPLATES


def test_scheduler_and_sales_qualifier_have_the_seed_ids() -> None:
    by_id = {template.id: template for template in STARTER_TEMPLATES}
    assert by_id[1].name == "Appointment Scheduler"
    assert by_id[2].name == "Sales Qualifier"


def test_ids_and_names_are_unique() -> None:
    assert len({t.id for t in STARTER_TEMPLATES}) == len(STARTER_TEMPLATES)
    assert len({t.name for t in STARTER_TEMPLATES}) == len(STARTER_TEMPLATES)


def test_base_prompts_teach_phone_manner() -> None:
    for template in STARTER_TEMPLATES:
        prompt = template.base_prompt.lower()
        assert template.description.strip()
        assert "one question at a time" in prompt, template.name
        assert "confirm" in prompt, template.name
        assert "never invent" in prompt, template.name
        assert "closing" in prompt, template.name
        assert "{" not in prompt, f"{template.name} has an unfilled placeholder"


def test_scheduler_never_promises_availability_and_sales_never_quotes_prices() -> None:
    by_id = {template.id: template for template in STARTER_TEMPLATES}
    assert "never promise a slot" in by_id[1].base_prompt.lower()
    assert "never quote prices" in by_id[2].base_prompt.lower()


def test_default_voices_are_valid_voice_settings() -> None:
    for template in STARTER_TEMPLATES:
        voice = VoiceSpec.model_validate(template.default_voice)
        assert voice.emotion_default in EMOTIONS
        assert SPEED_RANGE[0] <= voice.speed <= SPEED_RANGE[1]
        assert PITCH_RANGE[0] <= voice.pitch <= PITCH_RANGE[1]


def test_rows_are_plain_json_a_migration_can_insert() -> None:
    for template in STARTER_TEMPLATES:
        row = template.as_row()
        assert json.loads(json.dumps(row)) == row
        row["default_voice"]["speed"] = 9.0
        assert template.default_voice["speed"] == 1.0

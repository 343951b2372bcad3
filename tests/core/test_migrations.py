"""The migrations, run the way a deploy runs them, on an empty database."""

from __future__ import annotations

from typing import Any

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg.types.json import Jsonb

from core.agents.validation import validate_voice
from core.db import migrate
from core.db.models import Base
from core.db.session import make_sync_engine


def _tables(url: str) -> set[str]:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {r[0] for r in rows} - {"alembic_version"}


def test_upgrade_then_downgrade_on_an_empty_database(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url)
    assert _tables(empty_database_url) == set(Base.metadata.tables)
    with psycopg.connect(empty_database_url.replace("postgresql+psycopg", "postgresql")) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
        names = [r[0] for r in conn.execute("SELECT name FROM agent_templates ORDER BY id")]
    assert names[:2] == ["Appointment Scheduler", "Sales Qualifier"]

    engine = make_sync_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == [], "the models and the migrations disagree"

    migrate.downgrade(empty_database_url)
    assert _tables(empty_database_url) == set()
    migrate.upgrade(empty_database_url)  # and back up again, cleanly
    assert _tables(empty_database_url) == set(Base.metadata.tables)


def test_new_templates_get_ids_after_the_starter_ones(database_url: str) -> None:
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as conn:
        new_id = conn.execute(
            "INSERT INTO agent_templates (name, description, base_prompt, default_voice,"
            " default_settings) VALUES ('x', '', 'p', '{}', '{}') RETURNING id"
        ).fetchone()
        starters = conn.execute("SELECT max(id) FROM agent_templates WHERE name <> 'x'").fetchone()
    assert new_id is not None and starters is not None
    assert new_id[0] == starters[0] + 1


def _pitches(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    agents = dict(conn.execute("SELECT name, voice->'pitch' FROM agent_configs").fetchall())
    templates = dict(
        conn.execute("SELECT name, default_voice->'pitch' FROM agent_templates").fetchall()
    )
    calls = dict(
        conn.execute("SELECT call_sid, agent_snapshot#>'{voice,pitch}' FROM calls").fetchall()
    )
    return {"agents": agents, "templates": templates, "calls": calls}


def test_0004_turns_stored_pitch_multipliers_into_semitones_and_back(
    empty_database_url: str,
) -> None:
    plain_url = empty_database_url.replace("postgresql+psycopg", "postgresql")
    migrate.upgrade(empty_database_url, "0003")
    with psycopg.connect(plain_url) as conn:
        conn.execute("UPDATE agent_templates SET default_voice = '{\"pitch\": 1.0}'")
        conn.execute(
            "INSERT INTO agent_templates (name, description, base_prompt, default_voice,"
            " default_settings) VALUES ('Deep', '', 'p', '{\"pitch\": 0.5, \"speed\": 1.2}', '{}')"
        )
        for name, voice in (
            ("same", {"pitch": 1.0, "speed": 0.9}),
            ("octave up", {"pitch": 2.0}),
            ("a bit low", {"pitch": 0.9439}),
            ("no pitch", {"emotion_default": "calm"}),
        ):
            conn.execute(
                "INSERT INTO agent_configs (name, description, template_id, voice,"
                " custom_settings, webhook_urls, phone_numbers, max_call_seconds,"
                " inactivity_seconds) VALUES (%s, '', 1, %s, '{}', '[]', '[]', 60, 30)",
                (name, Jsonb(voice)),
            )
        for sid, snapshot in (("CA1", {"voice": {"pitch": 1.5}}), ("CA2", {})):
            conn.execute(
                "INSERT INTO calls (id, call_sid, direction, from_number, to_number, status,"
                " workflow_id, agent_snapshot, extracted_data, analysis)"
                " VALUES (gen_random_uuid(), %s, 'inbound', '', '', 'completed', 'w', %s, '{}',"
                " '{}')",
                (sid, Jsonb(snapshot)),
            )

    migrate.upgrade(empty_database_url)
    with psycopg.connect(plain_url) as conn:
        upgraded = _pitches(conn)
        speed = conn.execute("SELECT voice FROM agent_configs WHERE name = 'same'").fetchone()
    assert upgraded["agents"] == {"same": 0, "octave up": 12, "a bit low": -1, "no pitch": None}
    assert upgraded["templates"]["Appointment Scheduler"] == 0
    assert upgraded["templates"]["Deep"] == -12
    assert upgraded["calls"] == {"CA1": 7.02, "CA2": None}  # 12·log2(1.5) = 7.0196
    assert speed is not None and speed[0] == {"pitch": 0, "speed": 0.9}  # the rest is kept
    # What 0004 stores is a voice the platform accepts.
    for pitch in upgraded["agents"].values():
        if pitch is not None:
            assert not validate_voice({"pitch": pitch})

    migrate.downgrade(empty_database_url, "0003")
    with psycopg.connect(plain_url) as conn:
        downgraded = _pitches(conn)
    assert downgraded["agents"] == {
        "same": 1.0,
        "octave up": 2.0,
        "a bit low": 0.9439,
        "no pitch": None,
    }
    assert downgraded["templates"]["Deep"] == 0.5
    assert downgraded["calls"] == {"CA1": 1.5, "CA2": None}


def test_fresh_databases_get_templates_with_pitch_in_semitones(database_url: str) -> None:
    with psycopg.connect(database_url.replace("postgresql+psycopg", "postgresql")) as conn:
        voices = [r[0] for r in conn.execute("SELECT default_voice FROM agent_templates")]
    assert voices and all(voice["pitch"] == 0 for voice in voices)

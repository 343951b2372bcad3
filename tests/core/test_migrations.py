"""The migrations, run the way a deploy runs them, on an empty database."""

from __future__ import annotations

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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

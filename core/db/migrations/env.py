"""Alembic environment: runs migrations on a sync psycopg connection.

The URL comes from the Alembic config (set by `core.db.migrate`) or, for a plain
`alembic upgrade head` from the repository root, from DATABASE_URL.
"""

from __future__ import annotations

import os

from alembic import context

from core.db.models import Base
from core.db.session import make_sync_engine

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
if not url:
    raise SystemExit("set DATABASE_URL (or sqlalchemy.url) to run migrations")

engine = make_sync_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()

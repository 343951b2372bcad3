"""Calls keep their end reason and analysis; agents get webhook URLs and call timers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("end_reason", sa.String(64)))
    op.add_column(
        "calls", sa.Column("analysis", JSONB, nullable=False, server_default=sa.text("'{}'"))
    )
    op.alter_column("calls", "analysis", server_default=None)
    op.add_column(
        "agent_configs",
        sa.Column("webhook_urls", JSONB, nullable=False, server_default=sa.text("'[]'")),
    )
    op.alter_column("agent_configs", "webhook_urls", server_default=None)
    op.add_column(
        "agent_configs",
        sa.Column("max_call_seconds", sa.Integer, nullable=False, server_default="1800"),
    )
    op.alter_column("agent_configs", "max_call_seconds", server_default=None)
    op.add_column(
        "agent_configs",
        sa.Column("inactivity_seconds", sa.Integer, nullable=False, server_default="120"),
    )
    op.alter_column("agent_configs", "inactivity_seconds", server_default=None)


def downgrade() -> None:
    op.drop_column("agent_configs", "inactivity_seconds")
    op.drop_column("agent_configs", "max_call_seconds")
    op.drop_column("agent_configs", "webhook_urls")
    op.drop_column("calls", "analysis")
    op.drop_column("calls", "end_reason")

"""Agents own phone numbers: inbound calls to a number reach its agent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "agent_configs",
        sa.Column("phone_numbers", JSONB, nullable=False, server_default=sa.text("'[]'")),
    )
    op.alter_column("agent_configs", "phone_numbers", server_default=None)


def downgrade() -> None:
    op.drop_column("agent_configs", "phone_numbers")

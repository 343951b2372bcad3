"""Webhook endpoints: one row per organization and URL, with its own signing secret and the
previous one during a rotation's grace period.

Rows are created when an agent or goal of the organization first names a URL, or when a webhook
is first delivered to it. Attempt errors written before this revision could quote the
receiver's answer (`receiver answered 500: <its body>`); they are cut down to the status.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "organization_id",
            sa.Integer,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("previous_secret", sa.String(200)),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("organization_id", "url"),
    )
    op.execute(
        "UPDATE webhook_attempts SET error = 'HTTP ' || status_code "
        "WHERE error LIKE 'receiver answered %' AND status_code IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("webhook_endpoints")

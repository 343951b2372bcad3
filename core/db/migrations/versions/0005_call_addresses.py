"""A call's From and To hold what Twilio sends, SIP URIs and `client:` names included.

`sip:+14155550100@trunk.example.com;transport=tls` does not fit 32 characters; the values are
also bounded where they enter (`core.calls.cleaning.NUMBER_LIMIT`). The downgrade cuts longer
values to 32 characters, the old width.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("from_number", "to_number")


def upgrade() -> None:
    for column in COLUMNS:
        op.alter_column("calls", column, type_=sa.String(255), existing_type=sa.String(32))


def downgrade() -> None:
    for column in COLUMNS:
        op.execute(f"UPDATE calls SET {column} = left({column}, 32)")
        op.alter_column("calls", column, type_=sa.String(32), existing_type=sa.String(255))

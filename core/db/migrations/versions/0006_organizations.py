"""Organizations own everything; API keys get scopes and an expiry; an audit log of changes.

Every existing row moves into one organization, `default` (id 1), and every existing key keeps
the power it had (the `admin` scope), so an upgrade changes nobody's access. Names become unique
per organization instead of platform-wide. Starter templates keep `organization_id` NULL: shared
by every organization, read-only. The default organization gets no outbound-call prefixes (no
outbound calls until an admin allows some) and keeps call history until a retention is set.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_ORGANIZATION_ID = 1
# Tables whose rows belong to exactly one organization, with their old platform-wide unique name.
OWNED = ("conversation_goals", "agent_configs", "domains", "voice_profiles", "api_keys")


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("retention_days", sa.Integer),
        sa.Column("allowed_call_prefixes", JSONB, nullable=False, server_default="[]"),
        sa.Column("calls_per_hour", sa.Integer, nullable=False, server_default="20"),
        sa.Column("allow_private_webhooks", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("rate_limit_per_minute", sa.Integer, nullable=False, server_default="600"),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.execute(
        f"INSERT INTO organizations (id, name) VALUES ({DEFAULT_ORGANIZATION_ID}, 'default')"
    )
    op.execute(
        "SELECT setval(pg_get_serial_sequence('organizations', 'id'), "
        "(SELECT max(id) FROM organizations))"
    )

    for table in OWNED:
        op.add_column(
            table,
            sa.Column(
                "organization_id",
                sa.Integer,
                sa.ForeignKey("organizations.id", ondelete="CASCADE"),
                nullable=False,
                server_default=str(DEFAULT_ORGANIZATION_ID),
                index=True,
            ),
        )
        op.alter_column(table, "organization_id", server_default=None)
        op.drop_constraint(f"{table}_name_key", table, type_="unique")
        op.create_unique_constraint(
            f"{table}_organization_id_name_key", table, ["organization_id", "name"]
        )

    # Starter templates (NULL) are shared; an organization's own templates are unique within it
    # and may not take a shared template's name (NULLS NOT DISTINCT makes NULL one owner).
    op.add_column(
        "agent_templates",
        sa.Column(
            "organization_id",
            sa.Integer,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            index=True,
        ),
    )
    op.drop_constraint("agent_templates_name_key", "agent_templates", type_="unique")
    op.execute(
        "ALTER TABLE agent_templates ADD CONSTRAINT agent_templates_organization_id_name_key "
        "UNIQUE NULLS NOT DISTINCT (organization_id, name)"
    )

    # A call keeps its organization even when its agent is deleted.
    op.add_column(
        "calls",
        sa.Column(
            "organization_id",
            sa.Integer,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            index=True,
        ),
    )
    op.execute(
        "UPDATE calls SET organization_id = COALESCE("
        "(SELECT organization_id FROM agent_configs a WHERE a.id = calls.agent_id), "
        f"{DEFAULT_ORGANIZATION_ID})"
    )

    op.add_column(
        "api_keys",
        sa.Column("scopes", JSONB, nullable=False, server_default='["admin"]'),
    )
    op.alter_column("api_keys", "scopes", server_default=None)
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True)))

    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "organization_id",
            sa.Integer,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("api_key_id", sa.Integer, sa.ForeignKey("api_keys.id", ondelete="SET NULL")),
        sa.Column("key_name", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("audit_events_organization_id_at", "audit_events", ["organization_id", "at"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_column("api_keys", "expires_at")
    op.drop_column("api_keys", "scopes")
    op.drop_column("calls", "organization_id")
    op.drop_constraint(
        "agent_templates_organization_id_name_key", "agent_templates", type_="unique"
    )
    op.execute("DELETE FROM agent_templates WHERE organization_id IS NOT NULL")
    op.drop_column("agent_templates", "organization_id")
    op.create_unique_constraint("agent_templates_name_key", "agent_templates", ["name"])
    for table in OWNED:
        op.drop_constraint(f"{table}_organization_id_name_key", table, type_="unique")
        # Names were unique per organization; the old schema wants them unique everywhere.
        op.execute(
            f"UPDATE {table} SET name = left(name, 180) || ' (org ' || organization_id || ')' "
            f"WHERE organization_id <> {DEFAULT_ORGANIZATION_ID}"
        )
        op.drop_column(table, "organization_id")
        op.create_unique_constraint(f"{table}_name_key", table, ["name"])
    op.drop_table("organizations")

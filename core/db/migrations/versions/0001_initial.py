"""The platform's first schema: agents and their parts, knowledge, voices, calls, webhooks, keys.

Creates the `vector` extension (pgvector) first, and seeds the starter templates so every fresh
database has them (the seed's configuration examples use template ids 1 and 2).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB

from core.agents.templates import STARTER_TEMPLATES

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")

    templates = op.create_table(
        "agent_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("base_prompt", sa.Text, nullable=False),
        sa.Column("default_voice", JSONB, nullable=False),
        sa.Column("default_settings", JSONB, nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "conversation_goals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("success_criteria", sa.JSON, nullable=False),
        sa.Column("required_data", JSONB, nullable=False),
        sa.Column("completion_webhook", sa.String(2000)),
        *_timestamps(),
    )
    op.create_table(
        "voice_profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("engine", sa.String(40), nullable=False),
        sa.Column("reference_audio_path", sa.String(1000)),
        sa.Column("settings", JSONB, nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "agent_configs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column(
            "template_id",
            sa.Integer,
            sa.ForeignKey("agent_templates.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("base_prompt", sa.Text),
        sa.Column("greeting", sa.Text),
        sa.Column("voice", JSONB, nullable=False),
        sa.Column("custom_settings", JSONB, nullable=False),
        sa.Column(
            "voice_profile_id", sa.Integer, sa.ForeignKey("voice_profiles.id", ondelete="SET NULL")
        ),
        *_timestamps(),
    )
    op.create_table(
        "agent_goals",
        sa.Column(
            "agent_id",
            sa.Integer,
            sa.ForeignKey("agent_configs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "goal_id",
            sa.Integer,
            sa.ForeignKey("conversation_goals.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_table(
        "agent_instructions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "agent_id",
            sa.Integer,
            sa.ForeignKey("agent_configs.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("topic", sa.String(200)),
        *_timestamps(),
    )
    op.create_table(
        "domains",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        *_timestamps(),
    )
    op.create_table(
        "knowledge_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "domain_id",
            sa.Integer,
            sa.ForeignKey("domains.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("embedding", Vector(384)),
        *_timestamps(),
    )
    op.create_table(
        "agent_domains",
        sa.Column(
            "agent_id",
            sa.Integer,
            sa.ForeignKey("agent_configs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "domain_id",
            sa.Integer,
            sa.ForeignKey("domains.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("call_sid", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "agent_id",
            sa.Integer,
            sa.ForeignKey("agent_configs.id", ondelete="SET NULL"),
            index=True,
        ),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("from_number", sa.String(32), nullable=False),
        sa.Column("to_number", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("outcome", sa.String(64), index=True),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("agent_snapshot", JSONB, nullable=False),
        sa.Column("extracted_data", JSONB, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        *_timestamps(),
    )
    op.create_table(
        "call_turns",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "call_id", sa.Uuid, sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("interrupted", sa.Boolean, nullable=False),
        sa.Column("latency", JSONB, nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.UniqueConstraint("call_id", "seq"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("webhook_id", sa.String(100), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("call_id", sa.Uuid, sa.ForeignKey("calls.id", ondelete="SET NULL"), index=True),
        *_timestamps(),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "delivery_id",
            sa.Integer,
            sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column(
            "attempted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )

    # The starter templates, with their ids fixed so documents can say `"template_id": 1`.
    op.bulk_insert(
        templates,
        [
            {
                "id": t.id,
                "name": t.name,
                "description": t.description,
                "base_prompt": t.base_prompt,
                "default_voice": dict(t.default_voice),
                "default_settings": {},
            }
            for t in STARTER_TEMPLATES
        ],
    )
    op.execute(
        "SELECT setval(pg_get_serial_sequence('agent_templates', 'id'), "
        "(SELECT max(id) FROM agent_templates))"
    )


def downgrade() -> None:
    for table in (
        "api_keys",
        "webhook_attempts",
        "webhook_deliveries",
        "call_turns",
        "calls",
        "agent_domains",
        "knowledge_items",
        "domains",
        "agent_instructions",
        "agent_goals",
        "agent_configs",
        "voice_profiles",
        "conversation_goals",
        "agent_templates",
    ):
        op.drop_table(table)
    op.execute("DROP EXTENSION IF EXISTS vector")

"""Each knowledge item's sentences get vectors of their own (`knowledge_sentences`), searched
with the items' own: a caller's question is often about one sentence of an item.

Items indexed before this migration have no sentence vectors; retrieval scores them by their
whole vector alone until they are indexed again (an edit, or `callwright knowledge import`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_sentences",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column(
            "item_id",
            sa.Integer,
            sa.ForeignKey("knowledge_items.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "domain_id", sa.Integer, sa.ForeignKey("domains.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("embedding", Vector(384), nullable=False),
    )
    op.create_index("ix_knowledge_sentences_item_id", "knowledge_sentences", ["item_id"])
    op.create_index("ix_knowledge_sentences_domain_id", "knowledge_sentences", ["domain_id"])
    op.execute(
        "CREATE INDEX knowledge_sentences_embedding ON knowledge_sentences "
        "USING hnsw (embedding vector_cosine_ops)"
    )


def downgrade() -> None:
    op.drop_table("knowledge_sentences")

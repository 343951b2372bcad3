"""Knowledge items become searchable: a type (fact, process, policy), metadata, a content hash
that makes re-importing the same text a no-op, a full-text column kept by PostgreSQL, and the
indexes hybrid retrieval reads (HNSW for cosine distance on the embedding, GIN for the text).

Existing items are facts with empty metadata; their hash is computed here, and where a domain
holds the same text twice only the oldest keeps it (the others are removed: they were copies).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "knowledge_items",
        sa.Column("knowledge_type", sa.String(16), nullable=False, server_default="fact"),
    )
    op.add_column(
        "knowledge_items", sa.Column("metadata", JSONB, nullable=False, server_default="{}")
    )
    op.add_column("knowledge_items", sa.Column("content_hash", sa.String(64)))
    op.execute(
        "UPDATE knowledge_items "
        "SET content_hash = encode(sha256(convert_to(content, 'UTF8')), 'hex')"
    )
    op.execute(
        "DELETE FROM knowledge_items a USING knowledge_items b WHERE a.domain_id = b.domain_id "
        "AND a.content_hash = b.content_hash AND a.id > b.id"
    )
    op.alter_column("knowledge_items", "content_hash", nullable=False)
    op.create_unique_constraint(
        "knowledge_items_domain_id_content_hash_key",
        "knowledge_items",
        ["domain_id", "content_hash"],
    )
    op.execute(
        "ALTER TABLE knowledge_items ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(to_tsvector('english', coalesce(title, '') || ' ' || content)) STORED"
    )
    op.create_index("knowledge_items_search", "knowledge_items", ["search"], postgresql_using="gin")
    op.execute(
        "CREATE INDEX knowledge_items_embedding ON knowledge_items "
        "USING hnsw (embedding vector_cosine_ops)"
    )


def downgrade() -> None:
    op.drop_index("knowledge_items_embedding", "knowledge_items")
    op.drop_index("knowledge_items_search", "knowledge_items")
    op.drop_column("knowledge_items", "search")
    op.drop_constraint(
        "knowledge_items_domain_id_content_hash_key", "knowledge_items", type_="unique"
    )
    op.drop_column("knowledge_items", "content_hash")
    op.drop_column("knowledge_items", "metadata")
    op.drop_column("knowledge_items", "knowledge_type")

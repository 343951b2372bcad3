"""Version counters that caches key on, kept by PostgreSQL itself.

`organizations.config_version` goes up with every change to anything an agent's compiled prompt
is made of: the organization's agents, their goals, instructions and domain links, its goals
and domains, and the starter templates (shared: a change to one moves every organization on).
`domains.knowledge_version` goes up with every change to a domain's items, including a new
embedding (a pending item becomes findable). Triggers, not application code, keep them: every
writer (the API, the CLI, the indexer, a migration, psql) moves them in the same transaction as
its change, so a cache keyed on a version can never serve what that change replaced.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables with an organization_id of their own, and tables that belong to an agent.
_OWNED = ("agent_configs", "conversation_goals", "domains")
_OF_AN_AGENT = ("agent_goals", "agent_instructions", "agent_domains")


def upgrade() -> None:
    op.add_column(
        "organizations",
        sa.Column("config_version", sa.BigInteger, nullable=False, server_default="1"),
    )
    op.add_column(
        "domains",
        sa.Column("knowledge_version", sa.BigInteger, nullable=False, server_default="1"),
    )
    op.execute(
        """
        CREATE FUNCTION bump_config_version_owned() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE organizations SET config_version = config_version + 1
            WHERE id IN (
                SELECT (CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END).organization_id
                UNION SELECT OLD.organization_id WHERE TG_OP = 'UPDATE'
            );
            RETURN NULL;
        END $$;

        CREATE FUNCTION bump_config_version_of_agent() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE organizations SET config_version = config_version + 1
            WHERE id IN (
                SELECT organization_id FROM agent_configs
                WHERE id = (CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END).agent_id
            );
            RETURN NULL;
        END $$;

        -- Starter templates have no organization: they are everyone's.
        CREATE FUNCTION bump_config_version_template() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE org bigint := (CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END).organization_id;
        BEGIN
            UPDATE organizations SET config_version = config_version + 1
            WHERE org IS NULL OR id = org;
            RETURN NULL;
        END $$;

        -- Per statement: an import or an indexing batch moves each domain once, not per row.
        CREATE FUNCTION bump_knowledge_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                UPDATE domains SET knowledge_version = knowledge_version + 1
                WHERE id IN (SELECT domain_id FROM old_items);
            ELSE
                UPDATE domains SET knowledge_version = knowledge_version + 1
                WHERE id IN (SELECT domain_id FROM new_items);
            END IF;
            RETURN NULL;
        END $$;
        """
    )
    for table in _OWNED:
        # A domain's own knowledge_version moving (below) is no change to any prompt.
        update = "UPDATE OF name, description, organization_id" if table == "domains" else "UPDATE"
        op.execute(
            f"CREATE TRIGGER {table}_config_version AFTER INSERT OR {update} OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION bump_config_version_owned()"
        )
    for table in _OF_AN_AGENT:
        op.execute(
            f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION bump_config_version_of_agent()"
        )
    op.execute(
        "CREATE TRIGGER agent_templates_config_version AFTER INSERT OR UPDATE OR DELETE "
        "ON agent_templates FOR EACH ROW EXECUTE FUNCTION bump_config_version_template()"
    )
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        name = "old_items" if table == "OLD" else "new_items"
        op.execute(
            f"CREATE TRIGGER knowledge_items_version_{event.lower()} AFTER {event} "
            f"ON knowledge_items REFERENCING {table} TABLE AS {name} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_knowledge_version()"
        )


def downgrade() -> None:
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER knowledge_items_version_{event} ON knowledge_items")
    for table in (*_OWNED, *_OF_AN_AGENT, "agent_templates"):
        op.execute(f"DROP TRIGGER {table}_config_version ON {table}")
    for function in ("owned", "of_agent", "template"):
        op.execute(f"DROP FUNCTION bump_config_version_{function}()")
    op.execute("DROP FUNCTION bump_knowledge_version()")
    op.drop_column("domains", "knowledge_version")
    op.drop_column("organizations", "config_version")

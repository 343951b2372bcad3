"""SQLAlchemy 2 typed models: the platform's tables.

The seed named these concepts: agent_templates, conversation_goals (success_criteria,
required_data, completion_webhook), agent_instructions, domain knowledge, agent_goals,
agent_domains and agent_configs (template_id, custom_settings). Its schema was inconsistent in
two places, normalised here:

- `agent_configs` was referenced but never defined. It is the agent itself: a template plus the
  customisations that make the agent (name, voice, custom_settings). Every other agent table
  points at it through `agent_id`.
- `agent_domains` pointed at a single knowledge row, so an agent could only know one fact. A
  domain (`domains`) is now a named collection of knowledge items (`knowledge_items`, each with a
  `vector(384)` embedding for pgvector search); `agent_domains` links agents to whole domains.

Alongside: voice profiles, calls and their turns, webhook deliveries with every attempt, and API
keys (stored as hashes only). These are tables, never API schemas: the API has its own.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

EMBEDDING_DIMENSIONS = 384


class Base(DeclarativeBase):
    """Declarative base for every table."""

    type_annotation_map = {dict[str, Any]: JSONB, list[Any]: JSONB}


class TimestampMixin:
    """`created_at` and `updated_at`, kept by the database."""

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Organization(Base):
    """A business using the platform: it owns its agents, goals, domains, voices, calls and keys,
    and sets the limits that protect it (outbound-call prefixes and quota, retention)."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    """Days a finished call's transcript, data and webhook payloads are kept; None = forever."""
    allowed_call_prefixes: Mapped[list[Any]] = mapped_column(default=list)
    """E.164 prefixes outbound calls may dial (`+1`, `+4420`); empty = no outbound calls."""
    calls_per_hour: Mapped[int] = mapped_column(Integer, default=20)
    allow_private_webhooks: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether webhook URLs may point at private, loopback or link-local addresses."""
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    """API requests each of the organization's keys may make per minute."""
    config_version: Mapped[int] = mapped_column(BigInteger, server_default="1")
    """Moved by PostgreSQL on any change an agent's compiled prompt is made of (migration
    0009); the compiled-agent cache keys on it."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AgentTemplate(TimestampMixin, Base):
    """A starting point for agents: a base prompt and a default voice."""

    __tablename__ = "agent_templates"
    # Starter templates have no organization: shared by all, read-only. NULLS NOT DISTINCT (in
    # migration 0006) keeps an organization's names apart from theirs.
    __table_args__ = (
        UniqueConstraint("organization_id", "name", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    base_prompt: Mapped[str] = mapped_column(Text)
    default_voice: Mapped[dict[str, Any]] = mapped_column(default=dict)
    default_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConversationGoal(TimestampMixin, Base):
    """A goal agents can share: success criteria over the data it requires.

    `required_data` holds a list of field objects (`core.agents.spec.DataField`); the seed's bare
    names are expanded to typed fields on the way in.
    """

    __tablename__ = "conversation_goals"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # JSON, not JSONB: JSONB reorders keys, and the author's order of criteria is worth keeping.
    success_criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required_data: Mapped[list[Any]] = mapped_column(default=list)
    completion_webhook: Mapped[str | None] = mapped_column(String(2000))


class AgentConfig(TimestampMixin, Base):
    """An agent: a template plus its customisations (the seed's `agent_configs`)."""

    __tablename__ = "agent_configs"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    template_id: Mapped[int] = mapped_column(ForeignKey("agent_templates.id", ondelete="RESTRICT"))
    base_prompt: Mapped[str | None] = mapped_column(Text)
    greeting: Mapped[str | None] = mapped_column(Text)
    voice: Mapped[dict[str, Any]] = mapped_column(default=dict)
    custom_settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    voice_profile_id: Mapped[int | None] = mapped_column(
        ForeignKey("voice_profiles.id", ondelete="SET NULL")
    )
    # Where `call.completed` goes, and the call timers (seconds).
    webhook_urls: Mapped[list[Any]] = mapped_column(default=list)
    # Inbound calls to these numbers (E.164) reach this agent; a number belongs to one agent.
    phone_numbers: Mapped[list[Any]] = mapped_column(default=list)
    max_call_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    inactivity_seconds: Mapped[int] = mapped_column(Integer, default=120)

    template: Mapped[AgentTemplate] = relationship(lazy="raise")
    goal_links: Mapped[list[AgentGoal]] = relationship(
        back_populates="agent",
        cascade="all, delete-orphan",
        order_by="AgentGoal.position",
        lazy="raise",
    )
    instructions: Mapped[list[AgentInstruction]] = relationship(
        back_populates="agent",
        cascade="all, delete-orphan",
        order_by="(AgentInstruction.priority.desc(), AgentInstruction.id)",
        lazy="raise",
    )
    domain_links: Mapped[list[AgentDomain]] = relationship(
        back_populates="agent", cascade="all, delete-orphan", lazy="raise"
    )


class AgentGoal(Base):
    """Which goals an agent pursues, in order."""

    __tablename__ = "agent_goals"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agent_configs.id", ondelete="CASCADE"), primary_key=True
    )
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("conversation_goals.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    agent: Mapped[AgentConfig] = relationship(back_populates="goal_links", lazy="raise")
    goal: Mapped[ConversationGoal] = relationship(lazy="raise")


class AgentInstruction(TimestampMixin, Base):
    """One do or don't of an agent; higher priority comes first in the prompt."""

    __tablename__ = "agent_instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agent_configs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    topic: Mapped[str | None] = mapped_column(String(200))

    agent: Mapped[AgentConfig] = relationship(back_populates="instructions", lazy="raise")


class Domain(TimestampMixin, Base):
    """A named body of domain knowledge (a clinic's services, a product's plans)."""

    __tablename__ = "domains"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    knowledge_version: Mapped[int] = mapped_column(BigInteger, server_default="1")
    """Moved by PostgreSQL on any change to the domain's items, new embeddings included
    (migration 0009); cached retrieval results key on it."""

    items: Mapped[list[KnowledgeItem]] = relationship(
        back_populates="domain", cascade="all, delete-orphan", lazy="raise"
    )


def content_hash(content: str) -> str:
    """How a knowledge item's text is known to be the same as another's (SHA-256, hex)."""
    return hashlib.sha256(content.encode()).hexdigest()


class KnowledgeSentence(Base):
    """One sentence of a knowledge item with its own embedding: a caller's question is often
    about one sentence of an item ("what's the latest appointment?" ↔ "The last appointment of
    the day starts at 5:15 pm."), which the whole item's vector blurs. Written by the indexer
    with the item's vector; removed with the item."""

    __tablename__ = "knowledge_sentences"
    __table_args__ = (
        Index(
            "knowledge_sentences_embedding",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_items.id", ondelete="CASCADE"), index=True
    )
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIMENSIONS))


class KnowledgeItem(TimestampMixin, Base):
    """One piece of knowledge in a domain, with its embedding for similarity search and a
    full-text column (kept by PostgreSQL) for keyword search; the same text is stored once per
    domain (`content_hash`)."""

    __tablename__ = "knowledge_items"
    __table_args__ = (
        UniqueConstraint("domain_id", "content_hash"),
        Index("knowledge_items_search", "search", postgresql_using="gin"),
        Index(
            "knowledge_items_embedding",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    content: Mapped[str] = mapped_column(Text)
    embedding: Mapped[list[float] | None] = mapped_column(Vector(EMBEDDING_DIMENSIONS))
    knowledge_type: Mapped[str] = mapped_column(String(16), default="fact")
    """`fact`, `process` or `policy` (`core.knowledge.KnowledgeType`)."""
    item_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    search: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed("to_tsvector('english', coalesce(title, '') || ' ' || content)", persisted=True),
    )

    domain: Mapped[Domain] = relationship(back_populates="items", lazy="raise")

    @validates("content")
    def _hash_content(self, _key: str, content: str) -> str:
        # Whoever sets the text sets its hash: the same text is one item per domain.
        self.content_hash = content_hash(content)
        return content

    @property
    def embedded(self) -> bool:
        """Whether the item has its embedding yet (search only finds embedded items)."""
        return self.embedding is not None


class AgentDomain(Base):
    """Which domains an agent knows."""

    __tablename__ = "agent_domains"

    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agent_configs.id", ondelete="CASCADE"), primary_key=True
    )
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True
    )

    agent: Mapped[AgentConfig] = relationship(back_populates="domain_links", lazy="raise")
    domain: Mapped[Domain] = relationship(lazy="raise")


class VoiceProfile(TimestampMixin, Base):
    """A voice an agent can speak with: an engine, and for cloning engines a reference clip."""

    __tablename__ = "voice_profiles"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    engine: Mapped[str] = mapped_column(String(40))
    reference_audio_path: Mapped[str | None] = mapped_column(String(1000))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Call(TimestampMixin, Base):
    """One phone call; its durable record is the `call-<CallSid>` workflow."""

    __tablename__ = "calls"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("agent_configs.id", ondelete="SET NULL"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    from_number: Mapped[str] = mapped_column(String(255), default="")
    to_number: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(32), default="in_progress", index=True)
    outcome: Mapped[str | None] = mapped_column(String(64), index=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    agent_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extracted_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[str | None] = mapped_column(Text)
    end_reason: Mapped[str | None] = mapped_column(String(64))
    analysis: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CallTurn(Base):
    """One turn of a call's transcript, unique by its sequence number."""

    __tablename__ = "call_turns"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    interrupted: Mapped[bool] = mapped_column(Boolean, default=False)
    latency: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookDelivery(TimestampMixin, Base):
    """One event for one receiver; `webhook_id` is the same on every attempt."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(100), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    call_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )

    attempts: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery",
        cascade="all, delete-orphan",
        order_by="WebhookAttempt.number",
        lazy="raise",
    )


class WebhookAttempt(Base):
    """One attempt to deliver a webhook: what came back and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempts", lazy="raise")


class ApiKey(Base):
    """An admin API key. Only its SHA-256 is stored; `prefix` lets people tell keys apart."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    """What the key may do (`core.auth.Scope` values); `admin` may do everything."""
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One change made through the API: who (key), what (method and path), and its outcome."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("audit_events_organization_id_at", "organization_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    key_name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    status_code: Mapped[int] = mapped_column(Integer)
    client: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WebhookEndpoint(Base):
    """Where an organization's webhooks go (one URL), with the secret they are signed with.

    During a rotation the previous secret keeps signing alongside the new one until
    `previous_secret_expires_at`, so receivers can switch without losing a webhook."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("organization_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

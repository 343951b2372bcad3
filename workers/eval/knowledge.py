"""Knowledge for simulated calls: a domain file loaded into real PostgreSQL with pgvector, so a
scenario's questions are answered by the same retrieval a phone call uses.

A domain file is `examples/knowledge/<name>.json`: `{"domain": {"name", "description"},
"items": [{"key", "knowledge_type", "content", "metadata": {"title", …}}]}`. `load_domain_file`
stores one through `KnowledgeBase` (split, deduplicated, embedded); `KnowledgeWorld` starts a
private embedded PostgreSQL for `callwright eval` and loads the files its scenarios name.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.agents.snapshot import AgentSnapshot, DomainSnapshot
from core.context import ContextManager, KnowledgeSearch
from core.db import migrate
from core.db.models import Domain
from core.db.session import make_async_engine, make_sessionmaker
from core.knowledge import KnowledgeBase, KnowledgeType
from core.organizations import default_organization
from workers.services.base import find_free_port
from workers.services.postgres import EmbeddedPostgres

KNOWLEDGE_DIR = Path(__file__).resolve().parents[2] / "examples" / "knowledge"


def knowledge_path(name: str) -> Path:
    """Where the domain file named `name` lives: `examples/knowledge/<name>.json`."""
    return KNOWLEDGE_DIR / f"{name}.json"


@dataclass(frozen=True)
class LoadedDomain:
    """A domain file as stored: the domain, and each stored item's key in the file."""

    domain: DomainSnapshot
    keys: dict[int, str] = field(default_factory=dict)


async def load_domain_file(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    *,
    organization_id: int | None = None,
    name: str | None = None,
) -> LoadedDomain:
    """Store the domain file at `path` (as `name`, else the file's own name) in the organization
    (the default one unless given), embed its items, and return it. Loading it again adds
    nothing: items are stored once per domain."""
    document: dict[str, Any] = json.loads(path.read_text())  # noqa: ASYNC240 - a small file, read once
    async with sessions() as session:
        if organization_id is None:
            organization_id = (await default_organization(session)).id
        domain_name = name or str(document["domain"]["name"])
        domain = await session.scalar(
            select(Domain).where(
                Domain.organization_id == organization_id, Domain.name == domain_name
            )
        )
        if domain is None:
            domain = Domain(
                organization_id=organization_id,
                name=domain_name,
                description=str(document["domain"].get("description", "")),
            )
            session.add(domain)
            await session.commit()
        knowledge = KnowledgeBase(session)
        keys: dict[int, str] = {}
        for item in document["items"]:
            metadata = dict(item.get("metadata") or {})
            created, _ = await knowledge.add_knowledge(
                domain.id,
                item["content"],
                knowledge_type=KnowledgeType(item.get("knowledge_type", "fact")),
                metadata={**metadata, "key": item.get("key", "")},
                title=str(metadata.get("title", "")),
            )
            keys.update(dict.fromkeys(created, str(item.get("key", ""))))
        await knowledge.embed_pending(domain_ids=[domain.id])
        snapshot = DomainSnapshot(id=domain.id, name=domain.name, description=domain.description)
        return LoadedDomain(snapshot, keys)


def with_domains(agent: AgentSnapshot, domains: Iterable[DomainSnapshot]) -> AgentSnapshot:
    """`agent` knowing `domains` (in place of the domains its document names)."""
    return agent.model_copy(update={"domains": list(domains)})


class KnowledgeWorld:
    """A private embedded PostgreSQL holding the domain files some scenarios use.

    `async with KnowledgeWorld(["dental_clinic"]) as world:` … `world.context_for(agent, name)`.
    """

    def __init__(self, names: Iterable[str], *, data_dir: Path | None = None) -> None:
        self.names = sorted(set(names))
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._data_dir = data_dir
        self._postgres: EmbeddedPostgres | None = None
        self._engine: AsyncEngine | None = None
        self.search: KnowledgeSearch | None = None
        self.domains: dict[str, DomainSnapshot] = {}

    async def __aenter__(self) -> KnowledgeWorld:
        if not self.names:
            return self
        if self._data_dir is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="callwright-eval-")
            self._data_dir = Path(self._temporary.name)
        self._postgres = EmbeddedPostgres(self._data_dir / "postgres", find_free_port(), fast=True)
        self._postgres.start()
        migrate.upgrade(self._postgres.database_url)
        self._engine = make_async_engine(self._postgres.database_url, pool_size=2)
        sessions = make_sessionmaker(self._engine)
        for name in self.names:
            loaded = await load_domain_file(sessions, knowledge_path(name))
            self.domains[name] = loaded.domain
        self.search = KnowledgeSearch(sessions)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        if self._postgres is not None:
            self._postgres.stop()
        if self._temporary is not None:
            self._temporary.cleanup()

    def agent_with(self, agent: AgentSnapshot, name: str) -> AgentSnapshot:
        """`agent` with the loaded domain `name` as its knowledge."""
        return with_domains(agent, [self.domains[name]])

    def context_for(self, agent: AgentSnapshot) -> ContextManager:
        """A call's context for `agent`, searching this world's database."""
        return ContextManager(agent, search=self.search, timeout_s=5.0)

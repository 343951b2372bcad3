"""`/api/domains`: bodies of domain knowledge, and the items in them (adding knowledge, its
indexing progress and search are in `api.routes.knowledge`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentKey, IdPath, SessionDep, authorize, get_owned
from api.indexing import index_domain
from api.schemas.domains import (
    DomainCreate,
    DomainPublic,
    DomainUpdate,
    KnowledgeItemPublic,
    KnowledgeItemUpdate,
)
from core.auth import Scope
from core.db.models import Domain, KnowledgeItem
from core.errors import ConflictError, NotFoundError

router = APIRouter(
    prefix="/api/domains", tags=["domains"], dependencies=[Depends(authorize(Scope.AGENTS_WRITE))]
)


async def get_domain_or_404(session: SessionDep, key: CurrentKey, domain_id: IdPath) -> Domain:
    """The organization's domain, or NotFoundError."""
    return await get_owned(session, Domain, domain_id, key, kind="domain")


async def _ensure_name_free(
    session: SessionDep, key: CurrentKey, name: str, *, except_id: int | None = None
) -> None:
    taken = await session.scalar(
        select(Domain.id).where(Domain.name == name, Domain.organization_id == key.organization_id)
    )
    if taken is not None and taken != except_id:
        raise ConflictError(f"a domain named {name!r} already exists", field="name")


async def _get_item(
    session: SessionDep, key: CurrentKey, domain_id: IdPath, item_id: IdPath
) -> KnowledgeItem:
    await get_domain_or_404(session, key, domain_id)
    item = await session.get(KnowledgeItem, item_id)
    if item is None or item.domain_id != domain_id:
        raise NotFoundError("knowledge item", item_id)
    return item


@router.get("", response_model=list[DomainPublic])
async def list_domains(session: SessionDep, key: CurrentKey) -> list[Domain]:
    """Every domain of the organization."""
    return list(
        await session.scalars(
            select(Domain).where(Domain.organization_id == key.organization_id).order_by(Domain.id)
        )
    )


@router.post("", response_model=DomainPublic, status_code=status.HTTP_201_CREATED)
async def create_domain(session: SessionDep, key: CurrentKey, body: DomainCreate) -> Domain:
    """Add a domain."""
    await _ensure_name_free(session, key, body.name)
    domain = Domain(organization_id=key.organization_id, **body.model_dump())
    session.add(domain)
    await session.commit()
    return domain


@router.get("/{domain_id}", response_model=DomainPublic)
async def get_domain(session: SessionDep, key: CurrentKey, domain_id: IdPath) -> Domain:
    """One domain."""
    return await get_domain_or_404(session, key, domain_id)


@router.patch("/{domain_id}", response_model=DomainPublic)
async def update_domain(
    session: SessionDep, key: CurrentKey, domain_id: IdPath, body: DomainUpdate
) -> Domain:
    """Change the fields given."""
    domain = await get_domain_or_404(session, key, domain_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if "name" in changes:
        await _ensure_name_free(session, key, changes["name"], except_id=domain_id)
    for field, value in changes.items():
        setattr(domain, field, value)
    await session.commit()
    await session.refresh(domain)
    return domain


@router.delete("/{domain_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_domain(session: SessionDep, key: CurrentKey, domain_id: IdPath) -> None:
    """Remove a domain, its items and its links to agents."""
    await session.delete(await get_domain_or_404(session, key, domain_id))
    await session.commit()


@router.get("/{domain_id}/knowledge", response_model=list[KnowledgeItemPublic])
async def list_items(
    session: SessionDep, key: CurrentKey, domain_id: IdPath
) -> list[KnowledgeItem]:
    """The items of a domain."""
    await get_domain_or_404(session, key, domain_id)
    rows = await session.scalars(
        select(KnowledgeItem).where(KnowledgeItem.domain_id == domain_id).order_by(KnowledgeItem.id)
    )
    return list(rows)


async def ensure_new_content(session: AsyncSession, item: KnowledgeItem) -> None:
    """The same text is stored once per domain: a second copy is a 409 naming the first."""
    with session.no_autoflush:  # the changed item itself must not be written first
        same = await session.scalar(
            select(KnowledgeItem.id).where(
                KnowledgeItem.domain_id == item.domain_id,
                KnowledgeItem.content_hash == item.content_hash,
                KnowledgeItem.id != item.id if item.id is not None else True,
            )
        )
    if same is not None:
        raise ConflictError(f"knowledge item {same} holds the same content", field="content")


@router.get("/{domain_id}/knowledge/{item_id}", response_model=KnowledgeItemPublic)
async def get_item(
    session: SessionDep, key: CurrentKey, domain_id: IdPath, item_id: IdPath
) -> KnowledgeItem:
    """One item."""
    return await _get_item(session, key, domain_id, item_id)


@router.patch("/{domain_id}/knowledge/{item_id}", response_model=KnowledgeItemPublic)
async def update_item(
    request: Request,
    session: SessionDep,
    key: CurrentKey,
    domain_id: IdPath,
    item_id: IdPath,
    body: KnowledgeItemUpdate,
) -> KnowledgeItem:
    """Change the fields given; changed content or title loses its embedding, and the
    domain's indexer computes the new one."""
    item = await _get_item(session, key, domain_id, item_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    for field, value in changes.items():
        setattr(item, field, value)
    reindex = "content" in changes or "title" in changes
    if reindex:
        item.embedding = None
    if "content" in changes:
        await ensure_new_content(session, item)
    await session.commit()
    await session.refresh(item)
    if reindex:
        await index_domain(request, domain_id)
    return item


@router.delete("/{domain_id}/knowledge/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(
    session: SessionDep, key: CurrentKey, domain_id: IdPath, item_id: IdPath
) -> None:
    """Remove an item."""
    await session.delete(await _get_item(session, key, domain_id, item_id))
    await session.commit()

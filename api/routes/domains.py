"""`/api/domains`: bodies of domain knowledge, and the items in them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from api.deps import IdPath, SessionDep, get_current_key
from api.schemas.domains import (
    DomainCreate,
    DomainPublic,
    DomainUpdate,
    KnowledgeItemCreate,
    KnowledgeItemPublic,
    KnowledgeItemUpdate,
)
from core.db.models import Domain, KnowledgeItem
from core.errors import ConflictError, NotFoundError

router = APIRouter(prefix="/api/domains", tags=["domains"], dependencies=[Depends(get_current_key)])


async def get_domain_or_404(session: SessionDep, domain_id: IdPath) -> Domain:
    """The domain, or NotFoundError."""
    domain = await session.get(Domain, domain_id)
    if domain is None:
        raise NotFoundError("domain", domain_id)
    return domain


async def _ensure_name_free(
    session: SessionDep, name: str, *, except_id: int | None = None
) -> None:
    taken = await session.scalar(select(Domain.id).where(Domain.name == name))
    if taken is not None and taken != except_id:
        raise ConflictError(f"a domain named {name!r} already exists", field="name")


async def _get_item(session: SessionDep, domain_id: IdPath, item_id: IdPath) -> KnowledgeItem:
    item = await session.get(KnowledgeItem, item_id)
    if item is None or item.domain_id != domain_id:
        raise NotFoundError("knowledge item", item_id)
    return item


@router.get("", response_model=list[DomainPublic])
async def list_domains(session: SessionDep) -> list[Domain]:
    """Every domain."""
    return list(await session.scalars(select(Domain).order_by(Domain.id)))


@router.post("", response_model=DomainPublic, status_code=status.HTTP_201_CREATED)
async def create_domain(session: SessionDep, body: DomainCreate) -> Domain:
    """Add a domain."""
    await _ensure_name_free(session, body.name)
    domain = Domain(**body.model_dump())
    session.add(domain)
    await session.commit()
    return domain


@router.get("/{domain_id}", response_model=DomainPublic)
async def get_domain(session: SessionDep, domain_id: IdPath) -> Domain:
    """One domain."""
    return await get_domain_or_404(session, domain_id)


@router.patch("/{domain_id}", response_model=DomainPublic)
async def update_domain(session: SessionDep, domain_id: IdPath, body: DomainUpdate) -> Domain:
    """Change the fields given."""
    domain = await get_domain_or_404(session, domain_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if "name" in changes:
        await _ensure_name_free(session, changes["name"], except_id=domain_id)
    for field, value in changes.items():
        setattr(domain, field, value)
    await session.commit()
    await session.refresh(domain)
    return domain


@router.delete("/{domain_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_domain(session: SessionDep, domain_id: IdPath) -> None:
    """Remove a domain, its items and its links to agents."""
    await session.delete(await get_domain_or_404(session, domain_id))
    await session.commit()


@router.get("/{domain_id}/knowledge", response_model=list[KnowledgeItemPublic])
async def list_items(session: SessionDep, domain_id: IdPath) -> list[KnowledgeItem]:
    """The items of a domain."""
    await get_domain_or_404(session, domain_id)
    rows = await session.scalars(
        select(KnowledgeItem).where(KnowledgeItem.domain_id == domain_id).order_by(KnowledgeItem.id)
    )
    return list(rows)


@router.post(
    "/{domain_id}/knowledge",
    response_model=KnowledgeItemPublic,
    status_code=status.HTTP_201_CREATED,
)
async def create_item(
    session: SessionDep, domain_id: IdPath, body: KnowledgeItemCreate
) -> KnowledgeItem:
    """Add an item. Its embedding is computed by the knowledge indexer (`embedded` says when)."""
    await get_domain_or_404(session, domain_id)
    item = KnowledgeItem(domain_id=domain_id, **body.model_dump())
    session.add(item)
    await session.commit()
    return item


@router.get("/{domain_id}/knowledge/{item_id}", response_model=KnowledgeItemPublic)
async def get_item(session: SessionDep, domain_id: IdPath, item_id: IdPath) -> KnowledgeItem:
    """One item."""
    return await _get_item(session, domain_id, item_id)


@router.patch("/{domain_id}/knowledge/{item_id}", response_model=KnowledgeItemPublic)
async def update_item(
    session: SessionDep, domain_id: IdPath, item_id: IdPath, body: KnowledgeItemUpdate
) -> KnowledgeItem:
    """Change the fields given; changed content loses its embedding until re-indexed."""
    item = await _get_item(session, domain_id, item_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    for field, value in changes.items():
        setattr(item, field, value)
    if "content" in changes or "title" in changes:
        item.embedding = None
    await session.commit()
    await session.refresh(item)
    return item


@router.delete("/{domain_id}/knowledge/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(session: SessionDep, domain_id: IdPath, item_id: IdPath) -> None:
    """Remove an item."""
    await session.delete(await _get_item(session, domain_id, item_id))
    await session.commit()

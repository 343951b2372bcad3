"""The key's own organization: its limits (`/api/organization`), its API keys (`/api/keys`) and
the audit log of every change made through the API (`/api/audit`). Reading the organization
needs any key; the rest is for `admin` keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import select

from api.deps import AdminKey, CurrentKey, IdPath, SessionDep, get_current_key, get_owned
from api.schemas.organizations import (
    AuditEventPublic,
    KeyCreate,
    KeyCreated,
    KeyPublic,
    OrganizationPublic,
    OrganizationUpdate,
)
from core.auth import create_api_key, hash_api_key
from core.db.models import ApiKey, AuditEvent, Organization

router = APIRouter(tags=["organization"], dependencies=[Depends(get_current_key)])

AUDIT_PAGE_MAX = 500


async def _organization(session: SessionDep, key: CurrentKey) -> Organization:
    organization = await session.get(Organization, key.organization_id)
    assert organization is not None  # a key goes with its organization
    return organization


@router.get("/api/organization", response_model=OrganizationPublic)
async def get_organization(session: SessionDep, key: CurrentKey) -> Organization:
    """The organization this key belongs to, with its limits."""
    return await _organization(session, key)


@router.patch("/api/organization", response_model=OrganizationPublic)
async def update_organization(
    session: SessionDep, key: AdminKey, body: OrganizationUpdate
) -> Organization:
    """Change the limits given."""
    organization = await _organization(session, key)
    for field, value in body.model_dump(exclude_unset=True).items():
        if value is None and field != "retention_days":
            continue  # an explicit null cannot clear a required column
        setattr(organization, field, value)
    await session.commit()
    await session.refresh(organization)
    return organization


@router.get("/api/keys", response_model=list[KeyPublic])
async def list_keys(session: SessionDep, key: AdminKey) -> list[ApiKey]:
    """The organization's keys, revoked and expired ones too."""
    return list(
        await session.scalars(
            select(ApiKey).where(ApiKey.organization_id == key.organization_id).order_by(ApiKey.id)
        )
    )


@router.post("/api/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
async def create_key(session: SessionDep, key: AdminKey, body: KeyCreate) -> KeyCreated:
    """A new key for this organization. The response holds the key: it is never shown again."""
    if body.expires_at is not None:
        if body.expires_at.tzinfo is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["body", "expires_at"], "msg": "give a timezone", "type": "value_error"}],
            )
        if body.expires_at <= datetime.now(UTC):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["body", "expires_at"], "msg": "is in the past", "type": "value_error"}],
            )
    plaintext = await create_api_key(
        session,
        name=body.name,
        organization_id=key.organization_id,
        scopes=body.scopes,
        expires_at=body.expires_at,
    )
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(plaintext)))
    assert row is not None
    return KeyCreated.model_validate(
        {**KeyPublic.model_validate(row).model_dump(), "key": plaintext}
    )


@router.delete("/api/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(session: SessionDep, key: AdminKey, key_id: IdPath) -> None:
    """Revoke a key: requests with it get 401 from now on (revoking twice is harmless)."""
    row = await get_owned(session, ApiKey, key_id, key, kind="API key")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        await session.commit()


@router.get("/api/audit", response_model=list[AuditEventPublic])
async def list_audit_events(
    session: SessionDep,
    key: AdminKey,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> list[AuditEvent]:
    """The organization's changes, newest first; page with `before_id` (the last id seen)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.organization_id == key.organization_id)
        .order_by(AuditEvent.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(await session.scalars(query))

"""`/api/webhooks/endpoints`: an organization's webhook URLs and their signing secrets.

Listing shows secrets masked; `GET …/{id}/secret` shows one whole, and `POST …/{id}/rotate`
replaces it (the old one keeps signing alongside for `WEBHOOK_ROTATION_GRACE_S`); both need the
`webhooks:write` scope. Another organization's endpoint answers 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select

from api.deps import CurrentKey, IdPath, SessionDep, authorize, get_owned, require_scope
from api.schemas.webhooks import EndpointPublic, EndpointRotate, EndpointSecret
from core.auth import Scope
from core.db.models import WebhookEndpoint
from core.settings import Settings
from core.webhooks.endpoints import masked, rotate, signing_secrets

router = APIRouter(
    prefix="/api/webhooks/endpoints",
    tags=["webhooks"],
    dependencies=[Depends(authorize(Scope.WEBHOOKS_WRITE))],
)
SecretKey = Depends(require_scope(Scope.WEBHOOKS_WRITE))


def _public(endpoint: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic(
        id=endpoint.id,
        url=endpoint.url,
        secret_masked=masked(endpoint.secret),
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
        rotated_at=endpoint.rotated_at,
    )


def _secret(endpoint: WebhookEndpoint) -> EndpointSecret:
    keys = signing_secrets(endpoint, datetime.now(UTC))
    return EndpointSecret(
        secret=keys[0],
        previous_secret=keys[1] if len(keys) > 1 else None,
        previous_secret_expires_at=endpoint.previous_secret_expires_at if len(keys) > 1 else None,
    )


@router.get("", response_model=list[EndpointPublic])
async def list_endpoints(session: SessionDep, key: CurrentKey) -> list[EndpointPublic]:
    """The organization's endpoints, secrets masked."""
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == key.organization_id)
        .order_by(WebhookEndpoint.id)
    )
    return [_public(row) for row in rows]


@router.get("/{endpoint_id}/secret", response_model=EndpointSecret, dependencies=[SecretKey])
async def get_secret(session: SessionDep, key: CurrentKey, endpoint_id: IdPath) -> EndpointSecret:
    """The endpoint's signing secret (and the previous one while it still signs)."""
    endpoint = await get_owned(session, WebhookEndpoint, endpoint_id, key, kind="webhook endpoint")
    return _secret(endpoint)


@router.post("/{endpoint_id}/rotate", response_model=EndpointSecret, dependencies=[SecretKey])
async def rotate_secret(
    session: SessionDep,
    key: CurrentKey,
    request: Request,
    endpoint_id: IdPath,
    body: EndpointRotate | None = None,
) -> EndpointSecret:
    """A new secret signs from now on; the old one signs alongside for the grace period."""
    endpoint = await get_owned(session, WebhookEndpoint, endpoint_id, key, kind="webhook endpoint")
    settings: Settings = request.app.state.settings
    rotate(
        endpoint,
        now=datetime.now(UTC),
        grace=timedelta(seconds=settings.webhook_rotation_grace_s),
        secret=body.secret if body else None,
    )
    await session.commit()
    return _secret(endpoint)

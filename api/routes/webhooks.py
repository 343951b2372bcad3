"""`/api/webhooks/deliveries`: every webhook sent, its attempts, and replay of dead letters.

A delivery belongs to the organization of the call it tells about. `?call=` (a CallSid or the
call's id) lists one call's deliveries: the web console shows what its test call sent."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload
from temporalio.client import Client

from api.deps import CurrentKey, IdPath, SessionDep, authorize
from api.schemas.calls import DeliveryPublic
from core.auth import Scope
from core.calls.types import DeliveryInput, WebhookEvent
from core.db.models import Call, WebhookDelivery
from core.errors import ConflictError, NotFoundError

router = APIRouter(
    prefix="/api/webhooks/deliveries",
    tags=["webhooks"],
    dependencies=[Depends(authorize(Scope.WEBHOOKS_WRITE))],
)


def _owned_by(key: CurrentKey) -> Any:
    """Deliveries of the key's organization (through their call)."""
    return WebhookDelivery.call_id.in_(
        select(Call.id).where(Call.organization_id == key.organization_id)
    )


async def _get(session: SessionDep, key: CurrentKey, delivery_id: int) -> WebhookDelivery:
    delivery = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, _owned_by(key))
        .options(selectinload(WebhookDelivery.attempts))
    )
    if delivery is None:
        raise NotFoundError("webhook delivery", delivery_id)
    return delivery


@router.get("", response_model=list[DeliveryPublic])
async def list_deliveries(
    session: SessionDep,
    key: CurrentKey,
    delivery_status: Annotated[
        str | None, Query(alias="status", pattern="^(pending|delivered|failed)$")
    ] = None,
    call: Annotated[
        str | None, Query(min_length=1, max_length=64, description="call id or CallSid")
    ] = None,
) -> list[WebhookDelivery]:
    """Deliveries, newest first; `?status=failed` lists the dead letters, `?call=` one call's."""
    query = (
        select(WebhookDelivery)
        .where(_owned_by(key))
        .options(selectinload(WebhookDelivery.attempts))
        .order_by(WebhookDelivery.id.desc())
        .limit(500)
    )
    if delivery_status is not None:
        query = query.where(WebhookDelivery.status == delivery_status)
    if call is not None:
        try:
            named = Call.id == uuid.UUID(call)
        except ValueError:
            named = Call.call_sid == call
        # Still within the key's organization (`_owned_by`): another's call lists nothing.
        query = query.where(WebhookDelivery.call_id.in_(select(Call.id).where(named)))
    return list(await session.scalars(query))


@router.get("/{delivery_id}", response_model=DeliveryPublic)
async def get_delivery(
    session: SessionDep, key: CurrentKey, delivery_id: IdPath
) -> WebhookDelivery:
    """One delivery with every attempt."""
    return await _get(session, key, delivery_id)


@router.post("/{delivery_id}/replay", response_model=DeliveryPublic, status_code=202)
async def replay_delivery(
    session: SessionDep, key: CurrentKey, request: Request, delivery_id: IdPath
) -> WebhookDelivery:
    """Send a failed delivery again, with the same `webhook-id` so receivers can dedupe."""
    delivery = await _get(session, key, delivery_id)
    # Claim it first: of two concurrent replays only one turns `failed` into `pending`.
    claimed = await session.scalar(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "failed")
        .values(status="pending")
        .returning(WebhookDelivery.id)
    )
    await session.commit()
    if claimed is None:
        raise ConflictError(f"delivery {delivery_id} is {delivery.status}; only failed ones replay")
    client: Client = await request.app.state.temporal.get()
    await client.start_workflow(
        "WebhookDeliveryWorkflow",
        DeliveryInput(
            webhook_id=delivery.webhook_id,
            event_type=WebhookEvent(delivery.event_type),
            url=delivery.url,
            payload=delivery.payload,
            organization_id=key.organization_id,
        ),
        id=f"webhook-{delivery.webhook_id}-replay-{uuid.uuid4().hex[:8]}",
        task_queue=request.app.state.settings.temporal_task_queue,
    )
    return await _get(session, key, delivery_id)

"""Webhook endpoints: an organization's URL and the secrets its webhooks are signed with.

Each endpoint has its own secret (a receiver can forge nothing to another's endpoint), created
with the endpoint, when an agent or goal first names the URL or when a webhook first goes there.
Rotating makes a fresh (or given) secret current and keeps the old one signing alongside for a
grace period, so a receiver switches secrets without losing a webhook.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import WebhookEndpoint
from core.webhooks.signing import check_secret, new_secret

MASK_KEEP = 4


class Secrets(Protocol):
    """An endpoint's secrets: the row, or a copy of it a worker remembers."""

    @property
    def secret(self) -> str: ...
    @property
    def previous_secret(self) -> str | None: ...
    @property
    def previous_secret_expires_at(self) -> datetime | None: ...


async def ensure_endpoint(
    session: AsyncSession, *, organization_id: int, url: str
) -> WebhookEndpoint:
    """The organization's endpoint for `url`, created (with a fresh secret) if it is new.
    Concurrent callers get the same row. The caller commits."""
    await session.execute(
        insert(WebhookEndpoint)
        .values(organization_id=organization_id, url=url, secret=new_secret())
        .on_conflict_do_nothing(index_elements=["organization_id", "url"])
    )
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.url == url
        )
    )
    assert endpoint is not None
    return endpoint


def signing_secrets(endpoint: Secrets, now: datetime) -> list[str]:
    """The secrets a webhook to `endpoint` is signed with now: the current one, and the
    previous one while its grace period lasts."""
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        keys.append(endpoint.previous_secret)
    return keys


def rotate(
    endpoint: WebhookEndpoint, *, now: datetime, grace: timedelta, secret: str | None = None
) -> str:
    """Make `secret` (checked; a fresh one if None) current; the old one signs alongside until
    `now + grace`. A secret still in an earlier grace period is dropped. Returns the new one."""
    fresh = check_secret(secret) if secret is not None else new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + grace
    endpoint.secret = fresh
    endpoint.rotated_at = now
    return fresh


def masked(secret: str) -> str:
    """`whsec_abcd…`: enough to tell secrets apart, nothing to sign with."""
    return secret[: len("whsec_") + MASK_KEEP] + "…"

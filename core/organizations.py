"""Organizations: the businesses sharing one Callwright. Each owns its agents, goals, domains,
voices, calls and keys, and sets the limits that protect it from its own leaked keys: which
numbers outbound calls may dial and how many per hour (toll fraud), how long call history is kept.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Organization

DEFAULT_ORGANIZATION = "default"
"""Where keys made without naming an organization go (migration 0006 creates it, id 1)."""


class CallNotAllowedError(Exception):
    """An outbound call the organization's limits refuse; `field` names the request field."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


async def ensure_organization(session: AsyncSession, name: str) -> Organization:
    """The organization called `name`, created with the default limits when new."""
    await session.execute(
        pg_insert(Organization).values(name=name).on_conflict_do_nothing(index_elements=["name"])
    )
    row = await session.scalar(select(Organization).where(Organization.name == name))
    assert row is not None  # inserted now or before
    await session.commit()
    return row


async def default_organization(session: AsyncSession) -> Organization:
    """The default organization (made again if someone deleted it)."""
    return await ensure_organization(session, DEFAULT_ORGANIZATION)


def check_outbound_number(organization: Organization, to_number: str) -> None:
    """Refuse a number outside the organization's allowed prefixes (CallNotAllowedError).
    `+` alone allows every number. The hourly quota is counted by `core.ratelimit`."""
    if not any(to_number.startswith(p) for p in organization.allowed_call_prefixes):
        allowed = ", ".join(organization.allowed_call_prefixes) or "none"
        raise CallNotAllowedError(
            f"{to_number} is outside this organization's allowed call prefixes ({allowed}); "
            "an admin can change them with PATCH /api/organization",
            field="to",
        )

"""Dependencies routes declare with `Annotated` aliases: `SessionDep`, `CurrentKey`, and the
scope checks `authorize(...)` / `require_scope(...)`.

Every `/api` request carries an API key. The key names its organization: routes only ever see
and change that organization's rows (another organization's id answers 404, as an unknown one
does). Each key is rate-limited per minute (429 with `Retry-After`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.agents.spec import ROW_ID_MAX
from core.auth import Scope, allows, authenticate
from core.db.models import ApiKey, Base, Organization
from core.errors import NotFoundError
from core.ratelimit import Limiter, retry_after

# Ids are PostgreSQL `integer`s: anything outside 1..2^31-1 cannot name a row.
IdPath = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]

_bearer = HTTPBearer(auto_error=False, description="An API key from `callwright apikey create`")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RATE_WINDOW_S = 60.0


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed (and rolled back if uncommitted) afterwards."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True)
class OverLimit:
    """A limit reached: what to tell the caller, and how long until a try is allowed."""

    message: str
    wait_s: float

    @property
    def retry_after(self) -> str:
        """The wait as a `Retry-After` header value."""
        return retry_after(self.wait_s)


async def count_against(
    limiter: Limiter, name: str, *, limit: int, window_s: float, message: str
) -> OverLimit | None:
    """Count one hit on the limit `name`; None within it, else `message` and the wait."""
    wait = await limiter.hit(name, limit=limit, window_s=window_s)
    return None if wait is None else OverLimit(message, wait)


async def hit_request_limit(
    limiter: Limiter, key: ApiKey, organization: Organization
) -> OverLimit | None:
    """Count one request by `key`; None within its organization's requests per minute. The
    HTTP API and the console's test-call socket count against the same limit."""
    limit = organization.rate_limit_per_minute
    return await count_against(
        limiter,
        f"key:{key.id}",
        limit=limit,
        window_s=RATE_WINDOW_S,
        message=f"this key may make {limit} requests per minute",
    )


async def get_current_key(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    """The API key the request carries; 401 when missing, malformed, unknown, revoked or
    expired; 429 past its organization's requests per minute."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "send an API key as `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = await authenticate(session, credentials.credentials)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown, revoked or expired API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Detached: the route's commits and rollbacks must not expire what the key says.
    session.expunge(key)
    organization = await session.get(Organization, key.organization_id)
    assert organization is not None  # a key goes with its organization (ON DELETE CASCADE)
    over = await hit_request_limit(request.app.state.limiter, key, organization)
    if over is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            over.message,
            headers={"Retry-After": over.retry_after},
        )
    request.state.api_key = key  # for the audit log (api.middleware.AuditLog)
    return key


CurrentKey = Annotated[ApiKey, Depends(get_current_key)]


def _forbidden(needed: Scope) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN, f"this API key lacks the `{needed.value}` scope"
    )


def authorize(write_scope: Scope) -> Callable[[Request, ApiKey], Awaitable[ApiKey]]:
    """A router's check: reading needs `read` (or `write_scope`), changing needs `write_scope`."""

    async def check(request: Request, key: CurrentKey) -> ApiKey:
        needed = Scope.READ if request.method in READ_METHODS else write_scope
        if not allows(key.scopes, needed, write_scope=write_scope):
            raise _forbidden(needed)
        return key

    return check


def require_scope(scope: Scope) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A route's check: the key must hold `scope` (or `admin`), whatever the method."""

    async def check(key: CurrentKey) -> ApiKey:
        if not allows(key.scopes, scope):
            raise _forbidden(scope)
        return key

    return check


AdminKey = Annotated[ApiKey, Depends(require_scope(Scope.ADMIN))]


_Owned = TypeVar("_Owned", bound=Base)


async def get_owned(
    session: AsyncSession, model: type[_Owned], row_id: int, key: ApiKey, *, kind: str
) -> _Owned:
    """The row of `model` with `row_id` if the key's organization owns it; NotFoundError (404)
    otherwise, so another organization's ids look exactly like unknown ones."""
    columns: Any = model  # every owned model has `id` and `organization_id`
    query: Any = select(model).where(
        columns.id == row_id, columns.organization_id == key.organization_id
    )
    row: _Owned | None = await session.scalar(query)
    if row is None:
        raise NotFoundError(kind, row_id)
    return row

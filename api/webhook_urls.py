"""Webhook URLs admitted when an agent or goal is written: each is checked
(`core.webhooks.destinations`: resolved, no private, loopback, link-local or metadata address
unless the organization allows them, https in production) and gets its endpoint (its own
signing secret). The worker checks every address again when it connects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select

from api.deps import CurrentKey, SessionDep
from core.agents.validation import Problem
from core.db.models import Organization
from core.errors import InvalidConfigError
from core.settings import Settings
from core.webhooks.destinations import DestinationRefused, check_destination
from core.webhooks.endpoints import ensure_endpoint


class WebhookUrlGuard:
    """Admits the webhook URLs an agent or goal is written with, for the key's organization."""

    def __init__(self, session: SessionDep, key: CurrentKey, request: Request) -> None:
        self.session = session
        self.organization_id = key.organization_id
        self.settings: Settings = request.app.state.settings

    async def admit(self, urls: Iterable[tuple[str, Any]]) -> None:
        """Check each `(path, url)` (None skipped) and create its endpoint; InvalidConfigError
        (422) naming every refused URL and why. The caller commits."""
        given = [(path, str(url)) for path, url in urls if url is not None]
        if not given:
            return
        allowed = self.settings.webhooks_private_allowed or bool(
            await self.session.scalar(
                select(Organization.allow_private_webhooks).where(
                    Organization.id == self.organization_id
                )
            )
        )
        problems = []
        for path, url in given:
            try:
                await check_destination(
                    url,
                    allow_private=allowed,
                    require_https=self.settings.webhooks_require_https,
                )
            except DestinationRefused as exc:
                problems.append(Problem(path, f"webhook URL refused: {exc.reason}"))
        if problems:
            raise InvalidConfigError(problems)
        for _, url in given:
            await ensure_endpoint(self.session, organization_id=self.organization_id, url=url)


WebhookGuard = Annotated[WebhookUrlGuard, Depends()]


def document_webhook_urls(document: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every webhook URL an agent document names, with its path: `webhook_urls[i]` and its
    inline goals' `goals[i].completion_webhook`."""
    urls: list[tuple[str, Any]] = [
        (f"webhook_urls[{i}]", url) for i, url in enumerate(document.get("webhook_urls") or [])
    ]
    for i, goal in enumerate(document.get("goals") or []):
        if isinstance(goal, dict):
            urls.append((f"goals[{i}].completion_webhook", goal.get("completion_webhook")))
    return urls

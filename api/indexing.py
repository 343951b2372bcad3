"""Asking the knowledge indexer (`IndexKnowledgeWorkflow`) to embed a domain's new items.

Storing knowledge never waits on Temporal and never fails because of it: when Temporal cannot
be reached the items stay stored and pending, a log line says so, and the next import or edit
in the domain asks again.
"""

from __future__ import annotations

import logging

from fastapi import Request

from api.temporal import TemporalConnector
from core.knowledge_indexing import request_indexing
from core.settings import Settings

logger = logging.getLogger(__name__)


async def index_domain(request: Request, domain_id: int, *, created: int = 0) -> bool:
    """Start (or tell) the domain's indexer; False, logged, when Temporal did not answer."""
    settings: Settings = request.app.state.settings
    temporal: TemporalConnector = request.app.state.temporal
    try:
        await request_indexing(
            await temporal.get(),
            domain_id,
            task_queue=settings.temporal_task_queue,
            created=created,
        )
    except Exception as exc:
        # Whatever went wrong reaching Temporal (refused, timed out, a server error), the
        # knowledge is stored: the import succeeds and the items wait.
        logger.warning(
            "domain %s: knowledge stored but not indexed yet, Temporal unreachable (%s: %s)",
            domain_id,
            type(exc).__name__,
            exc,
        )
        return False
    return True

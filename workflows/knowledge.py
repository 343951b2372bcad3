"""`IndexKnowledgeWorkflow` (`knowledge-index-<task queue>-<domain_id>`): give a domain's new
knowledge items their embeddings, a batch per activity, until none is pending
(`core.knowledge_indexing`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.knowledge_indexing import (
        EMBED_KNOWLEDGE_BATCH,
        INDEX_KNOWLEDGE_WORKFLOW,
        INDEX_PROGRESS_QUERY,
        KNOWLEDGE_ADDED_SIGNAL,
        EmbedBatch,
        IndexKnowledge,
        IndexProgress,
        KnowledgeAdded,
    )

EMBED_TIMEOUT = timedelta(minutes=10)
# The activity heartbeats between small steps of its batch; a worker that died mid-batch is
# noticed within this, and the batch goes to another worker (embedding twice is harmless).
EMBED_HEARTBEAT = timedelta(seconds=60)
EMBED_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=20,
    non_retryable_error_types=["EmbeddingModelMissing"],
)
STALLED_WAIT = timedelta(seconds=5)
MAX_BATCHES_PER_RUN = 200  # then continue as new: a huge import keeps a short history


@workflow.defn(name=INDEX_KNOWLEDGE_WORKFLOW)
class IndexKnowledgeWorkflow:
    """Embeds a domain's pending items until none is left and no new ones were announced."""

    def __init__(self) -> None:
        self._announced = False
        self._progress = IndexProgress()

    @workflow.run
    async def run(self, job: IndexKnowledge) -> IndexProgress:
        """Embed batch after batch; return what this run embedded and where the domain stands."""
        for _ in range(MAX_BATCHES_PER_RUN):
            # Cleared before the batch: an import announced while it runs makes us look again,
            # even when the batch's own count of pending items was taken before that import.
            self._announced = False
            done: IndexProgress = await workflow.execute_activity(
                EMBED_KNOWLEDGE_BATCH,
                EmbedBatch(domain_id=job.domain_id, limit=job.batch),
                result_type=IndexProgress,
                start_to_close_timeout=EMBED_TIMEOUT,
                heartbeat_timeout=EMBED_HEARTBEAT,
                retry_policy=EMBED_RETRY,
            )
            self._progress = IndexProgress(
                embedded=self._progress.embedded + done.embedded,
                pending=done.pending,
                indexed=done.indexed,
            )
            if done.pending == 0 and not self._announced:
                await workflow.wait_condition(workflow.all_handlers_finished)
                return self._progress
            if done.embedded == 0:
                # Pending items this batch could not take (changed under it): not a busy loop.
                await workflow.sleep(STALLED_WAIT)
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(job)

    @workflow.signal(name=KNOWLEDGE_ADDED_SIGNAL)
    def knowledge_added(self, added: KnowledgeAdded) -> None:
        """New items were stored: look again before finishing."""
        del added  # the count is for the history's reader; any announcement means "look"
        self._announced = True

    @workflow.query(name=INDEX_PROGRESS_QUERY)
    def progress(self) -> IndexProgress:
        """Embedded so far in this run, and the domain's pending/indexed at the last batch."""
        return self._progress

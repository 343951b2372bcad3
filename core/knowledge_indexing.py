"""The knowledge indexing contract: names and payloads of `IndexKnowledgeWorkflow`, its
signal and its activity, and `request_indexing`, which whoever stores new items calls.

One workflow per domain (`knowledge-index-<task queue>-<domain_id>`) embeds the domain's pending
items a batch at a time until none is left. A new import signals the running one
(signal-with-start), so two imports never race two indexers over the same rows, and items
stored while the last batch ran are never left behind: the signal makes the workflow look
again before it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

INDEX_KNOWLEDGE_WORKFLOW: Final = "IndexKnowledgeWorkflow"
KNOWLEDGE_ADDED_SIGNAL: Final = "knowledge_added"
INDEX_PROGRESS_QUERY: Final = "progress"
EMBED_KNOWLEDGE_BATCH: Final = "embed_knowledge_batch"
INDEX_BATCH: Final = 256
"""Items one activity run embeds (in smaller steps, heartbeating between them)."""
START_TIMEOUT: Final = timedelta(seconds=5)


def index_workflow_id(domain_id: int, task_queue: str) -> str:
    """The id of a domain's indexing workflow. The task queue is in it because a domain id is
    only unique within one database: two deployments sharing a Temporal namespace (each with
    its own queue, as they must) would otherwise signal each other's indexers, and a domain's
    items would wait for a worker of the other database."""
    return f"knowledge-index-{task_queue}-{domain_id}"


@dataclass
class IndexKnowledge:
    """Input of `IndexKnowledgeWorkflow`: the domain, and how many items each activity embeds."""

    domain_id: int
    batch: int = INDEX_BATCH


@dataclass
class KnowledgeAdded:
    """Signal: items were stored in the domain since the workflow last looked."""

    created: int = 0


@dataclass
class EmbedBatch:
    """Input of the embedding activity."""

    domain_id: int
    limit: int = INDEX_BATCH


@dataclass
class IndexProgress:
    """What one activity run (or a whole workflow run) embedded, and where the domain stands."""

    embedded: int = 0
    pending: int = 0
    indexed: int = 0


async def request_indexing(
    client: Client, domain_id: int, *, task_queue: str, created: int = 0
) -> None:
    """Have the domain's indexer embed its pending items: start it, or tell the running one."""
    await client.start_workflow(
        INDEX_KNOWLEDGE_WORKFLOW,
        IndexKnowledge(domain_id=domain_id),
        id=index_workflow_id(domain_id, task_queue),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=KNOWLEDGE_ADDED_SIGNAL,
        start_signal_args=[KnowledgeAdded(created=created)],
        rpc_timeout=START_TIMEOUT,
    )

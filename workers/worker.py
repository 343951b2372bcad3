"""The Temporal worker: `CallWorkflow`, `WebhookDeliveryWorkflow`, `RetentionWorkflow`,
`IndexKnowledgeWorkflow`, `AgentEvalWorkflow` and every activity they use, on task queue
`calls`. Stops gracefully on SIGTERM/SIGINT: no new tasks, running activities get
`GRACEFUL_SHUTDOWN` to finish, the rest Temporal hands to another worker. Indexing knowledge
needs the embedding model (the `cpu` extra) on the worker; without it the indexer fails at
once, saying so, and items stay pending. Running eval scenarios for the API
(`AgentEvalWorkflow`) reads YAML: PyYAML must be installed on the worker."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

import httpx
import redis.asyncio as aioredis
from openai import AsyncOpenAI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from twilio.rest import Client as TwilioClient

from activities.analysis import AnalysisActivities
from activities.calls import CallRecordActivities
from activities.knowledge import KnowledgeActivities
from activities.retention import RetentionActivities
from activities.spool import SpoolActivities
from activities.twilio import TwilioActivities
from activities.webhooks import WebhookActivities
from core.calls.redaction import Redactor
from core.calls.retention import ensure_retention_schedule
from core.calls.temporal import connect_temporal
from core.db.session import make_async_engine, make_sessionmaker
from core.settings import Settings
from core.twilio_rest import make_twilio_client
from core.webhooks.destinations import webhook_client
from workers.eval.activity import AgentEvalActivities
from workflows.agent_eval import AgentEvalWorkflow
from workflows.call import CallWorkflow
from workflows.knowledge import IndexKnowledgeWorkflow
from workflows.retention import RetentionWorkflow
from workflows.webhook import WebhookDeliveryWorkflow

logger = logging.getLogger(__name__)
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def build_worker(
    client: Client,
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    llm: AsyncOpenAI | None,
    twilio: TwilioClient | None,
    redis: aioredis.Redis | None = None,
) -> Worker:
    """A worker with every call workflow and activity, built with its clients."""
    redactor = Redactor.from_patterns(settings.redact_patterns)
    calls = CallRecordActivities(sessions, redactor=redactor)
    spool = SpoolActivities(redis)
    webhooks = WebhookActivities(
        sessions,
        http,
        settings.webhook_signing_secret.get_secret_value(),
        allow_private=settings.webhooks_private_allowed,
        redactor=redactor,
    )
    analysis = AnalysisActivities(llm, settings.llm_model)
    hang_up = TwilioActivities(twilio)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[
            CallWorkflow,
            WebhookDeliveryWorkflow,
            RetentionWorkflow,
            IndexKnowledgeWorkflow,
            AgentEvalWorkflow,
        ],
        activities=[
            calls.record_call_started,
            calls.record_turns,
            calls.record_call_ended,
            webhooks.record_delivery,
            webhooks.deliver,
            webhooks.finish_delivery,
            analysis.analyze_call,
            hang_up.hang_up,
            spool.collect_spooled,
            RetentionActivities(sessions, client).purge_expired_calls,
            KnowledgeActivities(sessions).embed_batch,
            AgentEvalActivities(settings, sessions).run_agent_eval,
        ],
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until `stop` is set or SIGTERM/SIGINT arrives."""
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    engine = make_async_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    llm = (
        AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "none",
            max_retries=0,  # Temporal owns the retries
            timeout=30.0,
        )
        if settings.llm_base_url
        else None
    )
    client = await connect_temporal(
        settings.temporal_address, settings.temporal_namespace, settings.payload_encryption_keys
    )
    redis = (
        aioredis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        if settings.redis_url
        else None
    )
    async with webhook_client(
        require_https=settings.webhooks_require_https, timeout=WEBHOOK_TIMEOUT
    ) as http:
        worker = build_worker(
            client,
            settings=settings,
            sessions=sessions,
            http=http,
            llm=llm,
            twilio=make_twilio_client(settings),
            redis=redis,
        )
        async with worker:
            # Idempotent: every worker ensures the hourly retention sweep exists.
            await ensure_retention_schedule(client, task_queue=settings.temporal_task_queue)
            logger.info(
                "worker polling %s on %s", settings.temporal_task_queue, settings.temporal_address
            )
            await stop.wait()
            logger.info("worker stopping")
    await engine.dispose()
    if redis is not None:
        await redis.aclose()

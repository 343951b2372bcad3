"""The PII lifecycle: card numbers and configured patterns redacted from what a call leaves
behind; a call erased everywhere on request; retention purges what outlived its days."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.calls.redaction import CARD_REDACTED, REDACTED, Redactor, luhn_valid
from core.calls.retention import (
    RETENTION_INTERVAL,
    RETENTION_SCHEDULE_ID,
    RETENTION_WORKFLOW,
    PurgeResult,
    RetentionSweep,
    ensure_retention_schedule,
)
from core.calls.types import CallEnded, CallInput, FieldEvent, Speaker
from core.db.models import Call, CallTurn, Organization, WebhookDelivery
from core.db.session import make_sessionmaker
from core.settings import Settings
from tests.conftest import app_client
from tests.webhook_receiver import Receiver
from tests.workflows.calls import BOOKING, running_worker, say, start
from workflows.call import CallWorkflow
from workflows.webhook import webhook_workflow_id

CARD = "4111 1111 1111 1111"  # a test Visa number: passes Luhn
MEMBER_PATTERN = r"(?i)member id [A-Z0-9]+"
WORDS = "my name is Zebediah Quillfeather"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        (f"my card is {CARD} expiring 12 25", "my card is [card] expiring 12 25"),
        ("it's 4111-1111-1111-1111", "it's [card]"),
        ("four: 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 done", "four: [card] done"),
        ("amex 3782 822463 10005", "amex [card]"),
        ("5555555555554444", "[card]"),
        # Not card numbers: a phone number, an order number failing Luhn, a short run.
        ("call me on +1 415 555 0100", "call me on +1 415 555 0100"),
        ("order 4111111111111112", "order 4111111111111112"),
        ("at 3 30 on the 4th", "at 3 30 on the 4th"),
    ],
)
def test_card_numbers_are_redacted_as_the_recogniser_writes_them(said: str, kept: str) -> None:
    assert Redactor().text(said) == kept.replace("[card]", CARD_REDACTED)


def test_configured_patterns_are_redacted_in_text_and_json() -> None:
    redactor = Redactor.from_patterns([MEMBER_PATTERN])
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    payload = {"data": {"note": "member id AB12 paid with 4242424242424242"}, "n": [1, "x"]}
    assert redactor.json(payload) == {
        "data": {"note": f"{REDACTED} paid with {CARD_REDACTED}"},
        "n": [1, "x"],
    }


async def _call_with_card(
    client: Client, call: CallInput, task_queue: str, words: str = "my member id XK42"
) -> None:
    handle = await start(client, call, task_queue)
    await say(handle, 1, Speaker.AGENT, "Thanks for calling, how can I help?")
    await say(handle, 2, Speaker.CALLER, f"{words}, and my card is {CARD}")
    for name, value in BOOKING.items():
        await handle.signal(CallWorkflow.field_captured, FieldEvent(name=name, value=value))
    await handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))
    await handle.result()


async def test_stored_transcripts_and_webhooks_hold_no_card_number(
    temporal_client: Client,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: AsyncEngine,
    call_settings: Settings,
) -> None:
    settings = call_settings.model_copy(update={"redact_patterns": [MEMBER_PATTERN]})
    call = await make_call()
    async with running_worker(temporal_client, settings, engine):
        await _call_with_card(temporal_client, call, task_queue)
        [sent] = await receiver.wait_for("/call")

    assert b"4111" not in sent.body and b"XK42" not in sent.body
    caller_turn = sent.json["data"]["transcript"][1]["text"]
    assert caller_turn == f"my {REDACTED}, and my card is {CARD_REDACTED}"
    async with make_sessionmaker(engine)() as session:
        row = await session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        assert row is not None
        turns = (
            await session.scalars(select(CallTurn.text).where(CallTurn.call_id == row.id))
        ).all()
        payloads = (
            await session.scalars(
                select(WebhookDelivery.payload).where(WebhookDelivery.call_id == row.id)
            )
        ).all()
    stored = repr([*turns, *payloads, row.summary, row.extracted_data])
    assert CARD_REDACTED in stored
    assert "4111" not in stored and "XK42" not in stored


async def _database_text(engine: AsyncEngine) -> dict[str, str]:
    """Every row of every table, as text, by table."""
    async with engine.connect() as conn:
        tables = (
            await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        return {
            table: "\n".join(
                (await conn.execute(text(f'SELECT t::text FROM "{table}" t'))).scalars()
            )
            for table in list(tables)
        }


async def _gone_from_temporal(client: Client, workflow_ids: list[str]) -> None:
    """Wait until no id describes or lists: Temporal deletes asynchronously (a closed
    workflow took about 30 s on the dev server)."""
    query = " OR ".join(f"WorkflowId = '{w}'" for w in workflow_ids)
    for _ in range(180):
        listed = [e.id async for e in client.list_workflows(query)]
        described = []
        for workflow_id in workflow_ids:
            try:
                await client.get_workflow_handle(workflow_id).describe()
                described.append(workflow_id)
            except RPCError as exc:
                assert exc.status == RPCStatusCode.NOT_FOUND
        if not listed and not described:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"still in Temporal: listed {listed}, described {described}")


async def test_deleting_a_call_leaves_no_trace_in_the_database_or_temporal(
    temporal_client: Client,
    worker: Any,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: AsyncEngine,
    call_settings: Settings,
    api_key: str,
) -> None:
    call = await make_call()
    await _call_with_card(temporal_client, call, task_queue, words=WORDS)
    await receiver.wait_for("/call")
    async with make_sessionmaker(engine)() as session:
        row = await session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        assert row is not None
        webhook_ids = (
            await session.scalars(
                select(WebhookDelivery.webhook_id).where(WebhookDelivery.call_id == row.id)
            )
        ).all()
    workflow_ids = [row.workflow_id, *(webhook_workflow_id(w) for w in webhook_ids)]
    assert len(workflow_ids) == 3
    for workflow_id in workflow_ids[1:]:
        await temporal_client.get_workflow_handle(workflow_id).result()
    traces = [str(row.id), call.call_sid, "4155550100", "4155550199", "Quillfeather"]
    before = "\n".join((await _database_text(engine)).values())
    assert all(trace in before for trace in traces)

    live = dataclasses.replace(
        call, call_sid=f"CA{uuid.uuid4().hex}", from_number="+14155550123", to_number="+1415555012"
    )
    live_handle = await start(temporal_client, live, task_queue)
    async with app_client(call_settings, engine, api_key) as api:
        async with make_sessionmaker(engine)() as session:
            live_id = await session.scalar(select(Call.id).where(Call.call_sid == live.call_sid))
        while live_id is None:  # the workflow's first activity writes the row
            await asyncio.sleep(0.05)
            async with make_sessionmaker(engine)() as session:
                live_id = await session.scalar(
                    select(Call.id).where(Call.call_sid == live.call_sid)
                )
        refused = await api.delete(f"/api/calls/{live_id}")
        assert refused.status_code == 409, refused.text
        await live_handle.signal(CallWorkflow.call_ended, CallEnded(reason="caller_hung_up"))

        erased = await api.delete(f"/api/calls/{row.id}")
        assert erased.status_code == 204, erased.text
        assert (await api.get(f"/api/calls/{row.id}")).status_code == 404
        assert (await api.delete(f"/api/calls/{row.id}")).status_code == 404

    after = await _database_text(engine)
    # The audit log keeps that the call was deleted (its id in the path), nothing else of it.
    audit = [line for line in after.pop("audit_events").splitlines() if str(row.id) in line]
    assert len(audit) == 2 and all("DELETE" in line for line in audit)
    for table, rows in after.items():
        for trace in traces:
            assert trace not in rows, f"{table} still mentions {trace!r}"
    await _gone_from_temporal(temporal_client, workflow_ids)
    await live_handle.result()  # the other call is untouched


async def test_retention_purges_calls_past_their_organizations_days(
    temporal_client: Client,
    worker: Any,
    make_call: Any,
    receiver: Receiver,
    task_queue: str,
    engine: AsyncEngine,
) -> None:
    old, recent = await make_call(), None
    await _call_with_card(temporal_client, old, task_queue, words=WORDS)
    recent = dataclasses.replace(
        old, call_sid=f"CA{uuid.uuid4().hex}", from_number="+14155550123", to_number="+1415555012"
    )
    await _call_with_card(temporal_client, recent, task_queue, words=WORDS)
    await receiver.wait_for("/call", count=2)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        rows = {
            c.call_sid: c
            for c in await session.scalars(
                select(Call).where(Call.call_sid.in_([old.call_sid, recent.call_sid]))
            )
        }
        webhook_ids = (
            await session.scalars(
                select(WebhookDelivery.webhook_id).where(
                    WebhookDelivery.call_id == rows[old.call_sid].id
                )
            )
        ).all()
        for webhook_id in webhook_ids:
            await temporal_client.get_workflow_handle(webhook_workflow_id(webhook_id)).result()
        organization_id = rows[old.call_sid].organization_id
        await session.execute(
            update(Organization).where(Organization.id == organization_id).values(retention_days=30)
        )
        await session.execute(
            update(Call)
            .where(Call.call_sid == old.call_sid)
            .values(ended_at=func.now() - timedelta(days=31))
        )
        await session.commit()

    result = await temporal_client.execute_workflow(
        RETENTION_WORKFLOW,
        RetentionSweep(),
        id=f"retention-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=PurgeResult,
    )
    assert result.calls == 1

    async with sessions() as session:
        purged = await session.scalar(select(Call).where(Call.call_sid == old.call_sid))
        kept = await session.scalar(select(Call).where(Call.call_sid == recent.call_sid))
        assert purged is not None and kept is not None
        assert purged.outcome == "goals_met"  # the record's shape stays for reports
        assert (purged.summary, purged.extracted_data, purged.analysis) == (None, {}, {})
        assert (purged.from_number, purged.to_number) == ("", "")
        assert kept.from_number == recent.from_number and kept.extracted_data
        counted = select(CallTurn.call_id, func.count()).group_by(CallTurn.call_id)
        turns = dict((await session.execute(counted)).all())
        assert purged.id not in turns and turns[kept.id] == 2
        payloads = dict(
            (await session.execute(select(WebhookDelivery.call_id, WebhookDelivery.payload))).all()
        )
        assert payloads[purged.id] == {} and payloads[kept.id] != {}
    await _gone_from_temporal(
        temporal_client, [purged.workflow_id, *(webhook_workflow_id(w) for w in webhook_ids)]
    )
    await temporal_client.get_workflow_handle(kept.workflow_id).describe()
    # A second sweep finds nothing left to purge.
    again = await temporal_client.execute_workflow(
        RETENTION_WORKFLOW,
        RetentionSweep(),
        id=f"retention-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=PurgeResult,
    )
    assert again.calls == 0


async def test_the_worker_ensures_one_retention_schedule(temporal_client: Client) -> None:
    queue = f"retention-{uuid.uuid4().hex[:8]}"
    created = await ensure_retention_schedule(temporal_client, task_queue=queue)
    try:
        assert not await ensure_retention_schedule(temporal_client, task_queue=queue)
        described = await temporal_client.get_schedule_handle(RETENTION_SCHEDULE_ID).describe()
        assert described.schedule.spec.intervals[0].every == RETENTION_INTERVAL
    finally:
        if created:
            await temporal_client.get_schedule_handle(RETENTION_SCHEDULE_ID).delete()

"""The PII lifecycle: card numbers and configured patterns redacted from what a call leaves
behind; a call erased everywhere on request; retention purges what outlived its days."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.calls.redaction import CARD_REDACTED, REDACTED, Redactor, luhn_valid
from core.calls.types import CallEnded, CallInput, FieldEvent, Speaker
from core.db.models import Call, CallTurn, WebhookDelivery
from core.db.session import make_sessionmaker
from core.settings import Settings
from tests.webhook_receiver import Receiver
from tests.workflows.calls import BOOKING, running_worker, say, start
from workflows.call import CallWorkflow

CARD = "4111 1111 1111 1111"  # a test Visa number: passes Luhn
MEMBER_PATTERN = r"(?i)member id [A-Z0-9]+"


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


async def _call_with_card(client: Client, call: CallInput, task_queue: str) -> None:
    handle = await start(client, call, task_queue)
    await say(handle, 1, Speaker.AGENT, "Thanks for calling, how can I help?")
    await say(handle, 2, Speaker.CALLER, f"my member id XK42, and my card is {CARD}")
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

"""Turn and field events to the call's workflow, sent in the background with retries.

Rule one of the design: Temporal is never on the audio path. The session drops events into
`WorkflowSignals` (a plain, never-blocking `post`), and one sender task per call delivers them in
order — the workflow applies a turn's fields after the turn — retrying with exponential backoff
(tenacity) while the Temporal frontend is briefly away.

Events outlive the process: before it is sent, every event is written to the call's spool in
Redis (`core.calls.spool`), and deleted once Temporal has it. If this process dies, the node that
resumes the call re-sends what is left (`SignalSpool.pending`, applied by `resend_spooled`), and
the workflow collects the rest at the end of a call nobody resumed. Without Redis the events live
in memory only, as before. An event that cannot be delivered for `give_up_after_s` is logged and
left in the spool for the workflow to collect.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Final

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
)

from core.calls.spool import SignalSpool
from core.calls.types import (
    CallEnded,
    FieldEvent,
    StreamAttached,
    StreamDetached,
    TurnEvent,
    decode_signal,
    encode_signal,
)

_LOGGER = logging.getLogger(__name__)

TURN_COMPLETED: Final = "turn_completed"
FIELD_CAPTURED: Final = "field_captured"
CALL_ENDED: Final = "call_ended"
STREAM_ATTACHED: Final = "stream_attached"
STREAM_DETACHED: Final = "stream_detached"


@dataclass(frozen=True)
class _Signal:
    name: str
    payload: Any


def _encode(signal: _Signal) -> tuple[str, dict[str, Any]]:
    return signal.name, encode_signal(signal.payload)


def _retryable(exc: BaseException) -> bool:
    # A workflow that no longer runs (the call was ended elsewhere) will not come back.
    return not (isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND)


class WorkflowSignals:
    """One call's ordered, retried, fire-and-forget signals to `call-<CallSid>`."""

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        *,
        spool: SignalSpool | None = None,
        give_up_after_s: float = 120.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.handle = handle
        self.spool = spool
        self.give_up_after_s = give_up_after_s
        self.max_backoff_s = max_backoff_s
        self._queue: asyncio.Queue[_Signal | None] = asyncio.Queue()
        self._spool_down = False
        self.sent = 0
        self.dropped = 0

    @classmethod
    def for_call(
        cls, client: Client, workflow_id: str, spool: SignalSpool | None = None
    ) -> WorkflowSignals:
        """Signals to the workflow with this id."""
        return cls(client.get_workflow_handle(workflow_id), spool=spool)

    def turn(self, event: TurnEvent) -> None:
        """A finished turn (idempotent by `seq` on the workflow side)."""
        self._queue.put_nowait(_Signal(TURN_COMPLETED, event))

    def field(self, event: FieldEvent) -> None:
        """A captured field."""
        self._queue.put_nowait(_Signal(FIELD_CAPTURED, event))

    def ended(self, reason: str) -> None:
        """The call is over; nothing is posted after this."""
        self._queue.put_nowait(_Signal(CALL_ENDED, CallEnded(reason=reason)))
        self._queue.put_nowait(None)

    def attached(self, event: StreamAttached) -> None:
        """This stream holds the call now."""
        self._queue.put_nowait(_Signal(STREAM_ATTACHED, event))

    def detached(self, event: StreamDetached) -> None:
        """This stream lets the call go (it goes on elsewhere); nothing is posted after this."""
        self._queue.put_nowait(_Signal(STREAM_DETACHED, event))
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """Deliver posted signals in order until `ended`/`detached` (or cancellation). Each batch
        waiting in the queue is spooled in one round trip before the first of it is sent."""
        while True:
            batch: list[_Signal | None] = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            signals = [s for s in batch if s is not None]
            entries = await self._spool(signals)
            for signal, entry in zip(signals, entries, strict=True):
                if await self._deliver(signal) and entry is not None:
                    await self._ack(entry)
            if None in batch:
                return

    async def _spool(self, signals: list[_Signal]) -> list[str | None]:
        if self.spool is None or not signals:
            return [None] * len(signals)
        try:
            ids: list[str | None] = list(
                await self.spool.append_many([_encode(s) for s in signals])
            )
        except Exception as exc:  # noqa: BLE001 - Redis away: the call goes on, unspooled
            self._spool_failed(exc)
            return [None] * len(signals)
        self._spool_down = False
        return ids

    async def _ack(self, entry: str) -> None:
        assert self.spool is not None
        try:
            await self.spool.ack(entry)
        except Exception as exc:  # noqa: BLE001 - a stale entry is re-sent once, applied once
            self._spool_failed(exc)

    def _spool_failed(self, exc: Exception) -> None:
        if not self._spool_down:
            _LOGGER.warning(
                "workflow %s: signal spool unavailable (%s); events held in memory only",
                self.handle.id,
                exc,
            )
        self._spool_down = True

    async def _deliver(self, signal: _Signal) -> bool:
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_retryable),
                wait=wait_exponential(multiplier=0.1, max=self.max_backoff_s),
                stop=stop_after_delay(self.give_up_after_s),
                reraise=False,
            ):
                with attempt:
                    await self.handle.signal(signal.name, signal.payload)
            self.sent += 1
            return True
        except (RetryError, RPCError) as exc:
            self.dropped += 1
            _LOGGER.error(
                "workflow %s: could not deliver %s (%s); left in the spool",
                self.handle.id,
                signal.name,
                exc,
            )
            return False


async def resend_spooled(handle: WorkflowHandle[Any, Any], spool: SignalSpool) -> list[Any]:
    """Send what a previous holder of the call left in its spool, in order, acknowledging each;
    returns the payloads sent (a resumed session merges them into what the workflow says: a
    query may be answered before these signals are applied). The workflow applies each once:
    turns by `seq`, fields by `event_id`. A spooled `call_ended`/`stream_detached` is not
    re-sent: the old stream is gone, and whether the call is over is the workflow's to say."""
    sent: list[Any] = []
    for entry in await spool.pending():
        if entry.name in (TURN_COMPLETED, FIELD_CAPTURED):
            payload = decode_signal(entry.name, entry.payload)
            await handle.signal(entry.name, payload)
            sent.append(payload)
        await spool.ack(entry.entry_id)
    return sent

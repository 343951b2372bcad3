"""Turn and field events to the call's workflow, sent in the background with retries.

Rule one of the design: Temporal is never on the audio path. The session drops events into
`WorkflowSignals` (a plain, never-blocking `post`), and one sender task per call delivers them in
order — the workflow applies a turn's fields after the turn — retrying with exponential backoff
(tenacity) while the Temporal frontend is briefly away. An event that still cannot be delivered
after `give_up_after_s` is logged and dropped: the workflow's post-call analysis re-derives data
from the transcript, and a stuck sender must not hold a finished call's memory forever.
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

from core.calls.types import CallEnded, FieldEvent, TurnEvent

_LOGGER = logging.getLogger(__name__)

TURN_COMPLETED: Final = "turn_completed"
FIELD_CAPTURED: Final = "field_captured"
CALL_ENDED: Final = "call_ended"


@dataclass(frozen=True)
class _Signal:
    name: str
    payload: Any


def _retryable(exc: BaseException) -> bool:
    # A workflow that no longer runs (the call was ended elsewhere) will not come back.
    return not (isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND)


class WorkflowSignals:
    """One call's ordered, retried, fire-and-forget signals to `call-<CallSid>`."""

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        *,
        give_up_after_s: float = 120.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.handle = handle
        self.give_up_after_s = give_up_after_s
        self.max_backoff_s = max_backoff_s
        self._queue: asyncio.Queue[_Signal | None] = asyncio.Queue()
        self.sent = 0
        self.dropped = 0

    @classmethod
    def for_call(cls, client: Client, workflow_id: str) -> WorkflowSignals:
        """Signals to the workflow with this id."""
        return cls(client.get_workflow_handle(workflow_id))

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

    async def run(self) -> None:
        """Deliver posted signals in order until `ended` (or cancellation)."""
        while (signal := await self._queue.get()) is not None:
            await self._deliver(signal)

    async def _deliver(self, signal: _Signal) -> None:
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
        except (RetryError, RPCError) as exc:
            self.dropped += 1
            _LOGGER.error(
                "workflow %s: could not deliver %s (%s); dropped", self.handle.id, signal.name, exc
            )

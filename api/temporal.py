"""A lazily connected Temporal client, shared by the app's requests."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr
from temporalio.client import Client

from core.calls.temporal import connect_temporal


class TemporalConnector:
    """Connects on first use and reuses the client; a failed connect is retried next time."""

    def __init__(self, address: str, namespace: str, payload_keys: SecretStr) -> None:
        self.address = address
        self.namespace = namespace
        self.payload_keys = payload_keys
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self, *, connect_timeout: float = 3.0) -> Client:
        """The client, connecting within `connect_timeout` seconds if not yet connected."""
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(
                    connect_temporal(self.address, self.namespace, self.payload_keys),
                    connect_timeout,
                )
            return self._client

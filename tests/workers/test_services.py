"""The embedded servers really serve clients, stop cleanly and fail with a readable error."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import redis
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from workers.services import (
    LOOPBACK,
    EmbeddedPostgres,
    EmbeddedRedis,
    EmbeddedService,
    EmbeddedTemporal,
    PortBusyError,
    ServiceStartError,
    check_port_free,
    find_free_port,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def is_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its reaper has finished running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def assert_stopped(service: EmbeddedService, pid: int) -> None:
    """The child is gone, and its port is free for the next run."""
    assert not service.is_running
    assert service.pid is None
    assert not is_alive(pid)
    check_port_free(LOOPBACK, service.port, service.name)


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    service = EmbeddedPostgres(tmp_path, find_free_port(), fast=True)
    service.start()
    yield service
    service.stop()


def test_postgres_serves_pgvector_and_stops(postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        # pg_available_extensions has no extversion column; pg_extension has, once created.
        available = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        assert available is not None and available[0]
        conn.execute("CREATE EXTENSION vector")
        installed = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
        assert installed == available
        nearest = conn.execute(
            "SELECT v FROM (VALUES ('[1,0]'::vector), ('[0,1]'::vector)) AS t(v) "
            "ORDER BY v <-> '[0.9,0.1]' LIMIT 1"
        ).fetchone()
        assert nearest is not None and nearest[0] == "[1,0]"

    assert postgres.database_url == (
        f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/callwright"
    )
    assert postgres.log_path == postgres.data_dir / "logs" / "postgres.log"
    assert "ready to accept connections" in postgres.log_path.read_text()

    pid = postgres.pid
    assert pid is not None
    postgres.stop()
    assert_stopped(postgres, pid)


def test_postgres_text_search_knows_accented_letters(postgres: EmbeddedPostgres) -> None:
    # The cluster's C.UTF-8 locale makes "é" a letter for pg_trgm, not a word separator.
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_trgm")
        row = conn.execute("SELECT show_trgm('é'), upper('café')").fetchone()
    assert row is not None
    trigrams, upper = row
    assert trigrams != []
    assert upper == "CAFÉ"


def test_postgres_keeps_data_across_restarts(postgres: EmbeddedPostgres) -> None:
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE agents (name text)")
        conn.execute("INSERT INTO agents VALUES ('front desk')")
    postgres.stop()

    postgres.start()
    with psycopg.connect(postgres.url) as conn:
        assert conn.execute("SELECT name FROM agents").fetchall() == [("front desk",)]


def test_postgres_ensure_database_creates_once(postgres: EmbeddedPostgres) -> None:
    assert postgres.ensure_database("callwright_other") is True
    assert postgres.ensure_database("callwright_other") is False
    with psycopg.connect(postgres.url_for("callwright_other")) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("callwright_other",)


def test_postgres_start_failure_shows_the_log(postgres: EmbeddedPostgres) -> None:
    # A second server on the same data directory must refuse, and say why.
    second = EmbeddedPostgres(postgres.data_dir, find_free_port())
    with pytest.raises(ServiceStartError, match="exited with code") as caught:
        second.start(timeout=30)
    assert "postmaster.pid" in caught.value.log_tail
    assert not second.is_running


def test_redis_serves_and_stops(tmp_path: Path) -> None:
    service = EmbeddedRedis(tmp_path / "redis", find_free_port(), log_dir=tmp_path / "logs")
    service.start()
    try:
        assert service.url == f"redis://127.0.0.1:{service.port}/0"
        client = redis.Redis.from_url(service.url)
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        # It is a cache: nothing is ever written to disk.
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        client.close()
        pid = service.pid
        assert pid is not None
    finally:
        service.stop()
    assert_stopped(service, pid)
    assert list((tmp_path / "redis" / "redis").iterdir()) == []
    assert "Ready to accept connections" in (tmp_path / "logs" / "redis.log").read_text()


def test_busy_port_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortBusyError, match=f"port {port} for redis is busy"):
            EmbeddedRedis(tmp_path, port).start()


@pytest.fixture
def temporal(tmp_path: Path) -> Iterator[EmbeddedTemporal]:
    service = EmbeddedTemporal(
        tmp_path,
        find_free_port(),
        find_free_port(),
        headless=False,
        search_attributes={"CallwrightAgent": "Keyword", "CallwrightGoalsMet": "Int"},
    )
    service.start()
    yield service
    service.stop()


async def test_temporal_serves_with_search_attributes_and_ui(temporal: EmbeddedTemporal) -> None:
    client = await Client.connect(temporal.address)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    assert described.namespace_info.name == "default"

    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="default")
    )
    assert (
        listed.custom_attributes["CallwrightAgent"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    )
    assert listed.custom_attributes["CallwrightGoalsMet"] == IndexedValueType.INDEXED_VALUE_TYPE_INT

    assert temporal.ui_url == f"http://127.0.0.1:{temporal.ui_port}"
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(temporal.ui_url)
    assert response.status_code == 200


def test_temporal_headless_stops(tmp_path: Path) -> None:
    service = EmbeddedTemporal(tmp_path, find_free_port(), find_free_port(), headless=True)
    service.start()
    pid = service.pid
    assert pid is not None
    assert service.address == f"127.0.0.1:{service.port}"
    assert service.ui_url is None
    assert (tmp_path / "temporal.db").exists()
    service.stop()
    assert_stopped(service, pid)


def test_temporal_rejects_bad_search_attribute_type(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Keyword"):
        EmbeddedTemporal(tmp_path, 1, 2, search_attributes={"Agent": "String"})


def test_check_port_free_names_the_flag() -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortBusyError) as caught:
            check_port_free(LOOPBACK, port, "the API", "--api-port")
    assert str(caught.value) == (
        f"port {port} for the API is busy on 127.0.0.1: "
        "stop what is using it or choose another with --api-port"
    )
    assert isinstance(caught.value, ValueError)
    # Once released, the same port is free again.
    check_port_free(LOOPBACK, port, "the API", "--api-port")


def test_free_ports_are_distinct_and_outside_the_ephemeral_range() -> None:
    # An ephemeral port can be taken as the source port of an outgoing connection between
    # being chosen and being listened on; a stack once failed to start Redis that way.
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [find_free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    assert all(not low <= port <= high and port >= 1024 for port in ports), ports
    for port in ports:
        check_port_free(LOOPBACK, port, "a test")


PARENT_SCRIPT = """
import json, sys
from pathlib import Path
from workers.services import EmbeddedPostgres, EmbeddedRedis, find_free_port

data = Path(sys.argv[1])
services = [
    EmbeddedPostgres(data, find_free_port(), fast=True),
    EmbeddedRedis(data, find_free_port()),
]
for service in services:
    service.start()
print(json.dumps([[service.pid, service.port] for service in services]), flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux only")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_servers_stop_when_their_parent_dies(tmp_path: Path, sig: signal.Signals) -> None:
    # No Python cleanup runs in the parent here: the servers must go anyway.
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        text=True,
    )
    try:
        assert parent.stdout is not None
        children = json.loads(parent.stdout.readline())
        parent.send_signal(sig)
        parent.wait(10)
        for pid, port in children:
            deadline = time.monotonic() + 15
            while is_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not is_alive(pid)
            check_port_free(LOOPBACK, port, "a server whose parent died")
    finally:
        parent.kill()
        parent.wait()

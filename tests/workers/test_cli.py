"""The `callwright` command as a user runs it: real processes, real ports, real signals."""

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
from typing import Any

import httpx
import pytest

from tests.conftest import EXAMPLES_DIR
from workers.services import find_free_port

CLI = [sys.executable, "-m", "workers.cli"]
STACK_ENV_VARS = ("DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS", "CALLWRIGHT_DATA_DIR")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV_VARS}
    env["CALLWRIGHT_ENV"] = "development"
    return env


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=clean_env()
    )


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["dev"],
        ["demo"],
        ["api"],
        ["migrate"],
        ["apikey"],
        ["apikey", "create"],
        ["apikey", "list"],
        ["apikey", "revoke"],
        ["worker"],
    ],
    ids=lambda c: " ".join(c) or "callwright",
)
def test_every_command_has_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_apikey_without_a_stack_says_what_to_do(tmp_path: Path) -> None:
    result = run("apikey", "create", "x", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "callwright dev" in result.stderr and "DATABASE_URL" in result.stderr


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run("dev", "--data-dir", str(tmp_path), "--api-port", str(port))
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "--api-port" in result.stderr


@pytest.fixture
def dev_stack(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, dict[str, int]]]:
    ports = {
        name: find_free_port() for name in ("api", "temporal", "temporal-ui", "postgres", "redis")
    }
    data_dir = tmp_path / "state"
    args = ["dev", "--data-dir", str(data_dir)]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    process = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        start_new_session=True,  # its own process group, like a program started in a terminal
    )
    deadline = time.monotonic() + 90
    while not (data_dir / "stack.json").exists():
        if process.poll() is not None:
            pytest.fail(f"callwright dev exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the stack did not come up in 90 s"
        time.sleep(0.2)
    yield process, data_dir, ports
    if process.poll() is None:
        process.terminate()  # the clean path first, so a failing test leaves nothing running
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_dev_runs_the_stack_and_stops_it_cleanly(
    dev_stack: tuple[subprocess.Popen[str], Path, dict[str, int]],
) -> None:
    process, data_dir, ports = dev_stack
    api = f"http://127.0.0.1:{ports['api']}"
    info = json.loads((data_dir / "stack.json").read_text())
    assert info["api_url"] == api

    health = httpx.get(f"{api}/healthz", timeout=10).json()
    assert health["status"] == "ok", health
    assert httpx.get(f"http://127.0.0.1:{ports['temporal-ui']}/", timeout=10).status_code == 200

    worker_log = data_dir / "logs" / "worker.log"
    deadline = time.monotonic() + 30
    while "worker polling" not in (worker_log.read_text() if worker_log.exists() else ""):
        assert time.monotonic() < deadline, "the dev stack's worker did not start polling"
        time.sleep(0.2)

    dev_key = (data_dir / "dev-api-key").read_text().strip()
    assert (
        httpx.get(f"{api}/api/agents", headers={"Authorization": f"Bearer {dev_key}"}).status_code
        == 200
    )

    created = run("apikey", "create", "billing-system", "--data-dir", str(data_dir))
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("cw_")
    auth = {"Authorization": f"Bearer {lines[0]}"}
    assert httpx.get(f"{api}/api/agents", headers=auth, timeout=10).status_code == 200
    again = run("apikey", "create", "billing-system", "--data-dir", str(data_dir))
    assert again.returncode == 1 and "already exists" in again.stderr

    revoked = run("apikey", "revoke", "billing-system", "--data-dir", str(data_dir))
    assert revoked.returncode == 0
    assert httpx.get(f"{api}/api/agents", headers=auth, timeout=10).status_code == 401

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for name, port in ports.items():
        assert not port_open(port), f"{name} still listening on {port} after SIGTERM"
    assert not (data_dir / "stack.json").exists()
    output = process.stderr.read()  # type: ignore[union-attr]
    assert dev_key in output, "dev prints the development key"


def test_dev_stops_everything_on_ctrl_c(
    dev_stack: tuple[subprocess.Popen[str], Path, dict[str, int]],
) -> None:
    process, _, ports = dev_stack
    # A terminal's Ctrl-C goes to the whole foreground process group, children included.
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) == 0
    for name, port in ports.items():
        assert not port_open(port), f"{name} still listening on {port} after Ctrl-C"


def test_dev_stops_everything_when_its_terminal_closes(
    dev_stack: tuple[subprocess.Popen[str], Path, dict[str, int]],
) -> None:
    process, _, ports = dev_stack
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=30) == 0
    for name, port in ports.items():
        assert not port_open(port), f"{name} still listening on {port} after SIGHUP"


def test_api_dies_with_a_killed_supervisor(
    dev_stack: tuple[subprocess.Popen[str], Path, dict[str, int]],
) -> None:
    process, _, ports = dev_stack
    process.kill()  # no cleanup runs: only the parent-death signal can stop the children
    process.wait()
    deadline = time.monotonic() + 20
    while any(port_open(p) for p in ports.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    still = [name for name, port in ports.items() if port_open(port)]
    assert not still, f"{still} kept running after the supervisor was killed"


def test_demo_prints_both_compiled_prompts() -> None:
    result = run("demo", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for path in sorted(EXAMPLES_DIR.glob("*.json")):
        document = json.loads(path.read_text())
        assert f"===== {document['name']}" in result.stdout
        for text in document["instructions"]["dos"] + document["instructions"]["donts"]:
            assert text in result.stdout


def test_worker_stops_gracefully_on_sigterm(database_url: str, temporal_server: Any) -> None:
    env = clean_env()
    env.update(
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=temporal_server.address,
        TEMPORAL_TASK_QUEUE="calls-sigterm-test",
    )
    process = subprocess.Popen(
        [*CLI, "worker"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        for line in process.stderr:
            if "worker polling" in line:
                break
            assert time.monotonic() < deadline, "the worker did not start polling"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

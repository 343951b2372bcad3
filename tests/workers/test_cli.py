"""The `callwright` command as a user runs it: real processes, real ports, real signals."""

from __future__ import annotations

import json
import os
import re
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
from workers.demo import BOOKING_LINES
from workers.services import find_free_port

CLI = [sys.executable, "-m", "workers.cli"]
STACK_ENV_VARS = ("DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS", "CALLWRIGHT_DATA_DIR")


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in STACK_ENV_VARS}
    env["CALLWRIGHT_ENV"] = "development"
    return env


def run(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**clean_env(), **(env or {})},
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
        ["realtime"],
        ["knowledge"],
        ["knowledge", "import"],
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
        name: find_free_port()
        for name in ("api", "temporal", "temporal-ui", "postgres", "redis", "realtime")
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
    # The realtime server loads its speech models before the stack counts as up.
    deadline = time.monotonic() + 180
    while not (data_dir / "stack.json").exists():
        if process.poll() is not None:
            pytest.fail(f"callwright dev exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the stack did not come up in 180 s"
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
    realtime = f"http://127.0.0.1:{ports['realtime']}"
    info = json.loads((data_dir / "stack.json").read_text())
    assert info["api_url"] == api
    assert info["realtime_url"] == realtime

    health = httpx.get(f"{api}/healthz", timeout=10).json()
    assert health["status"] == "ok", health
    media = httpx.get(f"{realtime}/health", timeout=10).json()
    assert media["status"] == "ok" and media["active_calls"] == 0, media
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

    # A second organization, a read-only key of its own that expires.
    org = run("org", "create", "Clinic", "--allow-prefix", "+1", "--data-dir", str(data_dir))
    assert org.returncode == 0, org.stderr
    assert run("org", "create", "Clinic", "--data-dir", str(data_dir)).returncode == 1
    scoped = run(
        *("apikey", "create", "dashboard", "--org", "Clinic", "--scope", "read"),
        *("--expires-in-days", "7", "--data-dir", str(data_dir)),
    )
    assert scoped.returncode == 0, scoped.stderr
    reader = {"Authorization": f"Bearer {scoped.stdout.strip()}"}
    organization = httpx.get(f"{api}/api/organization", headers=reader, timeout=10).json()
    assert (organization["name"], organization["allowed_call_prefixes"]) == ("Clinic", ["+1"])
    refused = httpx.post(f"{api}/api/domains", json={"name": "x"}, headers=reader, timeout=10)
    assert refused.status_code == 403
    listed = run("apikey", "list", "--data-dir", str(data_dir)).stdout
    assert "Clinic\tdashboard\t" in listed and "\tread\tactive" in listed, listed
    unknown = run("apikey", "create", "x", "--org", "Nope", "--data-dir", str(data_dir))
    assert unknown.returncode == 1 and "no organization named 'Nope'" in unknown.stderr

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for name, port in ports.items():
        assert not port_open(port), f"{name} still listening on {port} after SIGTERM"
    assert not (data_dir / "stack.json").exists()
    output = process.stderr.read()  # type: ignore[union-attr]
    assert dev_key in output, "dev prints the development key"
    assert realtime in output, "dev prints the realtime server's address"
    assert "Shutting down" in (data_dir / "logs" / "realtime.log").read_text(), (
        "the realtime server was stopped gracefully, not killed"
    )


def test_dev_fails_clearly_when_the_realtime_server_cannot_start(tmp_path: Path) -> None:
    ports = {
        name: find_free_port()
        for name in ("api", "temporal", "temporal-ui", "postgres", "redis", "realtime")
    }
    args = ["dev", "--data-dir", str(tmp_path / "state"), "--headless"]
    for name, port in ports.items():
        args += [f"--{name}-port", str(port)]
    result = run(*args, timeout=180, env={"WHISPER_MODEL_PATH": str(tmp_path / "no-model")})
    assert result.returncode == 1, result.stderr[-3000:]
    assert "the realtime server exited" in result.stderr, result.stderr[-3000:]
    unwrapped = "".join(result.stderr.split())  # the terminal width wraps long log paths
    assert "realtime.log" in unwrapped and "no-model" in unwrapped, result.stderr[-3000:]
    for name, port in ports.items():
        assert not port_open(port), f"{name} still listening on {port} after the failed start"


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


def test_demo_prints_the_prompts_and_a_whole_booking_call() -> None:
    result = run("demo", timeout=420)
    # The call's transcript (stdout) says why a goal was not met; the logs (stderr) say the rest.
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    out = result.stdout
    for path in sorted(EXAMPLES_DIR.glob("*.json")):
        document = json.loads(path.read_text())
        assert f"===== {document['name']}" in out
        for text in document["instructions"]["dos"] + document["instructions"]["donts"]:
            assert text in out
    # The plan's two documents, verbatim, with the data their criteria imply and how to ask it.
    for text in ("Confirm details before ending", "Don't make promises"):
        assert text in out
    assert '- date (date): the day that suits them; ask it as "What day works best for you?"' in out
    assert "- decision_maker (text): who makes the buying decision" in out

    # The plan's `medical_appointments` domain holds the sample clinic, indexed and searchable.
    assert "===== knowledge: medical_appointments (52 items indexed) =====" in out, out[:3000]
    assert "Saturday: 9:00 am to 1:00 pm" in out
    # The transcript: the caller's first and last lines, and the agent's goodbye once booked.
    assert BOOKING_LINES[0] in out and BOOKING_LINES[-1] in out
    assert "Goodbye" in out or "goodbye" in out, out
    assert "last word → agent audio ms" in out, "the latency table is printed"
    # Both webhooks, as the sink received them: signed, and their bodies in full.
    assert "webhook goal.completed: POST /goal (signature valid)" in out, out
    assert "webhook call.completed: POST /call (signature valid)" in out, out
    assert '"type": "goal.completed"' in out and '"type": "call.completed"' in out
    # The plan's Appointment Scheduler collects the data inferred from its criteria.
    assert '"date": "' in out and '"time": "15:00"' in out, out[-3000:]
    assert '"service": "dental cleaning"' in out, out[-3000:]  # not "let's do"
    assert '"outcome": "goals_met"' in out, out[-3000:]
    ui = re.search(
        r"Temporal UI: (http://127\.0\.0\.1:\d+)/namespaces/default/workflows/call-(CA[0-9a-f]{32})",
        out,
    )
    assert ui is not None, out[-2000:]
    assert f'"call_sid": "{ui.group(2)}"' in out, "the UI address names the call the webhooks name"


def test_demo_needs_the_appointment_scheduler(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text("{}")
    result = run("demo", "--examples-dir", str(tmp_path))
    assert result.returncode == 2
    assert "appointment_scheduler.json" in result.stderr


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

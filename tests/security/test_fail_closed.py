"""Fail closed: production unless told otherwise, no example or weak secrets outside
development, no production API or worker without a Twilio account, no dev stack on a real
database (issue 10, point 1)."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import (
    DEV_CALL_TOKEN_SECRET,
    DEV_PAYLOAD_ENCRYPTION_KEYS,
    DEV_TWILIO_AUTH_TOKEN,
    DEV_WEBHOOK_SIGNING_SECRET,
    SECRETS_BY_PROCESS,
    Environment,
    MissingSecretError,
    Settings,
)
from workers.stack import local_settings, non_loopback_host

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "workers.cli"]
STRONG = {
    "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
    "WEBHOOK_SIGNING_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "CALL_TOKEN_SECRET": secrets.token_urlsafe(32),
    "PAYLOAD_ENCRYPTION_KEYS": "k1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
}
EXAMPLES = {
    "TWILIO_AUTH_TOKEN": DEV_TWILIO_AUTH_TOKEN,
    "WEBHOOK_SIGNING_SECRET": DEV_WEBHOOK_SIGNING_SECRET,
    "CALL_TOKEN_SECRET": DEV_CALL_TOKEN_SECRET,
    "PAYLOAD_ENCRYPTION_KEYS": DEV_PAYLOAD_ENCRYPTION_KEYS,
}
# Variables of the caller's environment a child must not see: the tests' own CALLWRIGHT_ENV
# (tests/conftest.py), and anything that would point it at a stack or a Twilio account.
NOT_INHERITED = (
    "CALLWRIGHT_ENV",
    "CALLWRIGHT_DATA_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "TEMPORAL_ADDRESS",
    *(name for name in os.environ if name.startswith("TWILIO_")),
    *STRONG,
)


@pytest.fixture
def no_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This process's environment as a fresh install has it: no CALLWRIGHT_ENV, no `.env`."""
    for name in NOT_INHERITED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def run_cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """Run `callwright ARGS` with only `env` on top of a clean environment; (exit code, stderr
    on one line)."""
    base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    base["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **env},
        cwd=cwd,
    )
    return result.returncode, " ".join(result.stderr.split())


def test_production_is_the_default(no_environment: None) -> None:
    settings = Settings()
    assert settings.environment is Environment.PRODUCTION
    for process, names in SECRETS_BY_PROCESS.items():
        with pytest.raises(ValueError, match="CALLWRIGHT_ENV=production") as refused:
            settings.require_secrets(process)
        assert all(name in str(refused.value) for name in names)
    # A secret nobody gave has no value, never the published example.
    for name in EXAMPLES:
        with pytest.raises(MissingSecretError, match=name):
            getattr(settings, name.lower()).get_secret_value()
    Settings(**STRONG).require_secrets("api")


def test_each_process_needs_only_its_own_secrets(no_environment: None) -> None:
    settings = Settings(**{name: STRONG[name] for name in SECRETS_BY_PROCESS["realtime"]})
    settings.require_secrets("realtime")
    settings.require_secrets("api")
    with pytest.raises(ValueError, match="^WEBHOOK_SIGNING_SECRET not set"):
        settings.require_secrets("worker")


@pytest.mark.parametrize("environment", ["production", "test", None])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_outside_development_each_example_secret_is_refused(
    no_environment: None, environment: str | None, name: str
) -> None:
    values = {**STRONG, name: EXAMPLES[name]}
    if environment is not None:
        values["CALLWRIGHT_ENV"] = environment
    with pytest.raises(ValidationError, match=f"{name} still hold the development example"):
        Settings(**values)


def test_development_is_chosen_explicitly_and_accepts_the_examples(no_environment: None) -> None:
    settings = Settings(CALLWRIGHT_ENV="development")
    assert settings.twilio_auth_token.get_secret_value() == DEV_TWILIO_AUTH_TOKEN


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("whsec_" + base64.b64encode(b"123456789").decode(), "decodes to 9 bytes"),
        ("whsec_" + base64.b64encode(secrets.token_bytes(23)).decode(), "decodes to 23 bytes"),
        ("whsec_" + "not base64!" * 4, "not valid base64"),
        (base64.b64encode(secrets.token_bytes(32)).decode(), "must be `whsec_`"),
    ],
)
def test_weak_or_malformed_webhook_secrets_are_refused(secret: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Settings(**{**STRONG, "CALLWRIGHT_ENV": "production", "WEBHOOK_SIGNING_SECRET": secret})


def test_a_24_byte_webhook_secret_is_enough() -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    Settings(**{**STRONG, "CALLWRIGHT_ENV": "production", "WEBHOOK_SIGNING_SECRET": secret})


@pytest.mark.parametrize("process", ["api", "worker"])
def test_production_process_without_a_twilio_account_refuses_to_start(
    process: str, tmp_path: Path
) -> None:
    code, stderr = run_cli(process, env=STRONG, cwd=tmp_path)
    assert code == 2, stderr
    assert "TWILIO_ACCOUNT_SID is not set" in stderr


@pytest.mark.parametrize("process", ["api", "worker", "realtime", "migrate"])
def test_production_process_with_the_example_secrets_refuses_to_start(
    process: str, tmp_path: Path
) -> None:
    env = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, **EXAMPLES}
    code, stderr = run_cli(process, env=env, cwd=tmp_path)
    assert code == 2, stderr
    assert "still hold the development example value" in stderr


@pytest.mark.parametrize("process", ["api", "worker", "realtime"])
def test_production_process_without_its_secrets_refuses_to_start(
    process: str, tmp_path: Path
) -> None:
    env = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}
    code, stderr = run_cli(process, env=env, cwd=tmp_path)
    assert code == 2, stderr
    assert all(name in stderr for name in SECRETS_BY_PROCESS[process]), stderr


def test_dev_refuses_a_database_on_another_machine(tmp_path: Path) -> None:
    url = "postgresql://callwright:pw@db.example.com:5432/callwright"
    code, stderr = run_cli(
        "dev", "--data-dir", str(tmp_path / "stack"), env={"DATABASE_URL": url}, cwd=tmp_path
    )
    assert code == 2, stderr
    assert "DATABASE_URL points at db.example.com" in stderr
    assert not (tmp_path / "stack").exists()  # refused before anything started


@pytest.mark.parametrize("command", ["dev", "demo"])
def test_dev_and_demo_refuse_a_production_environment(command: str, tmp_path: Path) -> None:
    code, stderr = run_cli(command, env={"CALLWRIGHT_ENV": "production", **STRONG}, cwd=tmp_path)
    assert code == 2, stderr
    assert f"`callwright {command}` runs a development stack" in stderr


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("postgresql://u:p@127.0.0.1:5432/db", None),
        ("postgresql+psycopg://u:p@localhost/db", None),
        ("postgresql://u@[::1]:5432/db", None),
        ("postgresql+psycopg://u@/db?host=/tmp/pg", None),
        ("postgresql://u:p@db.internal:5432/db", "db.internal"),
        ("postgresql://u:p@10.0.0.5/db", "10.0.0.5"),
        ("postgresql://u:p@127.example.com/db", "127.example.com"),
        ("postgresql://u@/db?host=postgres", "postgres"),
    ],
)
def test_loopback_databases_are_told_apart(url: str, remote: str | None) -> None:
    assert non_loopback_host(url) == remote


def test_local_tools_default_to_development_but_honour_a_choice(
    no_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_settings().environment is Environment.DEVELOPMENT
    monkeypatch.setenv("CALLWRIGHT_ENV", "test")
    for name, value in STRONG.items():
        monkeypatch.setenv(name, value)
    assert local_settings().environment is Environment.TEST

"""Settings: documented, and safe outside development."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from core.settings import SECRETS_BY_PROCESS, MissingSecretError, Settings
from workers.cli import app

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRETS = {
    "TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef",
    "WEBHOOK_SIGNING_SECRET": "whsec_cmVhbC1zZWNyZXQtZm9yLXByb2R1Y3Rpb24tdXNl",
    "CALL_TOKEN_SECRET": "a-real-call-token-secret-0123456789abcdef",
    "PAYLOAD_ENCRYPTION_KEYS": "k1:cmVhbC1wYXlsb2FkLWtleS1mb3ItcHJvZHVjdGlvbjE=",
}


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [f.alias for f in Settings.model_fields.values() if f"`{f.alias}`" not in readme]
    assert not missing, f"README.md does not document {missing}"


def test_example_secrets_work_in_development() -> None:
    assert Settings.model_validate({"CALLWRIGHT_ENV": "development"}).twilio_auth_token


@pytest.mark.parametrize("secret", sorted(REAL_SECRETS))
def test_production_refuses_each_example_secret(secret: str) -> None:
    values = {"CALLWRIGHT_ENV": "production", **REAL_SECRETS}
    del values[secret]
    unset = Settings.model_validate(values)  # unset is no value, never the example
    with pytest.raises(MissingSecretError, match=secret):
        getattr(unset, secret.lower()).get_secret_value()
    assert Settings.model_validate({"CALLWRIGHT_ENV": "production", **REAL_SECRETS})


def test_compose_file_runs_the_documented_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"postgres", "redis", "temporal", "temporal-ui", "api", "worker"} <= set(
        compose["services"]
    )
    env = compose["services"]["api"]["environment"]
    assert env["CALLWRIGHT_ENV"] == "production"
    # Secrets reach the API as compose secrets (/run/secrets), never in its environment.
    assert set(SECRETS_BY_PROCESS["api"]) <= set(compose["services"]["api"]["secrets"])


def compose_commands(service: dict[str, object]) -> list[list[str]]:
    """The `callwright …` invocations a compose service runs (directly or through `sh -c`)."""
    command = service.get("command")
    assert isinstance(command, list)
    if command[:2] == ["sh", "-c"]:
        parts = [part.split() for part in command[2].replace("exec ", "").split("&&")]
    else:
        parts = [command]
    return [part[1:] for part in parts if part and part[0] == "callwright"]


def test_compose_runs_real_commands_and_the_realtime_has_its_engines() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    runner = CliRunner()
    invocations = [
        args for name in ("api", "worker", "realtime") for args in compose_commands(services[name])
    ]
    assert ["realtime", "--host", "0.0.0.0", "--port", "8765"] in invocations
    for args in invocations:
        # --help after the arguments: an unknown command or option name still fails to parse
        # (option values are not checked before --help).
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
    # The realtime process needs the speech engines, which the image has only with `cpu`.
    assert "cpu" in services["realtime"]["build"]["args"]["EXTRAS"].split(",")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "*,cpu,*|*,gpu,*) lock=requirements-cpu.lock" in dockerfile
    assert "\nsilero-vad==" in (ROOT / "requirements-cpu.lock").read_text()


def test_production_refuses_short_or_malformed_secrets() -> None:
    with pytest.raises(ValidationError, match="TWILIO_AUTH_TOKEN must be at least"):
        Settings.model_validate(
            {"CALLWRIGHT_ENV": "production", **REAL_SECRETS, "TWILIO_AUTH_TOKEN": ""}
        )
    with pytest.raises(ValidationError, match="whsec_"):
        Settings.model_validate(
            {"CALLWRIGHT_ENV": "production", **REAL_SECRETS, "WEBHOOK_SIGNING_SECRET": "x" * 40}
        )

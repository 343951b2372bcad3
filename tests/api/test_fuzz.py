"""A bounded schemathesis run against the live API's `/openapi.json`: no input makes a 5xx.

The API runs in uvicorn on a real socket, against its own fresh database; schemathesis is run
through its CLI exactly as `make fuzz` runs it (with a bigger budget there: FUZZ_MAX_EXAMPLES).
It runs twice: with the default organization's admin key (which may not revoke itself or rate
limit itself into silence mid-run: those two operations are left to tests/security), and with a
`read` + `agents:write` key of a second organization, which meets the first one's rows only as
404s and the admin routes only as 403s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from core.auth import Scope, create_api_key
from core.db.session import make_sessionmaker
from core.organizations import ensure_organization
from core.settings import Settings
from workers.services import find_free_port

# Operations that would end the admin run early: revoking its own key, or setting its own rate
# limit to 1 a minute. tests/security/test_organizations.py covers them.
ADMIN_EXCLUDED = ("DELETE /api/keys/{key_id}", "PATCH /api/organization")
# Answered by a realtime node: with none running here, every valid request is a rightful 503
# (tests/api/test_voice_preview.py covers it with a node).
NEEDS_A_NODE = ("POST /api/agents/voice-preview",)


@pytest.fixture
def live_api(settings: Settings) -> Iterator[str]:
    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
async def scoped_key(engine: AsyncEngine, api_key: str) -> str:
    """A `read` + `agents:write` key of a second organization (the default one has `api_key`)."""
    del api_key  # made first: the default organization's rows exist before the second's
    async with make_sessionmaker(engine)() as session:
        other = await ensure_organization(session, "Second Clinic")
        return await create_api_key(
            session,
            name="fuzz",
            organization_id=other.id,
            scopes=(Scope.READ, Scope.AGENTS_WRITE),
        )


@pytest.mark.parametrize("who", ["admin", "scoped"])
def test_fuzzed_requests_never_get_a_server_error(
    live_api: str, api_key: str, scoped_key: str, who: str, tmp_path: Path
) -> None:
    key = api_key if who == "admin" else scoped_key
    excluded = [a for name in ADMIN_EXCLUDED for a in ("--exclude-name", name)]
    without_node = [a for name in NEEDS_A_NODE for a in ("--exclude-name", name)]
    assert httpx.get(f"{live_api}/healthz", timeout=10).status_code == 200
    st = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
    max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "8")
    result = subprocess.run(
        [
            st,
            "run",
            f"{live_api}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            max_examples,
            "--header",
            f"Authorization: Bearer {key}",
            *(excluded if who == "admin" else []),
            *without_node,
            "--workers",
            "1",
            "--seed",
            "20261125",
            "--request-timeout",
            "20",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,  # schemathesis keeps a cache in the working directory
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]

"""`IndexKnowledgeWorkflow` on the real Temporal dev server with the real worker, through the
API: an import is indexed in the background until nothing is pending, then search finds the
item that answers a caller's question; a single item and an edit are indexed too; and
`callwright knowledge import` does all of it against the API on a real socket."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus
from typer.testing import CliRunner

from api.app import create_app
from core import embeddings
from core.knowledge_indexing import IndexProgress, index_workflow_id, request_indexing
from core.settings import Settings
from tests.conftest import EXAMPLES_DIR
from tests.local_server import serve

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the bundled MiniLM is not installed"
)

KNOWLEDGE = EXAMPLES_DIR / "knowledge"
DENTAL = json.loads((KNOWLEDGE / "dental_clinic.json").read_text())
INDEX_WAIT_S = 180


async def indexed(client: httpx.AsyncClient, domain_id: int) -> dict[str, int]:
    deadline = time.monotonic() + INDEX_WAIT_S
    while True:
        progress: dict[str, int] = (await client.get(f"/api/domains/{domain_id}/progress")).json()
        if progress["pending"] == 0:
            return progress
        assert time.monotonic() < deadline, f"still pending after {INDEX_WAIT_S} s: {progress}"
        await asyncio.sleep(0.3)


async def test_an_import_is_indexed_and_search_finds_the_answer(
    client: httpx.AsyncClient, worker: Any, temporal_client: Client, task_queue: str
) -> None:
    domain_id = (await client.post("/api/domains", json=DENTAL["domain"])).json()["id"]
    url = f"/api/domains/{domain_id}/knowledge"
    imported = (await client.post(url, json={"items": DENTAL["items"]})).json()
    assert imported["indexing"] is True and imported["progress"]["pending"] == len(DENTAL["items"])
    handbook = (KNOWLEDGE / "dental_clinic_handbook.md").read_bytes()
    # A second import while the first is being indexed: the same indexer is told, not a new one.
    uploaded = await client.post(url, files={"file": ("handbook.md", handbook, "text/markdown")})
    assert uploaded.status_code == 202 and uploaded.json()["indexing"] is True
    total = len(DENTAL["items"]) + len(uploaded.json()["created"])

    assert await indexed(client, domain_id) == {"pending": 0, "indexed": total}
    handle = temporal_client.get_workflow_handle(
        index_workflow_id(domain_id, task_queue), result_type=IndexProgress
    )
    result = await handle.result()
    assert result.pending == 0 and result.indexed == total
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert all(i["embedded"] for i in (await client.get(url)).json())

    search = f"/api/domains/{domain_id}/search"
    hits = (await client.get(search, params={"q": "hi are you open on saturdays at all"})).json()
    assert hits[0]["title"] == "Saturday hours", hits
    assert "9:00 am to 1:00 pm" in hits[0]["content"]
    assert hits[0]["similarity"] > 0.3 and "meaning #1" in hits[0]["why"]
    assert len(hits) == 5 and hits == sorted(hits, key=lambda h: -h["score"])
    parking = (
        await client.get(search, params={"q": "where do I leave my car", "k": 3, "type": "fact"})
    ).json()
    # The answer: the lot on Elm Street (the JSON's "Parking", or the handbook's "Finding us").
    assert len(parking) == 3 and any("Elm" in h["content"] for h in parking), parking
    assert all(h["knowledge_type"] == "fact" for h in parking)


async def test_another_deployments_indexer_of_the_same_domain_id_is_left_alone(
    client: httpx.AsyncClient, worker: Any, temporal_client: Client, task_queue: str
) -> None:
    """Two deployments share a Temporal namespace, each with its own database and queue; both
    have a domain 1. The other's indexer waits on a queue no worker here serves: ours must be
    started on our queue, not signalled there."""
    domain_id = (await client.post("/api/domains", json={"name": "Front desk"})).json()["id"]
    other = f"other-deployment-{uuid.uuid4().hex[:8]}"
    await request_indexing(temporal_client, domain_id, task_queue=other)
    url = f"/api/domains/{domain_id}/knowledge"
    await client.post(url, json={"title": "Wi-Fi", "content": "Guest Wi-Fi: Smile"})
    assert await indexed(client, domain_id) == {"pending": 0, "indexed": 1}
    theirs = temporal_client.get_workflow_handle(index_workflow_id(domain_id, other))
    assert (await theirs.describe()).status == WorkflowExecutionStatus.RUNNING  # still waiting
    await theirs.terminate("test over")


async def test_a_single_item_and_an_edit_are_indexed(
    client: httpx.AsyncClient, worker: Any
) -> None:
    domain_id = (await client.post("/api/domains", json={"name": "Front desk"})).json()["id"]
    url = f"/api/domains/{domain_id}/knowledge"
    item = (await client.post(url, json={"title": "Wi-Fi", "content": "Guest Wi-Fi: Smile"})).json()
    assert await indexed(client, domain_id) == {"pending": 0, "indexed": 1}
    edited = await client.patch(f"{url}/{item['id']}", json={"content": "Guest Wi-Fi: Smile2026"})
    assert edited.json()["embedded"] is False
    assert await indexed(client, domain_id) == {"pending": 0, "indexed": 1}
    assert (await client.get(f"{url}/{item['id']}")).json()["embedded"] is True


async def test_the_cli_imports_files_and_waits_for_indexing(
    call_settings: Settings, engine: AsyncEngine, api_key: str, worker: Any
) -> None:
    from workers.cli import app

    handbook = str(KNOWLEDGE / "dental_clinic_handbook.md")
    dental = str(KNOWLEDGE / "dental_clinic.json")
    async with serve(create_app(call_settings, engine=engine)) as api_url:
        args = ["knowledge", "import", "Bright Smile Dental", dental, handbook]
        args += ["--api-url", api_url, "--api-key", api_key, "--wait", str(INDEX_WAIT_S)]
        first = await asyncio.to_thread(CliRunner().invoke, app, args)
        assert first.exit_code == 0, first.output
        assert "created domain 'Bright Smile Dental'" in first.stderr
        assert f"{len(DENTAL['items'])} created, 0 skipped" in first.stdout
        assert "indexed:" in first.stdout

        again = await asyncio.to_thread(CliRunner().invoke, app, args)
        assert again.exit_code == 0, again.output
        assert "created domain" not in again.stderr
        assert f"{len(DENTAL['items'])} skipped" in again.stdout
        assert "0 created" in again.stdout

        async with httpx.AsyncClient(
            base_url=api_url, headers={"Authorization": f"Bearer {api_key}"}
        ) as client:
            domains = (await client.get("/api/domains")).json()
            assert [d["name"] for d in domains] == ["Bright Smile Dental"]
            assert domains[0]["description"] == DENTAL["domain"]["description"]
            progress = (await client.get(f"/api/domains/{domains[0]['id']}/progress")).json()
            assert progress["pending"] == 0 and progress["indexed"] > len(DENTAL["items"])

        unknown = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["knowledge", "import", "999999", dental, "--api-url", api_url, "--api-key", api_key],
        )
        assert unknown.exit_code == 2 and "no domain 999999" in unknown.stderr

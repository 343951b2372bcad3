"""`POST /api/agents/{id}/eval`: eval scenarios run against a stored agent by a real worker on a
real Temporal dev server, with the same verdicts `callwright eval --agent` gives."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from api.routes import evals as eval_route
from core.auth import Scope, create_api_key
from core.calls.temporal import connect_temporal
from core.db.session import make_sessionmaker
from core.evals import RUN_AGENT_EVAL_ACTIVITY, AgentEvalRequest, AgentEvalResult
from core.settings import BrainName, Settings
from tests.conftest import EXAMPLES_DIR, PAYLOAD_KEYS, app_client
from tests.eval.test_scenario import alias_bomb
from tests.workflows.calls import running_worker
from workers.eval import activity as eval_activity
from workers.eval.cases import load_cases
from workers.eval.suite import run_text_eval
from workers.services import EmbeddedTemporal
from workflows.agent_eval import AgentEvalWorkflow

SCENARIOS = Path(__file__).resolve().parents[1] / "eval" / "scenarios" / "appointment_scheduler"
FIRST = SCENARIOS / "appt-three-facts-at-once.yaml"
SECOND = SCENARIOS / "appt-booking-for-mother.yaml"


@pytest.fixture
def eval_settings(settings: Settings) -> Settings:
    """The test's own task queue, so no other test's worker takes its evals."""
    return settings.model_copy(update={"temporal_task_queue": f"evals-{uuid.uuid4().hex[:8]}"})


@pytest.fixture
async def temporal_client(temporal_server: EmbeddedTemporal) -> Client:
    return await connect_temporal(temporal_server.address, "default", PAYLOAD_KEYS)


@pytest.fixture
async def api(
    eval_settings: Settings, engine: AsyncEngine, api_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(eval_settings, engine, api_key) as client:
        yield client


@pytest.fixture
async def worker(
    temporal_client: Client, eval_settings: Settings, engine: AsyncEngine
) -> AsyncIterator[Any]:
    async with running_worker(temporal_client, eval_settings, engine) as built:
        yield built


async def create_scheduler(client: httpx.AsyncClient) -> int:
    document = json.loads((EXAMPLES_DIR / "appointment_scheduler.json").read_text())
    response = await client.post("/api/agents", json=document)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_scenarios_run_against_the_stored_agent_as_the_cli_runs_them(
    api: httpx.AsyncClient, worker: Any, eval_settings: Settings, tmp_path: Path
) -> None:
    agent_id = await create_scheduler(api)
    # A scenario written for another example agent runs against this one all the same.
    second = SECOND.read_text().replace(
        "agent: appointment_scheduler", "agent: restaurant_reservations"
    )
    assert "agent: restaurant_reservations" in second
    (tmp_path / SECOND.name).write_text(second)

    response = await api.post(
        f"/api/agents/{agent_id}/eval", json={"scenarios": [FIRST.read_text(), second]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["id"] for r in body["results"]] == [FIRST.stem, SECOND.stem]
    for result in body["results"]:
        assert result["description"]
        speakers = {line["speaker"] for line in result["transcript"]}
        assert speakers == {"agent", "caller"}
        assert result["transcript"][0]["speaker"] == "agent"  # the greeting
        assert all(line["text"] for line in result["transcript"])
        assert set(result) == {"id", "description", "passed", "problems", "transcript"}
    # The CLI on the same scenarios, against the same agent's document.
    cases = load_cases(
        [FIRST, tmp_path / SECOND.name], agent_file=EXAMPLES_DIR / "appointment_scheduler.json"
    )
    report = await run_text_eval(cases, BrainName.GUIDED, eval_settings)
    assert body["passed"] == len(report.passed) == 2
    assert body["failed"] == len(report.failed) == 0
    assert body["completion"] == report.completion.value == 1.0
    assert body["field_accuracy"] == report.accuracy.value == 1.0
    assert [r["passed"] for r in body["results"]] == [r.passed for r in report.results]
    assert [r["problems"] for r in body["results"]] == [[], []]


async def test_a_scenario_that_cannot_run_is_a_422_at_its_index(
    api: httpx.AsyncClient, worker: Any
) -> None:
    agent_id = await create_scheduler(api)
    broken = "id: broken\nagent: appointment_scheduler\nfacts: {date: [unclosed\n"
    unknown_field = FIRST.read_text().replace("id: appt-three-facts-at-once", "id: other") + (
        "topics:\n  party_size: [people]\n"
    )
    bad_expect = FIRST.read_text().replace("complete: true", "complete: maybe")

    response = await api.post(
        f"/api/agents/{agent_id}/eval",
        json={"scenarios": [FIRST.read_text(), broken, unknown_field, bad_expect]},
    )

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [error["loc"] for error in detail] == [
        ["body", "scenarios", 1],
        ["body", "scenarios", 2],
        ["body", "scenarios", 3],
    ]
    assert detail[0]["msg"].startswith("not valid YAML: "), detail
    assert detail[1]["msg"].startswith("topics.party_size: no such field")
    assert "service" in detail[1]["msg"]  # the fields the agent does have
    assert detail[2]["msg"].startswith("expect.complete: ")
    assert all(error["type"] == "invalid_scenario" for error in detail)


async def test_a_scenario_with_yaml_aliases_is_refused_before_they_are_followed(
    api: httpx.AsyncClient, worker: Any
) -> None:
    agent_id = await create_scheduler(api)
    started = time.monotonic()

    response = await api.post(
        f"/api/agents/{agent_id}/eval", json={"scenarios": [alias_bomb(), FIRST.read_text()]}
    )

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "scenarios", 0]
    assert error["msg"].startswith("YAML aliases (*l0) are not allowed"), error
    assert time.monotonic() - started < 30  # nothing was expanded, and nothing ran


async def test_a_second_eval_while_one_runs_is_a_503_at_once(
    api: httpx.AsyncClient, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_id = await create_scheduler(api)
    release = threading.Event()
    real = eval_activity.run_agent_eval

    async def held(request: AgentEvalRequest, *args: Any, **kwargs: Any) -> AgentEvalResult:
        release.wait(60)  # the eval's own thread: a long run, until the test lets it go on
        return await real(request, *args, **kwargs)

    monkeypatch.setattr(eval_activity, "run_agent_eval", held)
    body = {"scenarios": [FIRST.read_text()]}
    runs = [
        asyncio.create_task(api.post(f"/api/agents/{agent_id}/eval", json=body)) for _ in range(2)
    ]
    try:
        done, _ = await asyncio.wait(runs, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        [refused] = [task.result() for task in done]
    finally:
        release.set()
    assert refused.status_code == 503, refused.text
    assert refused.json()["detail"] == (
        "another scenario run is in progress on the worker; try again in a moment"
    )
    [ran] = [await task for task in runs if task not in done]
    assert ran.status_code == 200, ran.text
    assert ran.json()["passed"] == 1
    # The worker is free again once the first has finished.
    again = await api.post(f"/api/agents/{agent_id}/eval", json=body)
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("count", [0, 61])
async def test_between_one_and_sixty_scenarios(api: httpx.AsyncClient, count: int) -> None:
    agent_id = await create_scheduler(api)
    response = await api.post(
        f"/api/agents/{agent_id}/eval", json={"scenarios": ["id: x\nagent: a\n"] * count}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "scenarios"]


async def test_a_scenario_longer_than_20000_characters_is_refused(api: httpx.AsyncClient) -> None:
    agent_id = await create_scheduler(api)
    long = "id: x\nagent: a\ndescription: " + "a" * 20_000
    response = await api.post(
        f"/api/agents/{agent_id}/eval", json={"scenarios": [FIRST.read_text(), long]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "scenarios", 1]


async def test_an_unknown_agent_is_a_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/agents/999999/eval", json={"scenarios": [FIRST.read_text()]})
    assert response.status_code == 404


async def test_a_read_only_key_may_not_run_evals(
    api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    agent_id = await create_scheduler(api)
    async with make_sessionmaker(engine)() as session:
        reader = await create_api_key(session, name="reader", scopes=(Scope.READ,))
    response = await api.post(
        f"/api/agents/{agent_id}/eval",
        json={"scenarios": [FIRST.read_text()]},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert response.status_code == 403
    assert "agents:write" in response.json()["detail"]


@activity.defn(name=RUN_AGENT_EVAL_ACTIVITY)
async def never_done(request: AgentEvalRequest) -> AgentEvalResult:
    """A worker that takes the eval and does not finish in time."""
    await asyncio.sleep(60)
    return AgentEvalResult()


async def test_no_answer_in_time_is_a_504(
    api: httpx.AsyncClient,
    temporal_client: Client,
    eval_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent_id = await create_scheduler(api)
    queue = eval_settings.temporal_task_queue
    monkeypatch.setattr(eval_route, "EVAL_WAIT_S", 1.0)
    slow = Worker(
        temporal_client,
        task_queue=queue,
        workflows=[AgentEvalWorkflow],
        activities=[never_done],
    )
    async with slow:
        for _ in range(50):  # until Temporal has seen it poll
            if await eval_route._worker_listening(temporal_client, queue):
                break
            await asyncio.sleep(0.1)
        response = await api.post(
            f"/api/agents/{agent_id}/eval", json={"scenarios": [FIRST.read_text()]}
        )
    assert response.status_code == 504
    assert "did not finish within 120 s" in response.json()["detail"]


async def test_with_no_worker_running_the_eval_is_a_503_at_once(api: httpx.AsyncClient) -> None:
    agent_id = await create_scheduler(api)
    started = time.monotonic()
    response = await api.post(
        f"/api/agents/{agent_id}/eval", json={"scenarios": [FIRST.read_text()]}
    )
    assert response.status_code == 503
    assert "no worker is running" in response.json()["detail"]
    assert time.monotonic() - started < 10


async def test_without_temporal_the_eval_is_a_503(
    eval_settings: Settings, engine: AsyncEngine, api_key: str
) -> None:
    from workers.services import find_free_port

    nowhere = eval_settings.model_copy(update={"temporal_address": f"127.0.0.1:{find_free_port()}"})
    async with app_client(nowhere, engine, api_key) as client:
        agent_id = await create_scheduler(client)
        response = await client.post(
            f"/api/agents/{agent_id}/eval", json={"scenarios": [FIRST.read_text()]}
        )
    assert response.status_code == 503

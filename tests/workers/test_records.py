"""Reading a call's final record back through the API, on a real socket."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.local_server import serve
from workers.caller.records import finished_call


def calls_api(statuses: list[str | int]) -> Starlette:
    """An API whose call CA1 reports `statuses` one GET after another: a call status, or an
    HTTP error code to answer instead (404 once they run out)."""
    seen: list[int] = [0]

    async def get_call(request: Request) -> JSONResponse:
        index = seen[0]
        seen[0] += 1
        if index >= len(statuses) or request.path_params["sid"] != "CA1":
            return JSONResponse({"detail": "no such call"}, status_code=404)
        status = statuses[index]
        if isinstance(status, int):
            return JSONResponse({"detail": "error"}, status_code=status)
        return JSONResponse({"call_sid": "CA1", "status": status, "transcript": []})

    return Starlette(routes=[Route("/api/calls/{sid}", get_call)])


async def test_waits_until_the_workflow_has_finished_through_a_brief_outage() -> None:
    async with serve(calls_api(["in_progress", 503, "in_progress", "completed"])) as url:
        async with httpx.AsyncClient(base_url=url) as api:
            call = await finished_call(api, "CA1", timeout_s=10)
    assert call["status"] == "completed"


async def test_a_call_that_never_finishes_times_out_saying_what_it_saw() -> None:
    async with serve(calls_api(["in_progress"] * 1000)) as url:
        async with httpx.AsyncClient(base_url=url) as api:
            with pytest.raises(TimeoutError, match="last status: in_progress"):
                await finished_call(api, "CA1", timeout_s=0.5)
            with pytest.raises(TimeoutError, match="last status: no record"):
                await finished_call(api, "CA2", timeout_s=0.5)


async def test_a_refused_request_fails_at_once() -> None:
    async with serve(calls_api([401])) as url:
        async with httpx.AsyncClient(base_url=url) as api:
            with pytest.raises(httpx.HTTPStatusError, match="401"):
                await finished_call(api, "CA1", timeout_s=10)

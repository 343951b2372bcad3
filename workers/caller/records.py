"""The platform's record of a call, read back through the API once the call is over."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

__all__ = ["finished_call"]


async def finished_call(
    api: httpx.AsyncClient, call_sid: str, *, timeout_s: float = 30.0
) -> dict[str, Any]:
    """`GET /api/calls/{call_sid}` (on an authenticated client) once the call's workflow has
    finished: its transcript, outcome and end reason are final then.

    The stream closes before the workflow records the end, so a caller that has just hung up
    waits a moment. Raises TimeoutError, with the status last seen, if it never finishes, and
    httpx.HTTPStatusError at once if the API refuses the request.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    call: dict[str, Any] = {}
    while asyncio.get_running_loop().time() < deadline:
        response = await api.get(f"/api/calls/{call_sid}")
        if response.status_code == 200:
            call = response.json()
            if call.get("status") == "completed":
                return call
        elif response.status_code != 404 and response.status_code < 500:
            response.raise_for_status()  # refused (401, 403…): waiting will not change it
        # 404: not recorded yet; 5xx: the API or Temporal is briefly unavailable. Ask again.
        await asyncio.sleep(0.2)
    raise TimeoutError(
        f"call {call_sid} did not finish within {timeout_s:.0f} s "
        f"(last status: {call.get('status', 'no record')})"
    )

"""A local stand-in for Twilio's REST API (the cloud is out of reach here): it speaks the same
wire protocol the `twilio` package uses — form-encoded POSTs under /2010-04-01/Accounts/<sid>/,
HTTP Basic auth with the account SID and auth token, JSON answers — on a real loopback socket."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from tests.local_server import read_body, serve


@dataclass
class FakeTwilio:
    """Records calls created and updated; checks credentials like Twilio does."""

    account_sid: str
    auth_token: str
    url: str = ""
    created: list[dict[str, list[str]]] = field(default_factory=list)
    updated: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = dict(scope["headers"])
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode())
        if headers.get(b"authorization") != b"Basic " + expected:
            await self._answer(send, 401, {"code": 20003, "message": "Authenticate", "status": 401})
            return
        form = parse_qs(body.decode())
        prefix = f"/2010-04-01/Accounts/{self.account_sid}/Calls"
        path = scope["path"]
        if scope["method"] == "POST" and path == f"{prefix}.json":
            self.created.append(form)
            sid = "CA" + uuid.uuid4().hex
            await self._answer(send, 201, self._call(sid, form, "queued"))
        elif scope["method"] == "POST" and path.startswith(prefix + "/") and path.endswith(".json"):
            sid = path[len(prefix) + 1 : -len(".json")]
            self.updated.append((sid, form))
            await self._answer(
                send, 200, self._call(sid, form, form.get("Status", ["in-progress"])[0])
            )
        else:
            await self._answer(send, 404, {"code": 20404, "message": "not found", "status": 404})

    def _call(self, sid: str, form: dict[str, list[str]], status: str) -> dict[str, object]:
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form.get("To", [""])[0],
            "from": form.get("From", [""])[0],
            "status": status,
            "direction": "outbound-api",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json",
        }

    async def _answer(self, send: Send, status: int, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def run_fake_twilio(account_sid: str, auth_token: str) -> AsyncIterator[FakeTwilio]:
    """The fake, serving on a free loopback port for the duration of the block."""
    fake = FakeTwilio(account_sid, auth_token)
    async with serve(fake) as url:
        fake.url = url
        yield fake

"""`callwright knowledge import DOMAIN FILES…`: a business's knowledge into a domain, through
the API, then a progress bar until every item is indexed.

    callwright knowledge import "Bright Smile Dental" examples/knowledge/dental_clinic.json \\
        examples/knowledge/dental_clinic_handbook.md

DOMAIN is a domain's name or id; a name not yet taken creates the domain (described by the
first JSON file's `domain`). Files: `.json` in the sample format (`{"domain": {name,
description}, "items": [{key, knowledge_type, content, metadata}]}`), `.md`, `.txt`, `.pdf`.
Against the dev stack by default, like `callwright call`: its API URL and development key come
from `stack.json` and `dev-api-key` in the data folder. Results go to stdout, progress to
stderr.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core.documents import EXTENSIONS_WITH_PDF
from workers.stack import dev_key, local_settings, stack_api_url

__all__ = ["knowledge_app"]

knowledge_app = typer.Typer(
    help="Import a business's knowledge into a domain and watch it being indexed.",
    no_args_is_help=True,
)

_errors = Console(stderr=True)
_out = Console()
API_TIMEOUT_S: Final = 60.0
POLL_S: Final = 0.5
MAX_ITEMS_PER_REQUEST: Final = 1000  # the API's bound on one import (api/schemas/domains.py)


class _UsageError(Exception):
    """Something the user can fix on the command line (exit code 2)."""


class _ApiError(Exception):
    """The API refused or failed a request (exit code 1)."""


@dataclass
class _Imported:
    """What one file added."""

    path: Path
    created: int
    skipped: int


@knowledge_app.command("import")
def import_command(
    domain: Annotated[str, typer.Argument(help="The domain's name or id (a new name creates it)")],
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, help="Files: .json (sample format), .md, .txt, .pdf"
        ),
    ],
    api_url: Annotated[
        str | None,
        typer.Option(help="The API (default: the dev stack's, else API_HOST:API_PORT)"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="CALLWRIGHT_API_KEY",
            help="An API key with `agents:write` (default: the dev stack's)",
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="The dev stack's folder (default: CALLWRIGHT_DATA_DIR)")
    ] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for indexing (0: do not wait)", min=0)
    ] = 600.0,
) -> None:
    """Import FILES into DOMAIN through the API, print what was created and skipped, and show
    indexing progress until every item is searchable."""
    try:
        settings = local_settings()  # development unless CALLWRIGHT_ENV says otherwise
    except ValueError as exc:
        _errors.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    try:
        for path in files:
            _check_kind(path)
        documents = [_read_json(path) if _is_json(path) else None for path in files]
        folder = data_dir or settings.data_dir
        base = api_url or stack_api_url(settings, folder)
        key = api_key or dev_key(folder)
        if key is None:
            raise _UsageError(
                "no API key: pass --api-key or set CALLWRIGHT_API_KEY "
                "(or run `callwright dev`, whose key is used by default)"
            )
        code = asyncio.run(_import(base, key, domain, files, documents, wait_s=wait))
    except _UsageError as exc:
        _errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except (_ApiError, httpx.HTTPError) as exc:
        _errors.print(f"[red]import failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    raise typer.Exit(code)


def _is_json(path: Path) -> bool:
    return path.suffix.lower() == ".json"


def _check_kind(path: Path) -> None:
    if not _is_json(path) and path.suffix.lower() not in EXTENSIONS_WITH_PDF:
        kinds = ", ".join([".json", *EXTENSIONS_WITH_PDF])
        raise _UsageError(f"{path}: not a file this command imports ({kinds})")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _UsageError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise _UsageError(f'{path}: expected {{"domain": {{…}}, "items": [...]}}')
    return document


async def _import(
    api_url: str,
    api_key: str,
    domain: str,
    files: list[Path],
    documents: list[dict[str, Any] | None],
    *,
    wait_s: float,
) -> int:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=API_TIMEOUT_S) as api:
        domain_id, name = await _domain(api, domain, [d for d in documents if d is not None])
        results: list[_Imported] = []
        answered: list[dict[str, Any]] = []
        for path, document in zip(files, documents, strict=True):
            answers = (
                [await _upload(api, domain_id, path)]
                if document is None
                else await _post_items(api, domain_id, document["items"])
            )
            results.append(
                _Imported(
                    path,
                    created=sum(len(a["created"]) for a in answers),
                    skipped=sum(a["skipped"] for a in answers),
                )
            )
            answered += answers
        for result in results:
            _out.print(f"{result.path}: {result.created} created, {result.skipped} skipped")
        _out.print(
            f"{sum(r.created for r in results)} created, {sum(r.skipped for r in results)} "
            f"skipped in domain {name!r} (id {domain_id})"
        )
        # The API answers `indexing: false` when nothing waits, or when Temporal is unreachable.
        waiting = bool(answered) and answered[-1]["progress"]["pending"] > 0
        if waiting and not any(a["indexing"] for a in answered):
            _errors.print(
                "[yellow]the API could not reach Temporal: the items are stored and wait to be "
                "indexed (import again, or edit an item, once a worker runs)[/yellow]"
            )
            return 0
        if wait_s > 0:
            return await _watch(api, domain_id, wait_s)
        return 0


async def _domain(
    api: httpx.AsyncClient, wanted: str, documents: list[dict[str, Any]]
) -> tuple[int, str]:
    """The domain's id and name: `wanted` as an id, else as a name (created when new)."""
    if wanted.isdigit():
        response = await api.get(f"/api/domains/{wanted}")
        if response.status_code == 404:
            raise _UsageError(f"there is no domain {wanted} (give a name to create one)")
        found = _json(response)
        return int(found["id"]), str(found["name"])
    for existing in _json(await api.get("/api/domains")):
        if existing["name"] == wanted:
            return int(existing["id"]), wanted
    described = [d.get("domain") or {} for d in documents]
    same = [d for d in described if d.get("name") == wanted]
    description = str((same or described or [{}])[0].get("description", ""))
    created = _json(
        await api.post("/api/domains", json={"name": wanted, "description": description})
    )
    _errors.print(f"created domain {wanted!r} (id {created['id']})")
    return int(created["id"]), wanted


async def _post_items(
    api: httpx.AsyncClient, domain_id: int, items: list[Any]
) -> list[dict[str, Any]]:
    answers = []
    for start in range(0, len(items), MAX_ITEMS_PER_REQUEST):
        chunk = items[start : start + MAX_ITEMS_PER_REQUEST]
        response = await api.post(f"/api/domains/{domain_id}/knowledge", json={"items": chunk})
        answers.append(_json(response))
    return answers


async def _upload(api: httpx.AsyncClient, domain_id: int, path: Path) -> dict[str, Any]:
    media_type = EXTENSIONS_WITH_PDF[path.suffix.lower()]
    data = await asyncio.to_thread(path.read_bytes)
    response = await api.post(
        f"/api/domains/{domain_id}/knowledge", files={"file": (path.name, data, media_type)}
    )
    answer: dict[str, Any] = _json(response)
    return answer


def _json(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        if isinstance(detail, list):
            detail = "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}" for d in detail
            )
        raise _ApiError(
            f"{response.request.method} {response.request.url.path} → "
            f"{response.status_code}: {detail}"
        )
    return response.json()


async def _watch(api: httpx.AsyncClient, domain_id: int, wait_s: float) -> int:
    """A progress bar of the domain's indexing until nothing is pending; 1 if it takes longer
    than `wait_s`."""
    deadline = time.monotonic() + wait_s
    columns = (
        TextColumn("indexing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_errors, transient=False) as bar:
        task = bar.add_task("indexing", total=None)
        while True:
            progress = _json(await api.get(f"/api/domains/{domain_id}/progress"))
            pending, indexed = int(progress["pending"]), int(progress["indexed"])
            bar.update(task, total=pending + indexed, completed=indexed)
            if pending == 0:
                break
            if time.monotonic() > deadline:
                _errors.print(
                    f"[yellow]{pending} items still wait to be indexed after {wait_s:.0f} s; "
                    "is a worker running?[/yellow]"
                )
                return 1
            await asyncio.sleep(POLL_S)
    _out.print(f"indexed: {indexed} items searchable")
    return 0

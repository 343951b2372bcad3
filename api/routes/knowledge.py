"""A domain's knowledge, in bulk: `POST /api/domains/{id}/knowledge` (one item, a list of
items, or a document file), `GET /api/domains/{id}/progress` (how much is indexed) and
`GET /api/domains/{id}/search` (what a caller's question would find).

Imported text goes through `KnowledgeBase.add_knowledge`: long text is split, and text the
domain holds already is skipped, so importing the same file again changes nothing. Embeddings
are computed in the background by the domain's `IndexKnowledgeWorkflow`.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from api.deps import CurrentKey, IdPath, SessionDep, authorize
from api.indexing import index_domain
from api.middleware import PathLimit
from api.routes.domains import ensure_new_content, get_domain_or_404
from api.schemas.domains import (
    MAX_IMPORT_ITEMS,
    MAX_QUERY_CHARS,
    MAX_SEARCH_RESULTS,
    KnowledgeHit,
    KnowledgeImport,
    KnowledgeImportResult,
    KnowledgeItemCreate,
    KnowledgeItemPublic,
    KnowledgeProgress,
    StoredText,
)
from core import embeddings
from core.auth import Scope
from core.db.models import KnowledgeItem
from core.documents import (
    ACCEPTED_TYPES,
    UnreadableDocumentError,
    UnsupportedDocumentError,
    document_text,
    document_type,
)
from core.errors import InvalidValueError, TooLargeError, UnsupportedTypeError
from core.knowledge import KnowledgeBase, KnowledgeType
from core.settings import Settings

router = APIRouter(
    prefix="/api/domains", tags=["domains"], dependencies=[Depends(authorize(Scope.AGENTS_WRITE))]
)

IMPORT_PATH: Final = re.compile(r"/api/domains/[^/]+/knowledge/?")
# Room for a multipart body's boundaries, part headers and small fields around the file.
MULTIPART_ROOM: Final = 64 * 1024
DEFAULT_RESULTS: Final = 5


def import_body_limit(settings: Settings) -> PathLimit:
    """The body limit of the import route: a whole document (KNOWLEDGE_UPLOAD_MAX_BYTES)."""
    return PathLimit(
        method="POST",
        pattern=IMPORT_PATH,
        max_bytes=max(
            settings.max_request_bytes, settings.knowledge_upload_max_bytes + MULTIPART_ROOM
        ),
        detail=(
            f"a knowledge import may send at most {settings.knowledge_upload_max_bytes} bytes "
            "(KNOWLEDGE_UPLOAD_MAX_BYTES)"
        ),
    )


class KnowledgeFileFields(BaseModel):
    """The form fields that may come with an uploaded document."""

    model_config = ConfigDict(extra="ignore")

    knowledge_type: KnowledgeType = KnowledgeType.FACT
    title: Annotated[StoredText, Field(max_length=300)] = ""
    """Put before each piece's heading path (default: none; the headings, else first words)."""


def _request_body() -> dict[str, Any]:
    """The import route's body for OpenAPI: it reads JSON or a form itself, by content type."""
    fields = _inline(KnowledgeFileFields.model_json_schema())["properties"]
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        _inline(KnowledgeItemCreate.model_json_schema()),
                        _inline(KnowledgeImport.model_json_schema()),
                    ]
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": f"A document: {', '.join(ACCEPTED_TYPES)}",
                        },
                        "knowledge_type": fields["knowledge_type"],
                        "title": fields["title"],
                    },
                },
                "encoding": {"file": {"contentType": ", ".join(ACCEPTED_TYPES)}},
            },
        },
    }


def _inline(schema: dict[str, Any]) -> Any:
    """`schema` with its local `$ref`s replaced by what they name (the models are not
    recursive), so it stands alone inside the OpenAPI document."""
    defs = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                extra = {k: v for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[node["$ref"].rsplit("/", 1)[-1]]), **extra}
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


@router.post(
    "/{domain_id}/knowledge",
    response_model=KnowledgeItemPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {
            "model": KnowledgeImportResult,
            "description": "Items or a document stored; searchable once indexed (`progress`)",
        },
        413: {"description": "The body or file is larger than KNOWLEDGE_UPLOAD_MAX_BYTES"},
        415: {"description": "Neither JSON nor a form, or a file of a type not read"},
    },
    openapi_extra={"requestBody": _request_body()},
)
async def add_knowledge(
    request: Request, session: SessionDep, key: CurrentKey, domain_id: IdPath
) -> Any:
    """Add knowledge to a domain, one of three ways:

    - one item, `{"title", "content"}`: 201 and the item (a second copy of its text is a 409);
    - many, `{"items": [{"knowledge_type" (or "type"), "content", "title"?, "key"?,
      "metadata"?}, …]}` (at most 1000): 202;
    - a document, multipart `file` (text/plain, text/markdown or application/pdf) with
      optional `knowledge_type` and `title` fields: 202.

    Items and documents are split when long; text the domain holds already is skipped (a
    re-import changes nothing). A 202 answers the new ids, the skipped count and the domain's
    progress; embeddings are computed in the background (`GET …/progress`)."""
    await get_domain_or_404(session, key, domain_id)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        result = await _import_file(request, session, domain_id)
    elif media in ("", "application/json") or media.endswith("+json"):
        body = await _json_body(request)
        if not (isinstance(body, dict) and "items" in body):
            return await _add_one(
                request, session, domain_id, KnowledgeItemCreate.model_validate(body)
            )
        result = await _import_items(
            request, session, domain_id, KnowledgeImport.model_validate(body)
        )
    else:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send application/json (one item, or up to {MAX_IMPORT_ITEMS} as `items`) or "
            "multipart/form-data with a `file`",
        )
    return JSONResponse(result.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", position), "msg": "JSON decode error"}]
        ) from None


async def _add_one(
    request: Request, session: SessionDep, domain_id: int, body: KnowledgeItemCreate
) -> KnowledgeItem:
    item = KnowledgeItem(domain_id=domain_id, **body.model_dump())
    await ensure_new_content(session, item)
    session.add(item)
    await session.commit()
    await index_domain(request, domain_id, created=1)
    return item


async def _import_items(
    request: Request, session: SessionDep, domain_id: int, body: KnowledgeImport
) -> KnowledgeImportResult:
    knowledge = KnowledgeBase(session)
    created: list[int] = []
    skipped = 0
    for item in body.items:
        metadata = {**item.metadata, **({"key": item.key} if item.key else {})}
        ids, already = await knowledge.add_knowledge(
            domain_id,
            item.content,
            knowledge_type=item.knowledge_type,
            metadata=metadata,
            title=item.resolved_title,
        )
        created += ids
        skipped += already
    return await _imported(request, knowledge, domain_id, created, skipped)


async def _import_file(
    request: Request, session: SessionDep, domain_id: int
) -> KnowledgeImportResult:
    settings: Settings = request.app.state.settings
    limit = settings.knowledge_upload_max_bytes
    async with request.form(max_files=1, max_fields=8) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidValueError("send the document as a form field named `file`", field="file")
        fields = KnowledgeFileFields.model_validate(
            {name: value for name, value in form.items() if isinstance(value, str)}
        )
        data = await upload.read(limit + 1)
        filename = upload.filename or ""
        declared = upload.content_type
    if len(data) > limit:
        raise TooLargeError(
            f"the file is larger than {limit} bytes (KNOWLEDGE_UPLOAD_MAX_BYTES)",
            limit=limit,
            field="file",
        )
    try:
        media = document_type(declared, filename)
    except UnsupportedDocumentError as exc:
        raise UnsupportedTypeError(str(exc), field="file") from None
    try:
        text = await asyncio.to_thread(document_text, data, media)
    except UnreadableDocumentError as exc:
        raise InvalidValueError(str(exc), field="file") from None
    knowledge = KnowledgeBase(session)
    metadata = {"source": filename[:300], "media_type": media}
    created, skipped = await knowledge.add_knowledge(
        domain_id, text, knowledge_type=fields.knowledge_type, metadata=metadata, title=fields.title
    )
    return await _imported(request, knowledge, domain_id, created, skipped)


async def _imported(
    request: Request,
    knowledge: KnowledgeBase,
    domain_id: int,
    created: list[int],
    skipped: int,
) -> KnowledgeImportResult:
    pending, indexed = await knowledge.progress(domain_id)
    # Whenever anything waits, not only when this import added it: re-importing is also how an
    # admin retries items a Temporal outage left pending.
    indexing = pending > 0 and await index_domain(request, domain_id, created=len(created))
    return KnowledgeImportResult(
        created=created,
        skipped=skipped,
        progress=KnowledgeProgress(pending=pending, indexed=indexed),
        indexing=indexing,
    )


@router.get("/{domain_id}/progress", response_model=KnowledgeProgress)
async def knowledge_progress(
    session: SessionDep, key: CurrentKey, domain_id: IdPath
) -> KnowledgeProgress:
    """How many of the domain's items wait for their embedding, and how many are searchable."""
    await get_domain_or_404(session, key, domain_id)
    pending, indexed = await KnowledgeBase(session).progress(domain_id)
    return KnowledgeProgress(pending=pending, indexed=indexed)


@router.get("/{domain_id}/search", response_model=list[KnowledgeHit])
async def search_knowledge(
    session: SessionDep,
    key: CurrentKey,
    domain_id: IdPath,
    q: Annotated[
        str,
        Query(min_length=1, max_length=MAX_QUERY_CHARS, description="A caller's question"),
    ],
    k: Annotated[int, Query(ge=1, le=MAX_SEARCH_RESULTS, description="How many items")] = (
        DEFAULT_RESULTS
    ),
    knowledge_type: Annotated[
        list[KnowledgeType] | None, Query(alias="type", description="Only these kinds")
    ] = None,
) -> list[KnowledgeHit]:
    """The domain's items that best answer `q`, best first, each with why it matched (meaning,
    shared words, or both). What an agent's caller asking `q` would be answered from."""
    await get_domain_or_404(session, key, domain_id)
    _check_query(q)
    if not embeddings.available():
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "search needs the embedding model on the API (install the `cpu` extra)",
        )
    vector = (await asyncio.to_thread(embeddings.embed, [q]))[0]
    hits = await KnowledgeBase(session).search_relevant(
        q, [domain_id], k=k, types=knowledge_type, vector=vector.tolist()
    )
    return [
        KnowledgeHit(
            item_id=hit.item_id,
            title=hit.title,
            content=hit.content,
            knowledge_type=hit.knowledge_type,
            score=hit.score,
            similarity=hit.similarity,
            why=hit.why,
        )
        for hit in hits
    ]


def _check_query(q: str) -> None:
    problem = None
    if not q.strip():
        problem = "the question must not be blank"
    elif "\x00" in q:
        problem = "the question must not contain NUL characters"
    else:
        try:
            q.encode()
        except UnicodeEncodeError:
            problem = "the question must be valid Unicode"
    if problem is not None:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "q"), "msg": problem}]
        )

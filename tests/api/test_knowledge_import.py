"""Importing domain knowledge through the API: a list of items, Markdown, plain text and PDF
files; duplicates skipped; limits and refusals naming the field; another organization's domain
unseen. No worker runs here (tests/workflows/test_knowledge_indexing.py indexes): imported
items wait, pending."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.auth import Scope, create_api_key
from core.db.session import make_sessionmaker
from core.organizations import ensure_organization
from core.settings import Settings
from tests.conftest import EXAMPLES_DIR, app_client
from workers.services import find_free_port

DENTAL = json.loads((EXAMPLES_DIR / "knowledge" / "dental_clinic.json").read_text())
HANDBOOK = (EXAMPLES_DIR / "knowledge" / "dental_clinic_handbook.md").read_bytes()


def tiny_pdf(*lines: str) -> bytes:
    """A one-page PDF whose page shows `lines`, written by hand (xref offsets included)."""
    text = " ".join(f"({line}) Tj T*" for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


async def new_domain(client: httpx.AsyncClient, name: str = "Bright Smile Dental") -> int:
    created = await client.post("/api/domains", json={"name": name})
    assert created.status_code == 201, created.text
    domain_id: int = created.json()["id"]
    return domain_id


def upload(name: str, data: bytes, media_type: str, **fields: str) -> dict[str, Any]:
    return {"files": {"file": (name, data, media_type)}, "data": fields}


def loc(response: httpx.Response) -> list[Any]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return list(detail[0]["loc"])


async def test_a_list_imports_once_and_a_second_time_is_skipped(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    body = {"items": DENTAL["items"]}
    first = await client.post(f"/api/domains/{domain_id}/knowledge", json=body)
    assert first.status_code == 202, first.text
    result = first.json()
    assert len(result["created"]) == len(DENTAL["items"]) and result["skipped"] == 0
    assert result["progress"] == {"pending": len(DENTAL["items"]), "indexed": 0}

    again = (await client.post(f"/api/domains/{domain_id}/knowledge", json=body)).json()
    assert again["created"] == [] and again["skipped"] == len(DENTAL["items"])
    assert again["progress"]["pending"] == len(DENTAL["items"])

    items = (await client.get(f"/api/domains/{domain_id}/knowledge")).json()
    hours = next(i for i in items if i["title"] == "Opening hours")
    assert "8:00 am to 6:00 pm" in hours["content"] and hours["embedded"] is False
    progress = await client.get(f"/api/domains/{domain_id}/progress")
    assert progress.json() == {"pending": len(DENTAL["items"]), "indexed": 0}


async def test_list_items_take_type_title_and_key(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    body = {
        "items": [
            {"type": "policy", "content": "Cancel 24 hours ahead or pay $50.", "key": "cancel"},
            {"content": "Parking: 12 bays behind the building.", "title": "Parking"},
        ]
    }
    result = (await client.post(f"/api/domains/{domain_id}/knowledge", json=body)).json()
    assert len(result["created"]) == 2
    titles = [i["title"] for i in (await client.get(f"/api/domains/{domain_id}/knowledge")).json()]
    assert titles == ["Cancel 24 hours ahead or pay $50.", "Parking"]


async def test_bad_lists_are_refused_naming_the_item(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    url = f"/api/domains/{domain_id}/knowledge"
    wrong_type = await client.post(url, json={"items": [{"type": "rumour", "content": "x"}]})
    assert wrong_type.status_code == 422
    assert loc(wrong_type) == ["body", "items", 0, "type"]
    blank = await client.post(url, json={"items": [{"content": "ok"}, {"content": "   "}]})
    assert blank.status_code == 422 and loc(blank) == ["body", "items", 1, "content"]
    too_many = await client.post(url, json={"items": [{"content": f"f{i}"} for i in range(1001)]})
    assert too_many.status_code == 422 and loc(too_many) == ["body", "items"]
    assert (await client.post(url, json={"items": []})).status_code == 422
    broken = await client.post(url, content=b"{", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and loc(broken)[0] == "body"
    # Nothing of a refused request is stored.
    assert (await client.get(f"/api/domains/{domain_id}/progress")).json()["pending"] == 0


async def test_markdown_is_split_at_its_headings(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    url = f"/api/domains/{domain_id}/knowledge"
    response = await client.post(
        url, **upload("handbook.md", HANDBOOK, "text/markdown", knowledge_type="process")
    )
    assert response.status_code == 202, response.text
    created = response.json()["created"]
    assert len(created) > 5
    items = (await client.get(url)).json()
    assert {i["id"] for i in items} == set(created)
    assert any(" › " in i["title"] for i in items)  # heading paths, not one blob
    assert all(len(i["content"]) <= 900 for i in items)

    # curl sends `application/octet-stream`: the name says what it is. Same text: skipped.
    again = await client.post(url, **upload("handbook.md", HANDBOOK, "application/octet-stream"))
    assert again.status_code == 202
    assert again.json()["created"] == [] and again.json()["skipped"] == len(created)


async def test_a_pdf_and_a_text_file_are_read(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    url = f"/api/domains/{domain_id}/knowledge"
    pdf = tiny_pdf("Emergency line: call 217-555-0199 after hours.", "Open Saturdays 9 to 1.")
    response = await client.post(url, **upload("after-hours.pdf", pdf, "application/pdf"))
    assert response.status_code == 202, response.text
    text = await client.post(url, **upload("wifi.txt", b"Guest Wi-Fi: SmileGuest", "text/plain"))
    assert text.status_code == 202, text.text
    contents = [i["content"] for i in (await client.get(url)).json()]
    assert any("217-555-0199" in c and "Saturdays" in c for c in contents)
    assert "Guest Wi-Fi: SmileGuest" in contents


async def test_files_too_large_of_the_wrong_type_or_unreadable_are_refused(
    settings: Settings, engine: AsyncEngine, api_key: str
) -> None:
    small = settings.model_copy(update={"knowledge_upload_max_bytes": 2048})
    async with app_client(small, engine, api_key) as client:
        domain_id = await new_domain(client)
        url = f"/api/domains/{domain_id}/knowledge"

        large = await client.post(url, **upload("big.txt", b"word " * 1000, "text/plain"))
        assert large.status_code == 413
        assert loc(large) == ["body", "file"] and "2048" in large.json()["detail"][0]["msg"]
        # Far past the limit, the body itself is cut off as it streams, still naming it.
        huge = await client.post(url, **upload("big.txt", b"x" * 2_000_000, "text/plain"))
        assert huge.status_code == 413 and "KNOWLEDGE_UPLOAD_MAX_BYTES" in huge.text

        image = await client.post(url, **upload("logo.png", b"\x89PNG\r\n", "image/png"))
        assert image.status_code == 415 and loc(image) == ["body", "file"]
        unnamed = await client.post(url, **upload("notes", b"hello", "application/octet-stream"))
        assert unnamed.status_code == 415
        csv = await client.post(url, content=b"a,b", headers={"content-type": "text/csv"})
        assert csv.status_code == 415

        for name, data, media_type in [
            ("empty.txt", b"", "text/plain"),
            ("blank.md", b"\n \n", "text/markdown"),
            ("latin1.txt", "café".encode("latin-1"), "text/plain"),
            ("broken.pdf", b"%PDF-1.4 not really", "application/pdf"),
            ("blank.pdf", tiny_pdf(), "application/pdf"),
        ]:
            refused = await client.post(url, **upload(name, data, media_type))
            assert refused.status_code == 422, (name, refused.text)
            assert loc(refused) == ["body", "file"], name
        no_file = await client.post(url, data={"title": "x"}, files={"other": ("a.txt", b"a")})
        assert no_file.status_code == 422 and loc(no_file) == ["body", "file"]
        assert (await client.get(f"/api/domains/{domain_id}/progress")).json()["pending"] == 0


async def test_one_item_is_still_201_and_a_copy_409(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    url = f"/api/domains/{domain_id}/knowledge"
    item = {"title": "Hours", "content": "Mon-Fri 8 to 6"}
    created = await client.post(url, json=item)
    assert created.status_code == 201 and created.json()["title"] == "Hours"
    copy = await client.post(url, json=item)
    assert copy.status_code == 409 and loc(copy) == ["body", "content"]
    assert (await client.post(url, json={"title": "x", "content": "a\x00b"})).status_code == 422


async def test_search_checks_its_question(client: httpx.AsyncClient) -> None:
    domain_id = await new_domain(client)
    url = f"/api/domains/{domain_id}/search"
    for params in [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 501}, {"q": "a\x00b"}]:
        response = await client.get(url, params=params)
        assert response.status_code == 422, params
        assert loc(response) == ["query", "q"], params
    for k in ("0", "21"):
        response = await client.get(url, params={"q": "parking", "k": k})
        assert response.status_code == 422 and loc(response) == ["query", "k"]


async def test_another_organization_s_domain_is_not_found(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    domain_id = await new_domain(client)
    async with make_sessionmaker(engine)() as session:
        other = await ensure_organization(session, "Other Clinic")
        key = await create_api_key(
            session,
            name=f"other-{uuid.uuid4().hex[:6]}",
            organization_id=other.id,
            scopes=(Scope.READ, Scope.AGENTS_WRITE),
        )
    h = {"Authorization": f"Bearer {key}"}
    url = f"/api/domains/{domain_id}"
    imported = await client.post(f"{url}/knowledge", json={"items": DENTAL["items"][:2]}, headers=h)
    assert imported.status_code == 404
    uploaded = await client.post(
        f"{url}/knowledge", headers=h, **upload("a.txt", b"secret plan", "text/plain")
    )
    assert uploaded.status_code == 404
    assert (await client.get(f"{url}/search", params={"q": "hours"}, headers=h)).status_code == 404
    assert (await client.get(f"{url}/progress", headers=h)).status_code == 404
    assert (await client.get(f"{url}/progress")).json() == {"pending": 0, "indexed": 0}


async def test_read_scope_searches_but_does_not_import(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    domain_id = await new_domain(client)
    async with make_sessionmaker(engine)() as session:
        reader = await create_api_key(session, name="reader", scopes=(Scope.READ,))
    h = {"Authorization": f"Bearer {reader}"}
    url = f"/api/domains/{domain_id}"
    refused = await client.post(f"{url}/knowledge", json={"items": [{"content": "x"}]}, headers=h)
    assert refused.status_code == 403
    assert (await client.get(f"{url}/progress", headers=h)).status_code == 200
    assert (await client.get(f"{url}/search", params={"q": "hours"}, headers=h)).status_code == 200


async def test_without_temporal_the_import_is_stored_and_waits(
    settings: Settings, engine: AsyncEngine, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{find_free_port()}"})
    async with app_client(nowhere, engine, api_key) as client:
        domain_id = await new_domain(client)
        with caplog.at_level(logging.WARNING, logger="api.indexing"):
            response = await client.post(
                f"/api/domains/{domain_id}/knowledge", json={"items": DENTAL["items"][:3]}
            )
    assert response.status_code == 202, response.text
    assert response.json()["indexing"] is False
    assert response.json()["progress"] == {"pending": 3, "indexed": 0}
    assert any("not indexed yet" in r.getMessage() for r in caplog.records)

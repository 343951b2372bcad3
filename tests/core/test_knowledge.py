"""KnowledgeBase: documents split sensibly, stored once, found by meaning and by words, against
real PostgreSQL with pgvector and the bundled MiniLM."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core import embeddings
from core.db.models import Domain, KnowledgeItem
from core.db.session import make_sessionmaker
from core.knowledge import MAX_CHUNK_CHARS, KnowledgeBase, KnowledgeType, split_document
from core.organizations import default_organization

HANDBOOK = """# Patient handbook

Welcome to the practice.

## Your first visit

Please arrive fifteen minutes early. Bring your insurance card and a photo ID.

## Paying for treatment

### Insurance

We accept Delta Dental and Cigna. We do not accept Medicaid.

### Payment plans

Treatment over $500 can be spread over twelve months at no interest.
"""


def test_a_document_is_split_at_its_headings_with_the_heading_path_as_title() -> None:
    chunks = split_document(HANDBOOK, title="Handbook")
    titles = [c.title for c in chunks]
    assert titles == [
        "Handbook › Patient handbook",
        "Handbook › Patient handbook › Your first visit",
        "Handbook › Patient handbook › Paying for treatment › Insurance",
        "Handbook › Patient handbook › Paying for treatment › Payment plans",
    ]
    assert chunks[2].content == "We accept Delta Dental and Cigna. We do not accept Medicaid."


def test_a_long_section_is_cut_at_sentences_with_overlap_and_no_piece_too_long() -> None:
    sentences = [f"Fact number {n} is about the clinic and its many services." for n in range(60)]
    chunks = split_document("## Services\n\n" + " ".join(sentences))
    assert len(chunks) > 2
    assert all(len(c.content) <= MAX_CHUNK_CHARS for c in chunks)
    assert all(c.title == "Services" for c in chunks)
    joined = " ".join(c.content for c in chunks)
    assert all(s in joined for s in sentences)  # nothing lost at a cut
    first_end = chunks[0].content.split(". ")[-1]
    assert first_end.rstrip(".") in chunks[1].content  # the overlap carries the cut sentence


@pytest.fixture
async def domain_id(engine: AsyncEngine) -> int:
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
        domain = Domain(organization_id=organization.id, name="Clinic", description="")
        session.add(domain)
        await session.commit()
        return domain.id


FACTS = {
    "saturday": "We are open Saturdays from 9 am to 1 pm; closed on Sundays.",
    "parking": "Vehicle access: 12 bays behind the building off Elm Street, validated for 90 "
    "minutes at reception.",
    "insurance": "We accept Delta Dental, Cigna and Aetna PPO plans. We do not take Medicaid.",
    "cancel": "Please give 24 hours' notice to cancel; later cancellations cost $50.",
    "whitening": "In-office whitening takes about 90 minutes and costs $350.",
    "dogs": "Guide dogs and other service animals are welcome in the practice.",
}


@pytest.mark.skipif(not embeddings.available(), reason="the bundled MiniLM is not installed")
async def test_questions_find_their_fact_by_meaning_or_by_words(
    engine: AsyncEngine, domain_id: int
) -> None:
    async with make_sessionmaker(engine)() as session:
        knowledge = KnowledgeBase(session)
        ids = {}
        for key, fact in FACTS.items():
            kind = KnowledgeType.POLICY if key == "cancel" else KnowledgeType.FACT
            (created,), skipped = await knowledge.add_knowledge(
                domain_id, fact, knowledge_type=kind, metadata={"key": key}
            )
            ids[key] = created
            assert skipped == 0
        assert await knowledge.embed_pending() == len(FACTS)

        asked = {
            "where do I leave my car": "parking",  # no word in common
            "do you take delta": "insurance",  # one word in common
            "are you guys open on the weekend at all": "saturday",
            "can I bring my guide dog": "dogs",
            "what happens if I can't make it tomorrow": "cancel",
        }
        for question, key in asked.items():
            hits = await knowledge.search_relevant(question, [domain_id], k=3)
            assert ids[key] in [h.item_id for h in hits], (question, [h.title for h in hits])
            assert hits[0].why  # says how it matched

        policies = await knowledge.search_relevant(
            "how much is whitening", [domain_id], k=3, types=[KnowledgeType.POLICY]
        )
        assert [h.item_id for h in policies] == [ids["cancel"]]
        assert await knowledge.search_relevant("parking", [domain_id + 1000]) == []


async def test_the_same_content_is_stored_once(engine: AsyncEngine, domain_id: int) -> None:
    async with make_sessionmaker(engine)() as session:
        knowledge = KnowledgeBase(session)
        first, _ = await knowledge.add_knowledge(domain_id, HANDBOOK, title="Handbook")
        again, skipped = await knowledge.add_knowledge(domain_id, HANDBOOK, title="Handbook")
        assert first and again == [] and skipped == len(first)
        count = await session.scalar(select(func.count()).select_from(KnowledgeItem))
        assert count == len(first)


async def test_the_api_refuses_a_second_copy_of_an_item(client: httpx.AsyncClient) -> None:
    domain = (await client.post("/api/domains", json={"name": "Facts"})).json()
    url = f"/api/domains/{domain['id']}/knowledge"
    body = {"title": "Hours", "content": "Open 8 to 6 on weekdays."}
    first = await client.post(url, json=body)
    assert first.status_code == 201
    second = await client.post(url, json={**body, "title": "Opening hours"})
    assert second.status_code == 409 and str(first.json()["id"]) in second.text
    other = await client.post(url, json={"title": "Sat", "content": "Open 9 to 1 Saturdays."})
    patched = await client.patch(f"{url}/{other.json()['id']}", json={"content": body["content"]})
    assert patched.status_code == 409

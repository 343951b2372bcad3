"""Retrieval quality on sample domains and their caller questions: how often the top 3 items
for an answerable question include one that answers it, against real PostgreSQL with pgvector
and the bundled MiniLM; and whether `Hit.relevant` tells answerable questions from the ones the
domain cannot answer.

Cases: Bright Smile Dental (`dental_questions.yaml`, what retrieval was developed on) and
Riverside Auto Care (`car_service_questions.yaml`, written by another engineer and held out:
measured, never tuned to).

Measured on 2026-11-30 and 2026-12-01. Issue 11 asks for 95 %.
- Before (reciprocal rank fusion of meaning and all the question's words, equal weights):
  dental 47/54 = 87.0 %, car service 44/52 = 84.6 %.
- Now (the 40 closest in meaning, re-scored with a bonus of at most 0.1 for shared words, phone
  filler left out): dental 50/54 = 92.6 %, car service 45/52 = 86.5 %. Meaning alone gives
  50/54 and 45/52: MiniLM is the ceiling here. The misses need knowledge the model lacks
  ("coverage" is insurance, "put me out" is sedation, "backed into me" is body work).
- Now, with a vector per sentence as well (an item scores its own similarity plus its closest
  sentence's, `knowledge_sentences`): dental 50/54 = 92.6 %, car service 47/52 = 90.4 %.
- Relevance (`Hit.relevant`: the item 0.30 close, or a sentence 0.33 in an item 0.20 close):
  the top hit is relevant for 54/54 answerable dental questions and 51/52 car-service ones; 2
  of 4 unanswerable ones fall below it in each set.

- Other offline models (multilingual-e5-small, all-mpnet-base-v2) and query tricks were tried
  against the same questions and did no better: BENCHMARKS.md, "Knowledge retrieval".

BARs guard what is reached, not the goal: raise them as retrieval improves (a reranker),
never lower them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from core import embeddings
from core.db.models import Domain
from core.db.session import make_sessionmaker
from core.knowledge import KnowledgeBase, KnowledgeType
from core.organizations import default_organization

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "tests" / "eval" / "knowledge"
TOP = 3
# (question set, top-3 hit rate bar, share of answerable questions whose top hit is relevant,
# share of unanswerable ones with no relevant hit); issue 11's goal for the first: 0.95.
CASES = [
    pytest.param("dental_questions.yaml", 0.92, 0.95, 0.5, id="dental"),
    pytest.param("car_service_questions.yaml", 0.90, 0.95, 0.5, id="car-service-held-out"),
]

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the bundled MiniLM is not installed"
)


async def load_domain(engine: AsyncEngine, path: Path) -> tuple[int, dict[int, str]]:
    """The domain file stored and embedded: its id, and item id → the file's key."""
    document: dict[str, Any] = json.loads(path.read_text())
    keys: dict[int, str] = {}
    async with make_sessionmaker(engine)() as session:
        organization = await default_organization(session)
        domain = Domain(organization_id=organization.id, **document["domain"])
        session.add(domain)
        await session.commit()
        knowledge = KnowledgeBase(session)
        for item in document["items"]:
            metadata = dict(item.get("metadata") or {})
            created, _ = await knowledge.add_knowledge(
                domain.id,
                item["content"],
                knowledge_type=KnowledgeType(item.get("knowledge_type", "fact")),
                metadata={**metadata, "key": item["key"]},
                title=str(metadata.get("title", "")),
            )
            keys.update(dict.fromkeys(created, item["key"]))
        await knowledge.embed_pending(domain_ids=[domain.id])
        return domain.id, keys


@pytest.mark.parametrize(("questions_file", "bar", "answerable_bar", "unanswerable_bar"), CASES)
async def test_top_3_hit_rate_and_relevance_on_the_sample_questions(
    engine: AsyncEngine,
    questions_file: str,
    bar: float,
    answerable_bar: float,
    unanswerable_bar: float,
) -> None:
    questions = yaml.safe_load((EVAL / questions_file).read_text())
    domain_id, keys = await load_domain(engine, ROOT / questions["domain"])
    answerable = [q for q in questions["questions"] if q["expected"]]
    unanswerable = [q for q in questions["questions"] if not q["expected"]]
    missed = []
    relevant_answerable = 0
    relevant_unanswerable = []
    async with make_sessionmaker(engine)() as session:
        knowledge = KnowledgeBase(session)
        for question in answerable:
            hits = await knowledge.search_relevant(question["ask"], [domain_id], k=TOP)
            found = [keys[h.item_id] for h in hits]
            if not set(found) & set(question["expected"]):
                missed.append((question["ask"], question["expected"], found))
            relevant_answerable += bool(hits) and hits[0].relevant
        for question in unanswerable:
            hits = await knowledge.search_relevant(question["ask"], [domain_id], k=TOP)
            if hits and hits[0].relevant:
                relevant_unanswerable.append((question["ask"], hits[0].title, hits[0].similarity))
    rate = 1 - len(missed) / len(answerable)
    assert rate >= bar, f"top-{TOP} hit rate {rate:.1%}; missed: {missed}"
    assert relevant_answerable / len(answerable) >= answerable_bar
    rejected = 1 - len(relevant_unanswerable) / len(unanswerable)
    assert rejected >= unanswerable_bar, f"found relevant: {relevant_unanswerable}"

"""Knowledge on the call: a caller's questions answered from the agent's domain, found in real
PostgreSQL with pgvector, by the guided brain (spoken facts, then back to the goal; pricing
declined under "Don't discuss pricing") and in the LLM brain's context; a slow database costs
the turn its context, never its answer."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from openai import AsyncOpenAI
from sqlalchemy.ext.asyncio import AsyncEngine

from core import embeddings
from core.agents.prompt import compile_system_prompt
from core.agents.snapshot import AgentSnapshot
from core.cache import Cache
from core.context import (
    ContextManager,
    KnowledgeSearch,
    asks_for_information,
    questions_in,
    spoken_answer,
)
from core.db.session import make_sessionmaker
from core.knowledge import Hit, sentences
from realtime.brains.base import CallerTurn, Say
from realtime.brains.guided import ANSWER_LEADS, NO_ANSWER, GuidedBrain
from realtime.brains.openai_chat import OpenAIChatBrain
from tests.fake_llm import FakeLLM, Reply, run_fake_llm
from workers.eval.agents import agent_path, load_agent
from workers.eval.knowledge import knowledge_path, load_domain_file, with_domains
from workers.services.base import find_free_port
from workers.services.redis import EmbeddedRedis

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the bundled MiniLM is not installed"
)

TODAY = dt.date(2026, 12, 1)  # a Tuesday


@pytest.fixture
async def scheduler(engine: AsyncEngine) -> AgentSnapshot:
    """The plan's Appointment Scheduler ("Don't discuss pricing") knowing Bright Smile Dental."""
    loaded = await load_domain_file(make_sessionmaker(engine), knowledge_path("dental_clinic"))
    return with_domains(load_agent(agent_path("appointment_scheduler")), [loaded.domain])


@pytest.fixture
def search(engine: AsyncEngine) -> KnowledgeSearch:
    return KnowledgeSearch(make_sessionmaker(engine))


async def say(brain: GuidedBrain, context: ContextManager, words: str) -> str:
    """What the agent answers `words`, looked up as a call does."""
    knowledge = await context.get_domain_context(words)
    turn = CallerTurn(text=words, knowledge=tuple(knowledge))
    return " ".join([e.text async for e in brain.reply(turn) if isinstance(e, Say)])


async def test_two_questions_are_answered_from_knowledge_and_the_booking_completes(
    scheduler: AgentSnapshot, search: KnowledgeSearch
) -> None:
    brain = GuidedBrain(scheduler, today=TODAY)
    context = ContextManager(scheduler, search=search, timeout_s=5.0)
    brain.greeting()

    saturday = await say(brain, context, "hi, um, are you guys open on saturdays at all?")
    assert "Saturday" in saturday and "9:00" in saturday and "1:00" in saturday
    assert saturday.rstrip().endswith("?")  # back to the goal: the next question

    parking = await say(brain, context, "okay and where do I leave my car when I get there?")
    assert "Elm Street" in parking or "bays" in parking

    await say(brain, context, "great, I need a cleaning this friday at ten in the morning")
    read_back = await say(brain, context, "that's everything")
    assert "Friday" in read_back or brain.manager.check_completion()
    closing = await say(brain, context, "yes that's right")
    assert brain.manager.check_completion(), closing
    assert brain.manager.captured["date"] == "2026-12-04"
    assert brain.manager.captured["time"] == "10:00"


async def test_asking_about_a_day_does_not_book_it(
    scheduler: AgentSnapshot, search: KnowledgeSearch
) -> None:
    brain = GuidedBrain(scheduler, today=TODAY)
    context = ContextManager(scheduler, search=search, timeout_s=5.0)
    brain.greeting()
    answer = await say(brain, context, "Are you open on Saturday?")
    assert "9:00 am to 1:00 pm" in answer
    assert "date" not in brain.manager.captured  # a question about Saturday books nothing
    assert answer.endswith("What day works best for you?")
    # "What's do next Tuesday?" is how Whisper wrote "Let's do next Tuesday.": the day.
    taken = await say(brain, context, "What's do next Tuesday?")
    assert brain.manager.captured["date"] == "2026-12-08", taken
    assert "9:00" not in taken  # no answer from knowledge to a day


async def test_a_price_question_is_declined_although_the_price_is_in_the_knowledge(
    scheduler: AgentSnapshot, search: KnowledgeSearch
) -> None:
    brain = GuidedBrain(scheduler, today=TODAY)
    context = ContextManager(scheduler, search=search, timeout_s=5.0)
    brain.greeting()
    question = "hi, quick question, how much is a cleaning without insurance?"
    hits = await context.get_domain_context(question)
    assert any("$" in hit.content for hit in hits)  # the price was found...
    answer = await say(brain, context, question)
    assert "$" not in answer and "dollar" not in answer.lower()  # ...and not said
    assert "can't discuss pricing" in answer
    assert answer.rstrip().endswith("?")  # and the call goes on


async def test_a_question_the_knowledge_does_not_cover_gets_an_honest_answer(
    scheduler: AgentSnapshot, search: KnowledgeSearch
) -> None:
    brain = GuidedBrain(scheduler, today=TODAY)
    context = ContextManager(scheduler, search=search, timeout_s=5.0)
    brain.greeting()
    answer = await say(brain, context, "do you guys do hair transplants?")
    assert answer.startswith(NO_ANSWER)


def test_questions_are_found_inside_what_callers_say() -> None:
    assert questions_in("my daughter's three, is she too young for you to see her") == [
        "is she too young for you to see her"
    ]
    assert questions_in("Is their parking?") == ["is their parking"]  # as Whisper writes it
    assert questions_in("are you open saturday mornings and do you take metlife, cause") == [
        "are you open saturday mornings",
        "do you take metlife",
    ]
    assert questions_in("next tuesday at three, please") == []
    # A day said as a question asks for nothing ("let's do next Tuesday", as Whisper heard it).
    assert asks_for_information("What's do next Tuesday?") == []
    assert asks_for_information("what time do you close on tuesday?") == [
        "what time do you close on tuesday"
    ]
    assert asks_for_information("my tooth is killing me, what do I do") == ["what do i do"]
    # Asked without its first word; "you see, ..." asks nothing.
    assert asks_for_information("you guys open saturdays") == ["you guys open saturdays"]
    assert asks_for_information("you take visa?") == ["you take visa"]
    assert questions_in("you see, my tooth broke") == []
    # "Can I get/have/bring…" asks for a booking when a value or a booking word is in it.
    assert asks_for_information("can I bring my guide dog", values_given=False) == [
        "can i bring my guide dog"
    ]
    assert asks_for_information("can I get an appointment", values_given=False) == []
    assert asks_for_information("hi, can I get a table for tonight", values_given=False) == []
    assert asks_for_information("can I bring it in", values_given=False) == []
    assert asks_for_information("can I get a cleaning", values_given=True) == []


async def test_a_booking_request_is_not_taken_for_a_question() -> None:
    assert questions_in("can I get a cleaning on friday?") == ["can i get a cleaning on friday"]
    brain = GuidedBrain(load_agent(agent_path("appointment_scheduler")), today=TODAY)
    brain.greeting()
    answer = brain.respond("can I get a cleaning on friday at three?").text
    assert answer.startswith("Got it")


# How callers ask, and what the agent must do with it: (said, words one of which the answer
# must hold, or () for no answer from knowledge; what must be booked, None: not checked).
# Requests are asked as questions too.
ASKED_ON_THE_PHONE = [
    ("can I get an appointment?", (), {}),
    ("could I get in tomorrow", (), {"date": "2026-12-02"}),
    ("can I get a cleaning friday", (), {"date": "2026-12-04", "service": "cleaning"}),
    ("can I bring my guide dog in with me", ("service animals are welcome",), {}),
    ("um so I just had the whitening done can I have my coffee this morning", ("coffee",), {}),
    # Answered, and "you" is no service ("Getting here without a car" is found, 4th, but
    # MiniLM does not hear a bus in "SMTD routes 4 and 10": the driving directions are said).
    ("I don't drive, can I get to you on the bus", ANSWER_LEADS, {}),
    ("my tooth is killing me, what do I do", ("emergency", "on-call dentist"), None),
    ("you guys open saturdays", ("9:00 am to 1:00 pm",), {}),
]


@pytest.mark.parametrize(("said", "answer_holds", "booked"), ASKED_ON_THE_PHONE)
async def test_questions_asked_as_requests_and_requests_asked_as_questions(
    scheduler: AgentSnapshot,
    search: KnowledgeSearch,
    said: str,
    answer_holds: tuple[str, ...],
    booked: dict[str, str] | None,
) -> None:
    brain = GuidedBrain(scheduler, today=TODAY)
    context = ContextManager(scheduler, search=search, timeout_s=5.0)
    brain.greeting()
    answer = await say(brain, context, said)
    assert not answer.startswith(NO_ANSWER), answer
    if not answer_holds:
        assert not answer.startswith(ANSWER_LEADS), answer  # a request, not a question
    else:
        assert any(words.lower() in answer.lower() for words in answer_holds), answer
    assert booked is None or dict(brain.manager.captured) == booked, answer
    assert answer.rstrip().endswith("?")  # and the call goes on


class SlowSearch(KnowledgeSearch):
    """A database that answers after the time box."""

    def __init__(self) -> None:
        pass

    async def search(self, query: str, domain_ids: Sequence[int], *, k: int = 3) -> list[Hit]:
        await asyncio.sleep(5)
        return []


async def test_a_slow_database_costs_the_turn_its_context_not_its_answer(
    scheduler: AgentSnapshot, caplog: pytest.LogCaptureFixture
) -> None:
    context = ContextManager(scheduler, search=SlowSearch(), timeout_s=0.05)
    started = asyncio.get_running_loop().time()
    assert await context.get_domain_context("is there parking?") == []
    assert asyncio.get_running_loop().time() - started < 1.0
    assert "goes on without it" in caplog.text


async def test_the_lookup_started_at_the_pause_is_the_one_the_turn_uses(
    scheduler: AgentSnapshot, search: KnowledgeSearch
) -> None:
    calls: list[str] = []

    class Counting(KnowledgeSearch):
        async def search(self, query: str, domain_ids: Sequence[int], *, k: int = 3) -> list[Hit]:
            calls.append(query)
            return await search.search(query, domain_ids, k=k)

    context = ContextManager(scheduler, search=Counting(search.sessions), timeout_s=5.0)
    context.prefetch("is there parking")  # the early transcript, at the caller's pause
    await asyncio.sleep(0.5)
    hits = await context.get_domain_context("is there parking")
    assert hits and calls.count("is there parking") == 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeLLM]:
    async with run_fake_llm() as server:
        yield server


async def test_the_llm_brain_gets_the_items_that_answer_the_question_in_its_context(
    scheduler: AgentSnapshot, search: KnowledgeSearch, fake: FakeLLM
) -> None:
    client = AsyncOpenAI(base_url=fake.url, api_key="test-key", max_retries=0, timeout=5.0)
    brain = OpenAIChatBrain(
        compile_system_prompt(scheduler),
        client=client,
        model="fake-model",
        fallback=GuidedBrain(scheduler, today=TODAY),
        first_token_timeout_s=2.0,
    )
    fake.script(Reply(text=["We're open 9 to 1 on Saturdays. ", "What day suits you?"]))
    context = ContextManager(scheduler, search=search, timeout_s=5.0)
    words = "are you open on saturdays?"
    knowledge = tuple(await context.get_domain_context(words))
    try:
        _ = [e async for e in brain.reply(CallerTurn(text=words, knowledge=knowledge))]
    finally:
        await client.close()
    system = fake.exchanges[0].system
    assert system.startswith(compile_system_prompt(scheduler).rstrip())  # prefix unchanged
    assert f"[item {knowledge[0].item_id}]" in system
    assert "9:00 am to 1:00 pm" in system


async def test_with_redis_stopped_lookups_go_on_and_say_once_that_the_cache_is_off(
    scheduler: AgentSnapshot,
    engine: AsyncEngine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis", find_free_port())
    redis.start()
    cache = Cache.from_url(redis.url, namespace="knowledge-test")
    search = KnowledgeSearch(make_sessionmaker(engine), cache)
    domain_ids = [d.id for d in scheduler.domains if d.id is not None]
    try:
        first = await search.search("are you open on saturdays?", domain_ids)
        cached = await search.search("are you open on saturdays?", domain_ids)
        assert cached == first
        assert cache.hits >= 1  # the second lookup came from Redis
        for fresh, again in zip(first, cached, strict=True):  # with their sentences' vectors
            assert fresh.sentence_vectors is not None and again.sentence_vectors is not None
            assert (fresh.sentence_vectors == again.sentence_vectors).all()
        redis.stop()
        with caplog.at_level(logging.INFO, logger="core.cache"):
            for question in ("is there parking?", "do you take delta?", "are you open sunday?"):
                assert await search.search(question, domain_ids)
        off = [r for r in caplog.records if "cache off" in r.getMessage()]
        assert len(off) == 1
    finally:
        redis.stop()
        await cache.close()


async def test_the_answer_is_chosen_with_the_indexed_sentence_vectors_not_new_embeddings(
    search: KnowledgeSearch, scheduler: AgentSnapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain_ids = [d.id for d in scheduler.domains if d.id is not None]
    question = "what's the latest appointment you have in the day?"
    hits = await search.search(question, domain_ids)
    for hit in hits:  # MiniLM's vectors of the item's sentences, as indexed
        assert hit.sentence_vectors is not None
        assert hit.sentence_vectors.shape == (len(sentences(hit.content)), 384)
        fresh = embeddings.embed(sentences(hit.content))
        assert np.allclose(hit.sentence_vectors, fresh, atol=1e-4)
    without = [dataclasses.replace(hit, sentence_vectors=None) for hit in hits]
    expected = spoken_answer(question, without, embeddings.similarity)
    assert "5:15 pm" in " ".join(expected)

    embedded: list[str] = []
    real_embed = embeddings.embed

    def counting(texts: Sequence[str]) -> embeddings.Vectors:
        embedded.extend(texts)
        return real_embed(texts)

    monkeypatch.setattr(embeddings, "embed", counting)
    monkeypatch.setattr(embeddings, "_phrases", OrderedDict())  # nothing cached in the process
    assert spoken_answer(question, hits, embeddings.similarity) == expected
    assert not set(embedded) & {s for hit in hits for s in sentences(hit.content)}


async def test_the_context_a_brain_sees_holds_the_prompt_goal_state_and_cited_items(
    scheduler: AgentSnapshot, search: KnowledgeSearch
) -> None:
    prompt = compile_system_prompt(scheduler)
    context = ContextManager(scheduler, compiled_prompt=prompt, search=search, timeout_s=5.0)
    context.update_context({"date": "2026-12-04"})
    items = await context.get_domain_context("is there parking?")
    seen = context.build_context(["caller: hi", "agent: hello"], items)
    assert seen.goal_state == {"date": "2026-12-04"}
    rendered = seen.render(budget_tokens=60)
    assert rendered.startswith(prompt.rstrip())
    assert rendered.count("[item ") == 1  # the budget holds one item, cut at a word
    assert f"[item {items[0].item_id}]" in rendered
    assert seen.render(budget_tokens=2000).count("[item ") >= 2

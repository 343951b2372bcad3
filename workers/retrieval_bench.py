"""`python -m workers.bench --only retrieval`: how long `KnowledgeBase.search_relevant` takes
for a caller's question in a domain of 1,000 and one of 100,000 items (issue 11: p95 < 15 ms,
query embedding included, at 100k).

The corpus is made here, in a throw-away embedded PostgreSQL: facts about made-up businesses
(hours, prices, parking, payment, staff, policies...) from `TEMPLATES`, one item per business
and template. Embedding 100k texts with MiniLM takes most of an hour on two cores, so only the
items of the first `EMBEDDED_BUSINESSES` businesses are embedded (their real vectors); every
other item takes the vector of the item of the same template at business `b %
EMBEDDED_BUSINESSES`, with Gaussian noise added (`NOISE` per dimension, about 0.96 cosine to
the original) and normalized again. Texts stay distinct, so full text sees 100k different
documents. Sentence vectors (`knowledge_sentences`) are made the same way, per template and
sentence. The 1k domain is 25 businesses with real vectors only. Both domains share one table,
as organizations do, and the HNSW indexes are built after the load (as STACK.md advises).

Each question of `QUESTIONS` (caller phrasing, with and without phone filler: 200 in all) is
timed end to end (MiniLM embedding + the SQL round trip, through an AsyncSession as calls use
it), after a warm-up; the embedding alone is timed separately.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from core import embeddings
from core.db import migrate
from core.db.models import content_hash
from core.db.session import make_async_engine, make_sessionmaker
from core.knowledge import KnowledgeBase, passage_text, sentences
from workers.services import EmbeddedPostgres, find_free_port

SIZES: Final = (1_000, 100_000)
EMBEDDED_BUSINESSES: Final = 60
NOISE: Final = 0.015
WARM_UP: Final = 20
SEED: Final = 11

FIRST = ["Bright", "River", "Maple", "Summit", "Harbor", "Cedar", "Golden", "Oak", "Lakeside"]
SECOND = ["Smile", "Side", "Ridge", "Point", "View", "Grove", "Bay", "Hill", "Park", "Stone"]
KINDS = ["Dental", "Auto Care", "Vet Clinic", "Hair Studio", "Physio", "Plumbing", "Law Office"]
STREETS = ["Maple Avenue", "Front Street", "Elm Street", "Main Street", "5th Avenue", "Oak Lane"]
PEOPLE = ["Karen Doyle", "Raj Patel", "Maria Hernandez", "Tom Baker", "Lisa Chen", "Amara Okafor"]

# (title, content): one fact each, as a business's website or FAQ would put it.
TEMPLATES: Final = [
    ("Opening hours", "{n} is open Monday to Friday from {h1}:00 am to {h2}:00 pm."),
    ("Saturday hours", "On Saturdays {n} opens {h1}:00 am to 1:00 pm for quick visits only."),
    ("Sunday", "{n} is closed on Sundays; call {phone} for urgent help."),
    ("Holidays", "{n} closes on public holidays and from December 24 to January {d}."),
    ("Address", "{n} is at {num} {street}, Suite {d}00, across from the post office."),
    ("Parking", "{n} has {d} parking spaces behind the building, entered from {street}."),
    ("Public transport", "Bus routes {d} and {d2} stop two minutes from {n}'s front door."),
    ("Step-free access", "{n} has a ramp and automatic doors; every room is wheelchair friendly."),
    ("Payment", "{n} takes cash, Visa, Mastercard, Amex and Apple Pay; no personal checks."),
    ("Financing", "Bills at {n} over ${p} can be paid over {d} months interest-free."),
    ("Insurance", "{n} is in network with Delta, Cigna and Aetna plans; claims filed for you."),
    ("Prices", "A standard visit at {n} costs ${p}; a first visit is ${p2}."),
    ("Cancellations", "Cancel at least {d} hours ahead or {n} charges a ${p} fee."),
    ("Late arrivals", "Arrive over {d} minutes late and {n} may need to rebook you."),
    ("Booking", "Book at {n} by phone on {phone}, online, or by text; walk-ins when free."),
    ("Our team", "{person} leads the team at {n}, with {d} colleagues on weekdays."),
    ("Languages", "Staff at {n} speak English and Spanish; {person} also speaks Mandarin."),
    ("Complaints", "Unhappy with {n}? Ask for the manager, {person}, or email feedback."),
    ("Privacy", "{n} keeps your records private and shares them only with your consent."),
    ("Gift cards", "{n} sells gift cards from ${d}0 at the front desk or online."),
    ("Wi-Fi", "Guests at {n} get free Wi-Fi; the password is on the card at reception."),
    ("Animals", "Service animals are welcome everywhere at {n}; pets wait outside."),
    ("Children", "{n} sees children from age {d} with a parent or guardian present."),
    ("Emergencies", "For an emergency outside hours call {phone} and press {d}."),
    ("Warranty", "Work done at {n} carries a {d}-month warranty on parts and labor."),
    ("Reminders", "{n} texts a reminder {d} days before each appointment."),
    ("New customers", "New customers at {n} fill in a short form online before visiting."),
    ("What to bring", "Bring photo ID and your insurance card to your first visit at {n}."),
    ("Waiting room", "The waiting room at {n} has coffee, tea and phone chargers."),
    ("Contact", "Call {n} on {phone} or email hello@{slug}.com; replies within a day."),
    ("Drop-off", "Leave your keys in the drop box by {n}'s door after hours."),
    ("Same-day service", "{n} keeps slots free each morning for same-day visits."),
    ("Deposit", "{n} asks a ${p} deposit for bookings over two hours."),
    ("Refunds", "Refunds at {n} go back to the card you paid with within {d} days."),
    ("Membership", "Without insurance? {n}'s membership costs ${d}9 a month with discounts."),
    ("Students", "Students and seniors get {d}0% off at {n} on weekdays."),
    ("Accessibility", "{n}'s lift is inside the lobby; ask us if it is out of service."),
    ("Safety", "{n} follows state safety rules and is inspected every {d} months."),
    ("Careers", "{n} is hiring; send a resume to jobs@{slug}.com."),
    ("Reviews", "{n} is rated 4.{d} stars from over {num} reviews."),
]

# (question, filler-free variant): caller phrasing about the facts above.
QUESTIONS: Final = [
    "what time do you close today",
    "are you open on saturday mornings",
    "can I come in on a sunday",
    "are you open over christmas",
    "where are you located exactly",
    "where do I leave my car",
    "can I get to you on the bus",
    "my mum uses a wheelchair, can she get in",
    "can I pay with apple pay",
    "can I pay it off monthly",
    "do you take Delta",
    "how much is a first visit",
    "will I get charged if I cancel tomorrow",
    "I'm running twenty minutes late is that ok",
    "how do I book an appointment",
    "who's in charge there",
    "does anyone speak mandarin",
    "I want to make a complaint",
    "who can see my records",
    "do you sell gift vouchers",
    "what's the wifi password",
    "can I bring my guide dog",
    "can my kid come in on her own",
    "it's an emergency and you're closed what do I do",
    "is there a guarantee on the work",
    "will you remind me before my appointment",
    "I'm new, what do I need to do",
    "what should I bring the first time",
    "is there somewhere to wait",
    "what's your email address",
    "can I drop my keys off after hours",
    "can you see me today",
    "do I need to pay a deposit",
    "how do refunds work",
    "I don't have insurance is there a plan",
    "do you do student discounts",
    "is there an elevator",
    "are you inspected",
    "are you hiring",
    "are you any good",
]
FILLERS: Final = ["", "hi um ", "yeah so ", "sorry, I was wondering ", "hiya, "]


@dataclass
class RetrievalResult:
    """Timings of one domain size, in milliseconds."""

    items: int
    total_ms: list[float] = field(default_factory=list)
    embed_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)


def corpus(businesses: int) -> list[tuple[int, int, str, str]]:
    """(business, template, title, content) for `businesses` made-up businesses."""
    rng = random.Random(SEED)
    names = [f"{a} {b} {k}" for k, a, b in itertools.product(KINDS, FIRST, SECOND)]
    rows = []
    for b in range(businesses):
        name = f"{names[b % len(names)]}" + (f" {b // len(names) + 1}" if b >= len(names) else "")
        slots: dict[str, Any] = {
            "n": name,
            "slug": name.lower().replace(" ", ""),
            "street": rng.choice(STREETS),
            "person": rng.choice(PEOPLE),
            "phone": f"(555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            "h1": rng.randint(7, 9),
            "h2": rng.randint(5, 7),
            "d": rng.randint(2, 9),
            "d2": rng.randint(10, 40),
            "num": rng.randint(10, 2000),
            "p": rng.randint(50, 400),
            "p2": rng.randint(100, 600),
        }
        for t, (title, content) in enumerate(TEMPLATES):
            rows.append((b, t, f"{title} ({name})", content.format(**slots)))
    return rows


def vectors(rows: list[tuple[int, int, str, str]]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Real MiniLM vectors for the first `EMBEDDED_BUSINESSES` businesses; perturbed copies of
    them, by template, for the rest (see the module's docstring)."""
    real = [r for r in rows if r[0] < EMBEDDED_BUSINESSES]
    embedded = embeddings.embed([passage_text(title, content) for _, _, title, content in real])
    by_key = {(b, t): v for (b, t, _, _), v in zip(real, embedded, strict=True)}
    rng = np.random.default_rng(SEED)
    out = np.empty((len(rows), embedded.shape[1]), dtype=np.float32)
    for i, (b, t, _, _) in enumerate(rows):
        base = by_key[(b % EMBEDDED_BUSINESSES, t)]
        if b >= EMBEDDED_BUSINESSES:
            base = base + rng.normal(0.0, NOISE, base.shape).astype(np.float32)
        out[i] = base / np.linalg.norm(base)
    return out


def sentence_vectors(
    rows: list[tuple[int, int, str, str]],
) -> list[list[np.ndarray[Any, np.dtype[np.float32]]]]:
    """Each row's sentence vectors (`knowledge_sentences`, as `embed_pending` writes them): real
    for the first `EMBEDDED_BUSINESSES` businesses, perturbed copies for the rest, as items'."""
    real = [r for r in rows if r[0] < EMBEDDED_BUSINESSES]
    pieces = [((b, t, n), s) for b, t, _, c in real for n, s in enumerate(sentences(c))]
    embedded = embeddings.embed([s for _, s in pieces])
    by_key = {key: v for (key, _), v in zip(pieces, embedded, strict=True)}
    rng = np.random.default_rng(SEED + 1)
    out = []
    for b, t, _, content in rows:
        vecs = []
        for n in range(len(sentences(content))):
            base = by_key[(b % EMBEDDED_BUSINESSES, t, n)]
            if b >= EMBEDDED_BUSINESSES:
                base = base + rng.normal(0.0, NOISE, base.shape).astype(np.float32)
            vecs.append(base / np.linalg.norm(base))
        out.append(vecs)
    return out


def load(url: str) -> dict[int, int]:
    """Both domains stored and indexed: size → domain id."""
    rows = corpus(SIZES[-1] // len(TEMPLATES))
    vecs = vectors(rows)
    per_sentence = sentence_vectors(rows)
    domains: dict[int, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("DROP INDEX knowledge_items_embedding")
        conn.execute("DROP INDEX knowledge_sentences_embedding")
        org = conn.execute("SELECT id FROM organizations ORDER BY id LIMIT 1").fetchone()
        if org is None:
            org = conn.execute(
                "INSERT INTO organizations (name) VALUES ('bench') RETURNING id"
            ).fetchone()
        assert org is not None
        for size in SIZES:
            found = conn.execute(
                "INSERT INTO domains (organization_id, name, description) "
                "VALUES (%s, %s, '') RETURNING id",
                (org[0], f"bench {size}"),
            ).fetchone()
            assert found is not None
            domains[size] = found[0]
            with conn.cursor().copy(
                "COPY knowledge_items (domain_id, title, content, content_hash, knowledge_type, "
                "metadata, embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "varchar", "text", "varchar", "varchar", "jsonb", "vector"])
                for (_, _, title, content), vec in zip(rows[:size], vecs[:size], strict=True):
                    copy.write_row(
                        (domains[size], title, content, content_hash(content), "fact", "{}", vec)
                    )
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM knowledge_items WHERE domain_id = %s ORDER BY id",
                    (domains[size],),
                )
            ]
            with conn.cursor().copy(
                "COPY knowledge_sentences (item_id, domain_id, position, embedding) "
                "FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int4", "int4", "vector"])
                for item_id, item_sentences in zip(ids, per_sentence[:size], strict=True):
                    for position, vec in enumerate(item_sentences):
                        copy.write_row((item_id, domains[size], position, vec))
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            "CREATE INDEX knowledge_items_embedding ON knowledge_items "
            "USING hnsw (embedding vector_cosine_ops)"
        )
        conn.execute(
            "CREATE INDEX knowledge_sentences_embedding ON knowledge_sentences "
            "USING hnsw (embedding vector_cosine_ops)"
        )
        conn.execute("ANALYZE knowledge_items")
        conn.execute("ANALYZE knowledge_sentences")
    return domains


def questions() -> list[str]:
    """200 caller questions: each of `QUESTIONS` with each of `FILLERS` in front."""
    return [f"{filler}{q}" for filler, q in itertools.product(FILLERS, QUESTIONS)]


async def time_searches(database_url: str, domain_id: int, size: int) -> RetrievalResult:
    """Each question's search in the domain, timed (after `WARM_UP` untimed ones)."""
    result = RetrievalResult(items=size)
    engine = make_async_engine(database_url, pool_size=1)
    asked = questions()
    try:
        async with make_sessionmaker(engine)() as session:
            knowledge = KnowledgeBase(session)
            for question in asked[:WARM_UP]:
                await knowledge.search_relevant(question, [domain_id])
                await session.commit()
            for question in asked:
                started = time.perf_counter()
                vector = embeddings.embed([question])[0]
                embedded = time.perf_counter()
                await knowledge.search_relevant(question, [domain_id], vector=vector)
                done = time.perf_counter()
                # A call's session ends its transaction after each search (transaction-local
                # HNSW settings) and so does this.
                await session.commit()
                result.embed_ms.append((embedded - started) * 1000)
                result.sql_ms.append((done - embedded) * 1000)
                result.total_ms.append((done - started) * 1000)
    finally:
        await engine.dispose()
    return result


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile (inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def bench_retrieval() -> list[RetrievalResult]:
    """Build the corpus in a throw-away PostgreSQL and time searches in each domain size."""
    embeddings.load()
    with tempfile.TemporaryDirectory(prefix="callwright-retrieval-") as scratch:
        server = EmbeddedPostgres(Path(scratch) / "postgres", find_free_port(), fast=True)
        server.start()
        try:
            migrate.upgrade(server.database_url)
            domains = await asyncio.to_thread(load, server.url)
            return [await time_searches(server.database_url, domains[size], size) for size in SIZES]
        finally:
            server.stop()


def retrieval_markdown(results: list[RetrievalResult], command: str) -> str:
    """The figures as Markdown, for BENCHMARKS.md."""
    lines = [
        f"Command: `{command}`",
        "",
        "| items in the domain | questions | total p50 | total p95 | embedding p50 | "
        "embedding p95 | SQL p50 | SQL p95 |",
        "| --- " * 8 + "|",
    ]
    for r in results:
        lines.append(
            f"| {r.items:,} | {len(r.total_ms)} | "
            + " | ".join(
                f"{percentile(v, q):.1f} ms"
                for v in (r.total_ms, r.embed_ms, r.sql_ms)
                for q in (50, 95)
            )
            + " |"
        )
    return "\n".join(lines) + "\n"

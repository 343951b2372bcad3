"""KnowledgeBase: a business's facts, processes and policies, stored so a caller's question finds
them (the plan's Phase 5).

`add_knowledge` splits a long document at its headings and paragraphs (with a little overlap so
a fact cut in two is whole in one piece), stores each piece once per domain (the same text again
is a no-op), and `embed_pending` gives the new pieces their MiniLM vectors. `search_relevant`
ranks a question's matches in one SQL statement: the items closest in meaning (pgvector,
cosine, HNSW) are re-scored by their similarity plus a small bonus for the caller's words they
share (PostgreSQL full text, any word counts, phone filler left out). Meaning leads because
callers rarely use the business's words: "where do I leave my car" shares none with "12 bays
behind the building". The words break near-ties, such as "Delta" against a list of insurers.
Each hit says why it matched, and whether it is close enough to answer (`Hit.relevant`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import numpy as np
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import embeddings
from core.db.models import KnowledgeItem, KnowledgeSentence, content_hash
from core.embeddings import Vectors

# Pieces this long are a few spoken sentences: enough context, still one topic. MiniLM reads at
# most 256 word pieces (~1,000 characters of English); longer pieces would be cut unseen.
MAX_CHUNK_CHARS: Final = 900
OVERLAP_CHARS: Final = 150
TITLE_CHARS: Final = 300
# Retrieval (measured in tests/core/test_knowledge_retrieval.py and BENCHMARKS.md).
MEANING_CANDIDATES: Final = 40
"""Items closest in meaning that are re-scored; words only re-order these. A word bonus is at
most `KEYWORD_WEIGHT`, so an item outside them would need a similarity within that of the top
three to win anyway, and taking candidates from the index alone keeps a search's cost flat as a
domain grows (full text would rank every item a common word matches: not measured here)."""
KEYWORD_WEIGHT: Final = 0.1
"""Bonus, in cosine similarity, for sharing all the words that matter (`ts_rank_cd`,
normalized to 0..1). Fused with equal say (reciprocal rank fusion), words cost 3 of 54 sample
questions: a caller's "car" or "get" outranked the item they meant. From 0.05 to 0.15 the hit
rate is flat; it is a tie-breaker, never the lead."""
HNSW_EF_SEARCH: Final = 100
"""HNSW's search breadth (pgvector's default, 40, equals the candidates: too tight to find all
40 nearest at 100k items); iterative scans go further when a filter drops rows."""
RELEVANT_SIMILARITY: Final = 0.30
"""Below this cosine similarity of meaning an item does not answer the question..."""
RELEVANT_SENTENCE: Final = 0.33
"""...unless one of its sentences is this close and the item itself not far (`RELATED_ITEM`):
a single sentence matches by chance more easily than a whole item ("do you do hair
transplants?" is 0.33 from "A bone graft, if needed, adds $650", in an item 0.17 away).
Measured on the sample sets (2026-12-01): the top hit passes for 54 of 54 answerable dental
questions and 51 of 52 car-service ones, and 2 of the 4 questions each domain cannot answer
fall below. MiniLM separates them only roughly ("a surgeon for my knee" is 0.43 from oral
surgery), so a brain should still let the LLM say "I don't know"."""
RELATED_ITEM: Final = 0.20
SPOKEN_WORDS: Final = re.compile(
    r"\b(?:um+|uh+|erm|er|hmm+|hi|hiya|hello|hey|yeah|yep|yes|okay|ok|so|sorry|please|"
    r"thanks|thank|like|just|really|actually|anyway|honestly|basically|guys|thing|things|stuff|"
    r"get|got|getting|go|going|gonna|wanna|gotta|come|coming|want|need|know|think|say|tell|"
    r"wonder|wondering|mean|maybe|kind|sort|bit|lot)\b",
    re.IGNORECASE,
)
"""Words of phone talk that name no topic. PostgreSQL's English stop words drop "the" and
"is", not "get", "like" or "um", which otherwise match any item that happens to use them."""
EMBED_BATCH: Final = 64


class KnowledgeType(StrEnum):
    """What kind of knowledge an item is; retrieval can be limited to some kinds."""

    FACT = "fact"
    PROCESS = "process"
    POLICY = "policy"


@dataclass(frozen=True)
class Chunk:
    """One piece of a document: its heading path as title, and its text."""

    title: str
    content: str


@dataclass(frozen=True)
class Hit:
    """A knowledge item that matched a question, with why."""

    item_id: int
    domain_id: int
    title: str
    content: str
    knowledge_type: str
    score: float
    """Similarity of meaning plus the bonus for shared words (higher is better)."""
    similarity: float | None
    """Cosine similarity of meaning to the question."""
    meaning_rank: int | None
    keyword_rank: int | None
    """Place among the candidates by shared words (None: it shares none that matter)."""
    keyword_score: float = 0.0
    """How well it shares the question's words (`ts_rank_cd`, normalized to 0..1)."""
    sentence_similarity: float | None = None
    """Cosine similarity of its closest sentence (None: its sentences have no vectors yet)."""
    sentence_vectors: Vectors | None = field(default=None, repr=False, compare=False)
    """The stored MiniLM vector of each of `sentences(content)`, in order (None: not fetched,
    or not indexed yet). A brain picks the sentence to speak with them instead of embedding the
    item's sentences again on the caller's turn (about 30 ms of one core for three items)."""

    @property
    def relevant(self) -> bool:
        """Whether it, or one of its sentences, is close enough in meaning to answer the
        question (`RELEVANT_SIMILARITY`, `RELEVANT_SENTENCE`): when the top hit is not, the
        business has nothing on it."""
        item = self.similarity or 0.0
        sentence = self.sentence_similarity or 0.0
        return item >= RELEVANT_SIMILARITY or (
            sentence >= RELEVANT_SENTENCE and item >= RELATED_ITEM
        )

    @property
    def why(self) -> str:
        """How it matched, for an admin reading search results."""
        parts = []
        if self.meaning_rank is not None:
            parts.append(f"meaning #{self.meaning_rank} (similarity {self.similarity:.2f})")
        if self.sentence_similarity is not None:
            parts.append(f"closest sentence {self.sentence_similarity:.2f}")
        if self.keyword_rank is not None:
            parts.append(f"shared words #{self.keyword_rank}")
        return ", ".join(parts)


_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def split_document(
    document: str, *, title: str = "", max_chars: int = MAX_CHUNK_CHARS
) -> list[Chunk]:
    """A Markdown or plain-text document as pieces of at most `max_chars`, each titled with its
    heading path ("Handbook › Paying for treatment"). Sections are split at paragraphs, then at
    sentences; consecutive pieces of one section share `OVERLAP_CHARS` of text.

    Written here rather than taken from a text-splitter library: the ones made for this
    (LangChain's, semchunk) bring a framework or a tokenizer download, and the rules are few.
    """
    headings: list[str] = []  # the heading path at the current line, outermost first
    sections: list[tuple[list[str], list[str]]] = [([], [])]
    for line in document.splitlines():
        heading = _HEADING.match(line)
        if heading:
            headings = [*headings[: len(heading.group(1)) - 1], heading.group(2).strip()]
            sections.append((headings, []))
        else:
            sections[-1][1].append(line)
    chunks: list[Chunk] = []
    for path, lines in sections:
        body = "\n".join(lines).strip()
        if not body:
            continue
        name = " › ".join([title, *path] if title else path)[:TITLE_CHARS] or _first_words(body)
        for piece in _pieces(body, max_chars):
            chunks.append(Chunk(title=name, content=piece))
    return chunks


def _first_words(body: str) -> str:
    words = body.split()
    return " ".join(words[:8])[:TITLE_CHARS]


def _pieces(body: str, max_chars: int) -> list[str]:
    """`body` in pieces of at most `max_chars`, cut at paragraphs, else at sentences."""
    units: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            units.append(paragraph)
        else:
            units.extend(s for s in re.split(r"(?<=[.!?])\s+", paragraph) if s)
    pieces: list[str] = []
    current = ""
    for unit in units:
        unit = unit[:max_chars]
        if current and len(current) + 1 + len(unit) > max_chars:
            pieces.append(current)
            tail = current[-OVERLAP_CHARS:]
            # The overlap starts at a word, and only when there is room for it.
            tail = tail[tail.find(" ") + 1 :] if " " in tail else ""
            current = f"{tail} {unit}" if tail and len(tail) + 1 + len(unit) <= max_chars else unit
        else:
            current = f"{current} {unit}" if current else unit
    if current:
        pieces.append(current)
    return pieces


class KnowledgeBase:
    """Stores and retrieves one organization's knowledge through a database session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_knowledge(
        self,
        domain_id: int,
        content: str,
        *,
        knowledge_type: KnowledgeType = KnowledgeType.FACT,
        metadata: Mapping[str, Any] | None = None,
        title: str = "",
    ) -> tuple[list[int], int]:
        """Store `content` in the domain, split when long: (ids of the new items, how many
        pieces were already there and left alone). Embeddings come later (`embed_pending`)."""
        chunks = split_document(content, title=title)
        created: list[int] = []
        for index, chunk in enumerate(chunks):
            extra = {"chunk": index, "chunks": len(chunks)} if len(chunks) > 1 else {}
            new_id = await self.session.scalar(
                pg_insert(KnowledgeItem)
                .values(
                    domain_id=domain_id,
                    title=chunk.title,
                    content=chunk.content,
                    content_hash=content_hash(chunk.content),
                    knowledge_type=KnowledgeType(knowledge_type).value,
                    metadata={**(metadata or {}), **extra},
                )
                .on_conflict_do_nothing(index_elements=["domain_id", "content_hash"])
                .returning(KnowledgeItem.id)
            )
            if new_id is not None:
                created.append(new_id)
        await self.session.commit()
        return created, len(chunks) - len(created)

    async def embed_pending(
        self, *, domain_ids: Sequence[int] | None = None, limit: int | None = None
    ) -> int:
        """Give items without a vector their vector, `EMBED_BATCH` at a time (all of them, or
        at most about `limit`); how many were embedded."""
        done = 0
        while limit is None or done < limit:
            query = select(KnowledgeItem.id, KnowledgeItem.title, KnowledgeItem.content).where(
                KnowledgeItem.embedding.is_(None)
            )
            if domain_ids is not None:
                query = query.where(KnowledgeItem.domain_id.in_(list(domain_ids)))
            batch = EMBED_BATCH if limit is None else min(EMBED_BATCH, limit - done)
            rows = (await self.session.execute(query.order_by(KnowledgeItem.id).limit(batch))).all()
            if not rows:
                return done
            # Seconds for a batch on a busy CPU: off the event loop, so a worker's other
            # activities (a call's signals) are not held up.
            vectors = await asyncio.to_thread(
                embeddings.embed, [passage_text(r.title, r.content) for r in rows]
            )
            pieces = [(r.id, n, s) for r in rows for n, s in enumerate(sentences(r.content))]
            sentence_vectors = await asyncio.to_thread(embeddings.embed, [s for *_, s in pieces])
            ids = [r.id for r in rows]
            # An edited item is indexed again: its old sentences go.
            await self.session.execute(
                delete(KnowledgeSentence).where(KnowledgeSentence.item_id.in_(ids))
            )
            domains = dict(
                (
                    await self.session.execute(
                        select(KnowledgeItem.id, KnowledgeItem.domain_id).where(
                            KnowledgeItem.id.in_(ids)
                        )
                    )
                ).all()
            )
            if pieces:
                await self.session.execute(
                    insert(KnowledgeSentence),
                    [
                        {
                            "item_id": item_id,
                            "domain_id": domains[item_id],
                            "position": position,
                            "embedding": vector.tolist(),
                        }
                        for (item_id, position, _), vector in zip(
                            pieces, sentence_vectors, strict=True
                        )
                    ],
                )
            for row, vector in zip(rows, vectors, strict=True):
                await self.session.execute(
                    update(KnowledgeItem)
                    .where(KnowledgeItem.id == row.id)
                    .values(embedding=vector.tolist())
                )
            await self.session.commit()
            done += len(rows)
        return done

    async def progress(self, domain_id: int) -> tuple[int, int]:
        """(items waiting for their vector, items indexed) in a domain."""
        row = (
            await self.session.execute(
                select(
                    func.count().filter(KnowledgeItem.embedding.is_(None)),
                    func.count().filter(KnowledgeItem.embedding.is_not(None)),
                ).where(KnowledgeItem.domain_id == domain_id)
            )
        ).one()
        return int(row[0]), int(row[1])

    async def search_relevant(
        self,
        query: str,
        domain_ids: Sequence[int],
        *,
        k: int = 3,
        types: Sequence[KnowledgeType] | None = None,
        vector: Sequence[float] | None = None,
    ) -> list[Hit]:
        """The `k` items of `domain_ids` most relevant to `query`, best first. `vector` is the
        query's embedding when the caller has it already (a cache); else it is computed."""
        if not domain_ids or not query.strip():
            return []
        if vector is None:
            vector = embeddings.embed([query])[0]
        kinds = (
            [KnowledgeType(t).value for t in types] if types else [t.value for t in KnowledgeType]
        )
        # Transaction-local: the session's next statements run with the server's defaults.
        await self.session.execute(_HNSW_SETTINGS, {"ef_search": str(HNSW_EF_SEARCH)})
        rows = await self.session.execute(
            _HYBRID,
            {
                "vector": "[" + ",".join(f"{x:.6f}" for x in vector) + "]",
                "words": keyword_text(query),
                "domains": list(domain_ids),
                "kinds": kinds,
                "candidates": MEANING_CANDIDATES,
                "keyword_weight": KEYWORD_WEIGHT,
                "k": k,
            },
        )
        return [
            Hit(
                item_id=r.id,
                domain_id=r.domain_id,
                title=r.title,
                content=r.content,
                knowledge_type=r.knowledge_type,
                score=float(r.score),
                similarity=float(r.similarity),
                meaning_rank=r.meaning_rank,
                keyword_rank=r.keyword_rank,
                keyword_score=float(r.keyword_score),
                sentence_similarity=(
                    None if r.sentence_similarity is None else float(r.sentence_similarity)
                ),
                sentence_vectors=_sentence_vectors(r.sentence_vectors, r.content),
            )
            for r in rows
        ]


def _sentence_vectors(stored: Sequence[Sequence[float]] | None, content: str) -> Vectors | None:
    """The stored sentence vectors as one array, when there is one for each of the content's
    sentences (an item indexed by an older release may have been split differently)."""
    if not stored or len(stored) != len(sentences(content)):
        return None
    return np.asarray(stored, dtype=np.float32)


_SENTENCE_END: Final = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
MAX_SENTENCES: Final = 12
"""Sentences of one item given vectors of their own (a long piece keeps its first ones)."""


def sentences(text: str) -> list[str]:
    """`text`'s sentences (a full stop, question or exclamation mark before a capital)."""
    split = _SENTENCE_END.split(" ".join(text.split()))
    return [s.strip() for s in split if s.strip()][:MAX_SENTENCES]


def passage_text(title: str, content: str) -> str:
    """What is embedded for an item: its title carries the topic its text may not name."""
    return f"{title}. {content}" if title and not content.startswith(title) else content


def keyword_text(query: str) -> str:
    """The words of `query` that name its topic: phone talk (`SPOKEN_WORDS`) left out."""
    return " ".join(SPOKEN_WORDS.sub(" ", query).split())


_HNSW_SETTINGS: Final = text(
    "SELECT set_config('hnsw.ef_search', :ef_search, true), "
    "set_config('hnsw.iterative_scan', 'relaxed_order', true)"
)

# The closest in meaning, re-scored with their shared words. Any of the question's words counts
# (`|`), not all of them (`&`, plainto_tsquery's): callers wrap one keyword in many of their own.
# ts_rank_cd's normalization 32 maps its rank to 0..1 (rank / (rank + 1)). The candidates are
# materialized first: HNSW with iterative scans returns them only roughly in order. The vector
# is written into the ORDER BY itself: ordered by a column of another relation (a CTE), the
# planner cannot use the HNSW index and computes every item's distance (80 ms at 100k items).
_HYBRID: Final = text(
    """
    WITH q AS (
        SELECT to_tsquery('english',
                   coalesce(nullif(replace(plainto_tsquery('english', :words)::text, '&', '|'), ''),
                            'nothing_at_all')) AS t
    ),
    meaning AS MATERIALIZED (
        SELECT i.id
        FROM knowledge_items i
        WHERE i.domain_id = ANY(:domains) AND i.knowledge_type = ANY(:kinds)
          AND i.embedding IS NOT NULL
        ORDER BY i.embedding <=> CAST(:vector AS vector)
        LIMIT :candidates
    ),
    by_sentence AS MATERIALIZED (
        SELECT s.item_id AS id
        FROM knowledge_sentences s
        WHERE s.domain_id = ANY(:domains)
        ORDER BY s.embedding <=> CAST(:vector AS vector)
        LIMIT :candidates
    ),
    scored AS (
        SELECT i.id, i.domain_id, i.title, i.content, i.knowledge_type,
               1 - (i.embedding <=> CAST(:vector AS vector)) AS similarity,
               (SELECT max(1 - (s.embedding <=> CAST(:vector AS vector)))
                FROM knowledge_sentences s WHERE s.item_id = i.id) AS sentence_similarity,
               ts_rank_cd(i.search, q.t, 32) AS keyword_score,
               i.search @@ q.t AS shares_words
        FROM (SELECT id FROM meaning UNION SELECT id FROM by_sentence) c
        JOIN knowledge_items i USING (id), q
        WHERE i.knowledge_type = ANY(:kinds) AND i.embedding IS NOT NULL
    ),
    ranked AS (
        SELECT *,
               row_number() OVER (ORDER BY similarity DESC, id) AS meaning_rank,
               CASE WHEN shares_words THEN
                   row_number() OVER (ORDER BY shares_words DESC, keyword_score DESC,
                                      similarity DESC, id)
               END AS keyword_rank,
               similarity + coalesce(sentence_similarity, similarity)
                   + :keyword_weight * keyword_score AS score
        FROM scored
    ),
    top AS (
        SELECT * FROM ranked ORDER BY score DESC, id LIMIT :k
    )
    SELECT top.*,
           (SELECT array_agg(s.embedding::real[] ORDER BY s.position)
            FROM knowledge_sentences s WHERE s.item_id = top.id) AS sentence_vectors
    FROM top
    ORDER BY score DESC, id
    """
)

"""What a brain knows each turn beyond its prompt: the business's own facts that answer the
caller's last words (the plan's Phase 5.2, `ContextManager`).

- `KnowledgeSearch` is retrieval as a call uses it: `KnowledgeBase.search_relevant` through a
  database pool, with two Redis caches in front (a question's embedding, and the results per
  version of the domains searched: a change to a domain's items moves its version, migration
  0009, so a cached result is never stale).
- `ContextManager` is one call's view: it starts retrieval as soon as the caller's words are
  known (at the pause, from the early transcript), hands the brain the result within a time box
  (a slow database costs the turn its context, never its answer), and keeps the goal state.
- `inject_context` puts retrieved items into a prompt within a token budget, each cited by id;
  `spoken_answer` picks the one or two sentences of them a receptionist would say.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import embeddings
from core.agents.snapshot import AgentSnapshot
from core.cache import Cache, digest
from core.db.models import Domain
from core.fields.values import FieldScalar
from core.knowledge import Hit, KnowledgeBase, sentences

logger = logging.getLogger(__name__)

TOP_K: Final = 3
RETRIEVAL_TIMEOUT_S: Final = 0.3
"""The most a turn waits for retrieval that has not finished (it usually started at the pause)."""
CONTEXT_TOKENS: Final = 400
"""How much of an LLM prompt retrieved knowledge may take (about 4 characters a token)."""
NAMED_SIMILARITY: Final = 0.15
"""A top keyword match this close in meaning answers too: a name MiniLM barely knows ("do you
take Humana") matches the item that names it by word, not by meaning."""
SECOND_SENTENCE_SHARE: Final = 0.8
"""A second sentence is spoken only when it is about as relevant as the first."""

# Where a caller's utterance asks something. People wrap a question in other words ("my
# daughter's three, is she too young for you to see her", "I'm stuck in traffic, is that ok",
# "two quick things, are you open Saturday and do you take MetLife"), so the utterance is cut
# into clauses (at punctuation, and at "and"/"or"/"but" before a question word) and a clause
# asks when it starts with a question word, inverts a verb and its subject ("can they", "is
# there", and "is their", as a recogniser often writes it), or announces a question ("I was
# wondering if").
_LEAD_WORDS: Final = (
    r"(?:and|but|so|um|uh|also|like|then|or|hi|hey|oh|okay|ok|well|yeah|sorry|actually|just|"
    r"roughly|honestly|quickly|first|now|wait|quick question|one more thing|by the way)"
)
_QUESTION_WORD: Final = r"(?:what|what's|whats|which|how|how's|where|where's|when|why|who|who's)"
_INVERTED: Final = (
    r"(?:is|are|am|was|were|can|could|do|does|did|will|would|should|shall|may|might|have|has|"
    r"isn't|aren't|can't|don't|doesn't|won't)\s+(?:i|you|we|they|he|she|it|there|that|this|"
    r"somebody|someone|anybody|anyone|y'all|ya|u|my|your|the|their)"
)
# Asked without its first word, as people do: "you guys open saturdays?", "you take Visa?"
# (a verb a business does, and something after it: "you see, my tooth" is no question).
_DROPPED_AUXILIARY: Final = (
    r"(?:you|ya|y'all|u)(?:\s+(?:guys|all|folks))?\s+(?:gonna|going to|still|open|closed|take|"
    r"accept|offer|sell|fix|work on|treat|carry|see|do|charge|allow|deliver|need)\b(?=\s+\w)"
)
_ASKING: Final = re.compile(
    rf"^(?:{_LEAD_WORDS}[\s,]+)*(?:{_QUESTION_WORD}\b|{_DROPPED_AUXILIARY})"
    rf"|\b{_INVERTED}\b"
    r"|\b(?:wondering|wonder|curious|want(?:ed)? to know|need to know|tell me)\s+"
    r"(?:if|whether|about|how|what|when|where|who|why)\b"
)
_CLAUSE_BREAK: Final = re.compile(
    rf"[,;:!?]+\s*|\.\s+|\s+(?:and|or|but|cause|because)\s+(?=(?:{_QUESTION_WORD}|{_INVERTED})\b)"
)
# A question that is the caller's own request, which the values in it answer: "can I get a
# cleaning Friday?", "do you have anything Monday?", "does Thursday work?".
_REQUEST: Final = re.compile(
    r"\b(?:can|could|may) (?:i|we) (?:get|book|make|schedule|have|set|grab|reserve|do|come|"
    r"drop|bring|stop)\b"
    r"|\b(?:do|would) you (?:guys )?have (?:anything|any (?:time|openings?|slots?|availability|"
    r"tables?|appointments?|spots?)|availability|a (?:slot|table|spot|time)|an (?:opening|"
    r"appointment)|room|space)\b|\bany chance (?:i|we) could\b"
    r"|\b(?:does|would|will|can) (?:that|it|this|\w+day|the \w+) work\b|\bcan we (?:do|make|move)\b"
)
# "Can I get…", "can I have…", "can I bring…" ask for a booking only when a value or a booking
# word follows ("can I get a cleaning Friday?", "can I get an appointment?", "can I bring it
# in?"); else they ask whether something is allowed or possible ("can I bring my guide dog?",
# "can I have my coffee?", "can I get to you on the bus?").
_VAGUE_REQUEST: Final = re.compile(r"\b(?:can|could|may) (?:i|we) (?:get|have|bring|do|grab)\b")
_BOOKING_WORD: Final = re.compile(
    r"\b(?:appointments?|appt|slots?|spots?|openings?|availability|booking|reservations?|visit|"
    r"time|tables?|seats?|rooms?|demo|consult(?:ation)?|meeting|seen|checked|looked at|fitted|"
    r"squeezed)\b"
    r"|\bin(?=$|\s+(?:for|on|at|this|next|today|tomorrow|soon|sometime|early|later|asap)\b)"
)


# Words that only say when: a "question" made of nothing else ("what's do next Tuesday?", as
# a recogniser wrote "let's do next Tuesday") gives a day or time, it asks for nothing.
_WHEN: Final = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight morning "
    "afternoon evening night noon midnight week weekend am pm o'clock half past quarter one two "
    "three four five six seven eight nine ten eleven twelve".split()
)
_FILLER: Final = frozenset(
    "next this last at on in the a an or and of do does did is are can could would will should "
    "what what's whats how about it that i you we then maybe around ish".split()
)


_NUMBER: Final = re.compile(r"^\d+(?::\d+)?(?:st|nd|rd|th|am|pm|ish)?$")


def questions_in(text: str) -> list[str]:
    """The clauses of `text` that ask something, in order ([] when it asks nothing)."""
    clauses = (c.strip() for c in _CLAUSE_BREAK.split(text.lower().replace("’", "'")))
    return [c for c in clauses if c and _ASKING.search(c)]


def asks_for_information(text: str, *, values_given: bool = True) -> list[str]:
    """The questions in `text` that ask for information, not for a booking ("can I get a
    cleaning Friday?", "does Thursday work?", "what's do next Tuesday?"). `values_given`: the
    words gave the call values; when they gave none, "can I get…" without a booking word asks
    for information ("can I bring my guide dog in with me?")."""
    return [q for q in questions_in(text) if not _books(q, values_given) and not _only_when(q)]


def _books(question: str, values_given: bool) -> bool:
    """Whether `question` is the caller's own request for a booking."""
    request = _REQUEST.search(question)
    if request is None:
        return False
    vague = _VAGUE_REQUEST.search(question)
    if values_given or vague is None or vague.start() != request.start():
        return True
    return _BOOKING_WORD.search(question, vague.end()) is not None


def _only_when(question: str) -> bool:
    """Whether `question` says only a day or time ("what's do next Tuesday?"), not "what do I
    do?"."""
    words = re.findall(r"[a-z0-9':]+", question)
    said_when = any(word in _WHEN or _NUMBER.match(word) for word in words)
    return said_when and all(
        word in _WHEN or word in _FILLER or _NUMBER.match(word) for word in words
    )


@dataclass(frozen=True)
class TurnContext:
    """What a brain sees for one turn: the compiled prompt, where the goals stand, and the items
    most relevant to the caller's last words."""

    prompt: str
    goal_state: Mapping[str, FieldScalar]
    items: tuple[Hit, ...] = ()
    history: tuple[str, ...] = ()

    def render(self, *, budget_tokens: int = CONTEXT_TOKENS) -> str:
        """The prompt with the items injected (see `inject_context`)."""
        return inject_context(self.prompt, self.items, budget_tokens=budget_tokens)


def is_relevant(hit: Hit) -> bool:
    """Whether `hit` plausibly answers the question it was found for: close in meaning
    (`Hit.relevant`), or the best match by words and not far in meaning."""
    similarity = hit.similarity if hit.similarity is not None else 0.0
    return hit.relevant or (hit.keyword_rank == 1 and similarity >= NAMED_SIMILARITY)


def inject_context(
    prompt: str, items: Sequence[Hit], *, budget_tokens: int = CONTEXT_TOKENS
) -> str:
    """`prompt` followed by the relevant `items`, best first, each cited as `[item N]`, as many
    as fit in `budget_tokens`; `prompt` unchanged when none is relevant."""
    budget = budget_tokens * 4
    lines: list[str] = []
    for hit in items:
        if not is_relevant(hit):
            continue
        title = f"{hit.title}: " if hit.title and hit.title not in hit.content else ""
        line = f"- [item {hit.item_id}] {title}{hit.content}"
        if len(line) > budget:
            if lines:
                break
            line = line[: max(budget - 1, 0)].rsplit(" ", 1)[0] + "…"
        lines.append(line)
        budget -= len(line)
    if not lines:
        return prompt
    return (
        f"{prompt.rstrip()}\n\n## What the business knows about the caller's last words\n"
        "Answer from these items only, in one or two short sentences; cite nothing aloud. If they "
        "do not answer the question, say you don't have that information and offer to have the "
        "team call back.\n" + "\n".join(lines) + "\n"
    )


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if len(w) > 2}


def spoken_answer(
    question: str,
    items: Sequence[Hit],
    similarity: Callable[[str, Sequence[str]], list[float]] | None = None,
) -> list[str]:
    """The sentences of the relevant `items` that answer `question`, the best first: one for
    each question in it (at most two), or the two best for one question when the second is
    nearly as good; [] when no item is relevant.

    Each sentence is scored against the question it answers, by meaning (`similarity`, the
    bundled MiniLM by default) plus a little for the words it shares with it, so "do you take
    Humana? that's what I have" picks "We do not accept HMO plans, Humana, or Medicaid" out of
    everything a question that also mentions a cleaning retrieved.
    """
    relevant = [hit for hit in items if is_relevant(hit)]
    if not relevant:
        return []
    if similarity is None and embeddings.available():
        similarity = embeddings.similarity
    candidates = [
        (rank, position, sentence)
        for rank, hit in enumerate(relevant)
        for position, sentence in enumerate(sentences(hit.content))
    ]
    texts = [sentence for _, _, sentence in candidates]
    asked = (asks_for_information(question) or questions_in(question) or [question])[:2]
    chosen: list[tuple[float, int, int, str]] = []
    stored = _stored_vectors(relevant) if similarity is embeddings.similarity else None
    for clause in asked:
        if stored is not None:
            meaning = [float(x) for x in stored @ embeddings.embed_query(clause)]
        elif similarity is not None:
            meaning = similarity(clause, texts)
        else:
            meaning = [0.0] * len(texts)
        words = _words(clause)
        scored = sorted(
            (
                # The sentence's own likeness, its item's (a sentence of the item that answers
                # is better than a close-sounding one of an item that doesn't), shared words.
                0.6 * closeness
                + 0.4 * (relevant[rank].similarity or 0.0)
                + 0.2 * len(words & _words(sentence)) / max(len(words), 1),
                -rank,
                -position,
                sentence,
            )
            for (rank, position, sentence), closeness in zip(candidates, meaning, strict=True)
        )[::-1]
        fresh = [s for s in scored if s[3] not in {c[3] for c in chosen}]
        if not fresh:
            continue
        chosen.append(fresh[0])
        if len(asked) == 1:
            second = next(
                (
                    s
                    for s in fresh[1:]
                    if s[1] == fresh[0][1] and s[0] >= SECOND_SENTENCE_SHARE * fresh[0][0]
                ),
                None,
            )
            if second is not None:
                chosen.append(second)
    best = chosen[0][3] if chosen else ""
    # Spoken in the order written within an item, the best answer's item first.
    first_item = chosen[0][1] if chosen else 0
    ordered = sorted(chosen, key=lambda s: (s[3] != best and s[1] != first_item, -s[1], -s[2]))
    return [s[3] for s in ordered]


def _plain(hit: Hit) -> dict[str, Any]:
    """`hit`'s fields as JSON-ready data, without its sentence vectors."""
    return {
        f.name: getattr(hit, f.name)
        for f in dataclasses.fields(hit)
        if f.name != "sentence_vectors"
    }


def _stored_vectors(hits: Sequence[Hit]) -> np.ndarray[Any, Any] | None:
    """The indexed vectors of every sentence of `hits`, in order, when each hit has them: the
    bundled MiniLM's, so they stand in for `embeddings.similarity` without embedding the
    sentences again on the caller's turn."""
    vectors = [hit.sentence_vectors for hit in hits]
    if any(v is None for v in vectors):
        return None
    return np.concatenate([v for v in vectors if v is not None])


def _hits_to_json(hits: Sequence[Hit]) -> bytes:
    """Hits for the Redis cache; sentence vectors as float32 bytes in base64 (a quarter of
    their size as JSON numbers, and read back exactly)."""
    rows = []
    for hit in hits:
        row = _plain(hit)
        if hit.sentence_vectors is not None:
            vectors = np.ascontiguousarray(hit.sentence_vectors, dtype=np.float32)
            row["sentence_vectors"] = {
                "rows": int(vectors.shape[0]),
                "float32": base64.b64encode(vectors.tobytes()).decode(),
            }
        rows.append(row)
    return json.dumps(rows).encode()


def _hits_from_json(raw: bytes) -> list[Hit]:
    hits = []
    for row in json.loads(raw):
        stored = row.pop("sentence_vectors", None)
        vectors = None
        if stored is not None:
            data = np.frombuffer(base64.b64decode(stored["float32"]), dtype=np.float32)
            vectors = data.reshape(stored["rows"], -1)
        hits.append(Hit(**row, sentence_vectors=vectors))
    return hits


class KnowledgeSearch:
    """Retrieval for calls: the KnowledgeBase on a session pool, with Redis caches in front."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache: Cache | None = None
    ) -> None:
        self.sessions = sessions
        self.cache = cache

    async def close(self) -> None:
        """Dispose of the database pool and close the cache's client."""
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            await bind.dispose()
        if self.cache is not None:
            await self.cache.close()

    async def search(self, query: str, domain_ids: Sequence[int], *, k: int = TOP_K) -> list[Hit]:
        """The `k` items of `domain_ids` most relevant to `query`, best first."""
        if not domain_ids or not query.strip():
            return []
        ids = sorted(set(domain_ids))
        async with self.sessions() as session:
            versions = dict(
                (
                    await session.execute(
                        select(Domain.id, Domain.knowledge_version).where(Domain.id.in_(ids))
                    )
                ).all()
            )
            key = ",".join(f"{i}@{versions.get(i, 0)}" for i in ids) + f":{k}:{digest(query)}"
            if self.cache is not None:
                cached = await self.cache.get("hits", key)
                if cached is not None:
                    return _hits_from_json(cached)
            vector = await self._embedding(query)
            hits = await KnowledgeBase(session).search_relevant(query, ids, k=k, vector=vector)
        if self.cache is not None:
            await self.cache.set("hits", key, _hits_to_json(hits), ttl_s=3600)
        return hits

    async def _embedding(self, query: str) -> list[float]:
        if self.cache is not None:
            cached = await self.cache.get("embedding", digest(query))
            if cached is not None:
                return [float(x) for x in np.frombuffer(cached, dtype=np.float32)]
        vector = embeddings.embed_query(query)
        if self.cache is not None:
            await self.cache.set("embedding", digest(query), vector.astype(np.float32).tobytes())
        return [float(x) for x in vector]


@dataclass
class ContextManager:
    """One call's context: retrieval started early and time-boxed, and the goal state."""

    agent: AgentSnapshot
    compiled_prompt: str = ""
    search: KnowledgeSearch | None = None
    timeout_s: float = RETRIEVAL_TIMEOUT_S
    k: int = TOP_K
    call_sid: str = ""
    goal_state: dict[str, FieldScalar] = field(default_factory=dict)
    _lookups: dict[str, asyncio.Task[list[Hit]]] = field(default_factory=dict)
    last_ms: float | None = None
    """How long the last `get_domain_context` waited, in milliseconds (None: no lookup)."""

    @property
    def domain_ids(self) -> list[int]:
        """The agent's domains that a call can search (those with an id)."""
        return [d.id for d in self.agent.domains if d.id is not None]

    def prefetch(self, topic: str) -> None:
        """Start looking up `topic` now (the early transcript, at the caller's pause)."""
        topic = topic.strip()
        if self.search is None or not self.domain_ids or not topic or topic in self._lookups:
            return
        # A call's lookups are few (one or two a turn); keep the last handful.
        for old in list(self._lookups)[:-4]:
            self._lookups.pop(old).cancel()
        self._lookups[topic] = asyncio.get_running_loop().create_task(
            self._look_up(topic), name="knowledge-lookup"
        )

    async def _look_up(self, topic: str) -> list[Hit]:
        """A search for the words, and one for each question in them (at most two: "are you
        open Saturday and do you take MetLife"); hits merged in turn, the whole words' first.
        Each finds what the other misses: a question clause loses what came before it ("my
        daughter's three, is she too young"), the whole words bury a name under the rest ("I
        was going to book a cleaning, but first, do you take Humana?")."""
        assert self.search is not None
        asked = asks_for_information(topic, values_given=False)  # "can I get to you by bus?"
        questions = [q for q in asked[:2] if q != topic.lower()]
        queries = [topic, *questions]
        found = await asyncio.gather(
            *(self.search.search(q, self.domain_ids, k=self.k) for q in queries)
        )
        merged: dict[int, Hit] = {}
        for rank in range(self.k):
            for hits in found:
                if rank < len(hits):
                    merged.setdefault(hits[rank].item_id, hits[rank])
        return list(merged.values())

    async def get_domain_context(self, topic: str) -> list[Hit]:
        """The items most relevant to `topic`; [] when the agent has no knowledge, or when the
        lookup fails or has not finished within the time box (the turn goes on without it)."""
        topic = topic.strip()
        self.prefetch(topic)
        task = self._lookups.get(topic)
        if task is None:
            self.last_ms = None
            return []
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.timeout_s)
        except TimeoutError:
            logger.warning(
                "call %s: knowledge lookup took over %.0f ms; this turn goes on without it",
                self.call_sid,
                self.timeout_s * 1000,
            )
            task.cancel()
            return []
        except Exception as exc:  # noqa: BLE001 - the answer must not depend on the database
            logger.warning("call %s: knowledge lookup failed: %s", self.call_sid, exc)
            return []
        finally:
            self._lookups.pop(topic, None)
            self.last_ms = (time.perf_counter() - started) * 1000

    def update_context(self, new_info: Mapping[str, FieldScalar]) -> None:
        """Fields the call has captured since (the goal state the next turn sees)."""
        self.goal_state.update(new_info)

    def build_context(self, history: Sequence[str], items: Sequence[Hit] = ()) -> TurnContext:
        """What a brain sees this turn: the compiled prompt, the goal state, the conversation
        so far and the items found for the caller's last words."""
        return TurnContext(
            prompt=self.compiled_prompt,
            goal_state=dict(self.goal_state),
            items=tuple(items),
            history=tuple(history),
        )

    def close(self) -> None:
        """Cancel lookups still running (the call is over)."""
        for task in self._lookups.values():
            task.cancel()
        self._lookups.clear()


def as_json(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """Hits as plain data with why each matched (for the API and logs at DEBUG)."""
    return [{**_plain(h), "why": h.why} for h in hits]

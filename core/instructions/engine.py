"""The instruction engine: which do/don'ts apply now, how they read in a prompt, and whether a reply
breaks a don't.

Pure code, no I/O: the realtime plane runs `InstructionEngine.validate_response` on every sentence
the brain produces before it is spoken, and the workflow can run the same check on the transcript.
Everything that can be compiled is compiled when the engine is built, so a check is a few dozen
regex searches over one sentence.

How a don't is read: its lead-in ("Don't", "Never", "Avoid") is stripped, anything after a
condition word ("… without checking") is set aside, and the rest is matched against the topic
lexicon (`core.instructions.lexicon`). A rule naming a known topic is checked with that topic's
detectors; a rule naming none falls back to its own content words ("Don't mention the merger" is
breached by a reply that mentions a merger). A clause that refuses ("I can't discuss pricing") is
never a breach, and a "Don't ask for …" rule is only breached by a question or a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from core.agents.snapshot import AgentSnapshot, InstructionSnapshot
from core.agents.spec import InstructionKind, normalise_instruction
from core.instructions.lexicon import (
    OBJECT_SYNONYMS,
    REFUSAL,
    REQUEST,
    REQUEST_VERBS,
    TOPICS,
    Detector,
    Topic,
)

PROMPT_FOOTER = "Rules earlier in each list matter more. Never break a Don't rule."

# Words that carry no subject of their own: articles, pronouns, and the verbs a rule uses to say
# *how* something is forbidden ("mention", "discuss") rather than *what*.
_STOPWORDS = frozenset(
    """a an the and or of to for in on at by with about from into over this that these those it its
    any some all every each other our your their my his her them they we you he she i me us
    is are be been being was were do does did not no ever anything something
    mention mentions discuss discussing talk talking say saying tell telling bring up share
    sharing reveal disclose give giving provide providing offer offering make making use using
    ask asking request collect take let get specific particular exact certain
    caller callers customer customers prospect prospects patient patients client clients
    anyone someone people person call calls""".split()
)
# Conditions ("without checking", "unless asked") cannot be seen in one sentence; the engine
# checks the rule's head and reports the breach, and the condition is the reader's to judge.
_CONDITION = re.compile(r"\b(?:without|unless|until|before|except|if|when)\b")
_WORD = re.compile(r"[a-z0-9][a-z0-9']*")
# Suffixes stripped by the crude stemmer, longest first so "-ings" wins over "-s".
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "ies", "ied", "es", "ed", "er", "ly", "s")

# Clause boundaries: sentence ends, dashes, and contrast words that start a new claim ("I can't
# discuss pricing, *but* it's $49"). A full stop after a title ("Dr. Patel") or inside a number
# ("$49.99") is not a boundary. Each alternative starts with a literal, not a lookbehind, so the
# search skips quickly over ordinary words (4x faster than the lookbehind-first form).
_CLAUSE_BREAK = re.compile(
    r"[!?;]\s*"
    r"|\.(?<!\bdr\.)(?<!\bmr\.)(?<!\bms\.)(?<!\bmrs\.)(?<!\bst\.)(?<!\bprof\.)(?=\s|$)"
    r"|\s[-—–]+\s|[—–\n]"
    r"|\b(?:but|however|although|though|except\s+that)\b",
)
# A "?" or "!" stays on its clause, so questions are visible to the rules that need them.
_KEPT_PUNCTUATION = "?!"
_CLAUSE_PADDING = " \t,"


def stem(word: str) -> str:
    """A crude stem, enough to match "merger"/"merged"/"merge" and "prices"/"pricing"."""
    word = word.lower().replace("’", "'").removesuffix("'s").strip("'")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1]


def get_active_instructions(
    agent: AgentSnapshot | Sequence[InstructionSnapshot],
    context: Iterable[str] | str | None = None,
) -> list[InstructionSnapshot]:
    """Active instructions, highest priority first (ties keep their order), narrowed to the context.

    An instruction with a `topic` applies only when the context (the current topic words or the
    caller's last utterance) mentions that topic, by its own words or through the topic lexicon
    ("pricing" is mentioned by "how much does it cost?"). `context=None` means no context is
    known, and then nothing is narrowed away: a rule is safer kept than silently dropped.
    """
    instructions = agent.instructions if isinstance(agent, AgentSnapshot) else agent
    text = None if context is None else context if isinstance(context, str) else "\n".join(context)
    chosen = [
        item
        for item in instructions
        if item.active
        and item.text.strip()
        and (item.topic is None or text is None or _mentions_topic(item.topic, text))
    ]
    # `sorted` is stable, so equal priorities keep the order the admin wrote them in.
    return sorted(chosen, key=lambda item: -item.priority)


def _mentions_topic(topic: str, context: str) -> bool:
    # The lexicon's patterns are lower case, so both sides are lower-cased first.
    stems, lexicon_topics = _topic_vocabulary(topic.lower())
    context = context.lower()
    if stems & {stem(word) for word in _WORD.findall(context)}:
        return True
    return any(
        lexicon.trigger.search(context) or any(d.pattern.search(context) for d in lexicon.detectors)
        for lexicon in lexicon_topics
    )


@lru_cache(maxsize=512)
def _topic_vocabulary(topic: str) -> tuple[frozenset[str], tuple[Topic, ...]]:
    # Cached: the same few topic names are looked up on every turn of every call.
    stems = frozenset(stem(word) for word in _content_words(topic))
    return stems, tuple(lexicon for lexicon in TOPICS if lexicon.trigger.search(topic))


def format_for_prompt(instructions: Sequence[InstructionSnapshot]) -> str:
    """The active rules as prompt text: a "Do:" list, a "Don't:" list, texts verbatim.

    Deterministic (the prompt prefix cache needs identical bytes); priority orders each list.
    Empty when there is nothing to say.
    """
    ordered = get_active_instructions(instructions)
    dos = [item.text.strip() for item in ordered if item.kind is InstructionKind.DO]
    donts = [item.text.strip() for item in ordered if item.kind is InstructionKind.DONT]
    parts = []
    if dos:
        parts.append("Do:\n" + "\n".join(f"- {text}" for text in dos))
    if donts:
        parts.append("Don't:\n" + "\n".join(f"- {text}" for text in donts))
    if parts:
        parts.append(PROMPT_FOOTER)
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Breach:
    """A reply breaks a don't: which one, why (topic and what was said), and the words that did."""

    instruction: InstructionSnapshot
    reason: str
    evidence: str


class _Clause:
    """One clause of a reply, with the facts every rule asks about computed at most once."""

    __slots__ = ("__dict__", "text", "lower", "refused", "question", "_found")

    def __init__(self, text: str, lower: str) -> None:
        # The lexicon's patterns search `lower`; `text` (same length) is what evidence quotes.
        self.text = text
        self.lower = lower
        self.refused = REFUSAL.search(lower) is not None
        self.question = lower.endswith("?")
        self._found: dict[re.Pattern[str], re.Match[str] | None] = {}

    def search(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        """`pattern` searched in this clause, once: rules sharing a topic share the search."""
        if pattern not in self._found:
            self._found[pattern] = pattern.search(self.lower)
        return self._found[pattern]

    @cached_property
    def request(self) -> bool:
        return self.question or REQUEST.search(self.lower) is not None

    @cached_property
    def words(self) -> dict[str, str]:
        # stem → the word as said, so a breach can quote the reply.
        return {stem(word): word for word in _WORD.findall(self.lower)}

    def quote(self, match: re.Match[str]) -> str:
        """The matched words as the reply said them."""
        return self.text[match.start() : match.end()].strip()


def _clauses(response: str) -> list[_Clause]:
    text = response.replace("’", "'")
    lower = text.lower()
    if len(lower) != len(text):
        # A few characters change length when lower-cased ("İ"); quote the lower-cased text then.
        text = lower
    bounds = [
        (m.start() + (lower[m.start()] in _KEPT_PUNCTUATION), m.end())
        for m in _CLAUSE_BREAK.finditer(lower)
    ]
    bounds.append((len(lower), len(lower)))
    clauses = []
    start = 0
    for end, next_start in bounds:
        piece = lower[start:end]
        left = len(piece) - len(piece.lstrip(_CLAUSE_PADDING))
        right = len(piece.rstrip(_CLAUSE_PADDING))
        if right > left:
            clauses.append(_Clause(text[start + left : start + right], piece[left:right]))
        start = next_start
    return clauses


@dataclass(frozen=True)
class _Rule:
    """A don't, compiled: the topics it names, or the content words it falls back to."""

    instruction: InstructionSnapshot
    topics: tuple[Topic, ...]
    asks: bool
    object_pattern: re.Pattern[str] | None
    key_stems: tuple[str, ...]

    def check(self, clauses: Sequence[_Clause]) -> Breach | None:
        """The first breach of this rule in the reply's clauses, if any."""
        for topic in self.topics:
            for detector in topic.detectors:
                breach = self._check_detector(topic, detector, clauses)
                if breach is not None:
                    return breach
        if self.key_stems:
            return self._check_overlap(clauses)
        return None

    def _check_detector(
        self, topic: Topic, detector: Detector, clauses: Sequence[_Clause]
    ) -> Breach | None:
        if detector.object_only and self.object_pattern is None:
            return None
        for clause in clauses:
            if clause.refused or (detector.skip_questions and clause.question):
                continue
            if self.asks and not clause.request:
                continue
            if (
                detector.scoped_to_object
                and self.object_pattern is not None
                and not clause.search(self.object_pattern)
            ):
                continue
            match = clause.search(detector.pattern)
            if match is not None:
                why = f"asks for {topic.name}" if self.asks else detector.reason
                evidence = clause.quote(match)
                return Breach(self.instruction, f"{topic.name}: {why} ({evidence})", evidence)
        return None

    def _check_overlap(self, clauses: Sequence[_Clause]) -> Breach | None:
        # Short rules need every key word ("the merger"); longer ones most of them, so a reply
        # using the rule's words in another order or with one left out still counts.
        needed = (
            len(self.key_stems) if len(self.key_stems) <= 2 else -(-len(self.key_stems) * 3 // 5)
        )
        for clause in clauses:
            if clause.refused or (self.asks and not clause.request):
                continue
            said = [clause.words[s] for s in self.key_stems if s in clause.words]
            if len(said) >= needed:
                evidence = " ".join(said)
                return Breach(
                    self.instruction, f"mentions what the rule forbids ({evidence})", evidence
                )
        return None


def _compile_rule(instruction: InstructionSnapshot) -> _Rule:
    head = _CONDITION.split(normalise_instruction(instruction.text), maxsplit=1)[0]
    topics = tuple(topic for topic in TOPICS if topic.trigger.search(head))
    asks = REQUEST_VERBS.search(head) is not None
    object_pattern = None
    if any(topic.takes_object for topic in topics):
        # What is left once the topic's own words are removed is what the rule is about.
        remainder = head
        for topic in topics:
            remainder = topic.trigger.sub(" ", remainder)
        objects = [
            OBJECT_SYNONYMS.get(w, re.escape(stem(w)) + r"\w*") for w in _content_words(remainder)
        ]
        if objects:
            object_pattern = re.compile(r"\b(?:" + "|".join(objects) + ")")
    key_stems: tuple[str, ...] = ()
    if not topics:
        key_stems = tuple(dict.fromkeys(stem(word) for word in _content_words(head)))
    return _Rule(instruction, topics, asks, object_pattern, key_stems)


class InstructionEngine:
    """An agent's instructions, compiled once and checked many times (one engine per call)."""

    def __init__(self, instructions: Sequence[InstructionSnapshot]) -> None:
        self.instructions: tuple[InstructionSnapshot, ...] = tuple(instructions)
        donts = get_active_instructions(
            [item for item in self.instructions if item.kind is InstructionKind.DONT]
        )
        self._rules = tuple(_compile_rule(item) for item in donts)

    def active(self, context: Iterable[str] | str | None = None) -> list[InstructionSnapshot]:
        """The instructions that apply in this context (see `get_active_instructions`)."""
        return get_active_instructions(self.instructions, context)

    def format_for_prompt(self, context: Iterable[str] | str | None = None) -> str:
        """The instructions that apply in this context, as prompt text."""
        return format_for_prompt(self.active(context))

    def validate_response(self, response: str) -> list[Breach]:
        """Every active don't the response breaks, highest priority first, one breach per rule.

        Topic-scoped don'ts are checked whatever the context: a reply can stray onto a topic
        the caller never raised.
        """
        clauses = _clauses(response)
        if not clauses:
            return []
        return [breach for rule in self._rules if (breach := rule.check(clauses)) is not None]


@lru_cache(maxsize=64)
def _engine_for(instructions: tuple[InstructionSnapshot, ...]) -> InstructionEngine:
    return InstructionEngine(instructions)


def validate_response(response: str, instructions: Sequence[InstructionSnapshot]) -> list[Breach]:
    """The don'ts `response` breaks; compiled engines are cached per instruction set."""
    return _engine_for(tuple(instructions)).validate_response(response)

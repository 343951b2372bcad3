"""Did a call come through a fault whole? Per call, from what the caller lived (its `CallReport`),
the platform's final record and the webhooks received; per fault, the sum.

- **Turns lost**: every agent turn the caller heard and every caller turn the agent answered on
  the same stream must be in the final record's transcript. The caller knows the agent's words
  by ear (Whisper) and the platform its caller's words by ear too, so turns are paired in order,
  by speaker and the words they share (`match_turns`). An agent turn the caller heard only in
  part (talked over, or its stream lost while it played) and the record does not hold is
  counted apart, as **cut off**: the platform records an interrupted reply from its first
  whole clause on (`Playout.heard`), and a process killed mid-reply records nothing of it.
- **Webhooks**: each call gets exactly one `call.completed` webhook id (one webhook URL per
  agent here), and one `goal.completed` id per goal met. Receiving an id again is a retry, fine
  for a receiver that dedupes by `webhook-id`; a second id for the same event is a duplicate.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rapidfuzz import fuzz

from core.calls.types import Speaker, WebhookEvent
from workers.caller.report import CallReport, TranscriptEntry
from workers.caller.sink import ReceivedWebhook
from workers.eval.outcome import ScenarioResult

__all__ = [
    "MATCH_SCORE",
    "CallCheck",
    "FaultResult",
    "HeardTurn",
    "WebhookTally",
    "call_verdict",
    "expected_turns",
    "goals_met",
    "match_turns",
    "tally_webhooks",
]

# Words shared (rapidfuzz's token-set ratio, 0–100) for a heard turn to be the recorded one:
# the two sides hear each other through TTS and Whisper ("3 p.m." for "three PM").
MATCH_SCORE: Final = 60.0
# Pairing weights: shared words are the best evidence that two turns are one, the same speaker
# at the same place weaker. A turn heard in part is the one the record most often lacks (its
# process died before recording it), so any pairing of it weighs less than a whole turn's: where
# the two compete for one recorded turn, the whole one (even misheard by the caller's ear, as
# Whisper sometimes mishears the re-entry line) takes it and the fragment is reported cut off.
WORDS_MATCH: Final = 6
SPEAKER_MATCH: Final = 3
PARTIAL_WORDS_MATCH: Final = 2
PARTIAL_SPEAKER_MATCH: Final = 1
SAME_LINE_SCORE: Final = 90.0
# How a call ends when it is broken rather than finished: its stream was lost for good, no node
# had room, a timer ran out, or the agent heard nothing more from the caller.
BROKEN_ENDS: Final = frozenset(
    {"stream_lost", "no_capacity", "max_duration", "inactivity", "caller_silent"}
)
# A stream lost this long after an agent turn's last sound may still have cut the turn short
# (the rest was being synthesized); a turn that ended earlier was whole.
CUT_SLACK_MS: Final = 1500.0
_WORDS = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class HeardTurn:
    """A turn the caller lived through, which the record should hold."""

    speaker: Speaker
    text: str
    at_ms: float
    partial: bool = False
    """An agent turn heard only in part: talked over, or its stream lost while it played."""

    def __str__(self) -> str:
        return f"{self.speaker.value} at {self.at_ms / 1000:.1f} s: {self.text!r}"


def _words(text: str) -> str:
    """Lower-case words; letters spelled one by one ("B E N", "B-E-N") become one word."""
    words: list[str] = []
    letters: list[str] = []
    for token in [*_WORDS.findall(text.lower()), ""]:
        if len(token) == 1 and token.isalpha():
            letters.append(token)
            continue
        words += ["".join(letters)] if len(letters) > 1 else letters
        letters = []
        if token:
            words.append(token)
    return " ".join(words)


def expected_turns(report: CallReport) -> list[HeardTurn]:
    """The turns of `report` the record must hold, in the order they were said.

    An agent turn counts once the caller heard words of it; one the caller heard only in part
    is marked `partial`. A caller turn counts once the agent answered it on the stream that
    heard it: a line said into a dying stream was answered by nobody (the caller says it again
    after the re-entry line).
    """
    losses = sorted(r.lost_at_ms for r in report.reconnections)
    entries = report.transcript
    expected: list[HeardTurn] = []
    for index, entry in enumerate(entries):
        if entry.speaker is Speaker.AGENT:
            if _words(entry.text):  # a fragment too short to hear words in is no turn
                partial = entry.interrupted or _lost_while_playing(entry, losses)
                expected.append(HeardTurn(entry.speaker, entry.text, entry.at_ms, partial))
        elif _answered(entry, entries[index + 1 :], losses):
            expected.append(HeardTurn(entry.speaker, entry.text, entry.at_ms))
    return expected


def _lost_while_playing(entry: TranscriptEntry, losses: Sequence[float]) -> bool:
    """A stream was lost while this agent turn played, or just after its last sound (the
    rest of it never came)."""
    ended = entry.at_ms + entry.audio_ms + CUT_SLACK_MS
    return any(entry.at_ms <= lost <= ended for lost in losses)


def _answered(
    entry: TranscriptEntry, later: Sequence[TranscriptEntry], losses: Sequence[float]
) -> bool:
    reply = next((e for e in later if e.speaker is Speaker.AGENT), None)
    if reply is None:
        return False
    return not any(entry.at_ms <= lost <= reply.at_ms for lost in losses)


def match_turns(
    heard: Sequence[HeardTurn], recorded: Sequence[Mapping[str, Any]]
) -> list[HeardTurn]:
    """The heard turns missing from `recorded` (the record's transcript: `speaker`, `text`).

    Heard and recorded turns are paired in order, as many as can be (a weighted longest common
    subsequence): a pair must have the same speaker and counts double when its words match.
    Words anchor the pairing; the speaker alone pairs a turn one side misheard ("Benny daddy"
    for "Benedetti"), so only a turn with no recorded counterpart at its place is missing. A
    reply the caller heard in two pieces (a pause in the synthesis) may pair both pieces with
    the one recorded turn whose words they share."""
    rows, columns = len(heard), len(recorded)
    weight = [[_pair_weight(turn, record) for record in recorded] for turn in heard]
    best = [[0] * (columns + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(columns - 1, -1, -1):
            best[i][j] = max(_moves(heard, weight, best, i, j))
    missing: list[HeardTurn] = []
    i = j = 0
    while i < rows:
        if j == columns:
            missing.append(heard[i])
            i += 1
            continue
        w = weight[i][j]
        if w and best[i][j] == w + best[i + 1][j + 1]:
            i, j = i + 1, j + 1
        elif _folds(heard, weight, i, j) and best[i][j] == w + best[i + 1][j]:
            i += 1
        elif best[i][j] == best[i][j + 1]:
            j += 1
        else:
            missing.append(heard[i])
            i += 1
    return missing


def _pair_weight(turn: HeardTurn, record: Mapping[str, Any]) -> int:
    if str(record.get("speaker")) != turn.speaker.value:
        return 0
    score = fuzz.token_set_ratio(_words(turn.text), _words(str(record.get("text", ""))))
    if turn.partial:
        return PARTIAL_WORDS_MATCH if score >= MATCH_SCORE else PARTIAL_SPEAKER_MATCH
    return WORDS_MATCH if score >= MATCH_SCORE else SPEAKER_MATCH


def _folds(heard: Sequence[HeardTurn], weight: list[list[int]], i: int, j: int) -> bool:
    """Heard turn i is a piece of recorded turn j, and so is the next heard turn (another
    piece: the same words twice are a line said twice)."""
    return (
        weight[i][j] == WORDS_MATCH
        and i + 1 < len(heard)
        and heard[i + 1].speaker is heard[i].speaker
        and weight[i + 1][j] == WORDS_MATCH
        and fuzz.ratio(_words(heard[i].text), _words(heard[i + 1].text)) < SAME_LINE_SCORE
    )


def _moves(
    heard: Sequence[HeardTurn], weight: list[list[int]], best: list[list[int]], i: int, j: int
) -> list[int]:
    moves = [best[i + 1][j], best[i][j + 1]]  # heard turn i missing; recorded turn j unheard
    if weight[i][j]:
        moves.append(weight[i][j] + best[i + 1][j + 1])
    if _folds(heard, weight, i, j):
        moves.append(weight[i][j] + best[i + 1][j])
    return moves


def goals_met(record: Mapping[str, Any]) -> list[str]:
    """The goals the final record says were met."""
    goals = (record.get("analysis") or {}).get("goals") or []
    return [str(g["name"]) for g in goals if isinstance(g, dict) and g.get("success")]


@dataclass(frozen=True)
class WebhookTally:
    """The webhooks one call should have caused, against those received."""

    lost: list[str]
    """Events that never arrived: `call.completed`, `goal.completed <goal>`."""
    duplicates: list[str]
    """Events that arrived under more than one webhook id."""
    retries: int
    """Receipts of an id already received (a receiver dedupes these)."""
    unverified: int
    """Receipts whose signature did not verify."""


def tally_webhooks(
    call_sid: str, received: Sequence[ReceivedWebhook], goals: Sequence[str]
) -> WebhookTally:
    """Check the webhooks for `call_sid` among `received`: one `call.completed`, one
    `goal.completed` per goal in `goals`, each under a single id."""
    ids: dict[str, set[str]] = defaultdict(set)
    receipts: Counter[str] = Counter()
    unverified = 0
    for webhook in received:
        payload = webhook.payload
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or data.get("call_sid") != call_sid:
            continue
        if webhook.event_type == WebhookEvent.CALL_COMPLETED.value:
            event = WebhookEvent.CALL_COMPLETED.value
        elif webhook.event_type == WebhookEvent.GOAL_COMPLETED.value:
            event = f"{WebhookEvent.GOAL_COMPLETED.value} {data.get('goal')}"
        else:
            continue
        webhook_id = webhook.headers.get("webhook-id", "")
        ids[event].add(webhook_id)
        receipts[webhook_id] += 1
        unverified += webhook.verified is False
    wanted = [WebhookEvent.CALL_COMPLETED.value]
    wanted += [f"{WebhookEvent.GOAL_COMPLETED.value} {goal}" for goal in goals]
    return WebhookTally(
        lost=[event for event in wanted if not ids.get(event)],
        duplicates=sorted(event for event, found in ids.items() if len(found) > 1),
        retries=sum(count - 1 for count in receipts.values()),
        unverified=unverified,
    )


def call_verdict(
    result: ScenarioResult | None, failure: str, end_reason: str | None
) -> tuple[bool, bool, str]:
    """(completed, goals met, why not completed) for one call.

    Completed: the call was not lost — the caller saw no failure (no error, time limit, loop,
    missing record) and the platform ended it as a conversation ends (the agent closed it, or
    the caller hung up), not as a broken one (`BROKEN_ENDS`). Goals met: they ended as the
    scenario expects, which a call can miss without any fault (a misheard time)."""
    if result is None:
        return False, False, failure or "the call never connected"
    goals = result.record.completed == result.expected_complete
    why = failure or result.record.failure or ""
    if not why and end_reason in BROKEN_ENDS:
        why = f"the platform ended it as broken ({end_reason})"
    return not why, goals, why


@dataclass
class CallCheck:
    """One call through a fault: what the caller lived and what the platform kept."""

    call_sid: str
    scenario: str
    completed: bool
    """The call was not lost: it ended cleanly (`call_verdict`)."""
    why: str = ""
    """Why not, when not completed."""
    goals_met: bool = False
    """Its goals ended as the scenario expects."""
    end_reason: str = ""
    """Why the platform says the call ended."""
    facts: int = 0
    """The scenario's facts the platform had to record."""
    facts_right: int = 0
    """Those it recorded right."""
    streams: int = 0
    gaps_ms: list[float | None] = field(default_factory=list)
    """Per reconnection: the silence the caller heard (None: the agent was never heard again)."""
    turns: int = 0
    """Turns the record had to hold."""
    turns_lost: list[HeardTurn] = field(default_factory=list)
    """Whole turns heard by one side that the record does not hold."""
    cut_off: list[HeardTurn] = field(default_factory=list)
    """Agent turns heard in part that the record does not hold."""
    finalised: bool = False
    """The record reached status `completed`."""
    webhooks: WebhookTally = field(default_factory=lambda: WebhookTally([], [], 0, 0))

    @property
    def ok(self) -> bool:
        """Nothing of the call was lost."""
        return (
            self.completed
            and self.finalised
            and not self.turns_lost
            and not self.webhooks.lost
            and not self.webhooks.duplicates
            and not self.webhooks.unverified
        )


@dataclass
class FaultResult:
    """The calls placed through one fault, and what happened to the part it hit."""

    fault: str
    action: str
    """What was done, in words ("kill -9 realtime (3 calls on it), back in 41 s")."""
    calls: list[CallCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """What went wrong outside the calls: a part that did not come back, one that died too."""

    @property
    def completed(self) -> int:
        """Calls that ended cleanly."""
        return sum(c.completed for c in self.calls)

    @property
    def goals_met(self) -> int:
        """Calls whose goals ended as their scenario expects."""
        return sum(c.goals_met for c in self.calls)

    @property
    def facts(self) -> int:
        """The scenarios' facts the records had to hold."""
        return sum(c.facts for c in self.calls)

    @property
    def facts_right(self) -> int:
        """Those recorded right."""
        return sum(c.facts_right for c in self.calls)

    @property
    def reconnected(self) -> int:
        """Calls whose audio moved to another stream."""
        return sum(c.streams > 1 for c in self.calls)

    @property
    def turns(self) -> int:
        """Turns the records had to hold."""
        return sum(c.turns for c in self.calls)

    @property
    def turns_lost(self) -> int:
        """Turns heard by one side that the record does not hold."""
        return sum(len(c.turns_lost) for c in self.calls)

    @property
    def cut_off(self) -> int:
        """Agent turns heard in part and not recorded."""
        return sum(len(c.cut_off) for c in self.calls)

    @property
    def webhooks_lost(self) -> int:
        """Webhook events that never arrived."""
        return sum(len(c.webhooks.lost) for c in self.calls)

    @property
    def webhook_duplicates(self) -> int:
        """Webhook events that arrived under two ids."""
        return sum(len(c.webhooks.duplicates) for c in self.calls)

    @property
    def webhook_retries(self) -> int:
        """Receipts of an id already received."""
        return sum(c.webhooks.retries for c in self.calls)

    @property
    def finalised(self) -> int:
        """Calls whose record was closed."""
        return sum(c.finalised for c in self.calls)

    @property
    def max_gap_ms(self) -> float | None:
        """The longest silence a caller heard across a reconnection (None: no reconnection
        with the agent heard again)."""
        gaps = [g for c in self.calls for g in c.gaps_ms if g is not None]
        return max(gaps) if gaps else None

    @property
    def ok(self) -> bool:
        """Every call came through whole and nothing else went wrong."""
        return bool(self.calls) and all(c.ok for c in self.calls) and not self.problems

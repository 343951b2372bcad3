"""The figures of an eval run and their two renderings: text for people, JSON for scripts.

Goal completion: the calls that met every goal, over the scenarios that expect that. Field
accuracy: the facts the agent recorded correctly, over all facts of all scenarios, and per field
type. Turns per call: caller turns, on average. Every scenario that failed, or recorded a fact
wrong, comes with its transcript.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workers.eval.outcome import ScenarioResult


@dataclass(frozen=True)
class Rate:
    """`hits` out of `total`."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        """The fraction, or None when there is nothing to count."""
        return self.hits / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        """The rate for the JSON report."""
        value = self.value
        return {
            "hits": self.hits,
            "total": self.total,
            "rate": None if value is None else round(value, 4),
        }

    def __str__(self) -> str:
        value = self.value
        return f"{self.hits}/{self.total}" + ("" if value is None else f" = {value:.1%}")


@dataclass(frozen=True)
class EvalReport:
    """The results of one run and the figures drawn from them."""

    results: Sequence[ScenarioResult]
    brain: str
    level: str = "text"

    @property
    def passed(self) -> list[ScenarioResult]:
        """The scenarios whose call ended as expected."""
        return [r for r in self.results if r.passed]

    @property
    def failed(self) -> list[ScenarioResult]:
        """The scenarios whose call did not end as expected."""
        return [r for r in self.results if not r.passed]

    @property
    def completion(self) -> Rate:
        """Calls that met their goals, of the scenarios that expect them met."""
        expecting = [r for r in self.results if r.expected_complete]
        return Rate(sum(r.record.completed for r in expecting), len(expecting))

    @property
    def accuracy(self) -> Rate:
        """Facts recorded correctly, of all facts."""
        checks = [c for r in self.results for c in r.checks]
        return Rate(sum(c.correct for c in checks), len(checks))

    @property
    def accuracy_by_type(self) -> dict[str, Rate]:
        """Field accuracy per field type."""
        by_type: dict[str, list[bool]] = {}
        for check in (c for r in self.results for c in r.checks):
            by_type.setdefault(check.type.value, []).append(check.correct)
        return {kind: Rate(sum(hits), len(hits)) for kind, hits in sorted(by_type.items())}

    @property
    def turns_per_call(self) -> float | None:
        """Caller turns per call, on average."""
        turns = [r.record.caller_turns for r in self.results]
        return statistics.fmean(turns) if turns else None

    @property
    def latency_p50_ms(self) -> float | None:
        """The median agent response latency per turn (audio calls only)."""
        latencies = [ms for r in self.results for ms in r.record.latencies_ms]
        return statistics.median(latencies) if latencies else None

    def met(self, *, min_completion: float | None, min_accuracy: float | None) -> bool:
        """Whether the run passes: every scenario as expected, or, given thresholds, the
        completion and accuracy at least those."""
        if min_completion is None and min_accuracy is None:
            return not self.failed
        return _at_least(self.completion, min_completion) and _at_least(self.accuracy, min_accuracy)

    # -- renderings -------------------------------------------------------------------------------

    def as_dict(self, *, transcripts: bool = False) -> dict[str, Any]:
        """The report as JSON-ready data; transcripts of every call with `transcripts`, else of
        the failed and inaccurate ones."""
        latency = self.latency_p50_ms
        return {
            "brain": self.brain,
            "level": self.level,
            "scenarios": len(self.results),
            "passed": len(self.passed),
            "failed": len(self.failed),
            "goal_completion": self.completion.as_dict(),
            "field_accuracy": {
                **self.accuracy.as_dict(),
                "by_type": {kind: rate.as_dict() for kind, rate in self.accuracy_by_type.items()},
            },
            "turns_per_call": _rounded(self.turns_per_call),
            "latency_p50_ms": _rounded(latency),
            "breaches": sum(len(r.record.breaches) for r in self.results),
            "results": [_result_dict(r, transcripts) for r in self.results],
        }

    def render(self, *, verbose: bool = False) -> str:
        """The report for people: failures with their transcripts first, the figures last."""
        lines: list[str] = []
        for result in self.results:
            if verbose or _needs_transcript(result):
                lines += _transcript_block(result)
        lines.append(
            f"callwright eval: {len(self.results)} scenarios, {self.brain} brain, {self.level}"
        )
        for result in self.results:
            mark = "PASS" if result.passed else "FAIL"
            wrong = [c.name for c in result.checks if not c.correct]
            detail = result.why_failed or f"{result.record.caller_turns} caller turns"
            if wrong:
                detail += f"; wrong: {', '.join(wrong)}"
            lines.append(f"  {mark}  {result.id}  {detail}")
        by_type = ", ".join(f"{kind} {rate}" for kind, rate in self.accuracy_by_type.items())
        turns = self.turns_per_call
        lines += [
            "",
            f"Passed            {len(self.passed)}/{len(self.results)}",
            f"Goal completion   {self.completion}",
            f"Field accuracy    {self.accuracy}" + (f"  ({by_type})" if by_type else ""),
            f"Turns per call    {'-' if turns is None else f'{turns:.1f}'}",
        ]
        breaches = [b for r in self.results for b in r.record.breaches]
        if breaches:
            lines.append(f"Don't breaches    {len(breaches)} (the sentences were not said)")
        if self.latency_p50_ms is not None:
            lines.append(f"Latency p50/turn  {self.latency_p50_ms:.0f} ms")
        return "\n".join(lines)


def _at_least(rate: Rate, minimum: float | None) -> bool:
    value = rate.value
    return minimum is None or value is None or value >= minimum


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _needs_transcript(result: ScenarioResult) -> bool:
    return not result.passed or not all(c.correct for c in result.checks)


def _result_dict(result: ScenarioResult, transcripts: bool) -> dict[str, Any]:
    record = result.record
    data: dict[str, Any] = {
        "id": result.id,
        "agent": result.case.agent.name,
        "passed": result.passed,
        "completed": record.completed,
        "expected_complete": result.expected_complete,
        "end_reason": record.end_reason,
        "failure": result.why_failed or None,
        "caller_turns": record.caller_turns,
        "fields": [check.as_dict() for check in result.checks],
        "breaches": [
            {"instruction": b.instruction, "sentence": b.sentence, "reason": b.reason}
            for b in record.breaches
        ],
        "unused_script_moves": record.unused_moves,
    }
    if record.latencies_ms:
        data["latency_p50_ms"] = round(statistics.median(record.latencies_ms), 1)
    if transcripts or _needs_transcript(result):
        data["transcript"] = [line.as_dict() for line in record.transcript]
    return data


def _transcript_block(result: ScenarioResult) -> list[str]:
    scenario = result.case.scenario
    verdict = "PASS" if result.passed else f"FAIL: {result.why_failed}"
    lines = [f"── {scenario.id} ({scenario.agent}) {verdict}"]
    if scenario.description:
        lines.append(f"   {scenario.description}")
    for line in result.record.transcript:
        latency = f" [{line.latency_ms:.0f} ms]" if line.latency_ms is not None else ""
        note = f"   ({line.note})" if line.note else ""
        lines.append(f"   {line.speaker:>6}: {line.text}{latency}{note}")
    for check in result.checks:
        if not check.correct:
            lines.append(
                f"   wrong  {check.name}: expected {check.truth!r}, recorded {check.recorded!r}"
            )
    for breach in result.record.breaches:
        lines.append(f'   breach {breach.instruction}: "{breach.sentence}" ({breach.reason})')
    for move in result.record.unused_moves:
        lines.append(f"   unused script move {move!r}")
    lines.append("")
    return lines

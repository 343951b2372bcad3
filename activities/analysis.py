"""Post-call analysis: extracted required data, a summary and a verdict per goal.

Through the LLM when one is configured (any OpenAI-compatible endpoint), else by the
deterministic extractor; an LLM failure falls back to the deterministic extractor, so a call is
always analysed. LLM-extracted values pass the same type rules as live captures, and values
captured live during the call always win.
"""

from __future__ import annotations

import json
import logging

from openai import AsyncOpenAI, OpenAIError
from temporalio import activity

from core.agents.spec import GoalSpec
from core.calls.activities import ANALYZE_CALL, AnalysisInput
from core.calls.extraction import analyse, call_day, goal_results, read_answer
from core.calls.types import CallAnalysis, Speaker
from core.goals.manager import GoalManager

logger = logging.getLogger(__name__)

EXTRACTION_PROMPT = """You analyse a finished phone call. Reply with one JSON object:
{"summary": "<two or three factual sentences>", "data": {<field name>: <value or null>}}.
Fields (name: type — description): %s
Dates as YYYY-MM-DD, times as HH:MM (24h), numbers as plain numbers, yes/no as true/false.
Use null for anything the caller did not clearly say. Never guess."""


class AnalysisActivities:
    """Built with an OpenAI-compatible client (or None) and the model name."""

    def __init__(self, llm: AsyncOpenAI | None, model: str) -> None:
        self.llm = llm
        self.model = model

    @activity.defn(name=ANALYZE_CALL)
    async def analyze_call(self, request: AnalysisInput) -> CallAnalysis:
        """Analyse a call's transcript against its goals."""
        goals = [GoalSpec.model_validate(g) for g in request.goals]
        deterministic = analyse(goals, request.transcript, request.captured)
        if self.llm is None or not request.transcript:
            return deterministic
        try:
            return await self._with_llm(goals, request, deterministic)
        except (
            OpenAIError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            ArithmeticError,
        ) as exc:
            # The error can quote the model's answer, which holds what the caller said.
            logger.warning(
                "LLM analysis of %s failed (%s), using the deterministic one",
                request.call_sid,
                type(exc).__name__,
            )
            logger.debug("LLM analysis of %s failed: %s", request.call_sid, exc)
            return deterministic

    async def _with_llm(
        self, goals: list[GoalSpec], request: AnalysisInput, fallback: CallAnalysis
    ) -> CallAnalysis:
        assert self.llm is not None
        fields = {f.name: f for goal in goals for f in goal.required_data}
        described = "; ".join(
            f"{f.name}: {f.type.value} — {f.description}" for f in fields.values()
        )
        transcript = "\n".join(
            f"{'Caller' if t.speaker is Speaker.CALLER else 'Agent'}: {t.text}"
            for t in request.transcript
        )
        response = await self.llm.chat.completions.create(
            model=self.model,
            messages=[
                {"role": "system", "content": EXTRACTION_PROMPT % described},
                {"role": "user", "content": transcript},
            ],
            response_format={"type": "json_object"},
            temperature=0,
        )
        content = response.choices[0].message.content or "{}"
        parsed = json.loads(content)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("data") or {}, dict):
            raise ValueError("the LLM did not answer with the requested JSON object")
        manager = GoalManager(goals)
        for name, value in request.captured.items():
            manager.track_progress(name, value)
        today = call_day(request.transcript)
        for name, value in (parsed.get("data") or {}).items():
            if name in fields and name not in manager.captured and value is not None:
                if not manager.track_progress(name, value).accepted and isinstance(value, str):
                    # Words where a canonical form was asked for ("next Tuesday"): read them.
                    manager.track_progress(name, read_answer(fields[name], value, today))
        summary = parsed.get("summary")
        return CallAnalysis(
            summary=summary if isinstance(summary, str) and summary else fallback.summary,
            extracted=dict(manager.captured),
            goals=goal_results(manager),
            method="llm",
        )

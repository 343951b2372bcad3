"""The knowledge questions bench: its calls' lines and the figures it reports."""

from __future__ import annotations

from realtime.brains.guided import NO_ANSWER
from workers.demo import BOOKING_LINES
from workers.question_bench import QuestionResults, QuestionTurn, questions_markdown, script


def test_each_question_is_asked_before_a_booking_line() -> None:
    lines = [step["say"] for step in script(("Open Saturdays?", "Where do I park?"))]
    assert lines == ["Open Saturdays?", BOOKING_LINES[0], "Where do I park?", *BOOKING_LINES[1:]]
    assert [step["say"] for step in script(())] == list(BOOKING_LINES)


def test_the_added_latency_and_unanswered_questions_are_reported() -> None:
    def turn(agent: str, said: str, ms: float, answer: str = "Got it.") -> QuestionTurn:
        stages = {"stt": 200.0, "knowledge": 230.0} if agent == "B" else {"stt": 200.0}
        return QuestionTurn(agent, 1, said, said.endswith("?"), ms, stages, said, answer)

    results = QuestionResults(
        turns=[
            turn("A", "Next Tuesday.", 500),
            turn("B", "Open Saturdays?", 600, "9 to 1."),
            turn("B", "Where do I park?", 600, NO_ANSWER),
            turn("B", "Next Tuesday.", 500),
        ],
        placed={"A": 1, "B": 1},
        closed={"A": 1, "B": 1},
    )
    markdown = questions_markdown(results, "python -m workers.bench --only questions")
    assert "question turns against A's turns: p50 +100 ms (+20.0 %)" in markdown
    assert "the brain waited for it after the transcript 30 ms p50" in markdown
    assert "Questions answered from knowledge: 1 of 2." in markdown

"""Which field a question asks, read-backs and the other things an agent says, from its words."""

from __future__ import annotations

import pytest

from core.fields import DataField
from tests.eval.fakes import fields_of, table_agent
from workers.eval.hearing import Heard, hear
from workers.eval.topics import topic_phrases

TOPICS = {name: topic_phrases(field) for name, field in fields_of(table_agent()).items()}

SALES = {
    field.name: topic_phrases(field)
    for field in (
        DataField.model_validate("company_name"),
        DataField.model_validate("contact_name"),
        DataField.model_validate({"name": "budget", "type": "number"}),
        DataField.model_validate("decision_maker"),
        DataField.model_validate("timeline"),
    )
}


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("What day would you like to come in?", "date"),
        ("When would you like the table?", "date"),
        ("Got it, Friday the 4th. And what time works for you?", "time"),
        ("How many people will be joining you?", "party_size"),
        ("Would you like to sit indoors, on the patio, or at the bar?", "seating"),
        ("What name should I put the reservation under?", "name"),
        ("Who am I speaking with?", "name"),
        ("And what's the best number to reach you on?", "phone"),
        ("Perfect. Please tell me a phone number we can text.", "phone"),
    ],
)
def test_a_question_points_at_the_field_it_is_about(question: str, field: str) -> None:
    assert hear(question, TOPICS) == Heard("ask", (field,))


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("What's the name of your company?", "company_name"),
        ("And your company's name?", "company_name"),
        ("Great, and what's your name?", "contact_name"),
        ("Roughly how much are you looking to spend?", "budget"),
        ("Who else is involved in the decision?", "decision_maker"),
        ("What's your time frame for getting this in place?", "timeline"),
        ("When are you hoping to have this running?", "timeline"),
    ],
)
def test_fields_named_by_bare_words_have_topics_from_their_names(question: str, field: str) -> None:
    assert hear(question, SALES).fields[0] == field


def test_the_question_counts_more_than_the_acknowledgement_before_it() -> None:
    # The acknowledgement names the day; the question is about the party.
    heard = hear("Got it, a table on Friday at 7 PM. How many people are coming?", TOPICS)
    assert heard == Heard("ask", ("party_size",))


def test_a_scenario_can_add_topic_words() -> None:
    field = fields_of(table_agent())["seating"]
    topics = {"seating": topic_phrases(field, ["ambience"])}
    assert hear("Any preference on the ambience?", topics) == Heard("ask", ("seating",))


@pytest.mark.parametrize(
    "text",
    [
        "Let me confirm: Friday at 7 PM for four, on the patio. Is that right?",
        "So that's Friday at seven for four people. Is that correct?",
        "Let me read that back: Friday, seven PM, party of four.",
        "Friday, 7 PM, four people, patio. Did I get that right?",
        "Just to confirm, that's four people on Friday?",
    ],
)
def test_read_backs_are_heard_as_read_backs(text: str) -> None:
    recorded = {"date", "time", "party_size", "seating"}
    assert hear(text, TOPICS, recorded=recorded).kind == "readback"


def test_confirm_about_a_field_not_yet_recorded_is_a_question_about_it() -> None:
    assert hear("Can you confirm a phone number for us?", TOPICS) == Heard("ask", ("phone",))


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("You're all set. Is there anything else I can help you with?", "anything_else"),
        ("No problem. Which detail should I change?", "which_wrong"),
        ("Would you like to finish the booking, or shall we stop here?", "continue"),
        ("Thanks for calling, goodbye!", "goodbye"),
        ("Thanks for calling Luigi's! How can I help you today?", "open"),
        ("Hmm, let me think about that for a moment.", "unclear"),
        ("Sorry, what did you say?", "unclear"),
    ],
)
def test_other_things_an_agent_says(text: str, kind: str) -> None:
    assert hear(text, TOPICS).kind == kind

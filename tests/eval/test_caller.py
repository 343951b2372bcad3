"""The adaptive caller's decisions: what it answers, read-backs, script moves, giving up."""

from __future__ import annotations

from tests.eval.fakes import caller
from workers.eval.caller import CONFUSED, GO_ON, NOTHING_ELSE, YESES

FACTS = {"date": "2026-12-04", "time": "19:00", "party_size": 4, "phone": "555-212-8890"}
SAY = {
    "date": ["this friday", "friday the fourth"],
    "time": ["seven", "7 pm"],
    "party_size": ["four of us"],
}


def test_it_answers_the_field_asked_with_each_phrasing_in_turn_then_the_last_again() -> None:
    person = caller(facts=FACTS, say=SAY)
    assert person.next_line("What day would you like?").text == "this friday"
    assert person.next_line("Sorry, which day was that?").text == "friday the fourth"
    assert person.next_line("One more time, what day?").text == "friday the fourth"
    assert person.next_line("And what time?").text == "seven"
    assert person.next_line("How many people?").text == "four of us"


def test_a_fact_without_phrasings_is_said_plainly() -> None:
    person = caller(facts=FACTS, say=SAY)
    assert person.next_line("What's the best number to reach you?").text == "555-212-8890"


def test_a_correct_read_back_gets_a_plain_yes_in_varied_words() -> None:
    person = caller(facts=FACTS, say=SAY)
    person.note_captured("date", "2026-12-04")
    person.note_captured("time", "19:00")
    answers = [person.next_line("Friday at 7 PM. Is that right?").text for _ in YESES]
    assert answers == list(YESES)


def test_a_wrong_read_back_is_corrected_field_first_with_the_next_phrasing() -> None:
    person = caller(facts=FACTS, say=SAY)
    person.note_captured("date", "2026-12-04")
    person.note_captured("time", "07:00")  # heard "seven" as the morning
    person.note_captured("party_size", 40.0)
    line = person.next_line("Let me confirm: Friday at 7 AM for 40. Is that correct?")
    assert line.heard.kind == "readback"
    assert line.text == "No, the time of the reservation is seven."
    # Asked which detail is wrong, it names the next one still wrong.
    person.note_captured("time", "19:00")
    line = person.next_line("No problem. Which detail should I change?")
    assert line.text == "The party size is four of us."


def test_a_read_back_of_a_field_the_caller_has_no_fact_for_is_not_contradicted() -> None:
    person = caller(facts={"date": "2026-12-04"}, say={"date": ["friday"]})
    person.note_captured("date", "2026-12-04")
    person.note_captured("name", "Somebody")
    assert person.next_line("Friday, under Somebody. Correct?").text == YESES[0]


def test_anything_else_and_continue_questions() -> None:
    person = caller(facts=FACTS, say=SAY)
    assert person.next_line("Is there anything else I can help with?").text == NOTHING_ELSE
    assert person.next_line("Would you still like to finish the booking?").text == GO_ON


def test_script_moves_fire_once_in_order_when_their_trigger_comes() -> None:
    person = caller(
        facts=FACTS,
        say=SAY,
        script=[
            {"on": "start", "say": "Hi, a table for four this Friday?"},
            {"on": "ask:time", "say": "um, seven-ish"},
            {"on": "next", "say": "actually make that seven sharp"},
            {"on": "readback", "say": "perfect, bye", "hangup": True},
        ],
    )
    first = person.next_line("Thanks for calling! What day would you like?")
    assert (first.text, first.scripted) == ("Hi, a table for four this Friday?", True)
    # `readback` is not due yet: the `ask:time` move comes first and waits for its question.
    assert person.next_line("Let me confirm: Friday. Is that right?").text == YESES[0]
    assert person.next_line("What time?").text == "um, seven-ish"
    assert person.next_line("Sorry?").text == "actually make that seven sharp"
    # A move is used once: the next time question gets the scenario's phrasing.
    assert person.next_line("What time?").text == "seven"
    last = person.next_line("Friday at 7 PM for four. Is that correct?")
    assert (last.text, last.hangup, last.failure) == ("perfect, bye", True, None)
    assert person.unused_moves == []


def test_a_move_whose_trigger_never_comes_stays_unused() -> None:
    person = caller(facts=FACTS, say=SAY, script=[{"on": "ask:phone", "say": "no phone"}])
    person.next_line("What day?")
    assert [move.say for move in person.unused_moves] == ["no phone"]


def test_an_open_question_gets_the_first_fact_not_yet_recorded() -> None:
    # In the scenario's order, not the agent's: the caller leads with what it came for.
    person = caller(facts={"party_size": 4, **FACTS}, say=SAY)
    assert person.next_line("How can I help you today?").text == "four of us"
    person.note_captured("party_size", 4.0)
    assert person.next_line("What can I do for you?").text == "this friday"


def test_a_question_about_something_it_does_not_know_confuses_it() -> None:
    person = caller(facts={"date": "2026-12-04"}, say={"date": ["friday"]})
    line = person.next_line("What name should I put it under?")
    assert (line.heard.fields, line.text, line.hangup) == (("name",), CONFUSED, False)


def test_three_confusions_in_a_row_and_it_hangs_up_as_a_failure() -> None:
    person = caller(facts=FACTS, say=SAY)
    assert person.next_line("Hmm.").text == CONFUSED
    assert person.next_line("What day?").text == "this friday"  # the count starts again
    assert person.next_line("Hmm.").text == CONFUSED
    assert not person.next_line("Let me see.").hangup
    gave_up = person.next_line("Okay then.")
    assert gave_up.hangup
    assert gave_up.failure is not None and "3 times in a row" in gave_up.failure


def test_an_agent_goodbye_gets_a_goodbye_and_the_caller_hangs_up() -> None:
    person = caller(facts=FACTS, say=SAY)
    line = person.next_line("Thanks for calling, goodbye!")
    assert line.hangup and line.failure is None

"""GuidedBrain: whole conversations turn by turn, with no LLM and a fixed "today".

Each test is a caller who talks the way people do on the phone: several facts at once, a
correction in the same breath, "hold on", a question, a goodbye before the end.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from core.agents.snapshot import AgentSnapshot
from core.agents.spec import AgentSpec, GoalSpec
from core.calls.types import Speaker, TurnEvent
from core.fields import DataField, FieldType
from core.fields.phrasing import question
from realtime.brains import GuidedBrain
from tests.conftest import EXAMPLES_DIR

TODAY = dt.date(2026, 12, 1)  # a Tuesday


def scheduler() -> AgentSnapshot:
    """The dental clinic's booking agent (name, phone, date, time, service), for other tests."""
    document = json.loads((EXAMPLES_DIR / "dental_clinic.json").read_text())
    spec = AgentSpec.model_validate(document)
    return AgentSnapshot(
        name=spec.name,
        template_name="Scheduler",
        base_prompt="Book appointments.",
        greeting="Thanks for calling Bright Smile Dental.",
        goals=[goal for goal in spec.goals if isinstance(goal, GoalSpec)],
    )


def booking_agent(*fields: DataField, name: str = "Bright Smile Dental") -> AgentSnapshot:
    fields = fields or (
        DataField(name="service", description="the service they need",
                  ask="What can we help you with today?"),
        DataField(name="date", type=FieldType.DATE),
        DataField(name="time", type=FieldType.TIME),
    )  # fmt: skip
    goal = GoalSpec(
        name="schedule_appointment",
        success_criteria={f"has_{f.name}": True for f in fields},
        required_data=list(fields),
    )
    return AgentSnapshot(
        name=name, template_name="Scheduler", base_prompt="Book appointments.", goals=[goal]
    )


def brain(agent: AgentSnapshot | None = None) -> GuidedBrain:
    return GuidedBrain(agent or booking_agent(), today=TODAY)


def test_three_facts_in_one_breath_are_all_taken_then_read_back_and_closed() -> None:
    agent = brain()
    assert (
        agent.greeting() == "Hello, you've reached Bright Smile Dental. How can I help you today?"
    )
    reply = agent.respond(
        "Hi, um, I'd like to book a cleaning next Friday at three in the afternoon"
    )
    assert reply.captured == {"service": "cleaning", "date": "2026-12-11", "time": "15:00"}
    assert "Let me read that back" in reply.text and "3 PM" in reply.text
    closing = agent.respond("that's all, thanks")
    assert closing.end_call and closing.end_reason == "completed"
    assert agent.manager.check_completion()


def test_a_correction_in_the_same_breath_keeps_the_last_value() -> None:
    agent = brain()
    agent.respond("a checkup")
    reply = agent.respond("Tuesday, no wait, Wednesday")
    assert reply.captured == {"date": "2026-12-02"}


def test_a_correction_at_the_read_back_replaces_the_value() -> None:
    agent = brain()
    agent.respond("a filling on friday at 3")
    reply = agent.respond("no, make it four")
    assert reply.captured == {"time": "16:00"}
    assert "4 PM" in reply.text and "Is that all correct?" in reply.text


def test_no_at_the_read_back_asks_what_to_change_then_asks_that_field() -> None:
    agent = brain()
    agent.respond("a filling on friday at 3")
    assert "What should I change" in agent.respond("no that's not right").text
    assert agent.respond("the time").text.endswith(question(agent.manager.fields["time"]))
    assert agent.respond("half past four").captured == {"time": "16:30"}


def test_hold_on_waits_and_repeat_says_the_question_again() -> None:
    agent = brain()
    asked = agent.greeting()
    hold = agent.respond("hold on a second, let me grab my calendar")
    assert hold.captured == {} and hold.rejected == {} and "take your time" in hold.text
    again = agent.respond("sorry, what was that?")
    assert again.text.endswith("take your time.") or "What can we help you with" in again.text
    assert asked


def test_a_question_gets_an_honest_answer_and_the_conversation_goes_on() -> None:
    agent = brain()
    reply = agent.respond("how much does a cleaning cost?")
    assert "don't have that information" in reply.text  # this agent has no knowledge to look in
    assert reply.text.endswith("What can we help you with today?")


def test_goodbye_before_the_goal_is_met_is_asked_once_then_closes() -> None:
    agent = brain()
    agent.respond("a cleaning")
    offer = agent.respond("actually I have to go, bye")
    assert not offer.end_call and "Shall we do that now?" in offer.text
    closing = agent.respond("no, bye")
    assert closing.end_call and closing.end_reason == "caller_left"


def test_the_caller_is_never_stuck_on_a_field_it_cannot_read() -> None:
    agent = brain(booking_agent(DataField(name="date", type=FieldType.DATE)))
    opening = agent.respond("hi, I'd like to make an appointment")
    assert opening.text == "Sure, I can help with that. What day works best for you?"
    replies = [agent.respond("banana") for _ in range(6)]
    assert replies[0].text.startswith("Sorry, I didn't catch that. Which day")  # an example
    assert any(r.end_call for r in replies)


def test_a_field_that_fails_twice_waits_while_the_next_is_asked() -> None:
    agent = brain()
    agent.greeting()
    opening = agent.respond("hi there, I was hoping to come in")
    assert opening.text.endswith("What can we help you with today?")
    agent.respond("mmm not sure really")
    moved = agent.respond("I don't know")
    assert "come back to that" in moved.text and moved.text.endswith("What day works best for you?")


def test_options_are_snapped_from_slips_and_paraphrases() -> None:
    seating = DataField(name="seating", type=FieldType.ENUM, options=["indoors", "patio", "bar"])
    for said, option in (("the patty oh", "patio"), ("outside please", "patio"),
                         ("in doors", "indoors"), ("at the bar is fine", "bar")):  # fmt: skip
        agent = brain(booking_agent(seating))
        assert agent.respond(said).captured == {"seating": option}, said


def test_a_spelled_name_is_written_as_spelled() -> None:
    name = DataField(name="customer_name", description="the caller's full name")
    agent = brain(booking_agent(name))
    assert agent.respond("it's Nguyen, N G U Y E N").captured == {"customer_name": "Nguyen"}


@pytest.mark.parametrize(
    ("data_field", "asked"),
    [
        (DataField(name="decision_maker", description="who makes the buying decision"),
         "Who else is involved in making the decision?"),
        (DataField(name="customer_name", description="the caller's full name"),
         "Can I take your name, please?"),
        (DataField(name="budget", type=FieldType.NUMBER, description="their budget"),
         "Roughly what budget do you have in mind?"),
        (DataField(name="vehicle_model", description="the model of the customer's car"),
         "Could you tell me the model of your car?"),
        (DataField(name="pickup_day", type=FieldType.DATE, ask="When shall we pick it up?"),
         "When shall we pick it up?"),
    ],
)  # fmt: skip
def test_questions_sound_like_a_person_asking(data_field: DataField, asked: str) -> None:
    assert question(data_field) == asked


def test_a_restaurant_hears_a_bare_seven_as_evening_and_a_clinic_as_morning() -> None:
    time = DataField(name="time", type=FieldType.TIME)
    bistro = brain(booking_agent(time, name="Luigi's Trattoria"))
    clinic = brain(booking_agent(time, name="Bright Smile Dental"))
    assert bistro.respond("around seven").captured == {"time": "19:00"}
    assert clinic.respond("around seven").captured == {"time": "07:00"}


@pytest.mark.parametrize(
    ("vague", "part", "then", "expected"),
    [
        ("sometime in the afternoon, if you can", "afternoon", "maybe around two", "14:00"),
        ("mornings are better for me", "morning", "six", "06:00"),  # a clinic's bare six: 18:00
        ("Evening, ideally.", "evening", "half past seven", "19:30"),
    ],
)
def test_a_part_of_the_day_for_the_time_narrows_the_question_and_the_clock_falls_in_it(
    vague: str, part: str, then: str, expected: str
) -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    narrowed = agent.respond(vague)
    assert narrowed.captured == {} and narrowed.rejected == {}
    assert narrowed.text == f"Sure. What time in the {part} works for you?"
    assert agent.respond(then).captured == {"time": expected}


def test_a_part_of_the_day_holds_for_its_answer_only() -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    agent.respond("in the afternoon")
    assert agent.respond("two").captured == {"time": "14:00"}
    assert agent.respond("no, make it nine").captured == {"time": "09:00"}


def test_a_part_of_the_day_said_again_is_no_answer_the_second_time() -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    assert "What time in the morning" in agent.respond("in the morning").text
    again = agent.respond("just the morning, whenever")
    assert again.rejected == {"time": "not understood"}
    assert "didn't catch that" in again.text


def test_a_speculative_reply_that_is_dropped_leaves_no_part_of_the_day_behind() -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    agent.fork().respond("in the afternoon")  # answered at the pause; the caller went on
    assert "What time in the afternoon" in agent.respond("in the afternoon, please").text


@pytest.mark.parametrize(
    "unsuitable", ["mornings are no good for me", "not in the morning", "I can't do evenings"]
)
def test_a_part_of_the_day_that_does_not_suit_narrows_nothing(unsuitable: str) -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    reply = agent.respond(unsuitable)
    assert "What time in the" not in reply.text and reply.captured == {}
    assert agent.reader.part_of_day is None


def test_a_part_of_the_day_with_its_clock_is_the_time_at_once() -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    assert agent.respond("in the morning, at ten").captured == {"time": "10:00"}


def test_an_hour_the_recogniser_wrote_as_a_sound_alike_word_is_taken() -> None:
    agent = brain()
    agent.respond("a cleaning on Friday")
    assert agent.respond("For in the afternoon.").captured == {"time": "16:00"}


def test_keypad_digits_answer_a_phone_question() -> None:
    phone = DataField(name="phone", type=FieldType.PHONE)
    agent = brain(booking_agent(phone))
    assert agent.respond_dtmf("4155551234#").captured == {"phone": "4155551234"}


def test_the_recogniser_is_told_the_question_and_its_options() -> None:
    seating = DataField(name="seating", type=FieldType.ENUM, options=["indoors", "patio", "bar"])
    agent = brain(booking_agent(seating))
    agent.greeting()
    context = agent.listening_context()
    assert context == "Which would you like: indoors, patio or bar? indoors. patio. bar."
    agent.respond("the patio please")
    assert agent.listening_context() == ""  # a read-back's values are not offered


def test_a_week_named_earlier_places_a_bare_weekday() -> None:
    agent = brain()
    agent.respond("a checkup")
    agent.respond("what do you have next week?")
    assert agent.respond("okay um Thursday").captured == {"date": "2026-12-10"}


def test_a_question_about_a_value_at_the_read_back_is_answered() -> None:
    agent = brain()
    agent.respond("a checkup next thursday at 4:15")
    assert agent.respond("hang on, is that the 10th?").text.startswith("Yes, that's right.")
    moved = agent.respond("is that the 11th?")
    assert moved.captured == {"date": "2026-12-11"} and "Friday, December 11th" in moved.text


def test_the_opening_hears_hello_who_is_this_and_a_relative() -> None:
    agent = brain()
    agent.greeting()
    assert agent.respond("hello?").text == "Hi there! How can I help you today?"
    assert agent.respond("sorry, who is this?").text.startswith("This is Bright Smile Dental.")
    booked = agent.respond("I need to book my daughter in for a checkup")
    assert booked.captured == {"service": "checkup"}


def test_a_restaurant_caller_giving_count_name_and_number_out_of_turn() -> None:
    fields = (
        DataField(name="date", type=FieldType.DATE),
        DataField(name="time", type=FieldType.TIME),
        DataField(name="party_size", type=FieldType.NUMBER, description="how many people"),
        DataField(name="name", description="the name for the reservation"),
        DataField(name="phone", type=FieldType.PHONE),
    )
    agent = brain(booking_agent(*fields, name="Luigi's Trattoria"))
    first = agent.respond("Hi, do you have a table for 6 tonight?")
    assert first.captured == {"date": "2026-12-01", "party_size": 6.0}
    assert agent.respond("around 8").captured == {"time": "20:00"}
    assert agent.respond("Maria, M A R I A, Lopez").captured == {"name": "Maria Lopez"}
    spoken = agent.respond("oh seven seven double four, nine one two, three three three")
    assert spoken.captured == {"phone": "07744912333"}
    assert "Let me read that back" in spoken.text
    assert agent.respond("no thats everything").end_call


def test_lets_do_names_no_service_and_a_service_restated_at_the_read_back_replaces_it() -> None:
    agent = brain()
    first = agent.respond("Let's do next Tuesday at three.")
    assert first.captured == {"date": "2026-12-08", "time": "15:00"}
    slip = agent.respond("identical cleaning")
    assert slip.captured == {"service": "identical cleaning"}
    fixed = agent.respond("no, a dental cleaning")
    assert fixed.captured == {"service": "dental cleaning"}
    agent.respond("no that's not right")
    assert agent.respond("the service").text == "Sure. What can we help you with today?"


# -- a call picked up again after its stream was lost --------------------------------------------


def _turns(*lines: tuple[str, str]) -> list[TurnEvent]:
    speakers = {"agent": Speaker.AGENT, "caller": Speaker.CALLER}
    return [
        TurnEvent(seq=n, speaker=speakers[who], text=text)
        for n, (who, text) in enumerate(lines, start=1)
    ]


def test_a_resumed_call_says_what_it_has_and_asks_the_next_question() -> None:
    agent = brain()
    transcript = _turns(
        ("agent", "Thanks for calling. How can I help you today?"),
        ("caller", "I need a cleaning on Tuesday."),
        ("agent", "Got it, cleaning, Tuesday, December 8. What time works for you?"),
    )
    line = agent.resume({"service": "cleaning", "date": "2026-12-08"}, transcript)
    assert line.startswith("Sorry about that, we got cut off.")
    assert "cleaning" in line and "December 8" in line
    assert line.endswith(question(agent.manager.fields["time"]))
    # The conversation goes on from there: the time completes the booking's data.
    reply = agent.respond("Half past four in the afternoon, please.")
    assert "4:30" in reply.text or "four thirty" in reply.text.lower()
    assert reply.captured == {"time": "16:30"}


def test_a_call_lost_before_the_caller_said_anything_asks_the_open_question_again() -> None:
    agent = brain()
    line = agent.resume({}, _turns(("agent", "Thanks for calling. How can I help you today?")))
    assert line == "Sorry about that, we got cut off. How can I help you today?"
    reply = agent.respond("Hi, I'd like to book a cleaning for tomorrow at 9.")
    assert set(reply.captured) == {"service", "date", "time"}


def test_a_resumed_call_with_everything_given_reads_it_back_before_closing() -> None:
    agent = brain()
    captured = {"service": "cleaning", "date": "2026-12-08", "time": "16:30"}
    line = agent.resume(captured, _turns(("caller", "a cleaning tuesday at 4:30")))
    assert line.startswith("Sorry about that, we got cut off.")
    assert "4:30" in line and "cleaning" in line  # the read-back, not the closing
    assert agent.respond("Yes, that's right.").end_call

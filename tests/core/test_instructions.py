"""The instruction engine: which rules apply, how they read in a prompt, and catching breaches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.agents.snapshot import InstructionSnapshot
from core.agents.spec import InstructionKind
from core.instructions import (
    Breach,
    InstructionEngine,
    format_for_prompt,
    get_active_instructions,
    validate_response,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

PRICING = "Don't discuss pricing"
MEDICAL = "Don't provide medical advice"
DOCTOR = "Don't promise a specific doctor without checking"
INSURANCE = "Don't ask for insurance or payment details"
QUOTES = "Don't quote prices or discounts"
PRESSURE = "Don't pressure the prospect to commit on this call"
COMPETITORS = "Don't criticise competitors"
BOOKING_PRESSURE = "Don't pressure for immediate booking"
PUSHY = "Don't be pushy"
PROMISES = "Don't make promises"
TABLE = "Don't promise a specific table"
CARD_BY_PHONE = "Don't take payment details over the phone"
DIAGNOSE = "Don't diagnose the problem over the phone"
REPAIR_PRICES = "Don't quote repair prices over the phone"


def dont(text: str, **fields: object) -> InstructionSnapshot:
    return InstructionSnapshot(kind=InstructionKind.DONT, text=text, **fields)


def do(text: str, **fields: object) -> InstructionSnapshot:
    return InstructionSnapshot(kind=InstructionKind.DO, text=text, **fields)


def test_the_table_covers_every_seed_dont() -> None:
    seed_donts = {
        text
        for path in sorted(EXAMPLES.glob("*.json"))
        for text in json.loads(path.read_text())["instructions"]["donts"]
    }
    assert seed_donts == set(SEED_DONTS)
    assert seed_donts <= {rule for rule, _, _ in BREACHES}
    assert seed_donts <= {rule for rule, _ in INNOCENT}


# (rule, reply, words the reason must contain)
BREACHES = [
    (DIAGNOSE, "It sounds like your brake pads are worn out.", "suggests what is wrong"),
    (DIAGNOSE, "That's probably the alternator.", "suggests what is wrong"),
    (REPAIR_PRICES, "A brake job is usually $300.", "quotes a price ($300)"),
    (PRICING, "The consultation is $49.", "quotes a price ($49)"),
    (PRICING, "It's forty-nine dollars a month.", "quotes a price (forty-nine dollars)"),
    (PRICING, "It costs a bit more for the longer session.", "talks about cost (costs)"),
    (PRICING, "Honestly, it's pretty affordable.", "talks about cost"),
    (PRICING, "I can't say exactly, but it's about 80 dollars.", "quotes a price (80 dollars)"),
    # A conscious choice: "cost" is read as money even in a figurative use. A guard that
    # errs towards flagging only costs a rephrase; one that misses a price breaks the rule.
    (PRICING, "The cost of missing the appointment is losing your slot.", "talks about cost"),
    (MEDICAL, "You should take ibuprofen for the swelling.", "recommends medication"),
    (MEDICAL, "Take 400 mg every six hours.", "gives a dosage (400 mg)"),
    (MEDICAL, "That sounds like a migraine to me.", "suggests a diagnosis"),
    (MEDICAL, "It's probably just a sprain, I'd recommend icing it.", "medical advice"),
    (MEDICAL, "It should clear up on its own in a few days.", "suggests a diagnosis"),
    (DOCTOR, "I promise you'll see Dr. Patel on Tuesday.", "makes a promise"),
    (DOCTOR, "Dr. Lee will definitely see you at three.", "promises"),
    (DOCTOR, "You'll be seeing Dr. Patel, she's lovely.", "assures it as settled"),
    (INSURANCE, "Who is your insurance provider?", "asks for insurance details"),
    (INSURANCE, "Could you read me your card number?", "asks for payment details"),
    (INSURANCE, "Do you have insurance?", "asks for insurance details (insurance)"),
    (INSURANCE, "Great, and how would you like to pay?", "asks for payment details (pay)"),
    (QUOTES, "Our starter plan is $99 per seat.", "quotes a price ($99)"),
    (QUOTES, "We can do 20% off if you sign this quarter.", "offers a discount (20% off)"),
    (QUOTES, "There's a discount for annual plans.", "offers a discount"),
    (PRESSURE, "Can we get you signed up today?", "pushes for a commitment"),
    (PRESSURE, "This offer expires tonight, so you should act fast.", "creates urgency"),
    (PRESSURE, "You really need to decide on this call.", "pressure to commit"),
    (
        PRESSURE,
        "We only have two spots left this month.",
        "creates urgency (only have two spots left)",
    ),
    (
        COMPETITORS,
        "Honestly, our competitors are clunky and overpriced.",
        "criticises a competitor",
    ),
    (COMPETITORS, "Your current vendor is outdated.", "criticises a competitor"),
    (COMPETITORS, "The other guys are a nightmare to set up.", "criticises a competitor"),
    (BOOKING_PRESSURE, "You should book right now before the slots are gone.", "commitment now"),
    (BOOKING_PRESSURE, "Can we get you booked in today?", "pushes for a commitment now"),
    (BOOKING_PRESSURE, "You'd better book now or you'll lose it.", "(You'd better book now)"),
    (BOOKING_PRESSURE, "We only have two appointments left this week.", "creates urgency"),
    (PUSHY, "Can we get you signed up today?", "pushes for a commitment now"),
    (PUSHY, "This offer expires tonight, so act fast.", "creates urgency"),
    (PUSHY, "You really need to commit on this call.", "pressure to commit"),
    (PROMISES, "I promise we'll have it working by Friday.", "makes a promise (promise)"),
    (PROMISES, "You'll definitely hear back from us tomorrow.", "makes a promise"),
    (PROMISES, "It's guaranteed to solve your reporting problem.", "makes a promise (guaranteed)"),
    (PROMISES, "That will certainly work for a team your size.", "makes a promise"),
    (TABLE, "I promise you'll get the window table.", "makes a promise (promise)"),
    (TABLE, "You'll have the corner booth.", "assures it as settled"),
    (TABLE, "I guarantee you a spot on the patio.", "makes a promise (guarantee)"),
    (CARD_BY_PHONE, "Can I take your card number to hold the table?", "asks for payment details"),
    (CARD_BY_PHONE, "What's your credit card number?", "asks for payment details"),
    (CARD_BY_PHONE, "How would you like to pay for the deposit?", "asks for payment details"),
]

INNOCENT = [
    (DIAGNOSE, "A technician will diagnose it when you bring it in."),
    (DIAGNOSE, "That sounds like a good plan, see you Thursday."),
    (REPAIR_PRICES, "I can't quote prices over the phone, but the shop will give you an estimate."),
    (PRICING, "I can't discuss pricing, but a specialist can follow up."),
    (PRICING, "Pricing isn't something I can go into, sorry."),
    (PRICING, "Your appointment is at 3 pm on Tuesday the 14th."),
    (PRICING, "It takes about 30 minutes."),
    (MEDICAL, "I'm not able to give medical advice, but I can book you in today."),
    (MEDICAL, "Dr. Patel can go over your symptoms at the appointment."),
    (MEDICAL, "Please bring a list of your current medications."),
    (MEDICAL, "Are you taking any ibuprofen at the moment?"),
    (DOCTOR, "Let me check the doctor's schedule."),
    (DOCTOR, "I'll check whether Dr. Patel is free on Tuesday."),
    (DOCTOR, "I can't promise a specific doctor, but I'll ask."),
    (DOCTOR, "I promise I'll call you back within the hour."),
    (DOCTOR, "You'll get a text reminder the day before."),
    (INSURANCE, "Please bring your insurance card to the appointment."),
    (INSURANCE, "You won't need to give any payment details today."),
    (INSURANCE, "Can I have your full name, please?"),
    (INSURANCE, "What's the best phone number to reach you?"),
    (QUOTES, "What budget have you set aside for this?"),
    (QUOTES, "Who is in charge of purchasing decisions?"),
    (QUOTES, "We work with 49 teams in your area."),
    (QUOTES, "I'm not the right person to quote prices, our account team will."),
    (PRESSURE, "Take your time - there's no need to decide today."),
    (PRESSURE, "No pressure at all, would a follow-up next week work?"),
    (PRESSURE, "What would the best time be for a follow-up call?"),
    (COMPETITORS, "Many teams switch to us from other tools, happy to show how we compare."),
    (COMPETITORS, "Your current process sounds slow, where does it hurt most?"),
    (COMPETITORS, "I'd rather not comment on other vendors being bad."),
    (BOOKING_PRESSURE, "Take your time, there's no need to book today."),
    (BOOKING_PRESSURE, "Shall I book you in for today at three?"),
    (BOOKING_PRESSURE, "I've booked you in for today at three."),
    (BOOKING_PRESSURE, "Your booking today is confirmed."),
    (BOOKING_PRESSURE, "Which day works best for you?"),
    (PUSHY, "No pressure at all, would a follow-up next week work?"),
    (PUSHY, "Take your time and think it over."),
    (PUSHY, "What would the best time be for a follow-up call?"),
    (PROMISES, "I can't promise anything, but I'll pass it on to the team."),
    (PROMISES, "A specialist can follow up with the details."),
    (PROMISES, "When are you hoping to have something in place?"),
    (TABLE, "I'll note that you'd like a table by the window."),
    (TABLE, "I can't promise a specific table, but I'll add a note."),
    (TABLE, "I promise I'll call you back if anything changes."),
    (TABLE, "You'll get a text confirming your reservation."),
    (CARD_BY_PHONE, "You can pay when you arrive."),
    (CARD_BY_PHONE, "We don't take payment over the phone, you can pay at the restaurant."),
    (CARD_BY_PHONE, "You won't need to give any payment details today."),
    (CARD_BY_PHONE, "What's the best number to reach you on?"),
]


@pytest.mark.parametrize(("rule", "reply", "reason"), BREACHES)
def test_clear_breaches_are_caught_with_a_reason(rule: str, reply: str, reason: str) -> None:
    instruction = dont(rule)
    breaches = validate_response(reply, [instruction])
    assert len(breaches) == 1, reply
    assert breaches[0].instruction == instruction
    assert reason in breaches[0].reason
    assert breaches[0].evidence
    assert breaches[0].evidence in breaches[0].reason


@pytest.mark.parametrize(("rule", "reply"), INNOCENT)
def test_innocent_replies_are_not_flagged(rule: str, reply: str) -> None:
    assert validate_response(reply, [dont(rule)]) == []


# Every don't of every document in examples/.
SEED_DONTS = [
    PRICING,
    MEDICAL,
    DOCTOR,
    INSURANCE,
    QUOTES,
    PRESSURE,
    COMPETITORS,
    BOOKING_PRESSURE,
    PUSHY,
    PROMISES,
    TABLE,
    CARD_BY_PHONE,
    DIAGNOSE,
    REPAIR_PRICES,
]


@pytest.mark.parametrize(
    "reply",
    [
        "Hi, thanks for calling Riverside Clinic, how can I help you today?",
        "Sure, I can book you in on Tuesday at 3 pm, does that work for you?",
        "Just to confirm, that's Jane Doe, J-A-N-E, on Monday the 3rd at 10 am.",
        "The next available day is Thursday, would that suit you?",
        "What's the best time and number for a follow-up call?",
        "Tell me a bit about how your team handles this today.",
        "It sounds like the manual steps are slowing you down.",
        "Who else is involved in the decision on your side?",
    ],
)
def test_everyday_replies_break_no_seed_rule(reply: str) -> None:
    assert validate_response(reply, [dont(rule) for rule in SEED_DONTS]) == []


def test_a_refusal_excuses_only_its_own_clause() -> None:
    breaches = validate_response("I can't discuss pricing, but it's only $49.", [dont(PRICING)])
    assert [b.evidence for b in breaches] == ["$49"]


def test_every_broken_rule_is_reported_highest_priority_first() -> None:
    rules = [dont(QUOTES, priority=1), dont(PRESSURE, priority=5), dont(COMPETITORS)]
    reply = "Sign up today for 20% off, the competition is a joke."
    breaches = InstructionEngine(rules).validate_response(reply)
    assert [b.instruction.text for b in breaches] == [PRESSURE, QUOTES, COMPETITORS]


def test_inactive_donts_and_dos_are_not_checked() -> None:
    rules = [dont(PRICING, active=False), do("Discuss pricing openly")]
    assert validate_response("It's $49 a month.", rules) == []


def test_a_topic_scoped_dont_is_checked_whatever_the_context() -> None:
    rule = dont(PRICING, topic="billing")
    assert [b.instruction for b in validate_response("It's $49.", [rule])] == [rule]


@pytest.mark.parametrize(
    ("rule", "reply", "breached"),
    [
        ("Don't mention the merger", "The merger is going well.", True),
        ("Don't mention the merger", "We merged with Acme last year.", True),
        ("Don't mention the merger", "I can't talk about the merger.", False),
        ("Don't mention the merger", "Our team is growing.", False),
        ("Never reveal the internal project codename", "The internal codename is Falcon.", True),
        ("Never reveal the internal project codename", "The project starts in May.", False),
    ],
)
def test_rules_outside_the_lexicon_fall_back_to_their_own_words(
    rule: str, reply: str, breached: bool
) -> None:
    breaches = validate_response(reply, [dont(rule)])
    assert bool(breaches) is breached
    if breached:
        assert breaches[0].reason.startswith("mentions what the rule forbids")


def test_breach_is_a_frozen_value() -> None:
    breach = validate_response("It's $49.", [dont(PRICING)])[0]
    assert breach == Breach(breach.instruction, breach.reason, "$49")
    with pytest.raises(AttributeError):
        breach.reason = "changed"  # type: ignore[misc]


def test_active_instructions_by_priority_stable_for_ties() -> None:
    first, second = do("Be warm", priority=1), do("Be patient", priority=1)
    top, off = dont(PRICING, priority=9), dont(MEDICAL, priority=99, active=False)
    assert get_active_instructions([first, off, second, top]) == [top, first, second]


def test_topic_instructions_apply_only_when_the_context_mentions_the_topic() -> None:
    always = do("Be warm")
    billing = dont("Don't promise refunds", topic="billing")
    pricing = dont(QUOTES, topic="pricing")
    rules = [always, billing, pricing]
    assert get_active_instructions(rules, "I'd like to book a cleaning") == [always]
    assert get_active_instructions(rules, "It's about my BILLING statement") == [always, billing]
    # Through the lexicon: "cost" is about pricing though the word "pricing" is never said.
    assert get_active_instructions(rules, ["booking", "how much does it cost?"]) == [
        always,
        pricing,
    ]
    assert get_active_instructions(rules, []) == [always]
    # No context known: nothing is narrowed away.
    assert get_active_instructions(rules) == rules


def test_format_for_prompt_lists_dos_then_donts_verbatim() -> None:
    rules = [
        dont(PRICING),
        do("Always confirm the appointment details back to the caller", priority=2),
        do("Be warm and patient with every caller", priority=3),
        dont(MEDICAL, active=False),
    ]
    assert format_for_prompt(rules) == (
        "Do:\n"
        "- Be warm and patient with every caller\n"
        "- Always confirm the appointment details back to the caller\n"
        "\n"
        "Don't:\n"
        "- Don't discuss pricing\n"
        "\n"
        "Rules earlier in each list matter more. Never break a Don't rule."
    )
    assert format_for_prompt(list(reversed(rules))) == format_for_prompt(rules)
    assert format_for_prompt([]) == ""


def test_engine_formats_the_rules_for_its_context() -> None:
    engine = InstructionEngine([do("Be warm"), dont(PRICING, topic="pricing")])
    assert "pricing" not in engine.format_for_prompt("I need to reschedule")
    assert "- Don't discuss pricing" in engine.format_for_prompt("what are your prices?")

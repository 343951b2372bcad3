"""Required data inferred from a goal's success criteria, for goals that list none.

The seed's configuration examples give a goal success criteria and no `required_data`:
`{"has_date": true, "has_time": true, "has_service": true}`. Such a goal still needs fields to
collect, so one is inferred per criterion, in the criteria's order (which is the order the
agent asks in). The rule:

1. A criterion whose value is `false` is switched off and infers nothing.
2. A criterion whose value is a string names its field outright (`"need_identified":
   "pain_points"` → `pain_points`); otherwise the field is the criterion's *subject*
   (`core.goals.criteria.criterion_subject`: `has_date` → `date`, `budget_identified` →
   `budget`, `decision_maker` → `decision_maker`). The field is named exactly that, so the
   criterion is about it by the first rule of `core.goals.criteria`.
3. A subject in `KNOWN_SUBJECTS` (directly, or through `SUBJECT_ALIASES`) gets that entry's
   type, description and question: what a person on the phone would ask ("What day works best
   for you?"), never a form label read aloud ("What is your decision maker?").
4. Any other subject gets the type its words imply (`infer_field_type`: `pickup_date` is a
   date; most names are text, a number threshold makes it a number), a description from its
   words and a plain question about it.
5. Two criteria about the same subject infer one field.

Plain data and pure functions: this runs in `GoalSpec`'s validation, so inferred fields are
stored with the goal like written ones, and a goal that lists any required data is left as
written (validation then reports a criterion its fields do not cover).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from core.fields.declaration import (
    FIELD_NAME_PATTERN,
    DataField,
    FieldType,
    field_description,
    infer_field_type,
)


class SubjectField(NamedTuple):
    """How the field for a known criterion subject is declared: type, description, question."""

    type: FieldType
    description: str
    ask: str


# Subjects other engineers' scenarios depend on (`has_date` → `date`, `budget_identified` →
# `budget`, …) are listed first; keep their names and types as they are.
KNOWN_SUBJECTS: dict[str, SubjectField] = {
    "date": SubjectField(FieldType.DATE, "the day that suits them", "What day works best for you?"),
    "time": SubjectField(FieldType.TIME, "the time that suits them", "What time would suit you?"),
    "service": SubjectField(
        FieldType.TEXT,
        "the service they need",
        "What can we help you with — which service do you need?",
    ),
    "budget": SubjectField(
        FieldType.NUMBER, "their budget", "Roughly what budget do you have in mind?"
    ),
    "timeline": SubjectField(
        FieldType.TEXT,
        "when they need a solution in place",
        "When are you hoping to have something in place?",
    ),
    "decision_maker": SubjectField(
        FieldType.TEXT,
        "who makes the buying decision",
        "Who else is involved in making the decision?",
    ),
    "name": SubjectField(FieldType.TEXT, "their name", "Can I take your name, please?"),
    "phone": SubjectField(
        FieldType.PHONE, "a number to reach them on", "What's the best number to reach you on?"
    ),
    "email": SubjectField(
        FieldType.EMAIL, "their email address", "What's the best email address for you?"
    ),
    "address": SubjectField(FieldType.TEXT, "their address", "What's the address, please?"),
    "party_size": SubjectField(
        FieldType.NUMBER, "how many people are coming", "How many people will be joining you?"
    ),
    "company": SubjectField(
        FieldType.TEXT, "the company they're with", "Which company are you calling from?"
    ),
    "need": SubjectField(
        FieldType.TEXT, "what they need help with", "What are you hoping to solve?"
    ),
    "reason": SubjectField(
        FieldType.TEXT, "why they're calling", "What's the reason for your call today?"
    ),
    "issue": SubjectField(
        FieldType.TEXT, "the problem they're having", "What seems to be the problem?"
    ),
    "location": SubjectField(FieldType.TEXT, "where they are", "Where are you located?"),
    "seating": SubjectField(
        FieldType.TEXT, "where they would like to sit", "Where would you like to sit?"
    ),
    "product": SubjectField(
        FieldType.TEXT,
        "the product they're interested in",
        "Which of our products are you interested in?",
    ),
    "team_size": SubjectField(
        FieldType.NUMBER, "how many people are on their team", "How many people are on your team?"
    ),
    "current_solution": SubjectField(
        FieldType.TEXT, "what they use today", "What are you using for this at the moment?"
    ),
    "pain_points": SubjectField(
        FieldType.TEXT,
        "what isn't working for them today",
        "What's not working well for you at the moment?",
    ),
    "urgency": SubjectField(
        FieldType.TEXT, "how soon they need it", "How soon do you need this sorted?"
    ),
    "order_number": SubjectField(
        FieldType.TEXT, "their order number", "Do you have your order number handy?"
    ),
    "date_of_birth": SubjectField(
        FieldType.DATE, "their date of birth", "What's your date of birth?"
    ),
    "callback_time": SubjectField(
        FieldType.TIME,
        "when to call them back",
        "When would be a good time to call you back?",
    ),
}

# Other ways a criterion names a known subject. The field keeps the criterion's own subject as
# its name (`has_preferred_date` → `preferred_date`), so the criterion still finds it.
SUBJECT_ALIASES: dict[str, str] = {
    "day": "date",
    "preferred_date": "date",
    "appointment_date": "date",
    "booking_date": "date",
    "preferred_time": "time",
    "appointment_time": "time",
    "booking_time": "time",
    "service_type": "service",
    "service_needed": "service",
    "treatment": "service",
    "budget_range": "budget",
    "timeframe": "timeline",
    "time_frame": "timeline",
    "authority": "decision_maker",
    "decision_makers": "decision_maker",
    "buyer": "decision_maker",
    "full_name": "name",
    "caller_name": "name",
    "customer_name": "name",
    "contact_name": "name",
    "phone_number": "phone",
    "contact_number": "phone",
    "callback_number": "phone",
    "email_address": "email",
    "guests": "party_size",
    "guest_count": "party_size",
    "number_of_guests": "party_size",
    "headcount": "party_size",
    "company_name": "company",
    "business": "company",
    "business_name": "company",
    "organisation": "company",
    "organization": "company",
    "needs": "need",
    "use_case": "need",
    "requirements": "need",
    "call_reason": "reason",
    "reason_for_call": "reason",
    "problem": "issue",
    "complaint": "issue",
    "pain_point": "pain_points",
    "pain": "pain_points",
    "company_size": "team_size",
    "current_tool": "current_solution",
    "birthday": "date_of_birth",
    "dob": "date_of_birth",
    "current_provider": "current_solution",
}

_VALID_NAME = re.compile(FIELD_NAME_PATTERN)

# A plain question for a subject outside the lexicon, by the type its words imply: "What pickup
# date should I put down?", "Could you tell me about the vehicle model?".
_GENERIC_ASKS: dict[FieldType, str] = {
    FieldType.DATE: "What {words} should I put down?",
    FieldType.TIME: "What {words} should I put down?",
    FieldType.NUMBER: "What {words} should I put down?",
    FieldType.PHONE: "What {words} should I put down?",
    FieldType.EMAIL: "What {words} should I put down?",
    FieldType.BOOLEAN: "Is that a yes or a no on the {words}?",
}
_GENERIC_TEXT_ASK = "Could you tell me about the {words}?"
# A yes/no subject reads as a question by its prefix: `wants_callback` → "Would you like
# callback?" is closer to speech than a yes-or-no about "wants callback".
_BOOLEAN_ASKS = (
    ("wants_", "Would you like {rest}?"),
    ("needs_", "Do you need {rest}?"),
    ("is_", "Are you {rest}?"),
)


def field_for_subject(subject: str, *, numeric: bool = False) -> DataField:
    """The declaration inferred for a criterion subject (see the module docstring).

    `numeric` marks a subject whose criterion is a number threshold: a field the lexicon does
    not know is then a number, since only a number can clear a threshold.
    """
    known = KNOWN_SUBJECTS.get(SUBJECT_ALIASES.get(subject, subject))
    if known is not None:
        return DataField(
            name=subject, type=known.type, description=known.description, ask=known.ask
        )
    field_type = infer_field_type(subject)
    if numeric and field_type is FieldType.TEXT:
        field_type = FieldType.NUMBER
    words = field_description(subject)
    ask = _GENERIC_ASKS.get(field_type, _GENERIC_TEXT_ASK).format(words=words)
    for prefix, question in _BOOLEAN_ASKS:
        if field_type is FieldType.BOOLEAN and subject.startswith(prefix):
            ask = question.format(rest=field_description(subject.removeprefix(prefix)))
            break
    return DataField(name=subject, type=field_type, description=words, ask=ask)


def known_question(data_field: DataField) -> str | None:
    """The lexicon's question for a declared field it knows by name (`service_type`,
    `preferred_date`, `decision_maker`…) and type; None for any other field."""
    known = KNOWN_SUBJECTS.get(SUBJECT_ALIASES.get(data_field.name, data_field.name))
    return known.ask if known is not None and known.type is data_field.type else None


def infer_required_data(criteria: Mapping[str, object]) -> list[DataField]:
    """One field per success criterion (criteria order), for a goal that lists no data.

    Tolerant of a document not yet validated: criteria whose name or value has the wrong shape
    infer nothing here (validation reports them).
    """
    # Imported here, not at the top: `core.goals` imports `core.agents.spec`, which uses this
    # module while it is being imported itself.
    from core.goals.criteria import criterion_subject

    fields: dict[str, DataField] = {}
    for name, value in criteria.items():
        if not isinstance(name, str) or value is False:
            continue
        if isinstance(value, str):
            subject = value
        elif isinstance(value, bool | int | float):
            subject = criterion_subject(name)
        else:
            continue
        if subject in fields or not _VALID_NAME.match(subject):
            continue
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        fields[subject] = field_for_subject(subject, numeric=numeric)
    return list(fields.values())

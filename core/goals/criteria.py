"""Which required-data fields a goal's success criterion is about.

A goal's `success_criteria` are named conditions over its `required_data`, written as the seed
writes them: `{"has_date": true, "has_time": true, "has_service": true}` over the fields
`preferred_date`, `preferred_time`, `service_type`. The rule that maps a criterion to its fields:

1. A criterion whose value is a string names its field explicitly:
   `{"need_identified": "pain_points"}` is about `pain_points` (and nothing, if no field has
   that name).
2. Otherwise the criterion's *subject* is its name with a `has_` prefix and/or one of the
   suffixes `_identified`, `_captured`, `_provided`, `_confirmed`, `_known`, `_collected`,
   `_given` removed: `has_date` → `date`, `budget_identified` → `budget`.
3. The criterion is about the field named exactly the subject (`budget`); else the fields whose
   name ends with `_<subject>` or starts with `<subject>_` (`preferred_date`, `service_type`);
   else, as a last resort, the fields in which the subject appears as whole `_`-separated words
   (`need` in `customer_need_summary`).

A criterion about no field names no data; validation reports it, because such a criterion could
never be decided from what the agent collects.
"""

from __future__ import annotations

from collections.abc import Sequence

SUBJECT_PREFIXES = ("has_",)
SUBJECT_SUFFIXES = (
    "_identified",
    "_captured",
    "_provided",
    "_confirmed",
    "_known",
    "_collected",
    "_given",
)


def criterion_subject(name: str) -> str:
    """The thing a criterion is about: `has_date` → `date`, `budget_identified` → `budget`."""
    subject = name
    for prefix in SUBJECT_PREFIXES:
        if subject.startswith(prefix) and len(subject) > len(prefix):
            subject = subject[len(prefix) :]
            break
    for suffix in SUBJECT_SUFFIXES:
        if subject.endswith(suffix) and len(subject) > len(suffix):
            subject = subject[: -len(suffix)]
            break
    return subject


def _contains_words(field_name: str, subject: str) -> bool:
    words, subject_words = field_name.split("_"), subject.split("_")
    width = len(subject_words)
    return any(words[i : i + width] == subject_words for i in range(len(words) - width + 1))


def fields_for_criterion(name: str, value: object, field_names: Sequence[str]) -> list[str]:
    """The fields (in `field_names` order) criterion `name: value` is about; [] = it names none."""
    if isinstance(value, str):
        return [value] if value in field_names else []
    subject = criterion_subject(name)
    if subject in field_names:
        return [subject]
    # Tiers, not one fuzzy match: the field named exactly `budget` must win over `budget_notes`,
    # or `budget_identified` would be met by a note that merely mentions money.
    affixed = [f for f in field_names if f.endswith(f"_{subject}") or f.startswith(f"{subject}_")]
    if affixed:
        return list(dict.fromkeys(affixed))
    return list(dict.fromkeys(f for f in field_names if _contains_words(f, subject)))

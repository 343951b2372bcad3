"""What a piece of required data is: its name, type, description, options and the question
that asks for it. The declaration an admin writes in a goal's `required_data`, as a bare name
(`"preferred_date"`, typed from its words) or an object.

This module is the root of `core.fields`: values (`core.fields.values`), reading from speech and
phrasing build on it. It imports nothing from the rest of `core`, so the agent spec, goals and the
workflow sandbox can all use it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
OptionText = Annotated[str, Field(min_length=1, max_length=200)]


class FieldType(StrEnum):
    """The types a piece of required data can have."""

    TEXT = "text"
    DATE = "date"
    TIME = "time"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ENUM = "enum"
    PHONE = "phone"
    EMAIL = "email"


# When a goal lists required data by bare name (as the seed's examples do), the type is read off
# the name's `_`-separated words (whole words, so `timeline` is not a time): the first rule that
# matches wins; anything else is free text.
_TYPE_BY_NAME_WORD: tuple[tuple[str, FieldType], ...] = (
    ("email", FieldType.EMAIL),
    ("phone", FieldType.PHONE),
    ("date", FieldType.DATE),
    ("day", FieldType.DATE),
    ("time", FieldType.TIME),
    ("budget", FieldType.NUMBER),
    ("count", FieldType.NUMBER),
    ("size", FieldType.NUMBER),
    ("amount", FieldType.NUMBER),
    ("quantity", FieldType.NUMBER),
)
_BOOLEAN_PREFIXES = ("is_", "has_", "wants_", "needs_")


def infer_field_type(name: str) -> FieldType:
    """The type a bare required-data name implies, e.g. `preferred_date` → date."""
    if name.startswith(_BOOLEAN_PREFIXES):
        return FieldType.BOOLEAN
    words = name.split("_")
    if words[:2] == ["number", "of"]:
        return FieldType.NUMBER
    for word, field_type in _TYPE_BY_NAME_WORD:
        if word in words:
            return field_type
    return FieldType.TEXT


def field_description(name: str) -> str:
    """A readable description for a bare field name: `preferred_date` → "preferred date"."""
    return name.replace("_", " ")


class DataField(BaseModel):
    """One piece of data a goal needs from the caller."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=FIELD_NAME_PATTERN)
    type: FieldType = FieldType.TEXT
    description: str = Field("", max_length=500)
    options: list[OptionText] = Field(default_factory=list, max_length=50)
    ask: str | None = Field(None, max_length=300)
    """The question that asks for this field, as the author wants it said; when absent the agent
    phrases one from the field's description and type."""

    @model_validator(mode="before")
    @classmethod
    def _from_bare_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            name = value.strip().lower()
            return {
                "name": name,
                "type": infer_field_type(name),
                "description": field_description(name),
            }
        return value

    @model_validator(mode="after")
    def _enum_needs_options(self) -> DataField:
        if self.type is FieldType.ENUM and not self.options:
            raise ValueError("an enum field needs `options`")
        return self


def is_name_field(data_field: DataField) -> bool:
    """Whether a text field holds a person's name (`name`, `customer_name`, …)."""
    return data_field.type is FieldType.TEXT and (
        data_field.name == "name"
        or data_field.name.endswith("_name")
        and not data_field.name.startswith(("company", "business", "product", "pet"))
    )

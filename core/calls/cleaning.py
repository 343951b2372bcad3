"""Values cleaned and bounded where they enter a call's record.

Anything a caller, Twilio, SIP trunk or LLM sends ends up in PostgreSQL. A value PostgreSQL can
never store — a NUL character in text or JSON, a lone UTF-16 surrogate, a string longer than its
column — would make the write fail on every retry and leave the call's record open forever. So
every such value passes through here first: the workflow cleans what its signals carry, the API
what Twilio posts, and the record activities clean again before writing (a workflow started by
an older client is not trusted either).

Hand-written, not a library: it is a two-rule filter (drop what PostgreSQL refuses, cut to the
column), and each rule names the column it protects.
"""

from __future__ import annotations

import re
from typing import Any, Final

# Column widths in core/db/models.py.
NUMBER_LIMIT: Final = 255
"""`calls.from_number`/`to_number`: E.164 numbers, but also SIP URIs and `client:` names."""
REASON_LIMIT: Final = 64
"""`calls.end_reason`, `calls.outcome`: a short code such as `caller_hung_up`."""
TEXT_LIMIT: Final = 20_000
"""A turn's text: far beyond anything said in one turn, short of a runaway LLM."""

FALLBACK_REASON: Final = "ended"

# C0 controls except tab/newline/carriage return, DEL, and lone surrogates (which no UTF-8
# encoder accepts): PostgreSQL text and JSONB refuse NUL, psycopg refuses surrogates.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_REASON_CHARS = re.compile(r"[^a-z0-9_.:-]+")


def clean_text(text: object, limit: int = TEXT_LIMIT) -> str:
    """`text` as a string PostgreSQL can store, at most `limit` characters."""
    cleaned = _UNSTORABLE.sub("", text if isinstance(text, str) else str(text))
    if len(cleaned) > limit:
        cleaned = cleaned[: max(limit - 1, 0)] + "…"
    return cleaned


def clean_number(number: object) -> str:
    """A caller or called number as Twilio sent it (SIP URIs included), bounded."""
    return clean_text(number, NUMBER_LIMIT).strip()


def clean_reason(reason: object) -> str:
    """An end reason as a short code: `Caller asked to stop!` → `caller_asked_to_stop`."""
    words = _REASON_CHARS.sub("_", clean_text(reason, 4 * REASON_LIMIT).lower()).strip("_")
    return words[:REASON_LIMIT].rstrip("_") or FALLBACK_REASON


def clean_json(value: Any) -> Any:
    """A JSON-able value with every string in it (keys too) cleaned; other leaves unchanged."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value

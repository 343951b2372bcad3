"""The platform's exception tree. The API turns these into 4xx bodies at the route layer.

CallwrightError
├── NotFoundError        a referenced row does not exist            → 404
├── ConflictError        a unique name is taken, a row is in use    → 409
├── InvalidConfigError   an agent configuration has problems        → 422
├── InvalidValueError    a value cannot be used (an empty file)     → 422
├── TooLargeError        a value is larger than its limit           → 413
└── UnsupportedTypeError a value's media type is not accepted       → 415
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CallwrightError(Exception):
    """Base of every error the platform raises on purpose."""


class NotFoundError(CallwrightError):
    """A row asked for by id does not exist."""

    def __init__(self, kind: str, key: Any, *, field: str | None = None) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key
        self.field = field


class ConflictError(CallwrightError):
    """The request clashes with what is stored (a duplicate name, a row still in use)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidConfigError(CallwrightError):
    """An agent configuration failed validation; `problems` lists every one with its path."""

    def __init__(self, problems: Sequence[Any]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the agent configuration")
        self.problems = list(problems)


class InvalidValueError(CallwrightError):
    """One value of the request cannot be used (an empty or unreadable document)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TooLargeError(CallwrightError):
    """A value of the request is larger than its configured limit (`limit`, in bytes)."""

    def __init__(self, message: str, *, limit: int, field: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.field = field


class UnsupportedTypeError(CallwrightError):
    """A value of the request is of a media type the route does not take."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

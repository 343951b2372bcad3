"""Turns domain errors into clear 4xx bodies, in FastAPI's own error shape.

Every error body is `{"detail": ...}`; errors about a field use the list form FastAPI gives
validation errors (`[{"loc": [...], "msg": ..., "type": ...}]`), so clients parse one shape.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from core.errors import (
    ConflictError,
    InvalidConfigError,
    InvalidValueError,
    NotFoundError,
    TooLargeError,
    UnsupportedTypeError,
)

logger = logging.getLogger(__name__)

_UNIQUE_DETAIL = re.compile(r"Key \((?P<field>[^)]+)\)=")


def _field_error(status_code: int, field: str | None, message: str, kind: str) -> JSONResponse:
    if field is None:
        return JSONResponse({"detail": message}, status_code=status_code)
    loc = ["body", *re.split(r"[.\[\]]+", field.strip("."))]
    return JSONResponse(
        {"detail": [{"loc": [p for p in loc if p], "msg": message, "type": kind}]},
        status_code=status_code,
    )


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFoundError)
    return _field_error(status.HTTP_404_NOT_FOUND, exc.field, str(exc), "not_found")


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConflictError)
    return _field_error(status.HTTP_409_CONFLICT, exc.field, str(exc), "conflict")


async def _invalid_value(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidValueError)
    return _field_error(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.field, str(exc), "invalid_value")


async def _too_large(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooLargeError)
    return _field_error(status.HTTP_413_CONTENT_TOO_LARGE, exc.field, str(exc), "too_large")


async def _unsupported_type(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnsupportedTypeError)
    return _field_error(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, exc.field, str(exc), "unsupported_type"
    )


async def _invalid_config(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidConfigError)
    detail = [
        {
            "loc": ["body", *[p for p in re.split(r"[.\[\]]+", p.path) if p]],
            "msg": p.message,
            "type": "invalid_config",
        }
        for p in exc.problems
    ]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _integrity(_: Request, exc: Exception) -> JSONResponse:
    # Races past the routes' own checks land here: a unique name taken between check and insert,
    # a row referenced by another. Both are the client's to resolve, never a 500.
    assert isinstance(exc, IntegrityError)
    code = getattr(exc.orig, "sqlstate", None)
    text = str(exc.orig)
    if code == "23505":
        match = _UNIQUE_DETAIL.search(text)
        field = match.group("field") if match else None
        table = getattr(getattr(exc.orig, "diag", None), "table_name", None) or "row"
        message = f"another {table} row already has that {field or 'value'}"
        return _field_error(status.HTTP_409_CONFLICT, field, message, "conflict")
    if code == "23503":
        return JSONResponse(
            {"detail": "the row is referenced by another, or references one that does not exist"},
            status_code=status.HTTP_409_CONFLICT,
        )
    # PostgreSQL's detail quotes the row's values (a phone number, a caller's words): DEBUG only.
    logger.warning("integrity error (SQLSTATE %s)", code)
    logger.debug("integrity error: %s", text)
    return JSONResponse({"detail": "the request conflicts with stored data"}, status_code=409)


async def _data_error(_: Request, exc: Exception) -> JSONResponse:
    # The schemas bound every value; this is the net under them (a value out of its column's
    # range or form), and it is still the client's input at fault.
    logger.warning(
        "data error (SQLSTATE %s)", getattr(getattr(exc, "orig", None), "sqlstate", None)
    )
    logger.debug("data error: %s", exc)
    text = str(exc)
    message = (
        "text must not contain NUL (\\u0000) characters"
        if "NUL" in text or "\\u0000" in text
        else "a value is out of range or malformed for where it is stored"
    )
    return JSONResponse(
        {"detail": message},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


async def _request_validation(_: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own handler echoes each bad `input` back: a 1 MB body came back whole, and a
    # lone surrogate in it could not be encoded (a 500). Location, message and type suffice.
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return JSONResponse(
        {"detail": jsonable_encoder(detail)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def _model_validation(_: Request, exc: Exception) -> JSONResponse:
    # A route that rebuilds a model from stored values plus the request (a PATCH merged into a
    # goal) can fail validation after FastAPI's own pass: the request is still at fault.
    assert isinstance(exc, ValidationError)
    detail = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return JSONResponse(
        {"detail": jsonable_encoder(detail)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # PostgreSQL is down or restarting: the request may succeed in a moment (a 503 with
    # Retry-After, not a 500 that reads as a bug). The chaos run's hard restarts found this.
    logger.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "2"},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(InvalidConfigError, _invalid_config)
    app.add_exception_handler(InvalidValueError, _invalid_value)
    app.add_exception_handler(TooLargeError, _too_large)
    app.add_exception_handler(UnsupportedTypeError, _unsupported_type)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(InterfaceError, _database_unavailable)
    app.add_exception_handler(ValidationError, _model_validation)
    app.add_exception_handler(RequestValidationError, _request_validation)

"""Values a call's record could never store are cleaned where they enter."""

from __future__ import annotations

from core.calls.cleaning import (
    NUMBER_LIMIT,
    REASON_LIMIT,
    clean_json,
    clean_number,
    clean_reason,
    clean_text,
)


def test_text_loses_what_postgresql_refuses_and_keeps_the_rest() -> None:
    assert clean_text("Ana\x00 López\x07\n\tthanks \ud83d") == "Ana López\n\tthanks "
    assert clean_text("¿Mañana a las 3? 👍") == "¿Mañana a las 3? 👍"


def test_text_is_cut_to_its_limit_with_an_ellipsis() -> None:
    cut = clean_text("x" * 50, limit=10)
    assert cut == "x" * 9 + "…" and len(cut) == 10


def test_reasons_become_short_codes() -> None:
    assert clean_reason("caller_hung_up") == "caller_hung_up"
    assert clean_reason("Caller asked to stop!") == "caller_asked_to_stop"
    long = clean_reason("The caller said they had to leave for work now. " * 10)
    assert len(long) <= REASON_LIMIT and not long.endswith("_")
    assert clean_reason("\x00 !!") == "ended"
    assert clean_reason(None) == "none"


def test_numbers_keep_sip_uris_bounded() -> None:
    sip = "sip:+14155550100@pbx.example.com;transport=tls"
    assert clean_number(f" {sip} ") == sip
    assert len(clean_number("sip:" + "a" * 1000)) == NUMBER_LIMIT


def test_json_is_cleaned_all_the_way_down() -> None:
    value = {"name\x00": ["Ana\x00", {"n": 2, "t": True, "x": None}], "k": 1.5}
    assert clean_json(value) == {"name": ["Ana", {"n": 2, "t": True, "x": None}], "k": 1.5}

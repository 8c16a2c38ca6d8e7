"""``processing_error``: the dead-letter error for an event the core raised on."""

from __future__ import annotations

import orjson
import pytest

from streamwatch.core.codec import DecodeError
from streamwatch.core.deadletter import (
    MAX_REASON_CHARS,
    dead_letter_record,
    original_bytes,
    processing_error,
)
from streamwatch.testing import raw, usage_doc


def test_processing_error_names_the_exception_type_and_message() -> None:
    error = processing_error(ZeroDivisionError("division by zero"))
    assert isinstance(error, DecodeError)
    assert (error.code, error.field) == ("processing_error", None)
    assert error.reason == "processing_error: ZeroDivisionError: division by zero"


def test_processing_error_puts_what_failed_first() -> None:
    error = processing_error(KeyError("amount"), "the core failed on event 'u-1'")
    assert error.reason == "processing_error: the core failed on event 'u-1': KeyError: 'amount'"


def test_processing_error_of_an_exception_without_a_message_names_its_type() -> None:
    assert processing_error(OverflowError()).message == "OverflowError"


@pytest.mark.parametrize("size", [MAX_REASON_CHARS - 20, MAX_REASON_CHARS, 100_000])
def test_processing_error_message_is_cut_to_the_limit(size: int) -> None:
    text = "x" * size
    error = processing_error(ValueError(text))
    full = f"ValueError: {text}"
    if len(full) <= MAX_REASON_CHARS:
        assert error.message == full
    else:
        assert len(error.message) == MAX_REASON_CHARS
        assert error.message.endswith("x...")
        assert error.message.startswith("ValueError: xxx")


def test_processing_error_survives_an_exception_whose_message_raises() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    error = processing_error(Unprintable())
    assert error.code == "processing_error"
    assert error.message.startswith("Unprintable: ")


def test_processing_error_makes_a_dead_letter_record_with_the_original_bytes() -> None:
    message = raw(usage_doc())
    try:
        _ = 1 / 0
    except ZeroDivisionError as exc:
        error = processing_error(exc, "the core failed on event 'u-1'")
    record = dead_letter_record(message, error, {"file": "usage.jsonl", "line": 3}, 0)
    wire = orjson.loads(orjson.dumps(record))
    assert wire["code"] == "processing_error"
    assert wire["field"] is None
    assert wire["reason"] == (
        "processing_error: the core failed on event 'u-1': ZeroDivisionError: division by zero"
    )
    assert original_bytes(wire) == message

"""The dead-letter record: what was wrong with an input message, where it came from, and the
message itself, byte for byte (base64, since it may not be UTF-8 or JSON at all).

Most records carry the codec's ``DecodeError``; ``processing_error`` makes one for an event the
core raised on, so that a caller can dead-letter that event and move on."""

from __future__ import annotations

import base64
from typing import Any, Final

from streamwatch.core.codec import DecodeError
from streamwatch.core.timeutil import format_ts


def dead_letter_record(
    raw: bytes, error: DecodeError, source: dict[str, Any], received_at_ms: int
) -> dict[str, Any]:
    """The dead-letter message for ``raw``; ``source`` says where it was read.

    Live passes ``{"topic", "partition", "offset", "key"}``, replay ``{"file", "line"}``.
    """
    return {
        "reason": error.reason,
        "code": error.code,
        "field": error.field,
        "source": source,
        "received_at": format_ts(received_at_ms),
        "original_size": len(raw),
        "original_b64": base64.b64encode(raw).decode("ascii"),
    }


MAX_REASON_CHARS: Final = 500
"""Longest message of a ``processing_error`` (an exception's text can be of any length)."""


def processing_error(exc: BaseException, what: str | None = None) -> DecodeError:
    """The error to dead-letter an event with when the core raised ``exc`` on it (code
    ``processing_error``, no field): ``what`` (if given), the exception's type and its message,
    cut to ``MAX_REASON_CHARS``. Pass it to ``dead_letter_record`` with the event's bytes."""
    try:
        message = str(exc)
    except Exception:  # never raise while reporting an error
        message = "(the exception's message could not be read)"
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if what:
        text = f"{what}: {text}"
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return DecodeError("processing_error", text)


def original_bytes(record: dict[str, Any]) -> bytes:
    """The original message of a dead-letter record."""
    return base64.b64decode(record["original_b64"])

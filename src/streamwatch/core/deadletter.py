"""The dead-letter record: what was wrong with an input message, where it came from, and the
message itself, byte for byte (base64, since it may not be UTF-8 or JSON at all)."""

from __future__ import annotations

import base64
from typing import Any

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


def original_bytes(record: dict[str, Any]) -> bytes:
    """The original message of a dead-letter record."""
    return base64.b64decode(record["original_b64"])

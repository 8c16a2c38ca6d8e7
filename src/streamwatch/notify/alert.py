"""An ``alerts`` message checked well enough to deliver: the fields delivery reads, with their
types. Pure; raises the codec's ``DecodeError`` (so that a bad message becomes a dead-letter
record like any other) naming the first bad field. The full contract is the alert schema in
``streamwatch/topics/schemas/``; delivery does not need every field to be valid, only these.
"""

from __future__ import annotations

import re
from typing import Any, Final

from streamwatch.core.codec import DecodeError
from streamwatch.core.timeutil import TimestampError, parse_ts_ms
from streamwatch.enforce.messages import load_object

SEVERITIES: Final = ("info", "low", "medium", "high", "critical")
_HEX_ID: Final = re.compile(r"[0-9a-f]{32}")


def parse_alert(raw: bytes) -> dict[str, Any]:
    """``raw`` as an alert dict; raises DecodeError (see the module docstring)."""
    doc = load_object(raw)
    alert_id = doc.get("alert_id")
    if not isinstance(alert_id, str) or not _HEX_ID.fullmatch(alert_id):
        raise _bad(doc, "alert_id", "is not 32 hex digits")
    for name in ("customer_id", "kind"):
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise _bad(doc, name, "must be a non-empty string")
    if doc.get("severity") not in SEVERITIES:
        raise _bad(doc, "severity", f"is not one of {list(SEVERITIES)}")
    revision = doc.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise _bad(doc, "revision", "must be a whole number >= 1")
    for name in ("event_time", "window_start"):
        value = doc.get(name)
        try:
            parse_ts_ms(value if isinstance(value, str) else "")
        except TimestampError as exc:
            raise _bad(doc, name, f"is not a timestamp ({exc})", "invalid_timestamp") from None
    score = doc.get("score")
    if not isinstance(score, int | float) or isinstance(score, bool):
        raise _bad(doc, "score", "must be a number", "wrong_type")
    reasons = doc.get("reasons")
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise _bad(doc, "reasons", "must be a list of strings", "wrong_type")
    for name in ("evidence", "detector"):
        if not isinstance(doc.get(name), dict):
            raise _bad(doc, name, "must be an object", "wrong_type")
    money = doc.get("money_at_risk")
    if money is not None and not (
        isinstance(money, dict)
        and isinstance(money.get("amount"), int | float)
        and isinstance(money.get("currency"), str)
    ):
        raise _bad(doc, "money_at_risk", "must be null or an object with amount and currency")
    return doc


def is_resolved(alert: dict[str, Any]) -> bool:
    """Whether this revision closes the incident (``evidence.status`` resolved)."""
    return bool(alert["evidence"].get("status") == "resolved")


def _bad(doc: dict[str, Any], name: str, what: str, code: str = "invalid_value") -> DecodeError:
    if name not in doc:
        return DecodeError("missing_field", f"field {name!r} is missing", name)
    return DecodeError(code, f"field {name!r} {what}", name)

"""The suspension worker's messages: enforcement requests and decisions in, results out.

Pure and deterministic. ``parse_request`` and ``parse_decision`` turn raw Kafka values into
validated messages or raise ``DecodeError`` (the codec's error, so that a bad message becomes a
dead-letter record like any other); they check what ``streamwatch/topics/schemas/`` says, and ignore
unknown fields as the event codec does (a signature covers them anyway). Signatures are checked
apart (``streamwatch.core.signing.verify``), because a request with a bad signature is refused
on the results topic rather than dead-lettered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import orjson

from streamwatch.core.codec import MAX_EVENT_BYTES, DecodeError
from streamwatch.core.events import ACTIONS, Action
from streamwatch.core.ids import stable_id
from streamwatch.core.signing import SIGNATURE_FIELD
from streamwatch.core.timeutil import TimestampError, format_ts, parse_ts_ms

Outcome = Literal["done", "failed", "awaiting_approval", "refused"]
DecisionKind = Literal["approve", "reject"]

OUTCOMES: Final[tuple[Outcome, ...]] = ("done", "failed", "awaiting_approval", "refused")
DECISIONS: Final[tuple[DecisionKind, ...]] = ("approve", "reject")
MAX_ID_CHARS: Final = 256
MAX_NOTE_CHARS: Final = 2000
_HEX_ID: Final = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Request:
    """A well-formed enforcement request; ``doc`` is the message as received, signature and
    unknown fields included (it is what the backend is sent and what a signature covers)."""

    request_id: str
    customer_id: str
    action: Action
    policy: str
    dry_run: bool
    requires_approval: bool
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    """A well-formed approval or rejection; ``doc`` is the message as received."""

    request_id: str
    customer_id: str
    decision: DecisionKind
    by: str
    note: str
    at: str
    doc: dict[str, Any]


def load_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object; raises DecodeError (too_large, invalid_utf8, invalid_json,
    not_an_object) otherwise."""
    if len(raw) > MAX_EVENT_BYTES:
        raise DecodeError(
            "too_large", f"message is {len(raw)} bytes, the limit is {MAX_EVENT_BYTES}"
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        if "utf-8" in text.lower() or "surrogate" in text.lower():
            raise DecodeError("invalid_utf8", f"message is not valid UTF-8 ({text})") from exc
        raise DecodeError("invalid_json", f"message is not valid JSON ({text})") from exc
    if not isinstance(doc, dict):
        raise DecodeError("not_an_object", f"message is a JSON {type(doc).__name__}, not an object")
    return doc


def parse_request(raw: bytes) -> Request:
    """Validate an ``enforcement`` message; raises DecodeError naming the first bad field."""
    return request_from_dict(load_object(raw))


def request_from_dict(doc: dict[str, Any]) -> Request:
    """Validate a decoded enforcement request (see ``parse_request``)."""
    request_id = _hex_id(doc, "request_id")
    customer_id = _text(doc, "customer_id", MAX_ID_CHARS)
    action = doc.get("action")
    if action is None:
        raise DecodeError("missing_field", "field 'action' is missing", "action")
    if action not in ACTIONS:
        raise DecodeError(
            "invalid_value", f"action {action!r} is not one of {list(ACTIONS)}", "action"
        )
    _str_list(doc, "subscription_ids")
    policy = _text(doc, "policy", MAX_ID_CHARS)
    alert_ids = _str_list(doc, "alert_ids")
    if not alert_ids:
        raise DecodeError("invalid_value", "alert_ids must name at least one alert", "alert_ids")
    for alert_id in alert_ids:
        if not _HEX_ID.fullmatch(alert_id):
            raise DecodeError(
                "invalid_value", f"alert id {alert_id!r} is not 32 hex digits", "alert_ids"
            )
    _text(doc, "reason", None)
    dry_run = _bool(doc, "dry_run")
    requires_approval = _bool(doc, "requires_approval")
    _timestamp(doc, "requested_at")
    return Request(
        request_id=request_id,
        customer_id=customer_id,
        action=cast("Action", action),
        policy=policy,
        dry_run=dry_run,
        requires_approval=requires_approval,
        doc=doc,
    )


def parse_decision(raw: bytes) -> Decision:
    """Validate an ``enforcement-decisions`` message (signature checked apart); raises
    DecodeError naming the first bad field."""
    doc = load_object(raw)
    request_id = _hex_id(doc, "request_id")
    customer_id = _text(doc, "customer_id", MAX_ID_CHARS)
    decision = doc.get("decision")
    if decision is None:
        raise DecodeError("missing_field", "field 'decision' is missing", "decision")
    if decision not in DECISIONS:
        raise DecodeError(
            "invalid_value", f"decision {decision!r} is not approve or reject", "decision"
        )
    by = _text(doc, "by", MAX_ID_CHARS)
    note = doc.get("note", "")
    if not isinstance(note, str):
        raise DecodeError("wrong_type", "field 'note' must be a string", "note")
    if len(note) > MAX_NOTE_CHARS:
        raise DecodeError("invalid_value", f"note is over {MAX_NOTE_CHARS} characters", "note")
    at = _timestamp(doc, "at")
    return Decision(
        request_id=request_id,
        customer_id=customer_id,
        decision=cast("DecisionKind", decision),
        by=by,
        note=note,
        at=at,
        doc=doc,
    )


def decision_message(
    request_id: str, customer_id: str, decision: DecisionKind, by: str, note: str, at_ms: int
) -> dict[str, Any]:
    """An unsigned decision message (sign it with ``core.signing.signed``)."""
    doc: dict[str, Any] = {
        "request_id": request_id,
        "customer_id": customer_id,
        "decision": decision,
        "by": by,
        "at": format_ts(at_ms),
    }
    if note:
        doc["note"] = note
    return doc


def result_message(
    request: Request,
    *,
    step: str,
    outcome: Outcome,
    reason: str,
    backend: str,
    attempt: int,
    at_ms: int,
    action: Action | None = None,
    reverses: Action | None = None,
    approved_by: str | None = None,
    rejected_by: str | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The ``enforcement-results`` message for one step of ``request``.

    ``result_id`` is derived from the request, the step (verify, hold, apply, dry_run, reject,
    withdraw), the outcome and the attempt, so a result published again after a crash carries
    the id it had. ``action`` overrides the request's (a withdrawal reports ``resume``).
    """
    doc: dict[str, Any] = {
        "result_id": stable_id(request.request_id, step, outcome, str(attempt)),
        "request_id": request.request_id,
        "customer_id": request.customer_id,
        "action": action or request.action,
        "policy": request.policy,
        "outcome": outcome,
        "reason": reason,
        "backend": backend,
        "dry_run": request.dry_run,
        "attempt": attempt,
        "at": format_ts(at_ms),
    }
    optional = {
        "reverses": reverses,
        "approved_by": approved_by,
        "rejected_by": rejected_by,
        "note": note,
    }
    doc.update({name: value for name, value in optional.items() if value})
    return doc


def withdrawal_request(request: Request, by: str, note: str, at: str) -> dict[str, Any]:
    """The unsigned ``resume`` request that reverses an applied ``request`` whose approval
    ``by`` withdrew at ``at``. Deterministic: its ``request_id`` (the backend's idempotency
    key) derives from the original's, so a retried withdrawal is the same request."""
    doc = request.doc
    why = f"withdrawal of request {request.request_id} ({request.action}), rejected by {by}"
    return {
        "request_id": withdrawal_id(request.request_id),
        "customer_id": request.customer_id,
        "action": "resume",
        "subscription_ids": list(doc.get("subscription_ids", [])),
        "policy": request.policy,
        "alert_ids": list(doc.get("alert_ids", [])),
        "reason": f"{why}: {note}" if note else why,
        "dry_run": False,
        "requires_approval": False,
        "requested_at": at,
    }


def withdrawal_id(request_id: str) -> str:
    """The request id (and idempotency key) of the withdrawal of ``request_id``."""
    return stable_id(request_id, "withdraw")


def without_signature(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without its signature field."""
    return {k: v for k, v in doc.items() if k != SIGNATURE_FIELD}


def _hex_id(doc: dict[str, Any], name: str) -> str:
    value = _text(doc, name, 32)
    if not _HEX_ID.fullmatch(value):
        raise DecodeError("invalid_value", f"{name} {value!r} is not 32 hex digits", name)
    return value


def _text(doc: dict[str, Any], name: str, max_chars: int | None) -> str:
    value = doc.get(name)
    if value is None:
        raise DecodeError("missing_field", f"field {name!r} is missing", name)
    if not isinstance(value, str):
        raise DecodeError("wrong_type", f"field {name!r} must be a string", name)
    if not value:
        raise DecodeError("invalid_value", f"field {name!r} must not be empty", name)
    if max_chars is not None and len(value) > max_chars:
        raise DecodeError("invalid_value", f"field {name!r} is over {max_chars} characters", name)
    return value


def _bool(doc: dict[str, Any], name: str) -> bool:
    value = doc.get(name)
    if value is None:
        raise DecodeError("missing_field", f"field {name!r} is missing", name)
    if not isinstance(value, bool):
        raise DecodeError("wrong_type", f"field {name!r} must be true or false", name)
    return value


def _str_list(doc: dict[str, Any], name: str) -> list[str]:
    value = doc.get(name)
    if value is None:
        raise DecodeError("missing_field", f"field {name!r} is missing", name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DecodeError("wrong_type", f"field {name!r} must be a list of strings", name)
    return value


def _timestamp(doc: dict[str, Any], name: str) -> str:
    value = _text(doc, name, 64)
    try:
        parse_ts_ms(value)
    except TimestampError as exc:
        raise DecodeError("invalid_timestamp", str(exc), name) from exc
    return value

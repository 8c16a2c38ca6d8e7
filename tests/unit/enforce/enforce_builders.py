"""Builders for the suspension worker's unit tests: requests, records and decisions."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from streamwatch.core.ids import stable_id
from streamwatch.core.signing import signed
from streamwatch.enforce.decide import Record, State
from streamwatch.enforce.messages import Decision, Request, request_from_dict
from streamwatch.live.catalogue import packaged_catalogue

KEY_ID = "k1"
KEY = b"unit-secret"


def request_doc(customer_id: str = "c-1", **overrides: Any) -> dict[str, Any]:
    """A signed enforcement request (wire form); overrides apply before signing."""
    alert_id = stable_id("alert", customer_id)
    doc: dict[str, Any] = {
        "request_id": stable_id(customer_id, "rule-a", "suspend", alert_id),
        "customer_id": customer_id,
        "action": "suspend",
        "subscription_ids": ["sub-1"],
        "policy": "rule-a",
        "alert_ids": [alert_id],
        "reason": "crypto-mining pool traffic",
        "dry_run": False,
        "requires_approval": False,
        "requested_at": "2026-10-01T03:00:00Z",
    }
    doc.update(overrides)
    return signed(doc, KEY_ID, KEY)


def req(**overrides: Any) -> Request:
    """A validated request."""
    return request_from_dict(request_doc(**overrides))


def rec(state: State, request: Request | None = None, **fields: Any) -> Record:
    """A record of ``request`` (default ``req()``) in ``state``."""
    return Record(request=request or req(), state=state, **fields)


def dec(kind: str = "approve", by: str = "alice", note: str = "") -> Decision:
    """A decision on ``req()``."""
    request = req()
    doc = {"request_id": request.request_id, "customer_id": request.customer_id}
    return Decision(
        request_id=request.request_id,
        customer_id=request.customer_id,
        decision=kind,  # type: ignore[arg-type]
        by=by,
        note=note,
        at="2026-10-01T04:00:00Z",
        doc=doc,
    )


@cache
def validator(schema: str) -> Draft202012Validator:
    """The validator of ``topics/schemas/<schema>.schema.json``."""
    path = packaged_catalogue() / "schemas" / f"{schema}.schema.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def schema_errors(schema: str, doc: Any) -> list[str]:
    """Why ``doc`` breaks the schema (empty if it does not)."""
    return [error.message for error in validator(schema).iter_errors(doc)]

"""Test helpers shipped with the package: contract event builders and a fake clock.

Builders return wire-format dicts (what producers send); ``raw`` turns one into bytes and
``decoded`` into a core event. Every builder takes keyword overrides for any field.
"""

from __future__ import annotations

from itertools import count
from typing import Any

import orjson

from streamwatch.core.codec import decode_event
from streamwatch.core.events import Event

_ids = count(1)


def _envelope(kind: str, customer_id: str, ts: str, event_id: str | None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{next(_ids):08d}",
        "type": kind,
        "customer_id": customer_id,
        "ts": ts,
    }


def usage(
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    cost: float = 1.0,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A usage event: one hour of a D4s_v5 VM in westeurope unless overridden."""
    doc = _envelope("usage", customer_id, ts, event_id)
    doc.update(
        subscription_id="sub-1",
        resource_id="/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/vm-1",
        meter="compute",
        sku="Standard_D4s_v5",
        region="westeurope",
        quantity=1.0,
        unit="hours",
        cost=cost,
        currency="USD",
        interval_s=3600,
    )
    doc.update(fields)
    return doc


def activity(
    operation: str,
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An activity-log event of ``operation``, succeeded, by ``user@example.com``."""
    doc = _envelope("activity", customer_id, ts, event_id)
    doc.update(
        operation=operation,
        actor="user@example.com",
        status="succeeded",
        resource_id="",
        properties=properties or {},
    )
    doc.update(fields)
    return doc


def budget_set(
    amount: float,
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    currency: str = "USD",
    **fields: Any,
) -> dict[str, Any]:
    """A ``budget.set`` activity for a monthly budget."""
    props = {"amount": amount, "currency": currency, "period": "month"}
    return activity("budget.set", customer_id, ts, props, **fields)


def provider_notice(
    category: str = "aup.crypto_mining",
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    notice_id: str = "N-1",
    severity: str = "high",
    action_required: str = "suspend",
    **fields: Any,
) -> dict[str, Any]:
    """A ``provider.notice`` activity from the provider."""
    props = {
        "notice_id": notice_id,
        "category": category,
        "severity": severity,
        "action_required": action_required,
    }
    fields.setdefault("actor", "provider")
    fields.setdefault(
        "resource_id",
        "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1",
    )
    return activity("provider.notice", customer_id, ts, props, **fields)


def payment(
    kind: str,
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    amount: float | None = 100.0,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A payment event of ``kind`` (amount in USD unless overridden)."""
    doc = _envelope("payment", customer_id, ts, event_id)
    doc["kind"] = kind
    if amount is not None:
        doc.update(amount=amount, currency="USD")
    doc.update(fields)
    return doc


def raw(doc: dict[str, Any]) -> bytes:
    """The wire bytes of a builder's dict."""
    return orjson.dumps(doc)


def decoded(doc: dict[str, Any]) -> Event:
    """The core event of a builder's dict (raises DecodeError if the dict is not valid)."""
    return decode_event(orjson.dumps(doc))


class FakeClock:
    """A wall clock for tests: returns ``now_ms`` and advances only when told."""

    def __init__(self, now_ms: int = 1_790_000_000_000) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        """Move the clock forward by ``ms`` milliseconds."""
        self.now_ms += ms

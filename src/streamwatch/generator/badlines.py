"""Deliberately malformed raw lines, one kind per way a producer can break the wire contract.

Each kind is deterministic. In a stream, a bad line follows an event with probability
``bad_rate``; kinds go round-robin from a seeded starting point, and at most
``MAX_OVERSIZED`` oversized lines (2 MiB each) appear per stream so that files stay small.
Bad lines carry event ids ``bad-<seed>-<n>`` that never collide with real events, and the
customer and ts of the event they follow: a decoder that wrongly accepted one (say, the
negative cost) would change that customer's results.
"""

from __future__ import annotations

from typing import Any, Final

from streamwatch.generator.ids import rng_for
from streamwatch.generator.jsonl import encode

BAD_KINDS: Final[tuple[str, ...]] = (
    "truncated_json",
    "json_array",
    "wrong_type",
    "missing_field",
    "negative_cost",
    "unknown_type",
    "bad_timestamp",
    "invalid_utf8",
    "oversized",
    "deeply_nested",
)
OVERSIZED_CHARS: Final = 2 * 1024 * 1024
NESTING_LEVELS: Final = 100
MAX_OVERSIZED: Final = 2


def _usage(n: int, seed: int, customer_id: str, ts: str) -> dict[str, Any]:
    return {
        "event_id": f"bad-{seed}-{n:06d}",
        "type": "usage",
        "customer_id": customer_id,
        "ts": ts,
        "subscription_id": "00000000-0000-4000-8000-000000000000",
        "resource_id": "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups"
        "/rg-bad/providers/Microsoft.Compute/virtualMachines/vm-bad-1",
        "meter": "compute",
        "sku": "Standard_D2s_v5",
        "region": "westeurope",
        "quantity": 1.0,
        "unit": "hours",
        "cost": 0.096,
        "currency": "USD",
        "interval_s": 3600,
    }


def bad_line(kind: str, n: int, seed: int, customer_id: str, ts: str) -> bytes:
    """The malformed line of ``kind`` (one of BAD_KINDS); raises ValueError for others."""
    doc = _usage(n, seed, customer_id, ts)
    if kind == "truncated_json":
        full = encode(doc)
        return full[: len(full) // 2]
    if kind == "json_array":
        return b"[" + encode(doc) + b"]"
    if kind == "wrong_type":
        doc["quantity"] = "ten"
    elif kind == "missing_field":
        del doc["customer_id"]
    elif kind == "negative_cost":
        doc["cost"] = -12.5
    elif kind == "unknown_type":
        doc = {
            "event_id": doc["event_id"],
            "type": "telemetry",
            "customer_id": customer_id,
            "ts": ts,
            "metric": "cpu_temperature",
            "value": 71.5,
        }
    elif kind == "bad_timestamp":
        doc["ts"] = "2026-02-30T25:61:00Z"
    elif kind == "invalid_utf8":
        return encode(doc).replace(b'"sku":"Standard_D2s_v5"', b'"sku":"Standard_D2s_\xff\xfe_v5"')
    elif kind == "oversized":
        doc["sku"] = "X" * OVERSIZED_CHARS
    elif kind == "deeply_nested":
        nested: dict[str, Any] = {"leaf": True}
        for _ in range(NESTING_LEVELS - 1):
            nested = {"child": nested}
        doc = {
            "event_id": doc["event_id"],
            "type": "activity",
            "customer_id": customer_id,
            "ts": ts,
            "operation": "tag.update",
            "actor": "automation@example.com",
            "status": "succeeded",
            "resource_id": doc["resource_id"],
            "properties": nested,
        }
    else:
        raise ValueError(f"unknown bad line kind {kind!r}; known: {', '.join(BAD_KINDS)}")
    return encode(doc)


def bad_samples() -> dict[str, bytes]:
    """One malformed line of each kind, by kind name (always the same bytes)."""
    return {
        kind: bad_line(kind, n, 0, "cust-00000", "2026-10-01T00:00:00Z")
        for n, kind in enumerate(BAD_KINDS)
    }


class BadLines:
    """Decides, event by event, whether a bad line follows, and makes it. Deterministic."""

    __slots__ = ("_draw", "_next", "_oversized", "_seed", "count", "rate")

    def __init__(self, seed: int, rate: float) -> None:
        rng = rng_for(seed, "bad-lines")
        self._seed = seed
        self._draw = rng.random
        self._next = rng.randrange(len(BAD_KINDS))
        self._oversized = 0
        self.rate = rate
        self.count = 0

    def after(self, event: dict[str, Any]) -> bytes | None:
        """The bad line to write after ``event``, or None."""
        if self._draw() >= self.rate:
            return None
        kind = BAD_KINDS[self._next % len(BAD_KINDS)]
        self._next += 1
        if kind == "oversized":
            if self._oversized >= MAX_OVERSIZED:
                kind = BAD_KINDS[self._next % len(BAD_KINDS)]
                self._next += 1
            else:
                self._oversized += 1
        line = bad_line(kind, self.count, self._seed, event["customer_id"], event["ts"])
        self.count += 1
        return line

"""Alerts as the live worker publishes them, for the notify tests."""

from __future__ import annotations

from typing import Any

from streamwatch.core.ids import stable_id


def alert(
    customer: str = "cust-1",
    kind: str = "spend_spike",
    revision: int = 1,
    severity: str = "high",
    status: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A schema-valid alert; ``status`` sets ``evidence.status`` (``resolved`` closes it)."""
    doc: dict[str, Any] = {
        "alert_id": stable_id(customer, kind),
        "customer_id": customer,
        "kind": kind,
        "severity": severity,
        "score": 0.8,
        "event_time": f"2026-10-01T{revision:02d}:00:00Z",
        "window_start": "2026-10-01T00:00:00Z",
        "window_end": f"2026-10-01T{revision:02d}:00:00Z",
        "detected_at": f"2026-10-01T{revision:02d}:00:01Z",
        "reasons": [f"Spend 5.0x the baseline (revision {revision}).", "New region."],
        "evidence": {} if status is None else {"status": status},
        "subscription_ids": ["sub-1"],
        "detector": {"name": kind, "version": "1"},
        "revision": revision,
        "money_at_risk": {
            "amount": 1234.5 * revision,
            "currency": "USD",
            "unbilled": 100.0,
            "unpaid": 0.0,
            "prepaid": 0.0,
            "projected": 1234.5,
            "next_invoice": "2026-11-01T00:00:00Z",
            "rate_per_h": 51.44,
            "observed_h": 24,
            "horizon_h": 24,
            "method": "rate $51.44/h observed over 24 h, projected over 24 h",
        },
    }
    doc.update(overrides)
    return doc

"""``payment_failure``: the second failed payment of an invoice (or of the account, for failures
naming none), amended with each further failure up to ``MAX_FAILURES`` (see the payments
detector's module docstring); resolved when the invoice is paid in full."""

from __future__ import annotations

from typing import Final

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments.ledger import (
    ACCOUNT,
    MICROS,
    Invoice,
    PaymentsState,
    micros_of,
)
from streamwatch.core.events import SEVERITIES, PaymentEvent
from streamwatch.core.explain import money
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import format_ts

KIND: Final = "payment_failure"
MAX_FAILURES: Final = 10
LARGE_FAILURE: Final = 1_000 * MICROS
"""From this much at stake, a step higher."""


def payment_failed(
    state: PaymentsState, key: str, inv: Invoice, event: PaymentEvent
) -> list[Finding]:
    """Count the failure of ``event`` against invoice ``key``; raise or amend from the second
    failure on."""
    inv.failures += 1
    inv.failure_reason = event.failure_reason or inv.failure_reason
    if inv.failures < 2 or inv.failures > MAX_FAILURES:
        return []
    micros = micros_of(state, event) or 0
    at_stake = inv.owed if inv.owed > 0 else micros
    level = min(inv.failures, 4) - 1 + (1 if at_stake >= LARGE_FAILURE else 0)
    severity = SEVERITIES[level]
    inv.failure_severity = severity
    cur = state.currency or event.currency or ""
    what = "the account" if key == ACCOUNT else f"invoice {key}"
    reason = (
        f"{inv.failures} payments of {what} have failed"
        + (f", the last for {inv.failure_reason}" if inv.failure_reason else "")
        + (f"; {money(at_stake / MICROS, cur)} is at stake." if at_stake else ".")
    )
    return [
        Finding(
            incident=key,
            kind=KIND,
            severity=severity,
            score=score_of(severity),
            event_time_ms=event.ts_ms,
            window_start_ms=event.ts_ms,
            window_end_ms=event.ts_ms,
            reasons=(reason,),
            evidence={
                "status": "open",
                "invoice_id": None if key == ACCOUNT else key,
                "failures": inv.failures,
                "amount": round(at_stake / MICROS, 2),
                "currency": cur,
                "failure_reason": inv.failure_reason,
            },
        )
    ]


def resolve_failures(state: PaymentsState, key: str, inv: Invoice, ts_ms: int) -> list[Finding]:
    """Invoice ``key`` was paid at ``ts_ms``: its failures are forgotten, its alert resolved."""
    inv.failures = 0
    if inv.failure_severity is None:
        return []
    inv.failure_severity = None
    what = "the account" if key == ACCOUNT else f"invoice {key}"
    return [
        Finding(
            incident=key,
            kind=KIND,
            severity="info",
            score=score_of("info"),
            event_time_ms=ts_ms,
            window_start_ms=ts_ms,
            window_end_ms=ts_ms,
            reasons=(f"Resolved: {what} was paid at {format_ts(ts_ms)}.",),
            evidence={
                "status": "resolved",
                "invoice_id": None if key == ACCOUNT else key,
                "currency": state.currency,
                "paid_at": format_ts(ts_ms),
            },
        )
    ]

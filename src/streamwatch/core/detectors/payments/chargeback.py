"""``chargeback``: every chargeback, critical on a prepaid or stored-value card, from a customer
that added a high-risk instrument or after usage before payment, high otherwise; its evidence
says whether the customer's standing is ``untrusted`` or ``established`` (see the payments
detector's module docstring)."""

from __future__ import annotations

from typing import Final

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments.ledger import PREPAID_TYPES, PaymentsState
from streamwatch.core.events import PaymentEvent, Severity
from streamwatch.core.explain import days, money
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, format_ts

KIND: Final = "chargeback"
YOUNG_MS: Final = 30 * MS_PER_DAY
"""An account younger than this is not established."""


def charged_back(state: PaymentsState, event: PaymentEvent) -> list[Finding]:
    """Count the chargeback ``event`` (the ledger has taken its money back) and raise it."""
    ts = event.ts_ms
    state.chargebacks += 1
    inst = event.instrument
    on_prepaid = inst is not None and inst.type in PREPAID_TYPES
    risky = on_prepaid or state.risky
    young = state.signup_ms is not None and ts - state.signup_ms < YOUNG_MS
    untrusted = risky or state.ubp_seen or young or state.chargebacks > 1
    severity: Severity = "critical" if risky or state.ubp_seen else "high"
    amount = event.amount or 0.0
    cur = event.currency or state.currency or ""
    said = []
    if on_prepaid and inst is not None:
        said.append(f"on a {inst.type.replace('_', ' ')}")
    elif state.risky:
        said.append("from a customer that added a high-risk instrument")
    if state.ubp_seen:
        said.append("after usage before payment")
    if young and state.signup_ms is not None:
        said.append(f"{days((ts - state.signup_ms) // MS_PER_DAY)} after sign-up")
    where = f" of invoice {event.invoice_id}" if event.invoice_id else ""
    reason = (
        f"Chargeback{where} of {money(amount, cur)} at {format_ts(ts)}"
        + (f", {', '.join(said)}" if said else "")
        + f"; chargeback {state.chargebacks} of this customer."
    )
    return [
        Finding(
            incident=event.event_id,
            kind=KIND,
            severity=severity,
            score=score_of(severity),
            event_time_ms=ts,
            window_start_ms=ts,
            window_end_ms=ts,
            reasons=(reason,),
            evidence={
                "status": "open",
                "amount": amount,
                "currency": cur,
                "invoice_id": event.invoice_id,
                "instrument_type": inst.type if inst is not None else None,
                "risky_instrument": risky,
                "usage_before_payment": state.ubp_seen,
                "standing": "untrusted" if untrusted else "established",
                "chargebacks": state.chargebacks,
            },
        )
    ]

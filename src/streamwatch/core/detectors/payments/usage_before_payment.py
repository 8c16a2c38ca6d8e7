"""``usage_before_payment``: a new customer consuming while nothing secures the usage (see the
payments detector's module docstring). Raised at the first usage that costs money, amended as
the amount at risk grows, resolved when a payment or prepayment clears; once per customer."""

from __future__ import annotations

from typing import Any, Final

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments.ledger import (
    CHARGEABLE_TYPES,
    MICROS,
    PREPAID_TYPES,
    PaymentsState,
    amends,
    crossed_at,
    restamped,
)
from streamwatch.core.events import SEVERITIES, Severity
from streamwatch.core.explain import money
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import format_ts

KIND: Final = "usage_before_payment"
INCIDENT: Final = "unpaid-usage"
LEVELS: Final[tuple[tuple[int, Severity], ...]] = (
    (0, "medium"),
    (100 * MICROS, "high"),
    (1_000 * MICROS, "critical"),
)
"""Severity by the amount at risk: (from, severity)."""


def unpaid_usage(state: PaymentsState, ts_ms: int) -> list[Finding]:
    """Raise or escalate usage_before_payment, if it applies at ``ts_ms``; or, when usage of
    an earlier hour arrived late, amend the open alert with the earlier time it opened."""
    first = state.first_usage_ms
    if state.signup_ms is None or state.cleared_ms is not None or first is None:
        return []
    if state.ubp is None and (state.chargeable or state.ubp_seen):
        return []
    severity: Severity = "medium"
    for start, level in LEVELS:
        if state.unpaid_usage >= start:
            severity = level
    previous = state.ubp
    state.ubp_seen = True
    if previous is None:
        state.ubp = severity
        state.ubp_at = at = opened_at(state, first)
        return [_open(state, severity, at, ts_ms, first, "opened")]
    findings = []
    at = opened_at(state, first)
    if amends(state.ubp_at, at):
        # Usage of an hour before the alert opened arrived late: it opened then.
        state.ubp_at = at
        findings.append(_open(state, _level(previous), at, ts_ms, first, "opened"))
    if SEVERITIES.index(severity) > SEVERITIES.index(previous):
        # Stamped where the lowest level above the previous one was reached.
        line = next(start for start, level in LEVELS if level == _above(previous))
        at = max(first, crossed_at(state, state.unpaid_usage, lambda used, _: used >= line, ts_ms))
        state.ubp = severity
        findings.append(_open(state, severity, at, ts_ms, first, f"was {severity}"))
    return findings


def _open(
    state: PaymentsState, severity: Severity, at: int, ts_ms: int, first: int, what: str
) -> Finding:
    """The open alert at ``severity``, stamped ``at`` (as of ``ts_ms``), when it ``what``
    (opened, or reached the severity) counted in event-time order."""
    signup = state.signup_ms
    assert signup is not None
    cur = state.currency or ""
    at_risk = state.unpaid_usage / MICROS
    reason = (
        f"The customer signed up at {format_ts(signup)} and has used "
        f"{money(at_risk, cur)} since its first usage at {format_ts(first)} with no payment "
        f"or prepayment cleared; {_cover(state)}."
    )
    evidence: dict[str, Any] = {
        "status": "open",
        "amount_at_risk": round(at_risk, 2),
        "currency": cur,
        "first_usage": format_ts(first),
        "signup": format_ts(signup),
        "instrument": state.instruments[-1].type if state.instruments else "none",
    }
    reason = restamped(reason, evidence, at, ts_ms, what)
    return Finding(
        incident=INCIDENT,
        kind=KIND,
        severity=severity,
        score=score_of(severity),
        event_time_ms=at,
        # The evidence runs from the sign-up: nothing cleared since then.
        window_start_ms=min(signup, first),
        window_end_ms=max(ts_ms, at),
        reasons=(reason,),
        evidence=evidence,
    )


def opened_at(state: PaymentsState, first: int) -> int:
    """When the alert opens: at the first usage, not before the sign-up (nor any later
    instrument or chargeback: ``floor_ms``)."""
    floor = state.floor_ms
    return first if floor is None or first >= floor else floor


def _level(severity: str) -> Severity:
    return SEVERITIES[SEVERITIES.index(severity)]


def _above(severity: str) -> Severity:
    return SEVERITIES[SEVERITIES.index(severity) + 1]


def _cover(state: PaymentsState) -> str:
    """Why the instruments on file do not secure the usage."""
    if not state.instruments:
        return "no payment instrument is on file"
    kinds = sorted({i.type for i in state.instruments})
    if set(kinds) <= PREPAID_TYPES:
        return f"it pays by {' and '.join(kinds)}, which cannot be charged beyond its balance"
    if "bank_transfer" in kinds and not set(kinds) & CHARGEABLE_TYPES:
        return "it pays by bank transfer, which the reseller cannot collect"
    return "its card's countries disagree, so it does not secure the usage"


def resolve_unpaid_usage(state: PaymentsState, ts_ms: int, cleared_by: str) -> list[Finding]:
    """Resolve the open usage_before_payment alert (if any): ``cleared_by`` secures it."""
    if state.ubp is None or state.first_usage_ms is None:
        return []
    state.ubp = None
    state.ubp_at = None
    cur = state.currency or ""
    at_risk = state.unpaid_usage / MICROS
    reason = (
        f"Resolved: {cleared_by} at {format_ts(ts_ms)} secures the "
        f"{money(at_risk, cur)} used before payment."
    )
    return [
        Finding(
            incident=INCIDENT,
            kind=KIND,
            severity="info",
            score=score_of("info"),
            event_time_ms=ts_ms,
            window_start_ms=state.first_usage_ms,
            window_end_ms=ts_ms,
            reasons=(reason,),
            evidence={
                "status": "resolved",
                "amount_at_risk": round(at_risk, 2),
                "currency": cur,
                "first_usage": format_ts(state.first_usage_ms),
                "cleared_by": cleared_by,
                "cleared_at": format_ts(ts_ms),
            },
        )
    ]

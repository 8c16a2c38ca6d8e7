"""Unsecured exposure: usage so far minus money cleared, against what a young customer of its
standing is allowed (raised as ``usage_before_payment``, incident ``unsecured-exposure``).

``usage_before_payment``'s first rule looks only at whether anything cleared: a prepayment of
20 then secures every later dollar, and a card whose countries agree secures everything, so a
new account can prepay 30 and burn hundreds of GPU dollars, or ramp to 8,000 on a card that is
then charged back. This rule keeps the difference itself:

    unsecured = usage so far - (payments and prepayments cleared - chargebacks)

and compares it with an allowance by age and standing (``allowance``):

* a chargeable card on file whose countries agree: ``CARD_BASE`` plus ``CARD_PER_DAY`` per day
  of age (a month's normal usage is billed at the month's end and paid days later);
* anything else (prepaid card, bank transfer, countries that disagree): ``SLACK`` plus twice
  what the customer has paid so far (a customer that pays earns room; a token prepayment
  earns little).

Only customers whose sign-up was seen and is younger than ``YOUNG_DAYS`` by its date, and
that have a chargeable card or have paid something (else the first rule speaks), are judged;
older ones have a billing history. Severity by unsecured over allowance: medium from 1x, high
from 2x, critical from 4x; amended as it climbs; resolved when money clears and brings it
back within the allowance. Pure and deterministic.
"""

from __future__ import annotations

from typing import Any, Final

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments.ledger import (
    MICROS,
    PaymentsState,
    amends,
    crossed_at,
    restamped,
)
from streamwatch.core.events import SEVERITIES, Severity
from streamwatch.core.explain import money
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts

KIND: Final = "usage_before_payment"
INCIDENT: Final = "unsecured-exposure"
BASIS: Final = "unsecured_exposure"
YOUNG_DAYS: Final = 90
CARD_BASE: Final = 1_000 * MICROS
CARD_PER_DAY: Final = 100 * MICROS
SLACK: Final = 50 * MICROS
PAID_FACTOR: Final = 2
LEVELS: Final[tuple[tuple[int, Severity], ...]] = ((1, "medium"), (2, "high"), (4, "critical"))
"""(times the allowance, severity)."""


def allowance(state: PaymentsState, ts_ms: int) -> tuple[int, str] | None:
    """(allowance in micro-units, standing) at ``ts_ms``, or None when the customer is not
    judged (sign-up unseen, or ``YOUNG_DAYS`` old or more)."""
    signup = state.signup_ms
    if signup is None or ts_ms - signup >= YOUNG_DAYS * MS_PER_DAY:
        return None
    if state.chargeable:
        days = max(0, ts_ms - signup) // MS_PER_DAY
        return CARD_BASE + CARD_PER_DAY * days, "card"
    return SLACK + PAID_FACTOR * max(0, state.paid_in), "uncharged"


def unsecured(state: PaymentsState) -> int:
    """Usage so far less money cleared, micro-units (never negative)."""
    return max(0, state.used - state.paid_in)


def check_exposure(state: PaymentsState, ts_ms: int) -> list[Finding]:
    """Raise, amend or resolve the unsecured-exposure alert as of ``ts_ms``."""
    allowed = allowance(state, ts_ms)
    if allowed is None:
        if not state.ux:
            return []
        return _resolve(
            state,
            ts_ms,
            f"the account is {YOUNG_DAYS} days old and its invoices now speak for it",
        )
    limit, standing = allowed
    exposed = unsecured(state)
    severity = _level(state, exposed, limit)
    if severity is None:
        if not state.ux:
            return []
        return _resolve(state, ts_ms, "money cleared", "within what the account is allowed")
    previous = state.ux
    if previous is None:
        state.ux = severity
        state.ux_at = at = _crossed(state, 1, ts_ms)
        return [_open(state, severity, at, ts_ms, 1, limit, standing)]
    findings = []
    opened = state.ux_at
    if opened is not None and ts_ms < opened - opened % MS_PER_HOUR:
        # Usage of an hour before the alert opened arrived late: it may have opened earlier.
        at = _crossed(state, 1, ts_ms)
        if amends(opened, at):
            state.ux_at = at
            findings.append(_open(state, _same(previous), at, ts_ms, 1, limit, standing))
    rank = SEVERITIES.index(previous)
    if SEVERITIES.index(severity) > rank:
        # Stamped where the lowest level above the previous one was reached.
        times = next(t for t, level in LEVELS if SEVERITIES.index(level) > rank)
        state.ux = severity
        at = _crossed(state, times, ts_ms)
        findings.append(_open(state, severity, at, ts_ms, times, limit, standing))
    return findings


def _same(severity: str) -> Severity:
    return SEVERITIES[SEVERITIES.index(severity)]


def _open(
    state: PaymentsState,
    severity: Severity,
    at: int,
    ts_ms: int,
    times: int,
    limit: int,
    standing: str,
) -> Finding:
    """The open alert at ``severity``, stamped ``at`` (as of ``ts_ms``), past ``times`` the
    allowance ``limit``."""
    exposed = unsecured(state)
    cur = state.currency or ""
    age_days = (ts_ms - (state.signup_ms or ts_ms)) / MS_PER_DAY
    rule = (
        f"{money(CARD_BASE / MICROS, cur)} plus {money(CARD_PER_DAY / MICROS, cur)} a day of "
        "age for a chargeable card whose countries agree"
        if standing == "card"
        else f"{money(SLACK / MICROS, cur)} plus twice what it has paid, for a customer "
        "without a chargeable card"
    )
    reason = (
        f"Unsecured exposure {money(exposed / MICROS, cur)}: usage of "
        f"{money(state.used / MICROS, cur)} so far against "
        f"{money(max(0, state.paid_in) / MICROS, cur)} cleared, "
        f"{exposed / limit:.1f} times the {money(limit / MICROS, cur)} allowed an account "
        f"{age_days:.1f} days old ({rule})."
    )
    evidence: dict[str, Any] = {
        "status": "open",
        "basis": BASIS,
        "standing": standing,
        "unsecured": round(exposed / MICROS, 2),
        "allowance": round(limit / MICROS, 2),
        "used": round(state.used / MICROS, 2),
        "cleared": round(max(0, state.paid_in) / MICROS, 2),
        "currency": cur,
        "account_age_days": round(age_days, 1),
    }
    reason = restamped(reason, evidence, at, ts_ms, f"went past {times}x the allowance")
    return Finding(
        incident=INCIDENT,
        kind=KIND,
        severity=severity,
        score=score_of(severity),
        event_time_ms=at,
        window_start_ms=state.signup_ms or ts_ms,
        window_end_ms=max(ts_ms, at),
        reasons=(reason,),
        evidence=evidence,
    )


def _crossed(state: PaymentsState, times: int, ts_ms: int) -> int:
    """When, in event-time order, unsecured exposure went past ``times`` the allowance (see
    ``ledger.crossed_at``), judged by the money cleared and standing as they are now. Not
    in an hour before money first cleared, for a customer without a chargeable card (the
    first rule spoke until then)."""
    paid = state.paid_in

    def crosses(used: int, as_of_ms: int) -> bool:
        allowed = allowance(state, as_of_ms)
        return allowed is not None and max(0, used - paid) > times * allowed[0]

    since = state.cleared_ms if not state.chargeable else None
    return crossed_at(state, state.used, crosses, ts_ms, since)


def _level(state: PaymentsState, exposed: int, limit: int) -> Severity | None:
    if state.cleared_ms is None and not state.chargeable:
        return None  # nothing secures the usage at all, which the first rule already says
    severity: Severity | None = None
    for times, level in LEVELS:
        if exposed > times * limit:
            severity = level
    return severity


def derive_exposure(state: PaymentsState) -> None:
    """Fill the exposure of a ledger snapshotted before this rule existed, from what it kept:
    usage of the months it holds (all of a young customer's), money paid on invoices or held
    as credit, and the alert level that gives as of its last event (the level an
    uninterrupted run would have reached, since levels only climb until money clears)."""
    state.used = sum(m.micros for m in state.months.values())
    state.paid_in = sum(inv.paid for inv in state.invoices.values()) + max(0, state.credit)
    allowed = allowance(state, state.last_ms)
    state.ux = None if allowed is None else _level(state, unsecured(state), allowed[0])


def _resolve(state: PaymentsState, ts_ms: int, why: str, within: str = "") -> list[Finding]:
    state.ux = None
    state.ux_at = None
    cur = state.currency or ""
    exposed = unsecured(state)
    return [
        Finding(
            incident=INCIDENT,
            kind=KIND,
            severity="info",
            score=score_of("info"),
            event_time_ms=ts_ms,
            window_start_ms=state.signup_ms or ts_ms,
            window_end_ms=ts_ms,
            reasons=(
                f"Resolved: {why} at {format_ts(ts_ms)}; unsecured exposure is "
                f"{money(exposed / MICROS, cur)}{', ' + within if within else ''}.",
            ),
            evidence={
                "status": "resolved",
                "basis": BASIS,
                "unsecured": round(exposed / MICROS, 2),
                "currency": cur,
            },
        )
    ]

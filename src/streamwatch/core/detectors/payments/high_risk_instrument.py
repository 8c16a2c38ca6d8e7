"""``high_risk_instrument``: a prepaid card or stored value, or an instrument whose instrument,
billing and sign-up countries disagree (see the payments detector's module docstring). High
when both hold or three countries differ, medium otherwise; resolved when a prepayment clears.

Two neighbouring countries (``ledger.NEIGHBOURS``: an Austrian company with a German address)
are weighed by the customer's age and standing and never raise on their own: with a prepaid
card they count as a mismatch only for a young customer (under ``ESTABLISHED_DAYS`` by its
sign-up's date) that has paid nothing; otherwise they count as agreeing."""

from __future__ import annotations

from typing import Final

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments.ledger import (
    PREPAID_TYPES,
    InstrumentSeen,
    PaymentsState,
    countries_agree,
)
from streamwatch.core.events import SEVERITIES, Severity
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, format_ts

KIND: Final = "high_risk_instrument"
ESTABLISHED_DAYS: Final = 30


def judge_instrument(state: PaymentsState, seen: InstrumentSeen, ts_ms: int) -> list[Finding]:
    """Raise or escalate the alert of instrument ``seen``, as of event time ``ts_ms`` (judged
    again when the sign-up country becomes known)."""
    prepaid = seen.type in PREPAID_TYPES
    countries = sorted({c for c in (seen.country, seen.billing_country, state.signup_country) if c})
    disagree = len(countries) > 1
    if disagree and countries_agree(set(countries)):
        # Neighbours: alone never a risk; beside a prepaid card only for a new, unproven one.
        disagree = prepaid and not _proven(state, ts_ms)
    if not prepaid and not disagree:
        return []
    state.risky = True
    severity: Severity = "high" if (prepaid and disagree) or len(countries) > 2 else "medium"
    if seen.alert is not None and SEVERITIES.index(severity) <= SEVERITIES.index(seen.alert):
        return []
    seen.alert = severity
    said = []
    if prepaid:
        what = seen.type.replace("_", " ")
        said.append(f"a {what}, which cannot be charged beyond its balance")
    if disagree:
        said.append(
            f"instrument country {seen.country or '?'}, billing country "
            f"{seen.billing_country or '?'} and sign-up country "
            f"{state.signup_country or '?'} disagree"
        )
    reason = f"Payment instrument added at {format_ts(seen.ts_ms)}: " + "; ".join(said) + "."
    return [
        Finding(
            incident=seen.key,
            kind=KIND,
            severity=severity,
            score=score_of(severity),
            event_time_ms=max(ts_ms, seen.ts_ms),
            window_start_ms=seen.ts_ms,
            window_end_ms=max(ts_ms, seen.ts_ms),
            reasons=(reason,),
            evidence={
                "status": "open",
                "instrument_type": seen.type,
                "prepaid": prepaid,
                "countries_disagree": disagree,
                "instrument_country": seen.country,
                "billing_country": seen.billing_country,
                "signup_country": state.signup_country,
            },
        )
    ]


def _proven(state: PaymentsState, ts_ms: int) -> bool:
    """Whether the customer has standing: old enough by its sign-up's date, or has paid."""
    old = state.signup_ms is None or ts_ms - state.signup_ms >= ESTABLISHED_DAYS * MS_PER_DAY
    return old or state.paid_in > 0


def resolve_instruments(state: PaymentsState, ts_ms: int) -> list[Finding]:
    """Resolve every open instrument alert: a prepayment cleared at ``ts_ms``."""
    findings = []
    for seen in state.instruments:
        if seen.alert is None:
            continue
        seen.alert = None
        findings.append(
            Finding(
                incident=seen.key,
                kind=KIND,
                severity="info",
                score=score_of("info"),
                event_time_ms=ts_ms,
                window_start_ms=seen.ts_ms,
                window_end_ms=ts_ms,
                reasons=(
                    f"Resolved: a prepayment cleared at {format_ts(ts_ms)}, so usage on the "
                    f"{seen.type.replace('_', ' ')} is paid ahead.",
                ),
                evidence={
                    "status": "resolved",
                    "instrument_type": seen.type,
                    "cleared_at": format_ts(ts_ms),
                },
            )
        )
    return findings

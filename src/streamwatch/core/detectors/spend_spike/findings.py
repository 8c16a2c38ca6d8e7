"""What a spend-spike alert says: the finding of an opened or amended spike (reasons, evidence,
the hour's largest new contributions) and of one that ended (resolved or absorbed)."""

from __future__ import annotations

from typing import Any, Final

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.spend_spike.baseline import bucket_of_ms
from streamwatch.core.detectors.spend_spike.config import cohort_of
from streamwatch.core.detectors.spend_spike.hour import Hour, projection
from streamwatch.core.detectors.spend_spike.state import MICROS, Incident, SpikeState
from streamwatch.core.events import SEVERITIES, Severity
from streamwatch.core.explain import money, percent
from streamwatch.core.severity import score_of, within
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts

KIND: Final = "spend_spike"
NEW_ACCOUNT_MS: Final = 30 * MS_PER_DAY
TOP_PARTS: Final = 3


def spike_finding(
    st: SpikeState,
    inc: Incident,
    ts_ms: int,
    judged: Hour,
    *,
    severity: int,
    cold: bool,
    opening: bool,
) -> Finding:
    """The finding of incident ``inc`` as of the current hour (opened when ``opening``, else
    amended or reopened), raised at event time ``ts_ms``; ``inc`` already records what this
    revision says."""
    hour = st.hour_ms
    x = judged.spend
    this_hour = max(0.0, x - judged.expected)
    total = inc.excess + this_hour
    cur = st.currency or ""
    ahead = projection(hour, total, inc.hours + 1)
    projected = total + ahead.amount
    top = top_parts(st, this_hour)
    ratio = x / max(judged.expected, 0.01)
    when = "weekend" if bucket_of_ms(hour) >= 24 else "weekday"
    clock = format_ts(hour)[11:16]
    peak = st.base.hi
    first = f"Hourly spend {money(x, cur)} so far in the hour from {format_ts(hour)} is "
    if judged.expected >= 0.01:
        first += f"{ratio:.1f}x the {money(judged.expected, cur)} expected for a {when} {clock} UTC"
    else:
        first += (
            f"far above the next to nothing (under {money(0.01, cur)}) expected for a "
            f"{when} {clock} UTC"
        )
    if peak > 0.0 and not cold:
        first += f" and {x / peak:.1f}x this customer's usual peak of {money(peak, cur)}"
    reasons = [first + "."]
    if top:
        lead = top[0]
        where = (
            "a region this customer has never used"
            if lead["new_region"]
            else "a region it already uses"
        )
        sku_note = "" if not lead["new_sku"] else " (a size it never ran before)"
        reasons.append(
            f"{percent(lead['share'])} of the excess is {lead['sku']}{sku_note} in "
            f"{lead['region']}, {where}."
        )
    else:
        reasons.append(
            "The excess is in sizes and regions this customer already uses: more of what "
            "it runs, not something new."
        )
    reasons.append(
        f"Money at risk: {money(total, cur)} above baseline so far; {money(projected, cur)} "
        f"if it goes on {ahead.horizon_h:g} more hours ({ahead.method(cur)})."
    )
    evidence: dict[str, Any] = {
        "status": "open",
        "hour": format_ts(hour),
        "spend": round(x, 2),
        "expected": round(judged.expected, 2),
        "usual_peak": round(peak, 2),
        "ratio": round(ratio, 1),
        "currency": cur,
        "excess_so_far": round(total, 2),
        "projected": round(projected, 2),
        "projection": ahead.evidence(cur),
        "hours": inc.hours + 1,
        "top": top,
        "basis": "cohort prior" if cold else "own baseline",
        "standing": standing(st, hour),
    }
    if cold:
        cohort = cohort_of(st.offer)
        hours = (hour - st.first_ms) // MS_PER_HOUR
        reasons.append(
            f"This customer has {hours} hours of history, so it is judged against the prior "
            f"for {cohort.name}: typically {money(cohort.typical_hourly, cur)} an hour, "
            f"rarely above {money(cohort.max_hourly, cur)}."
        )
        evidence["cohort"] = cohort.name
    _allowances(st, judged, reasons, evidence)
    if not opening:
        reasons.append(_duration(inc, hour))
    return Finding(
        incident=inc.id,
        kind=KIND,
        severity=SEVERITIES[severity],
        score=within(SEVERITIES[severity], inc.score),
        event_time_ms=ts_ms,
        window_start_ms=inc.opened_ms,
        window_end_ms=hour + MS_PER_HOUR,
        reasons=tuple(reasons),
        evidence=evidence,
        subscription_ids=tuple(inc.subscriptions),
    )


def standing(st: SpikeState, hour: int) -> str:
    """``untrusted`` while the account's sign-up is less than ``NEW_ACCOUNT_MS`` old at
    ``hour``, else ``established`` (also when no sign-up was seen: its history predates the
    stream). The policy asks a new account with a large spike to prepay."""
    young = st.signup_ms >= 0 and hour - st.signup_ms < NEW_ACCOUNT_MS
    return "untrusted" if young else "established"


def _duration(inc: Incident, hour: int) -> str:
    """How long the incident has gone on, as of the end of the hour starting at ``hour``."""
    elapsed = (hour + MS_PER_HOUR - inc.opened_ms) // MS_PER_HOUR
    start = format_ts(inc.opened_ms)
    if inc.resumed_ms < 0:
        return f"The spike started at {start} and has lasted {elapsed} hours so far."
    return (
        f"The spike started at {start}, calmed down and resumed at "
        f"{format_ts(inc.resumed_ms)}: {inc.hours + 1} of the {elapsed} hours since its start "
        "were part of it."
    )


def _allowances(st: SpikeState, judged: Hour, reasons: list[str], evidence: dict[str, Any]) -> None:
    """Say which allowances (planned growth, month end) the hour went beyond."""
    cur = st.currency or ""
    e = st.expect
    if judged.allowance > 1.0 and e is not None:
        reasons.append(
            f"Planned growth recorded by {e.owner} ({e.reason or 'no reason given'}) allows "
            f"{e.factor:g}x the usual spend until {format_ts(e.until_ms)}; this is beyond it."
        )
        evidence["allowance"] = {
            "factor": e.factor,
            "until": format_ts(e.until_ms),
            "owner": e.owner,
            "reason": e.reason,
        }
    if judged.weekly > 0.0:
        reasons.append(
            f"A job that runs at this hour every week may add up to {money(judged.weekly, cur)} "
            "an hour; this is beyond that."
        )
        evidence["weekly_allowance"] = round(judged.weekly, 2)
    if judged.month_end > 0.0:
        reasons.append(
            f"Month-end jobs may add up to {money(judged.month_end, cur)} an hour in the "
            "customer's regions; this is beyond that."
        )
        evidence["month_end_allowance"] = round(judged.month_end, 2)


def ended_finding(
    st: SpikeState, inc: Incident, at_ms: int, status: str, judged: Hour, resolve_ratio: float
) -> Finding:
    """The last finding of ``inc``, at ``at_ms``: ``resolved`` (spend back to baseline for
    ``inc.calm`` hours at or below ``resolve_ratio`` times expected) or ``absorbed`` (the
    baseline follows the new level)."""
    cur = st.currency or ""
    if status == "resolved":
        severity: Severity = "info"
        score = score_of("info")
        reason = (
            f"Hourly spend is back to baseline: {inc.calm} hours at or below "
            f"{resolve_ratio:g}x the expected spend up to {format_ts(at_ms)}. "
            f"The spike from {format_ts(inc.opened_ms)} ran for {inc.hours - inc.calm} hours"
            f"{' in all' if inc.resumed_ms >= 0 else ''} and cost {money(inc.excess, cur)} "
            "above baseline."
        )
    else:
        severity = SEVERITIES[inc.sent_severity]
        score = within(severity, inc.score)
        reason = (
            f"The spike from {format_ts(inc.opened_ms)} has gone on for {inc.hours} hours"
            f"{' in all' if inc.resumed_ms >= 0 else ''}: this is the customer's level now, "
            f"and the baseline follows it. Excess so far {money(inc.excess, cur)}."
        )
    return Finding(
        incident=inc.id,
        kind=KIND,
        severity=severity,
        score=score,
        event_time_ms=at_ms,
        window_start_ms=inc.opened_ms,
        window_end_ms=at_ms,
        reasons=(reason,),
        evidence={
            "status": status,
            "hour": format_ts(at_ms - MS_PER_HOUR),
            "spend": round(judged.spend, 2),
            "expected": round(judged.expected, 2),
            "currency": cur,
            "excess_so_far": round(inc.excess, 2),
            "hours": inc.hours,
        },
        subscription_ids=tuple(inc.subscriptions),
    )


def top_parts(st: SpikeState, excess: float) -> list[dict[str, Any]]:
    """The hour's largest contributions to the excess from SKUs or regions new to the
    customer (spend it already knows is not broken down), largest first."""
    if excess <= 0.0 or not st.parts:
        return []
    shares: list[tuple[float, tuple[str, str]]] = []
    budget = excess
    for key, value in sorted(st.parts.items(), key=lambda kv: (-kv[1], kv[0])):
        used = min(value / MICROS, budget)
        if used <= 0.0:
            break
        shares.append((used, key))
        budget -= used
    return [
        {
            "sku": sku,
            "region": region,
            "share": round(amount / excess, 3),
            "new_region": region not in st.regions,
            "new_sku": sku not in st.skus,
        }
        for amount, (sku, region) in shares[:TOP_PARTS]
    ]

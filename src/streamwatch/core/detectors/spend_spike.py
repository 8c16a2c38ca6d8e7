"""``spend_spike``: a customer's hourly spend far above what it usually spends, as it happens.

**Running spend.** Usage events are hourly per resource (``ts`` = start of the metered hour).
The customer's spend for the current hour accumulates over that hour's events, in whole
micro-units of the customer's currency (the first it used; other currencies are ignored), and
the detector can fire on the event whose cost makes the hour cross the line, not when the hour
ends. A usage event for an hour already closed is too late to change that hour and is ignored.

**Baseline.** Closed hours feed a ``core.baseline.Baseline`` (one-sided: only rises are novel):
the usual peak and trough of hourly spend, the hour-of-day x weekday/weekend profile and the
smoothed seasonal residual. Hours without any usage count as zero spend (up to two days of them).
Order: score, decide, then learn. An hour scoring ``FLAG_SCORE`` or more, or any hour of an open
incident, is not learned (so an attacker cannot teach the baseline), unless spend stays flagged
for ``absorb_after_h`` hours: then the incident ends as ``absorbed`` and the baseline follows the
new level. The regions and SKUs of learned hours become "known".

**The line.** An alert opens when, with the hour's spend ``x``, all of these hold:
``novelty(x_eff).score >= alert_score``; ``x_eff - expected >= min_excess`` (money floor); and,
for a customer in its cold start, ``x_eff >= cohort.max_hourly``. ``x_eff`` is ``x`` divided by
the allowance of planned growth (feedback, below) and, in the last ``month_end_days`` (UTC) of a
month, less what a month-end job may add in the customer's known regions: up to 1.25x the peak
hour of its previous month-end window above its usual peak once it has one, else
``month_end_allowance - 1`` usual peaks. Spend in a region the customer never used gets no
month-end allowance. Per event the detector adds the cost and compares the hour's total with a
precomputed line (the money floor, or the cohort's line); past it, the baseline's
``rise_needed`` refines the line, and only past that is the hour scored.

**Cold start.** A customer whose ``customer.signup`` was seen is new: for its first
``cold_start_h`` hours of usage it is judged against its cohort's prior (``COHORTS``, by the
offer of its ``subscription.create``; in its first day, also for the expected spend), hours
below the cohort's line are learned whatever their score, and the alert says so. A customer
first seen through usage (its history predates the stream) is learned, every hour of it, for
``warm_up_h`` hours before it is judged.

**Incident lifecycle.** One incident, one alert: the incident id is the opening hour. While open,
the incident is amended (same alert id, a new revision) when its severity rises or its excess
spend has grown ``amend_growth`` times since the last revision, never for smaller changes. It
resolves when effective spend has stayed at or below ``resolve_ratio`` x the expected hourly
spend for ``calm_h`` hours: a final amendment with evidence
``status: "resolved"``, severity ``info`` and score 0.1. A spike resuming within ``reopen_h``
hours reopens the same incident. Evidence ``status`` is ``open``, ``resolved`` or ``absorbed``.

**Money at risk.** Excess spend so far (each hour's spend above its expected spend, summed over
the incident) and its projection to month end at the current hour's excess rate.

**Feedback.** An activity ``feedback.expect`` (written by ``streamwatch expect``; actor = owner;
properties ``until`` RFC 3339, ``reason``, ``factor`` >= 1, default 2) raises the customer's
allowance ``factor`` times from the hour of its event time until ``until``: meanwhile hours are
judged, and learned, as spend divided by ``factor``, so the planned surge does not become the
baseline and spend still that high after ``until`` is a spike. Owner, reason and expiry are
kept and named in alerts. A later one replaces it; ``factor`` 1 or an ``until`` in the past
clears it. Feedback arrives in the event stream, so live and replay agree.

Deterministic; per-customer state is a small plain value (``dump``/``load``), typically 1-2 KB
of JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, ClassVar, Final

from streamwatch.core.baseline import (
    FLAG_SCORE,
    Baseline,
    Params,
    bucket_of_ms,
    learn,
    novelty,
    observer,
    rise_needed,
    threshold_z,
)
from streamwatch.core.detectors.base import NONE, Capability, Finding, Setup, by_name, named
from streamwatch.core.events import SEVERITIES, ActivityEvent, Event, Severity, UsageEvent
from streamwatch.core.explain import money, percent
from streamwatch.core.severity import score_of, within
from streamwatch.core.timeutil import (
    MS_PER_DAY,
    MS_PER_HOUR,
    format_ts,
    month_bounds_ms,
    month_key,
    parse_ts_ms,
)

MICROS: Final = 1_000_000
NEVER: Final = 1 << 62
"""A line no hour's spend reaches (micro-units)."""
SPEND_CAP: Final = 1 << 61
"""An hour's spend saturates at this many micro-units (about 2.3e12 currency units), below
``NEVER``: the codec bounds each cost, not how many come in an hour, and the sums and lines
kept in state must stay within the int64 range of a JSON snapshot."""

REGIONS_KEPT: Final = 16
SKUS_KEPT: Final = 24
SUBSCRIPTIONS_KEPT: Final = 8
TOP_PARTS: Final = 3
TEXT_CHARS: Final = 200
COLD_OWN_HOURS: Final = 24
_NO_FINDINGS: Final[list[Finding]] = []
"""Returned, shared, by the events that find nothing (callers only iterate it)."""
"""Below this many learned hours a cold-start customer is judged by its cohort prior alone."""


def _line_micros(line: float) -> int:
    """A line (currency units) in micro-units, ``NEVER`` for one too high to be reached."""
    micros = line * MICROS
    return int(micros) if micros < NEVER else NEVER  # also NEVER for NaN


@lru_cache(maxsize=4096)
def _month(day: int) -> tuple[str, int, int]:
    """The month key, start and end (epoch ms) of the UTC day ``day`` (days since the epoch)."""
    key = month_key(day * MS_PER_DAY)
    start, end = month_bounds_ms(key)
    return key, end, start


_DAYS_LEFT: dict[int, int] = {}


def _days_left(day: int) -> int:
    """Whole UTC days from ``day`` to the end of its month, 1 on the last day (cached)."""
    left = _DAYS_LEFT.get(day)
    if left is None:
        if len(_DAYS_LEFT) > 100_000:
            _DAYS_LEFT.clear()
        left = _DAYS_LEFT[day] = (_month(day)[1] - day * MS_PER_DAY) // MS_PER_DAY
    return left


@dataclass(frozen=True, slots=True)
class CohortPrior:
    """What new customers of one kind spend per hour: typically, and at most (about p99)."""

    name: str
    typical_hourly: float
    max_hourly: float


DEFAULT_COHORT: Final = CohortPrior("new customers", 0.6, 12.0)
COHORTS: Final[dict[str, CohortPrior]] = {
    "MS-AZR-0003P": CohortPrior("new pay-as-you-go customers", 0.6, 12.0),
}
"""Cohort priors by the offer of the customer's first ``subscription.create``, in the customer's
currency. Set from new customers' first two weeks of hourly spend: the median hour, and 1.5x
the 99th percentile of their busiest hour (the generator's population: 0.59 and 7.99)."""

RATIO_SEVERITY: Final[tuple[tuple[float, Severity], ...]] = (
    (30.0, "critical"),
    (10.0, "high"),
    (3.0, "medium"),
)
PROJECTED_SEVERITY: Final[tuple[tuple[float, Severity], ...]] = (
    (50_000.0, "critical"),
    (5_000.0, "high"),
    (500.0, "medium"),
)


@dataclass(frozen=True, slots=True)
class SpikeConfig:
    """The detector's tunables; the defaults are the production ones."""

    baseline: Params = field(default_factory=lambda: Params(two_sided=False, spread_floor=0.25))
    alert_score: float = 0.9
    min_excess: float = 5.0
    """Money floor: hourly spend must exceed its expected value by this much (per hour)."""
    cold_start_h: int = 168
    warm_up_h: int = 168
    month_end_days: int = 2
    month_end_allowance: float = 12.0
    """Month-end allowance before the customer's own month-end level is known."""
    resolve_ratio: float = 1.5
    calm_h: int = 3
    reopen_h: int = 72
    absorb_after_h: int = 72
    amend_growth: float = 1.5
    max_gap_h: int = 48


@dataclass(slots=True)
class Incident:
    """An open spike: its id (opening hour), figures so far and what the last revision said."""

    id: str
    opened_ms: int
    hours: int = 0
    excess: float = 0.0
    """Excess spend of the incident's closed hours (currency units)."""
    calm: int = 0
    sent_severity: int = 0
    sent_excess: float = 0.0
    score: float = 0.0
    subscriptions: list[str] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return by_name(self)

    @classmethod
    def load(cls, data: list[Any] | dict[str, Any]) -> Incident:
        """The inverse of ``dump``; also reads the positional list of state version 1."""
        values = named(data, _INCIDENT_FIELDS)
        return cls(**{**values, "subscriptions": list(values["subscriptions"])})


@dataclass(slots=True)
class Expectation:
    """Planned growth recorded by feedback: allowance factor until ``until_ms``, and by whom."""

    factor: float
    until_ms: int
    owner: str
    reason: str
    set_ms: int
    """Start of the hour of the feedback's event time: the allowance applies from that hour."""


_EXPECTATION_FIELDS: Final = tuple(f.name for f in fields(Expectation))


@dataclass(slots=True)
class SpikeState:
    """One customer's spend-spike state (see the module docstring)."""

    base: Baseline = field(default_factory=Baseline)
    currency: str | None = None
    hour_ms: int = -1
    spend: int = 0
    """Micro-units spent so far in the hour starting at ``hour_ms``."""
    parts: dict[tuple[str, str], int] = field(default_factory=dict)
    """The hour's spend on (sku, region) pairs it does not know (a SKU or a region new to it)."""
    subs: list[str] = field(default_factory=list)
    """Subscriptions of the hour's events that reached the line (see ``watch``)."""
    watch: int = NEVER
    """The hour's spend (micro-units) at which the detector looks again."""
    first_ms: int = -1
    new: bool = False
    offer: str | None = None
    streak: int = 0
    regions: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    month_end_key: str = ""
    """The month whose month-end window ``month_end_peak`` is learning."""
    month_end_peak: float = 0.0
    month_end_prev: float = -1.0
    """Peak hourly spend of the previous month-end window learned (-1: none yet)."""
    expect: Expectation | None = None
    incident: Incident | None = None
    closed_id: str = ""
    closed_ms: int = -1
    known_skus: set[str] = field(default_factory=set, compare=False, repr=False)
    known_regions: set[str] = field(default_factory=set, compare=False, repr=False)
    """Caches, not state: ``skus`` and ``regions`` as sets for the per-event check (kept in
    step with the lists, rebuilt by ``load``)."""


_INCIDENT_FIELDS: Final = tuple(f.name for f in fields(Incident))
_HOUR_FIELDS: Final = ("hour_ms", "spend", "watch", "first_ms", "streak")
_MONTH_END_FIELDS: Final = ("month_end_key", "month_end_peak", "month_end_prev")


@dataclass(frozen=True, slots=True)
class _Hour:
    """The current hour judged: effective spend, expectation and novelty."""

    spend: float
    effective: float
    expected: float
    score: float
    new_region: float
    allowance: float
    month_end: float
    """What a month-end job may add to the hour (0 outside month-end windows)."""


class SpendSpikeDetector:
    """Hourly spend far above the customer's usual spend; see the module docstring."""

    name: ClassVar[str] = "spend_spike"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage", "activity"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"spend_spike"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    @classmethod
    def from_setup(cls, setup: Setup) -> SpendSpikeDetector:  # noqa: ARG003
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls()

    def __init__(self, config: SpikeConfig | None = None) -> None:
        self.config = config or SpikeConfig()
        self._z_alert = threshold_z(self.config.alert_score)
        self._z_flag = threshold_z(FLAG_SCORE)
        self._cold_ms = self.config.cold_start_h * MS_PER_HOUR
        self._warm_ms = self.config.warm_up_h * MS_PER_HOUR
        self._absorb_h = self.config.absorb_after_h
        self._min_excess = self.config.min_excess
        self._params = self.config.baseline
        self._observe = observer(self._params)
        # The month whose month-end window was last asked for: (first day, end day, window
        # start day), days since the epoch. A cache of a pure function of time, not state.
        self._window = (0, 0, 0)
        self._month_end_ms = self.config.month_end_days * MS_PER_DAY

    def new_state(self) -> SpikeState:
        return SpikeState()

    # --- events -------------------------------------------------------------------------

    def observe(self, state: SpikeState, event: Event) -> list[Finding]:
        if isinstance(event, UsageEvent):
            # The hot path: an addition and a comparison unless the hour changes.
            st = state
            if st.currency != event.currency:
                if st.currency is not None:
                    return []
                st.currency = event.currency
            ts = event.ts_ms
            hour = ts - ts % 3_600_000  # MS_PER_HOUR and MICROS are literals on this path
            if hour != st.hour_ms:
                if hour < st.hour_ms:
                    return []
                findings = self._roll(st, hour)
            else:
                findings = _NO_FINDINGS
            micros = int(event.cost * 1_000_000 + 0.5)
            spend = st.spend + micros
            if spend > SPEND_CAP:  # noqa: PLR1730
                spend = SPEND_CAP
            st.spend = spend
            if event.sku not in st.known_skus or event.region not in st.known_regions:
                key = (event.sku, event.region)
                parts = st.parts
                parts[key] = min(parts.get(key, 0) + micros, SPEND_CAP)
            if spend >= st.watch:
                if findings is _NO_FINDINGS:
                    findings = []
                self._evaluate(st, event, findings)
            return findings
        if isinstance(event, ActivityEvent) and event.status == "succeeded":
            op = event.operation
            if op == "feedback.expect":
                self._feedback(state, event)
            elif op == "customer.signup":
                state.new = True
            elif op == "subscription.create" and state.offer is None:
                offer = event.properties.get("offer")
                if isinstance(offer, str) and offer:
                    state.offer = offer[:TEXT_CHARS]
        return []

    def _feedback(self, st: SpikeState, event: ActivityEvent) -> None:
        props = event.properties
        until = props.get("until")
        factor = props.get("factor", 2.0)
        reason = props.get("reason", "")
        if not isinstance(until, str) or isinstance(factor, bool):
            return
        if not isinstance(factor, int | float) or not factor >= 1.0:
            return
        try:
            until_ms = parse_ts_ms(until)
        except ValueError:
            return
        if factor == 1.0 or until_ms <= event.ts_ms:
            st.expect = None
        else:
            st.expect = Expectation(
                float(factor),
                until_ms,
                event.actor[:TEXT_CHARS],
                reason[:TEXT_CHARS] if isinstance(reason, str) else "",
                event.ts_ms - event.ts_ms % MS_PER_HOUR,
            )
        if st.hour_ms >= 0:
            st.watch = self._line(st)

    # --- hours --------------------------------------------------------------------------

    def _roll(self, st: SpikeState, hour: int) -> list[Finding]:
        """Close the current hour (learn, resolve), count skipped hours as zero, open ``hour``
        and set its first line (see ``_line``)."""
        findings: list[Finding] = []
        prev = st.hour_ms
        if prev < 0:
            st.first_ms = hour
        else:
            self._close(st, prev, st.spend / MICROS, findings)
            if hour - prev > MS_PER_HOUR:
                if st.parts:
                    st.parts.clear()
                gap = min((hour - prev) // MS_PER_HOUR - 1, self.config.max_gap_h)
                for h in range(prev + MS_PER_HOUR, prev + (gap + 1) * MS_PER_HOUR, MS_PER_HOUR):
                    self._close(st, h, 0.0, findings)
        st.hour_ms = hour
        st.spend = 0
        if st.parts:
            st.parts.clear()
        if st.subs:
            st.subs.clear()
        e = st.expect
        if e is not None and e.until_ms <= hour:
            st.expect = None
        since = hour - st.first_ms
        if (
            e is None
            and st.incident is None
            and since >= (self._cold_ms if st.new else self._warm_ms)
        ):
            # _line for the common case: a judged customer without incident or allowance.
            base = st.base
            b = hour // MS_PER_HOUR
            mean = base.buckets[b % 24 + 24 if (b // 24 + 3) % 7 >= 5 else b % 24]
            line = (base.centre if mean is None else mean) + self._min_excess
            st.watch = _line_micros(line)
        else:
            st.watch = self._line(st)
        return findings

    def _close(self, st: SpikeState, hour: int, x: float, findings: list[Finding]) -> None:
        """Score the finished hour, then learn it unless it is anomalous (see the module doc)."""
        b = hour // MS_PER_HOUR
        bucket = b % 24 + 24 if (b // 24 + 3) % 7 >= 5 else b % 24  # bucket_of_ms, inlined
        e = st.expect
        xs = x / e.factor if e is not None and e.set_ms <= hour < e.until_ms else x
        inc = st.incident
        if inc is not None:
            self._close_incident(st, inc, hour, x, xs, bucket, findings)
            return
        # After absorb_after_h anomalous hours in a row the baseline learns them anyway.
        streak = st.streak
        absorbing = streak >= self._absorb_h
        since = hour - st.first_ms
        if st.new and since < self._cold_ms:
            # In its cold start a customer's own baseline knows too little to call anything
            # anomalous; the cohort prior does.
            flagged = xs >= COHORTS.get(st.offer or "", DEFAULT_COHORT).max_hourly
            limit = -math.inf if flagged and not absorbing else math.inf
            self._observe(st.base, xs, bucket, limit)
        elif not st.new and since < self._warm_ms:
            # Warming up on a customer whose history predates the stream: learn everything.
            flagged = False
            self._observe(st.base, xs, bucket, math.inf)
        else:
            limit = math.inf if absorbing else self._z_flag
            flagged = self._observe(st.base, xs, bucket, limit) >= self._z_flag
        if flagged:
            st.streak = streak + 1
        elif streak:
            st.streak = 0
        day = b // 24
        window = self._window
        if day >= (window[2] if window[0] <= day < window[1] else self._month_end_from(day)):
            self._month_end_learn(st, hour, xs)
        if flagged and not absorbing:
            return
        if st.parts:
            self._learn_parts(st)

    def _learn_parts(self, st: SpikeState) -> None:
        """The SKUs and regions of a learned hour become known (the oldest are forgotten)."""
        regions, skus = st.regions, st.skus
        for sku, region in st.parts:
            if region not in regions:
                regions.append(region)
                del regions[:-REGIONS_KEPT]
                st.known_regions = set(regions)
            if sku not in skus:
                skus.append(sku)
                del skus[:-SKUS_KEPT]
                st.known_skus = set(skus)

    def _month_end_from(self, day: int) -> int:
        """The first day (days since the epoch) of the month-end window of ``day``'s month."""
        window = self._window
        if not window[0] <= day < window[1]:
            _, end_ms, start_ms = _month(day)
            end = end_ms // MS_PER_DAY
            window = self._window = (
                start_ms // MS_PER_DAY,
                end,
                end - self.config.month_end_days,
            )
        return window[2]

    def _close_incident(
        self,
        st: SpikeState,
        inc: Incident,
        hour: int,
        x: float,
        xs: float,
        bucket: int,
        findings: list[Finding],
    ) -> None:
        """An hour of an open incident: count its excess, resolve or absorb; learn nothing
        unless the incident is absorbed."""
        cfg = self.config
        seen = novelty(cfg.baseline, st.base, xs, bucket)
        flagged = seen.z >= self._z_flag
        st.streak = st.streak + 1 if flagged else 0
        judged = self._judge(st, hour, x)
        inc.excess += max(0.0, x - judged.expected)
        inc.hours += 1
        calm = judged.effective <= judged.expected * cfg.resolve_ratio
        inc.calm = inc.calm + 1 if calm else 0
        if inc.calm >= cfg.calm_h:
            findings.append(self._ended(st, inc, hour + MS_PER_HOUR, "resolved", judged))
            st.incident = None
            st.closed_id, st.closed_ms = inc.id, hour + MS_PER_HOUR
            return
        if not flagged or inc.hours < cfg.absorb_after_h:
            return
        # The new level has lasted: end the incident and let the baseline follow it.
        findings.append(self._ended(st, inc, hour + MS_PER_HOUR, "absorbed", judged))
        st.incident = None
        learn(cfg.baseline, st.base, xs, bucket, seen)
        if st.parts:
            self._learn_parts(st)

    def _month_end_learn(self, st: SpikeState, hour: int, xs: float) -> None:
        """An hour of a month-end window that raised nothing: the month-end level learns it."""
        key = _month(hour // MS_PER_DAY)[0]
        if key != st.month_end_key:
            if st.month_end_key:
                st.month_end_prev = st.month_end_peak
            st.month_end_key, st.month_end_peak = key, 0.0
        st.month_end_peak = max(st.month_end_peak, xs)

    # --- judging ------------------------------------------------------------------------

    def _factor(self, st: SpikeState, ts_ms: int) -> float:
        e = st.expect
        return e.factor if e is not None and e.set_ms <= ts_ms < e.until_ms else 1.0

    def _month_end_extra(self, st: SpikeState, hour: int) -> float:
        """How much a month-end job may add to an hour of the customer's usual regions (0
        outside the last ``month_end_days`` of a month): up to 1.25x the peak hour of its last
        month-end window above its usual peak, or ``month_end_allowance - 1`` usual peaks
        before it has one."""
        key, end, _ = _month(hour // MS_PER_DAY)
        if hour < end - self.config.month_end_days * MS_PER_DAY:
            return 0.0
        peak = st.base.hi
        learned = st.month_end_prev if key == st.month_end_key else st.month_end_peak
        if st.month_end_key and learned >= 0.0:
            return max(0.0, 1.25 * learned - peak)
        return (self.config.month_end_allowance - 1.0) * peak

    def _cohort(self, st: SpikeState) -> CohortPrior:
        return COHORTS.get(st.offer or "", DEFAULT_COHORT)

    def _cold(self, st: SpikeState, hour: int) -> bool:
        return st.new and hour - st.first_ms < self.config.cold_start_h * MS_PER_HOUR

    def _judging(self, st: SpikeState, hour: int) -> bool:
        return st.new or hour - st.first_ms >= self.config.warm_up_h * MS_PER_HOUR

    def _expected(self, st: SpikeState, hour: int, seen_expected: float) -> float:
        if self._cold(st, hour) and st.base.n < COLD_OWN_HOURS:
            return max(seen_expected, self._cohort(st).typical_hourly)
        return seen_expected

    def _judge(self, st: SpikeState, hour: int, x: float) -> _Hour:
        """Effective spend of the hour (allowances applied) and its novelty."""
        factor = self._factor(st, hour)
        bucket = bucket_of_ms(hour)
        month_end = self._month_end_extra(st, hour)
        new_region = 0.0
        if st.parts:
            regions = st.regions
            new_region = sum(v for (_, r), v in st.parts.items() if r not in regions) / MICROS
            new_region = min(new_region, x)
        effective = x
        if month_end > 0.0:
            mean = st.base.buckets[bucket]
            usual = st.base.centre if mean is None else mean
            effective -= min(max(0.0, x - new_region - usual), month_end)
        effective /= factor
        seen = novelty(self.config.baseline, st.base, effective, bucket)
        expected = self._expected(st, hour, seen.expected)
        return _Hour(x, effective, expected, seen.score, new_region, factor, month_end)

    def _line(self, st: SpikeState) -> int:
        """A spend (micro-units) below which nothing can happen this hour: the money floor (and
        the cohort's line in a cold start). ``_evaluate`` refines it with the baseline's
        ``rise_needed`` once the hour gets there, which most hours never do."""
        hour = st.hour_ms
        e = st.expect
        factor = e.factor if e is not None and e.set_ms <= hour < e.until_ms else 1.0
        inc = st.incident
        if inc is not None:
            return self._amend_line(st, inc, factor)
        since = hour - st.first_ms
        if not st.new and since < self._warm_ms:
            return NEVER
        base = st.base
        b = hour // MS_PER_HOUR
        mean = base.buckets[b % 24 + 24 if (b // 24 + 3) % 7 >= 5 else b % 24]
        expected = base.centre if mean is None else mean
        if st.new and since < self._cold_ms:
            cohort = COHORTS.get(st.offer or "", DEFAULT_COHORT)
            if base.n < COLD_OWN_HOURS and expected < cohort.typical_hourly:
                expected = cohort.typical_hourly
            line = expected + self.config.min_excess
            line = max(line, cohort.max_hourly)
        else:
            line = expected + self.config.min_excess
        return _line_micros(line * factor)

    def _baseline_line(self, st: SpikeState) -> int:
        """The spend (micro-units) below which the hour cannot score ``alert_score``."""
        hour = st.hour_ms
        e = st.expect
        factor = e.factor if e is not None and e.set_ms <= hour < e.until_ms else 1.0
        line = rise_needed(self.config.baseline, st.base, bucket_of_ms(hour), self._z_alert)
        return _line_micros(line * factor)

    def _amend_line(self, st: SpikeState, inc: Incident, factor: float) -> int:
        """A spend below which the incident cannot need a new revision this hour: its excess
        grown ``amend_growth`` times, or the next severity by ratio or by projection."""
        hour = st.hour_ms
        base = st.base
        mean = base.buckets[bucket_of_ms(hour)]
        expected = self._expected(st, hour, base.centre if mean is None else mean)
        lines = [expected + max(inc.sent_excess * self.config.amend_growth - inc.excess, 0.0)]
        level = inc.sent_severity
        for threshold, severity in reversed(RATIO_SEVERITY):
            if SEVERITIES.index(severity) > level:
                lines.append(threshold * max(expected, 0.01) * factor)
                break
        hours = 1 + self._hours_left(hour)
        for threshold, severity in reversed(PROJECTED_SEVERITY):
            if SEVERITIES.index(severity) > level:
                lines.append(expected + max(0.0, threshold - inc.excess) / hours)
                break
        return _line_micros(min(lines))

    # --- deciding -----------------------------------------------------------------------

    def _evaluate(self, st: SpikeState, event: UsageEvent, findings: list[Finding]) -> None:
        cfg = self.config
        ts_ms = event.ts_ms
        sub = event.subscription_id
        if sub not in st.subs and len(st.subs) < SUBSCRIPTIONS_KEPT:
            st.subs.append(sub)
        hour = st.hour_ms
        x = st.spend / MICROS
        inc = st.incident
        again = st.spend + max(st.spend // 20, MICROS)
        if inc is None:
            cold = self._cold(st, hour)
            if not (cold and st.base.n < COLD_OWN_HOURS):
                line = self._baseline_line(st)
                if st.spend < line:
                    st.watch = line
                    return
            judged = self._judge(st, hour, x)
            novel = judged.score >= cfg.alert_score or (cold and st.base.n < COLD_OWN_HOURS)
            if (
                novel
                and self._judging(st, hour)
                and judged.effective - judged.expected >= cfg.min_excess
                and (not cold or judged.effective >= self._cohort(st).max_hourly)
            ):
                reopen = bool(st.closed_id) and hour - st.closed_ms < cfg.reopen_h * MS_PER_HOUR
                inc = Incident(st.closed_id if reopen else format_ts(hour), hour)
                st.incident = inc
                findings.append(self._raise(st, inc, ts_ms, judged, opening=not reopen))
                st.watch = self._amend_line(st, inc, judged.allowance)
            else:
                st.watch = again
            return
        judged = self._judge(st, hour, x)
        total = inc.excess + max(0.0, x - judged.expected)
        severity = self._severity(hour, judged, total)
        if severity > inc.sent_severity or total >= inc.sent_excess * cfg.amend_growth:
            findings.append(self._raise(st, inc, ts_ms, judged, opening=False))
            st.watch = self._amend_line(st, inc, judged.allowance)
        else:
            st.watch = max(self._amend_line(st, inc, judged.allowance), again)

    def _severity(self, hour: int, judged: _Hour, total: float) -> int:
        ratio = judged.effective / max(judged.expected, 0.01)
        projected = total + max(0.0, judged.spend - judged.expected) * self._hours_left(hour)
        level = 1  # low
        for threshold, severity in RATIO_SEVERITY:
            if ratio >= threshold:
                level = max(level, SEVERITIES.index(severity))
                break
        for threshold, severity in PROJECTED_SEVERITY:
            if projected >= threshold:
                level = max(level, SEVERITIES.index(severity))
                break
        return level

    def _hours_left(self, hour: int) -> int:
        _, end, _ = _month(hour // MS_PER_DAY)
        return max(0, (end - hour - MS_PER_HOUR) // MS_PER_HOUR)

    # --- findings -----------------------------------------------------------------------

    def _raise(
        self, st: SpikeState, inc: Incident, ts_ms: int, judged: _Hour, *, opening: bool
    ) -> Finding:
        hour = st.hour_ms
        x = judged.spend
        this_hour = max(0.0, x - judged.expected)
        total = inc.excess + this_hour
        severity = self._severity(hour, judged, total)
        inc.sent_severity = max(inc.sent_severity, severity)
        inc.sent_excess = total
        inc.score = max(inc.score, judged.score)
        for sub in st.subs:
            if sub not in inc.subscriptions and len(inc.subscriptions) < SUBSCRIPTIONS_KEPT:
                inc.subscriptions.append(sub)
        cur = st.currency or ""
        hours_left = self._hours_left(hour)
        projected = total + this_hour * hours_left
        _, month_end_ms, _ = _month(hour // MS_PER_DAY)
        top = self._top(st, this_hour)
        ratio = x / max(judged.expected, 0.01)
        when = "weekend" if bucket_of_ms(hour) >= 24 else "weekday"
        clock = format_ts(hour)[11:16]
        peak = st.base.hi
        cold = self._cold(st, hour)
        first = f"Hourly spend {money(x, cur)} so far in the hour from {format_ts(hour)} is "
        if judged.expected >= 0.01:
            first += (
                f"{ratio:.1f}x the {money(judged.expected, cur)} expected for a {when} {clock} UTC"
            )
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
            f"Money at risk: {money(total, cur)} above baseline so far; "
            f"{money(projected, cur)} by month end ({format_ts(month_end_ms - 1)[:10]}) at this "
            "rate."
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
            "projected_month_end": round(projected, 2),
            "hours": inc.hours + 1,
            "top": top,
            "basis": "cohort prior" if cold else "own baseline",
        }
        if cold:
            cohort = self._cohort(st)
            hours = (hour - st.first_ms) // MS_PER_HOUR
            reasons.append(
                f"This customer has {hours} hours of history, so it is judged against the prior "
                f"for {cohort.name}: typically {money(cohort.typical_hourly, cur)} an hour, "
                f"rarely above {money(cohort.max_hourly, cur)}."
            )
            evidence["cohort"] = cohort.name
        self._allowances(st, judged, reasons, evidence)
        if not opening:
            reasons.append(
                f"The spike started at {inc.id} and has lasted {inc.hours + 1} hours so far."
            )
        return Finding(
            incident=inc.id,
            kind=self.name,
            severity=SEVERITIES[severity],
            score=within(SEVERITIES[severity], inc.score),
            event_time_ms=ts_ms,
            window_start_ms=inc.opened_ms,
            window_end_ms=hour + MS_PER_HOUR,
            reasons=tuple(reasons),
            evidence=evidence,
            subscription_ids=tuple(inc.subscriptions),
        )

    def _allowances(
        self, st: SpikeState, judged: _Hour, reasons: list[str], evidence: dict[str, Any]
    ) -> None:
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
        if judged.month_end > 0.0:
            reasons.append(
                f"Month-end jobs may add up to {money(judged.month_end, cur)} an hour in the "
                "customer's regions; this is beyond that."
            )
            evidence["month_end_allowance"] = round(judged.month_end, 2)

    def _ended(
        self, st: SpikeState, inc: Incident, at_ms: int, status: str, judged: _Hour
    ) -> Finding:
        cur = st.currency or ""
        if status == "resolved":
            severity: Severity = "info"
            score = score_of("info")
            reason = (
                f"Hourly spend is back to baseline: {inc.calm} hours at or below "
                f"{self.config.resolve_ratio:g}x the expected spend up to {format_ts(at_ms)}. "
                f"The spike from {inc.id} lasted {inc.hours - inc.calm} hours and cost "
                f"{money(inc.excess, cur)} above baseline."
            )
        else:
            severity = SEVERITIES[inc.sent_severity]
            score = within(severity, inc.score)
            reason = (
                f"Spend has stayed at this level for {inc.hours} hours since {inc.id}; the "
                f"baseline now follows it. Excess so far {money(inc.excess, cur)}."
            )
        return Finding(
            incident=inc.id,
            kind=self.name,
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

    def _top(self, st: SpikeState, excess: float) -> list[dict[str, Any]]:
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

    # --- state --------------------------------------------------------------------------

    def dump(self, state: SpikeState) -> dict[str, Any]:
        """The state by field name (state version 2; version 1 grouped fields in positional
        lists under the same keys). The baseline keeps its own compact form (``Baseline``)."""
        e = state.expect
        return {
            "b": state.base.dump(),
            "cur": state.currency,
            "h": {name: getattr(state, name) for name in _HOUR_FIELDS},
            "parts": [
                {"sku": sku, "region": region, "spend": v}
                for (sku, region), v in state.parts.items()
            ],
            "subs": list(state.subs),
            "new": state.new,
            "offer": state.offer,
            "regions": list(state.regions),
            "skus": list(state.skus),
            "me": {name: getattr(state, name) for name in _MONTH_END_FIELDS},
            "exp": None if e is None else by_name(e),
            "inc": None if state.incident is None else state.incident.dump(),
            "closed": {"closed_id": state.closed_id, "closed_ms": state.closed_ms},
        }

    def load(self, data: dict[str, Any]) -> SpikeState:
        exp = data["exp"]
        parts = [named(p, ("sku", "region", "spend")) for p in data["parts"]]
        return SpikeState(
            base=Baseline.load(data["b"]),
            currency=data["cur"],
            parts={(p["sku"], p["region"]): p["spend"] for p in parts},
            subs=list(data["subs"]),
            new=data["new"],
            offer=data["offer"],
            regions=list(data["regions"]),
            skus=list(data["skus"]),
            known_regions=set(data["regions"]),
            known_skus=set(data["skus"]),
            expect=None if exp is None else Expectation(**named(exp, _EXPECTATION_FIELDS)),
            incident=None if data["inc"] is None else Incident.load(data["inc"]),
            **named(data["h"], _HOUR_FIELDS),
            **named(data["me"], _MONTH_END_FIELDS),
            **named(data["closed"], ("closed_id", "closed_ms")),
        )

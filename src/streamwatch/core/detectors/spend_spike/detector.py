"""``spend_spike``: a customer's hourly spend far above what it usually spends, as it happens.

**Running spend.** Usage events are hourly per resource (``ts`` = start of the metered hour).
A record longer than an hour (a daily billing row, ``interval_s`` 86400) counts at its hourly
rate in each hour it covers (``core.metering``; ``carry`` holds the rest), never whole in one.
The customer's spend for the current hour accumulates over that hour's events, in whole
micro-units of the customer's currency (the first it used; other currencies are ignored), and
the detector can fire on the event whose cost makes the hour cross the line, not when the hour
ends.

**Late usage.** Billing data for an hour often arrives hours later, in batches per
subscription, after data for later hours. While a customer's usage comes in order, an hour
closes when usage of a later one arrives. Once usage arrives for an hour already closed, the
customer's hours stay open as long as its usage has been seen to lag (``late_h``, the largest
lag seen, at most ``max_late_h``): usage for a later hour is held for that hour
(``SpikeState.ahead``), and an hour closes (is learned, counts towards calm) only once it is
``late_h`` hours behind the newest, with all its usage. A held hour whose spend already opens a
spike (the same test as the current hour's) does not wait: the hours before it close as they
are and it becomes the current hour, so a spike is found as soon as its usage arrives. An open
incident's later hours wait to settle. Usage for an hour already closed is counted
(``too_late``), never silently dropped; a longer record still covering the current hour counts
from there on. So the baseline learns whole hours, not the first subscription's batch of each.

**Baseline.** Closed hours feed a ``baseline.Baseline`` (one-sided: only rises are novel):
the usual peak and trough of hourly spend, the hour-of-day x weekday/weekend profile and the
smoothed seasonal residual. Hours without any usage count as zero spend (up to two days of them).
Order: score, decide, then learn. An hour scoring ``FLAG_SCORE`` or more, or any hour of an open
incident, is not learned (so an attacker cannot teach the baseline), unless spend stays flagged
for ``absorb_after_h`` hours: then the incident ends as ``absorbed`` and the baseline follows the
new level. The regions and SKUs of learned hours become "known".

**The line.** An alert opens when, with the hour's spend ``x``, all of these hold:
``novelty(x_eff).score >= alert_score``; ``x_eff - expected >= floor`` (the money floor: the
excess kept up for a day against the customer's usual daily spend, ``relative_excess`` of it,
at least ``min_daily_excess`` a day and never more than ``min_excess`` an hour); and,
for a customer in its cold start, ``x_eff >= cohort.max_hourly``. ``x_eff`` is ``x`` divided by
the allowance of planned growth (feedback, below) and, in the last ``month_end_days`` (UTC) of a
month, less what a month-end job may add in the customer's known regions: up to 1.25x the peak
hour of its previous month-end window above its usual peak once it has one, else
``month_end_allowance - 1`` usual peaks; and, in an hour of the week where a job has run week
after week (``core.weekly``: flagged at that local hour in consecutive weeks), less up to 1.5x
the level that job reached (the larger of the two allowances applies). Spend in a region the
customer never used gets neither allowance. Per event the detector adds the cost and compares
the hour's total with a precomputed line (the money floor, or the cohort's line); past it, the
baseline's ``rise_needed`` refines the line, and only past that is the hour scored.

**Cold start.** A customer whose ``customer.signup`` was seen, dated less than
``old_after_days`` before its first usage, is new (age comes from the sign-up's date: a
back-filled sign-up years ago makes an old customer): for its first
``cold_start_h`` hours of usage it is judged against its cohort's prior (``COHORTS``, by the
offer of its ``subscription.create``; in its first day, also for the expected spend), hours
below the cohort's line are learned whatever their score, and the alert says so. A customer
first seen through usage (its history predates the stream) is learned, every hour of it, for
``warm_up_h`` hours before it is judged.

**Incident lifecycle.** One incident, one alert: the incident id is the opening hour. While
open, the incident is amended (same alert id, a new revision) when its severity rises or its
excess spend has grown ``amend_growth`` times since the last revision, never for smaller
changes. It resolves when effective spend has stayed at or below ``resolve_ratio`` x the
expected hourly spend for ``calm_h`` hours: a final amendment with evidence ``status:
"resolved"``, severity ``info`` and score 0.1. A spike resuming within ``reopen_h`` hours
reopens the same incident: it continues, with its hours, excess and revisions, so that a spike
that keeps pausing and resuming is absorbed once it has lasted ``absorb_after_h`` hours in all,
or has come back ``RECURS_AFTER`` times over ``absorb_after_h`` hours (a daily rhythm of its
own), or needs its last revision; after absorbing, the baseline learns every hour for
``relearn_h`` hours, so that it follows the customer's new level and rhythm. An alert has at
most ``MAX_REVISIONS`` revisions, the last kept for its end. Evidence ``status`` is ``open``,
``resolved`` or ``absorbed``; every sentence of a revision is about its own window
(``window_start`` = the incident's first hour, ``window_end`` = the end of the hour judged).

**Money at risk.** Excess spend so far (each hour's spend above its expected spend, summed over
the incident) and its projection (``core.projection``): the incident's excess rate so far,
carried ahead as long as it has been observed, at least a day and at most to month end; the
alert states the method.

**Feedback.** An activity ``feedback.expect`` (written by ``streamwatch expect``; actor = owner;
properties ``until`` RFC 3339, ``reason``, ``factor`` >= 1, default 2) raises the customer's
allowance ``factor`` times from the hour of its event time until ``until``: meanwhile hours are
judged, and learned, as spend divided by ``factor``, so the planned surge does not become the
baseline and spend still that high after ``until`` is a spike. Owner, reason and expiry are
kept and named in alerts. A later one replaces it; ``factor`` 1 or an ``until`` in the past
clears it. A ``feedback.not_anomaly`` on a spend_spike alert (``learn_normal``) teaches the
baseline the alert's hour of spend and ends the open incident as ``absorbed`` at its next
flagged hour. Feedback arrives in the event stream, so live and replay agree.

Deterministic; per-customer state is a small plain value (``dump``/``load``), typically 1-2 KB
of JSON.

The parts, one module each: ``config`` (tunables, cohort priors, severity lines), ``state``
(the state and its dump), ``baseline`` (the learned rhythm), ``feedback`` (planned growth),
``months`` (calendar), ``hour`` (an hour judged and its severity), ``findings`` (what alerts
say); this module runs the hours: spend, learning, lines and decisions.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.base import Capability, Finding, Setup
from streamwatch.core.detectors.registry import register
from streamwatch.core.detectors.spend_spike.baseline import (
    FLAG_SCORE,
    Novelty,
    bucket_of_ms,
    learn,
    novelty,
    observer,
    rise_needed,
    threshold_z,
)
from streamwatch.core.detectors.spend_spike.config import (
    COLD_OWN_HOURS,
    MAX_REVISIONS,
    PROJECTED_SEVERITY,
    RATIO_SEVERITY,
    RECURS_AFTER,
    CohortPrior,
    SpikeConfig,
    cohort_of,
)
from streamwatch.core.detectors.spend_spike.feedback import NotFeedback, expectation_of
from streamwatch.core.detectors.spend_spike.findings import KIND, ended_finding, spike_finding
from streamwatch.core.detectors.spend_spike.hour import Hour, projection, severity_level
from streamwatch.core.detectors.spend_spike.months import month_of_day
from streamwatch.core.detectors.spend_spike.state import (
    CARRY_KEPT,
    MICROS,
    NEVER,
    REGIONS_KEPT,
    SKUS_KEPT,
    SPEND_CAP,
    SUBSCRIPTIONS_KEPT,
    TEXT_CHARS,
    Incident,
    OpenHour,
    SpikeState,
    dump_state,
    load_state,
)
from streamwatch.core.events import SEVERITIES, ActivityEvent, Event, UsageEvent
from streamwatch.core.feedback import NotAnomaly
from streamwatch.core.metering import hourly_share, last_hour_ms
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.core.weekly import zone_name

_NO_FINDINGS: Final[list[Finding]] = []
"""Returned, shared, by the events that find nothing (callers only iterate it)."""


def _line_micros(line: float) -> int:
    """A line (currency units) in micro-units, ``NEVER`` for one too high to be reached."""
    micros = line * MICROS
    return int(micros) if micros < NEVER else NEVER  # also NEVER for NaN


@register(rank=30)
class SpendSpikeDetector:
    """Hourly spend far above the customer's usual spend; see the module docstring."""

    name: ClassVar[str] = KIND
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage", "activity"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.LEARNS})
    kinds: ClassVar[frozenset[str]] = frozenset({KIND})
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
        self._old_ms = self.config.old_after_days * MS_PER_DAY
        self._absorb_h = self.config.absorb_after_h
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
                    return self._too_late(st, event, hour)
                if st.late_h:
                    return self._hold(st, event, hour)
                findings = self._roll(st, hour)
            else:
                findings = _NO_FINDINGS
            if event.interval_s > 3600:
                micros = self._spread(st, event, hour)
            else:
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
                self._evaluate(st, event.ts_ms, event.subscription_id, findings)
            return findings
        if isinstance(event, ActivityEvent) and event.status == "succeeded":
            op = event.operation
            if op == "feedback.expect":
                self._feedback(state, event)
            elif op == "customer.signup":
                self._signup(state, event)
            elif op == "subscription.create" and state.offer is None:
                offer = event.properties.get("offer")
                if isinstance(offer, str) and offer:
                    state.offer = offer[:TEXT_CHARS]
        return []

    def _spread(self, st: SpikeState, event: UsageEvent, hour: int) -> int:
        """This hour's share (micro-units) of a record longer than an hour; the rest is
        carried into the following hours it covers (``core.metering``)."""
        share = int(hourly_share(event.cost, event.interval_s) * MICROS + 0.5)
        last = last_hour_ms(event.ts_ms, event.interval_s)
        if last > hour and share:
            carry = st.carry
            if last not in carry and len(carry) >= CARRY_KEPT:
                last = max(carry)  # bounded: the latest-ending rate takes it on
            carry[last] = min(carry.get(last, 0) + share, SPEND_CAP)
        return share

    def _carried(self, st: SpikeState, hour: int) -> int:
        """Micro-units that longer records carry into the hour starting at ``hour``
        (records whose last hour is past are dropped)."""
        carry = st.carry
        for last in [last for last in carry if last < hour]:
            del carry[last]
        return min(sum(carry.values()), SPEND_CAP)

    def _signup(self, st: SpikeState, event: ActivityEvent) -> None:
        """Age comes from the sign-up's date, not from when it was seen: a sign-up dated long
        before the customer's first usage (back-filled history) does not make it new."""
        if st.signup_ms < 0 or event.ts_ms < st.signup_ms:
            st.signup_ms = event.ts_ms
        tz = zone_name(event.properties.get("timezone"))
        if tz is not None:
            st.tz = tz
        st.new = st.first_ms < 0 or st.first_ms - st.signup_ms < self._old_ms

    def _feedback(self, st: SpikeState, event: ActivityEvent) -> None:
        try:
            st.expect = expectation_of(event)
        except NotFeedback:
            return
        if st.hour_ms >= 0:
            st.watch = self._line(st)

    def learn_normal(self, state: SpikeState, feedback: NotAnomaly) -> None:
        """ "Not an anomaly" (see **Feedback**): an open incident ends ``absorbed`` at its next
        flagged hour, learned by the baseline; and the alert's hour of spend (its evidence
        ``hour`` and ``spend``) is learned now, so that level is judged normal from here on."""
        st = state
        if st.incident is not None:
            st.incident.normal = True
        hour, spend = feedback.evidence.get("hour"), feedback.evidence.get("spend")
        if not isinstance(hour, str) or isinstance(spend, bool):
            return
        if not isinstance(spend, int | float) or not 0.0 <= spend * MICROS < SPEND_CAP:
            return
        try:
            bucket = bucket_of_ms(parse_ts_ms(hour))
        except ValueError:
            return
        x = spend / self._factor(st, feedback.ts_ms)
        learn(self._params, st.base, x, bucket, novelty(self._params, st.base, x, bucket))
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
            if st.new and st.signup_ms >= 0 and hour - st.signup_ms >= self._old_ms:
                st.new = False  # signed up long before its first usage: not a new customer
        else:
            self._close(st, prev, st.spend / MICROS, findings)
            if hour - prev > MS_PER_HOUR:
                if st.parts:
                    st.parts.clear()
                gap = min((hour - prev) // MS_PER_HOUR - 1, self.config.max_gap_h)
                for h in range(prev + MS_PER_HOUR, prev + (gap + 1) * MS_PER_HOUR, MS_PER_HOUR):
                    carried = self._carried(st, h) if st.carry else 0
                    self._close(st, h, carried / MICROS, findings)
        st.hour_ms = hour
        st.spend = self._carried(st, hour) if st.carry else 0
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
            line = (base.centre if mean is None else mean) + self.config.floor(base.centre)
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
        absorbing = streak >= self._absorb_h or hour < st.learn_until_ms
        since = hour - st.first_ms
        if st.new and since < self._cold_ms:
            # In its cold start a customer's own baseline knows too little to call anything
            # anomalous; the cohort prior does.
            flagged = xs >= cohort_of(st.offer).max_hourly
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
            st.weekly.note(hour, st.tz, xs)
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
            _, end_ms, start_ms = month_of_day(day)
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
        if flagged:
            st.weekly.note(hour, st.tz, xs)
        judged = self._judge(st, hour, x)
        inc.excess += max(0.0, x - judged.expected)
        inc.hours += 1
        inc.peak = max(inc.peak, xs)
        calm = judged.effective <= judged.expected * cfg.resolve_ratio
        inc.calm = inc.calm + 1 if calm else 0
        if inc.calm >= cfg.calm_h:
            if inc.resumes and inc.revisions >= MAX_REVISIONS - 1:
                # Its last revision: a spike that keeps coming back is the customer's level.
                self._absorb(st, inc, hour, xs, bucket, seen, judged, findings)
                return
            if inc.revisions < MAX_REVISIONS:
                inc.revisions += 1
                findings.append(
                    ended_finding(
                        st, inc, hour + MS_PER_HOUR, "resolved", judged, cfg.resolve_ratio
                    )
                )
            st.incident = None
            st.closed_id, st.closed_ms = inc.id, hour + MS_PER_HOUR
            inc.closed_ms = st.closed_ms
            st.closed = inc
            return
        recurring = (
            inc.resumes >= RECURS_AFTER
            and hour + MS_PER_HOUR - inc.opened_ms >= cfg.absorb_after_h * MS_PER_HOUR
        )
        # People said it is no anomaly (feedback): absorbed at its next flagged hour.
        if flagged and (inc.hours >= cfg.absorb_after_h or recurring or inc.normal):
            self._absorb(st, inc, hour, xs, bucket, seen, judged, findings)

    def _absorb(
        self,
        st: SpikeState,
        inc: Incident,
        hour: int,
        xs: float,
        bucket: int,
        seen: Novelty,
        judged: Hour,
        findings: list[Finding],
    ) -> None:
        """The new level has lasted (``absorb_after_h`` hours, counting those before any pause,
        or days of a spike that keeps coming back): end the incident, and let the baseline
        follow the customer for ``relearn_h`` hours, whatever it spends."""
        cfg = self.config
        if inc.revisions < MAX_REVISIONS:
            inc.revisions += 1
            findings.append(
                ended_finding(st, inc, hour + MS_PER_HOUR, "absorbed", judged, cfg.resolve_ratio)
            )
        st.incident = None
        st.closed, st.closed_id = None, ""
        st.learn_until_ms = hour + MS_PER_HOUR + cfg.relearn_h * MS_PER_HOUR
        if inc.peak > xs:  # the level it reached, not only this (perhaps calm) hour
            learn(
                cfg.baseline,
                st.base,
                inc.peak,
                bucket,
                novelty(cfg.baseline, st.base, inc.peak, bucket),
            )
            seen = novelty(cfg.baseline, st.base, xs, bucket)
        learn(cfg.baseline, st.base, xs, bucket, seen)
        if st.parts:
            self._learn_parts(st)

    def _month_end_learn(self, st: SpikeState, hour: int, xs: float) -> None:
        """An hour of a month-end window that raised nothing: the month-end level learns it."""
        key = month_of_day(hour // MS_PER_DAY)[0]
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
        key, end, _ = month_of_day(hour // MS_PER_DAY)
        if hour < end - self.config.month_end_days * MS_PER_DAY:
            return 0.0
        peak = st.base.hi
        learned = st.month_end_prev if key == st.month_end_key else st.month_end_peak
        if st.month_end_key and learned >= 0.0:
            return max(0.0, 1.25 * learned - peak)
        return (self.config.month_end_allowance - 1.0) * peak

    def _cohort(self, st: SpikeState) -> CohortPrior:
        return cohort_of(st.offer)

    def _cold(self, st: SpikeState, hour: int) -> bool:
        return st.new and hour - st.first_ms < self.config.cold_start_h * MS_PER_HOUR

    def _judging(self, st: SpikeState, hour: int) -> bool:
        return st.new or hour - st.first_ms >= self.config.warm_up_h * MS_PER_HOUR

    def _expected(self, st: SpikeState, hour: int, seen_expected: float) -> float:
        if self._cold(st, hour) and st.base.n < COLD_OWN_HOURS:
            return max(seen_expected, self._cohort(st).typical_hourly)
        return seen_expected

    def _judge(
        self, st: SpikeState, hour: int, x: float, parts: dict[tuple[str, str], int] | None = None
    ) -> Hour:
        """Effective spend of the hour (allowances applied) and its novelty; ``parts`` are the
        hour's spend on new SKUs and regions (the current hour's by default)."""
        factor = self._factor(st, hour)
        bucket = bucket_of_ms(hour)
        month_end = self._month_end_extra(st, hour)
        new_region = 0.0
        parts = st.parts if parts is None else parts
        if parts:
            regions = st.regions
            new_region = sum(v for (_, r), v in parts.items() if r not in regions) / MICROS
            new_region = min(new_region, x)
        effective = x
        weekly = st.weekly.allowance(hour, st.tz) if st.weekly.slots else 0.0
        if month_end > 0.0 or weekly > 0.0:
            mean = st.base.buckets[bucket]
            usual = st.base.centre if mean is None else mean
            weekly = max(0.0, weekly - usual)
            effective -= min(max(0.0, x - new_region - usual), max(month_end, weekly))
        effective /= factor
        seen = novelty(self.config.baseline, st.base, effective, bucket)
        expected = self._expected(st, hour, seen.expected)
        return Hour(x, effective, expected, seen.score, new_region, factor, month_end, weekly)

    def _line(self, st: SpikeState, hour: int | None = None) -> int:
        """A spend (micro-units) below which nothing can happen in the hour starting at
        ``hour`` (the current one by default): the money floor (and the cohort's line in a
        cold start). ``_evaluate`` refines it with the baseline's ``rise_needed`` once the hour
        gets there, which most hours never do."""
        hour = st.hour_ms if hour is None else hour
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
            cohort = cohort_of(st.offer)
            if base.n < COLD_OWN_HOURS and expected < cohort.typical_hourly:
                expected = cohort.typical_hourly
            line = expected + self.config.floor(base.centre)
            line = max(line, cohort.max_hourly)
        else:
            line = expected + self.config.floor(base.centre)
        return _line_micros(line * factor)

    def _baseline_line(self, st: SpikeState, hour: int) -> int:
        """The spend (micro-units) below which the hour starting at ``hour`` cannot score
        ``alert_score``."""
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
        if inc.revisions >= MAX_REVISIONS - 1:
            return NEVER  # no room for another amendment (the end keeps its own)
        lines = [expected + max(inc.sent_excess * self.config.amend_growth - inc.excess, 0.0)]
        level = inc.sent_severity
        for threshold, severity in reversed(RATIO_SEVERITY):
            if SEVERITIES.index(severity) > level:
                lines.append(threshold * max(expected, 0.01) * factor)
                break
        # Projected excess is total * (1 + horizon / hours), total = inc.excess + this hour's.
        n = inc.hours + 1
        grows = 1.0 + projection(hour, 0.0, n).horizon_h / n
        for threshold, severity in reversed(PROJECTED_SEVERITY):
            if SEVERITIES.index(severity) > level:
                lines.append(expected + max(0.0, threshold / grows - inc.excess))
                break
        return _line_micros(min(lines))

    # --- deciding -----------------------------------------------------------------------

    def _reopen(self, st: SpikeState, hour: int) -> Incident | None:
        """The incident that resolved less than ``reopen_h`` before ``hour``, continued (its
        hours, excess and revisions carried on), or None."""
        if not st.closed_id or hour - st.closed_ms >= self.config.reopen_h * MS_PER_HOUR:
            return None
        inc = st.closed
        if inc is None:  # a state written before closed incidents were kept
            inc = Incident(st.closed_id, parse_ts_ms(st.closed_id), revisions=1)
        inc.calm, inc.resumed_ms = 0, hour
        inc.resumes += 1
        st.closed = None
        return inc

    def _evaluate(
        self, st: SpikeState, ts_ms: int, sub: str | None, findings: list[Finding]
    ) -> None:
        cfg = self.config
        if sub is not None and sub not in st.subs and len(st.subs) < SUBSCRIPTIONS_KEPT:
            st.subs.append(sub)
        hour = st.hour_ms
        x = st.spend / MICROS
        inc = st.incident
        if inc is None:
            judged, st.watch = self._opens(st, hour, st.spend, st.parts)
            if judged is not None:
                inc = self._reopen(st, hour) or Incident(format_ts(hour), hour)
                st.incident = inc
                if inc.revisions < MAX_REVISIONS - 1:
                    findings.append(self._raise(st, inc, ts_ms, judged, opening=inc.revisions == 0))
                st.watch = self._amend_line(st, inc, judged.allowance)
            return
        again = st.spend + max(st.spend // 20, MICROS)
        judged = self._judge(st, hour, x)
        total = inc.excess + max(0.0, x - judged.expected)
        severity = severity_level(hour, judged, total, inc.hours + 1)
        if inc.revisions < MAX_REVISIONS - 1 and (
            severity > inc.sent_severity or total >= inc.sent_excess * cfg.amend_growth
        ):
            findings.append(self._raise(st, inc, ts_ms, judged, opening=False))
            st.watch = self._amend_line(st, inc, judged.allowance)
        else:
            st.watch = max(self._amend_line(st, inc, judged.allowance), again)

    def _opens(
        self, st: SpikeState, hour: int, spend: int, parts: dict[tuple[str, str], int]
    ) -> tuple[Hour | None, int]:
        """Does ``spend`` (micro-units, with ``parts`` on new SKUs and regions) open a spike in
        the hour starting at ``hour``, no incident being open? Its judgement if so, and the
        spend at which to look again."""
        cfg = self.config
        cold = self._cold(st, hour)
        if not (cold and st.base.n < COLD_OWN_HOURS):
            line = self._baseline_line(st, hour)
            if spend < line:
                return None, line
        judged = self._judge(st, hour, spend / MICROS, parts)
        novel = judged.score >= cfg.alert_score or (cold and st.base.n < COLD_OWN_HOURS)
        if (
            novel
            and self._judging(st, hour)
            and judged.effective - judged.expected >= cfg.floor(st.base.centre)
            and (not cold or judged.effective >= self._cohort(st).max_hourly)
        ):
            return judged, NEVER
        return None, spend + max(spend // 20, MICROS)

    # --- late usage ---------------------------------------------------------------------

    def _too_late(self, st: SpikeState, event: UsageEvent, hour: int) -> list[Finding]:
        """Usage for an hour already closed: counted in ``too_late``, and from now on the
        customer's hours stay open as long as its usage has been seen to lag. A longer record
        still covering the current hour counts from there on."""
        st.newest_ms = max(st.newest_ms, st.hour_ms)
        self._lag(st, hour)
        if event.interval_s > 3600 and last_hour_ms(event.ts_ms, event.interval_s) >= st.hour_ms:
            share = self._spread(st, event, st.hour_ms)
            st.spend = min(st.spend + share, SPEND_CAP)
            return []
        st.too_late += 1
        return _NO_FINDINGS

    def _hold(self, st: SpikeState, event: UsageEvent, hour: int) -> list[Finding]:
        """Usage for an hour after the current one, while the customer's usage arrives late:
        held for that hour until it settles (``late_h`` hours behind the newest), unless it
        opens a spike at once, which closes the hours before it as they are."""
        open_hour = st.ahead.get(hour)
        if open_hour is None:
            open_hour = OpenHour(watch=NEVER if st.incident else self._line(st, hour))
            st.ahead[hour] = open_hour
            if hour < st.newest_ms:
                st.ahead = dict(sorted(st.ahead.items()))
            else:
                st.newest_ms = hour
        self._lag(st, hour)
        if event.interval_s > 3600:
            share = int(hourly_share(event.cost, event.interval_s) * MICROS + 0.5)
            last = last_hour_ms(event.ts_ms, event.interval_s)
            if last > hour and share:
                carry = open_hour.carry
                carry[last] = min(carry.get(last, 0) + share, SPEND_CAP)
            micros = share
        else:
            micros = int(event.cost * MICROS + 0.5)
        open_hour.spend = min(open_hour.spend + micros, SPEND_CAP)
        open_hour.ts_ms = max(open_hour.ts_ms, event.ts_ms)
        if event.sku not in st.known_skus or event.region not in st.known_regions:
            key = (event.sku, event.region)
            open_hour.parts[key] = min(open_hour.parts.get(key, 0) + micros, SPEND_CAP)
        findings: list[Finding] = []
        if open_hour.spend >= open_hour.watch and st.incident is None:
            sub = event.subscription_id
            if sub not in open_hour.subs and len(open_hour.subs) < SUBSCRIPTIONS_KEPT:
                open_hour.subs.append(sub)
            judged, open_hour.watch = self._opens(st, hour, open_hour.spend, open_hour.parts)
            if judged is not None:
                self._advance(st, hour, findings)
        settled = st.newest_ms - st.late_h * MS_PER_HOUR
        if settled > st.hour_ms:
            self._advance(st, settled, findings)
        return findings or _NO_FINDINGS

    def _lag(self, st: SpikeState, hour: int) -> None:
        """Usage for ``hour`` arrived: keep hours open at least as long as it lagged."""
        lag = min((st.newest_ms - hour) // MS_PER_HOUR, self.config.max_late_h)
        st.late_h = max(st.late_h, lag)

    def _advance(self, st: SpikeState, until: int, findings: list[Finding]) -> None:
        """Close the hours before ``until`` in order, each with the usage held for it, and
        make ``until`` the current hour (judged with what it holds so far)."""
        while st.hour_ms < until:
            ahead = st.ahead
            hour = next(iter(ahead)) if ahead else until
            hour = min(hour, until)
            findings.extend(self._roll(st, hour))
            open_hour = ahead.pop(hour, None)
            if open_hour is None:
                continue
            for last, v in open_hour.carry.items():
                st.carry[last] = min(st.carry.get(last, 0) + v, SPEND_CAP)
            st.spend = min(st.spend + open_hour.spend, SPEND_CAP)
            st.parts, st.subs = open_hour.parts, open_hour.subs
            if st.spend >= st.watch:
                self._evaluate(st, open_hour.ts_ms, None, findings)

    # --- findings -----------------------------------------------------------------------

    def _raise(
        self, st: SpikeState, inc: Incident, ts_ms: int, judged: Hour, *, opening: bool
    ) -> Finding:
        """Record what this revision of ``inc`` says, and say it (``findings``)."""
        total = inc.excess + max(0.0, judged.spend - judged.expected)
        severity = severity_level(st.hour_ms, judged, total, inc.hours + 1)
        inc.revisions += 1
        inc.sent_severity = max(inc.sent_severity, severity)
        inc.sent_excess = total
        inc.score = max(inc.score, judged.score)
        for sub in st.subs:
            if sub not in inc.subscriptions and len(inc.subscriptions) < SUBSCRIPTIONS_KEPT:
                inc.subscriptions.append(sub)
        cold = self._cold(st, st.hour_ms)
        return spike_finding(st, inc, ts_ms, judged, severity=severity, cold=cold, opening=opening)

    # --- state --------------------------------------------------------------------------

    def dump(self, state: SpikeState) -> dict[str, Any]:
        """The state by field name (see ``state.dump_state``)."""
        return dump_state(state)

    def load(self, data: dict[str, Any]) -> SpikeState:
        return load_state(data)


def expected_spend(state: SpikeState, hour_ms: int) -> float | None:
    """The spend the customer's learned rhythm expects in the hour starting at ``hour_ms``
    (its seasonal bucket's mean, else its centre), or None before anything was learned; for
    plots of spend against the baseline."""
    base = state.base
    if base.n == 0:
        return None
    mean = base.buckets[bucket_of_ms(hour_ms)]
    return round(base.centre if mean is None else mean, 4)

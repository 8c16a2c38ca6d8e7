"""spend_spike on customers shaped like real tenants: daily billing rows, weekly jobs in local
time across a daylight-saving change, sign-ups back-filled from years ago, small accounts, a
spike that keeps pausing and resuming, and what its alerts may say."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count

from streamwatch.alert_truth import problems
from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.spend_spike.config import SpikeConfig
from streamwatch.core.detectors.spend_spike.detector import SpendSpikeDetector
from streamwatch.core.detectors.spend_spike.state import SpikeState
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity_event, usage_event

START = parse_ts_ms("2026-10-05T00:00:00Z")  # a Monday; Europe/Berlin leaves DST on 25 October
BERLIN_OFFSET_SUMMER_H = 2
_ids = count()


def at(h: int, minute: int = 5) -> str:
    return format_ts(START + h * MS_PER_HOUR + minute * 60_000)


@dataclass
class Tenant:
    """One customer fed hour by hour to a detector, keeping every finding."""

    detector: SpendSpikeDetector = field(default_factory=SpendSpikeDetector)
    state: SpikeState = field(init=False)
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = self.detector.new_state()

    def feed(self, events: Iterable[Event]) -> list[Finding]:
        out = [f for event in events for f in self.detector.observe(self.state, event)]
        self.findings.extend(out)
        return out

    def signup(self, when: str, **properties: object) -> None:
        self.feed([activity_event("customer.signup", event_id=f"s-{next(_ids)}", at=when,
                                  properties=dict(properties))])  # fmt: skip

    def use(self, h: int, cost: float, minute: int = 5, **fields: object) -> list[Finding]:
        event = usage_event(event_id=f"u-{next(_ids)}", at=at(h, minute), cost=cost, **fields)
        return self.feed([event])


def opened(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.evidence["status"] == "open"]


def office(h: int) -> float:
    """Business hours in Berlin (UTC+2 in summer, +1 after 25 October): 4.0 an hour from 08:00
    to 18:00 local on weekdays, 1.0 otherwise."""
    ms = START + h * MS_PER_HOUR
    offset = BERLIN_OFFSET_SUMMER_H if ms < parse_ts_ms("2026-10-25T01:00:00Z") else 1
    local = ms // MS_PER_HOUR + offset
    weekday = (local // 24 + 3) % 7 < 5
    return 4.0 if weekday and 8 <= local % 24 < 18 else 1.0


# --- daily billing rows ---------------------------------------------------------------------


def test_a_daily_row_is_judged_at_its_hourly_rate_over_the_day() -> None:
    tenant = Tenant()
    for day in range(21):
        for h in range(24):
            tenant.use(day * 24 + h, 2.0)
        # Storage billed once a day: $48 for the day, $2 an hour, never "$48 in an hour".
        tenant.use(day * 24, 48.0, minute=0, meter="storage", interval_s=86_400)
    assert tenant.findings == []
    # The day's row is spread: every hour of the day holds its $2 share.
    tenant.use(21 * 24, 48.0, minute=0, meter="storage", interval_s=86_400)
    tenant.use(21 * 24 + 1, 2.0)
    assert tenant.state.spend == 4_000_000


def test_a_daily_row_ten_times_the_usual_is_a_spike_at_its_rate() -> None:
    tenant = Tenant()
    for day in range(21):
        tenant.use(day * 24, 48.0, minute=0, interval_s=86_400)
    found = tenant.use(21 * 24, 480.0, minute=0, interval_s=86_400)
    assert [f.evidence["spend"] for f in opened(found)] == [20.0]  # $480 a day: $20 an hour


# --- weekly jobs in local time --------------------------------------------------------------


def test_a_weekly_backup_at_01_local_becomes_normal_across_the_dst_change() -> None:
    tenant = Tenant()
    tenant.signup("2024-03-01T09:00:00Z", timezone="Europe/Berlin")
    opened_weeks: list[int] = []
    for h in range(24 * 7 * 6):
        ms = START + h * MS_PER_HOUR
        offset = BERLIN_OFFSET_SUMMER_H if ms < parse_ts_ms("2026-10-25T01:00:00Z") else 1
        local = ms // MS_PER_HOUR + offset
        sunday = (local // 24 + 3) % 7 == 6
        # Sunday 01:00-04:00 local, from the second week (the first is the warm-up)
        backup = 60.0 if sunday and 1 <= local % 24 < 4 and h >= 24 * 7 else 0.0
        if opened(tenant.use(h, office(h) + backup)):
            opened_weeks.append(h // (24 * 7))
    # Alerted in the first two weeks of it, normal from the third on, and still in its slot
    # after Berlin left summer time on 25 October (week 2 ends that Sunday night).
    assert opened_weeks
    assert max(opened_weeks) <= 2
    assert tenant.state.weekly.slots


def test_a_weekly_job_does_not_hide_a_spike_at_another_hour() -> None:
    tenant = Tenant()
    for h in range(24 * 7 * 5):
        ms = START + h * MS_PER_HOUR
        sunday_night = (ms // MS_PER_DAY + 3) % 7 == 6 and (ms // MS_PER_HOUR) % 24 == 1
        sunday_night = sunday_night and h >= 24 * 7  # after the warm-up
        tenant.use(h, office(h) + (60.0 if sunday_night else 0.0))
    tuesday_3am = 24 * 7 * 5 + 24 + 3
    assert len(opened(tenant.use(tuesday_3am, 60.0))) == 1


# --- age from the sign-up's date ------------------------------------------------------------


def busy_first_week(tenant: Tenant) -> list[Finding]:
    """A large customer: $40 an hour in office hours, above the new-customer cohort's line."""
    out: list[Finding] = []
    for h in range(24 * 7):
        out += tenant.use(h, office(h) * 10)
    return out


def test_a_sign_up_back_filled_from_years_ago_is_not_a_new_customer() -> None:
    old = Tenant()
    old.signup("2021-06-01T10:00:00Z")
    assert opened(busy_first_week(old)) == []
    assert not old.state.new


def test_a_sign_up_just_before_the_first_usage_is_judged_against_the_cohort() -> None:
    new = Tenant()
    new.signup(at(0, 0))
    assert opened(busy_first_week(new))
    assert new.state.new


def test_a_sign_up_seen_after_usage_began_still_counts_by_its_date() -> None:
    tenant = Tenant()
    tenant.use(0, 1.0)
    tenant.signup("2020-01-01T00:00:00Z")
    assert not tenant.state.new


# --- small accounts -------------------------------------------------------------------------


def small(h: int) -> float:
    """A small account: $0.04 to $0.17 an hour."""
    return 0.04 + 0.13 * ((h * 7) % 11) / 10


def test_a_small_account_going_fifteen_times_for_a_day_is_found_within_hours() -> None:
    tenant = Tenant()
    for h in range(24 * 14):
        tenant.use(h, round(small(h), 4))
    assert tenant.findings == []
    first = None
    for h in range(24 * 14, 24 * 15):
        if opened(tenant.use(h, round(small(h) * 15, 4))) and first is None:
            first = h - 24 * 14
    assert first is not None
    assert first <= 6


def test_the_money_floor_scales_with_the_customer_between_its_bounds() -> None:
    config = SpikeConfig()
    assert config.floor(0.0) == config.min_daily_excess / 24  # the absolute floor: $2 a day
    assert config.floor(0.5) == 2.5  # five times the usual daily spend, per hour
    assert config.floor(300.0) == config.min_excess  # never above $5 an hour


def test_a_small_account_wobbling_within_its_range_raises_nothing() -> None:
    tenant = Tenant()
    for h in range(24 * 28):
        tenant.use(h, round(small(h) * (1.5 if h % 24 == 12 else 1.0), 4))
    assert tenant.findings == []


# --- revisions and what they say -------------------------------------------------------------


def flapping(tenant: Tenant, days: int) -> None:
    for h in range(24 * 14):
        tenant.use(h, office(h))
    for h in range(24 * 14, 24 * (14 + days)):
        tenant.use(h, 80.0 if (h // 4) % 2 == 0 else office(h))


def test_a_spike_that_keeps_pausing_is_one_alert_of_at_most_16_revisions() -> None:
    tenant = Tenant()
    flapping(tenant, 20)
    incidents = {f.incident for f in tenant.findings}
    assert len(incidents) <= 2
    for incident in incidents:
        assert sum(1 for f in tenant.findings if f.incident == incident) <= 16


def test_a_spike_that_keeps_pausing_is_absorbed_as_the_customers_level() -> None:
    tenant = Tenant()
    flapping(tenant, 20)
    assert "absorbed" in {f.evidence["status"] for f in tenant.findings}


def test_every_sentence_of_every_revision_is_true_of_its_window() -> None:
    tenant = Tenant()
    flapping(tenant, 20)
    assert any("resumed at" in " ".join(f.reasons) for f in tenant.findings)
    for finding in tenant.findings:
        alert = {
            "window_start": format_ts(finding.window_start_ms),
            "window_end": format_ts(finding.window_end_ms),
            "reasons": list(finding.reasons),
            "evidence": finding.evidence,
        }
        assert problems(alert, strict_money=True) == [], finding.reasons


def test_money_at_risk_is_projected_from_the_rate_seen_with_its_method() -> None:
    tenant = Tenant()
    for h in range(24 * 14):
        tenant.use(h, office(h))
    found = opened(tenant.use(24 * 14 + 2, 61.0))  # Monday 02:00 UTC: expected $1
    assert len(found) == 1
    evidence = found[0].evidence
    assert evidence["excess_so_far"] == 60.0
    assert evidence["projected"] == 60.0 + 60.0 * 24
    assert evidence["projection"]["method"] == (
        "rate $60.00/h observed over 1 h, projected over 24 h"
    )
    assert "(rate $60.00/h observed over 1 h, projected over 24 h)" in found[0].reasons[2]


def test_a_spike_on_a_new_account_is_untrusted_for_the_policy() -> None:
    new = Tenant()
    new.signup(at(0, 0))
    found = opened(busy_first_week(new))
    assert {f.evidence["standing"] for f in found} == {"untrusted"}
    old = Tenant()
    for h in range(24 * 14):
        old.use(h, office(h))
    assert opened(old.use(24 * 14 + 2, 61.0))[0].evidence["standing"] == "established"

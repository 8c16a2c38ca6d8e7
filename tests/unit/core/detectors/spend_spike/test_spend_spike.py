"""The spend_spike detector: the line, explanations, the incident lifecycle, never learning
from anomalies, cold start, month ends, feedback and its state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import orjson
import pytest

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.spend_spike.config import SpikeConfig
from streamwatch.core.detectors.spend_spike.detector import SpendSpikeDetector
from streamwatch.core.detectors.spend_spike.state import SpikeState
from streamwatch.core.engine import Core
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity_event, usage_event

START = parse_ts_ms("2026-10-05T00:00:00Z")  # a Monday
HOME = "westeurope"


def hour_at(h: int) -> int:
    return START + h * MS_PER_HOUR


def normal_cost(h: int) -> float:
    """A business rhythm: 6 an hour from 08:00 to 18:00 on weekdays, 1.5 otherwise."""
    ms = hour_at(h)
    weekday = (ms // 86_400_000 + 3) % 7 < 5
    return 6.0 if weekday and 8 <= (ms // MS_PER_HOUR) % 24 < 18 else 1.5


@dataclass
class Customer:
    """Builds one customer's events hour by hour and feeds a detector, keeping every finding."""

    customer_id: str = "cust-1"
    signup: bool = True
    detector: SpendSpikeDetector = field(default_factory=SpendSpikeDetector)
    state: SpikeState = field(init=False)
    findings: list[Finding] = field(default_factory=list)
    n: int = 0

    def __post_init__(self) -> None:
        self.state = self.detector.new_state()
        if self.signup:
            self.feed([activity_event("customer.signup", event_id="signup", at=format_ts(START),
                                customer_id=self.customer_id)])  # fmt: skip

    def feed(self, events: Iterable[Event]) -> list[Finding]:
        out: list[Finding] = []
        for event in events:
            out.extend(self.detector.observe(self.state, event))
        self.findings.extend(out)
        return out

    def spend(
        self, h: int, cost: float, sku: str = "Standard_D4s_v5", region: str = HOME, minute: int = 5
    ) -> list[Finding]:
        self.n += 1
        return self.feed(
            [
                usage_event(
                    event_id=f"{self.customer_id}-{self.n}",
                    customer_id=self.customer_id,
                    at=format_ts(hour_at(h) + minute * 60_000),
                    cost=cost,
                    sku=sku,
                    region=region,
                )
            ]
        )

    def usual(self, hours: Iterable[int], scale: float = 1.0) -> list[Finding]:
        out: list[Finding] = []
        for h in hours:
            out.extend(self.spend(h, round(normal_cost(h) * scale, 4)))
        return out


def settled(hours: int = 24 * 14, **kw: Any) -> Customer:
    """A customer with ``hours`` of its usual rhythm behind it (two weeks by default)."""
    customer = Customer(**kw)
    assert customer.usual(range(hours)) == []
    return customer


def opened(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.evidence["status"] == "open"]


# --- the line -----------------------------------------------------------------------------


def test_alert_fires_on_the_event_whose_cost_makes_the_hour_cross_the_line() -> None:
    customer = settled()
    h = 24 * 14 + 10  # Monday 10:00
    assert customer.spend(h, 6.0, minute=1) == []
    assert customer.spend(h, 3.0, sku="Standard_NC6s_v3", minute=20) == []  # 9: below the line
    crossing = customer.spend(h, 60.0, sku="Standard_NC6s_v3", minute=40)
    assert len(crossing) == 1
    finding = crossing[0]
    assert finding.kind == "spend_spike"
    assert finding.event_time_ms == hour_at(h) + 40 * 60_000
    assert finding.incident == format_ts(hour_at(h))
    assert finding.evidence["spend"] == 69.0


def test_usual_rhythm_weekends_and_monday_mornings_raise_nothing() -> None:
    customer = settled(24 * 28)
    assert customer.findings == []


def test_small_rise_within_the_usual_peak_raises_nothing() -> None:
    customer = settled()
    # Night spend 1.5 -> 5.5: 3.7x the expected, but below the usual daytime peak of 6.
    assert customer.spend(24 * 14 + 2, 5.5) == []


@pytest.mark.parametrize("cost", [12.0, 40.0, 400.0])
def test_spike_well_above_expected_and_usual_peak_alerts(cost: float) -> None:
    customer = settled()
    found = customer.spend(24 * 14 + 3, cost, sku="Standard_NC6s_v3")  # Monday 03:00
    assert len(found) == 1
    assert found[0].severity in ("medium", "high", "critical")


# --- explanations -------------------------------------------------------------------------


def test_alert_explains_the_numbers_where_the_excess_is_and_the_money_at_risk() -> None:
    customer = settled()
    h = 24 * 15 + 14  # Tuesday 14:00 UTC
    customer.usual(range(24 * 14, h))
    customer.spend(h, 6.0, minute=1)
    finding = customer.spend(h, 406.0, sku="Standard_F72s_v2", region="brazilsouth", minute=30)[0]
    first, where, money = finding.reasons[:3]
    assert first.startswith(f"Hourly spend $412.00 so far in the hour from {format_ts(hour_at(h))}")
    assert "68.7x the $6.00 expected for a weekday 14:00 UTC" in first
    assert "this customer's usual peak of $6.00" in first
    assert where == (
        "100% of the excess is Standard_F72s_v2 (a size it never ran before) in brazilsouth, "
        "a region this customer has never used."
    )
    assert money.startswith("Money at risk: $406.00 above baseline so far; $")
    assert money.endswith(
        "if it goes on 24 more hours (rate $406.00/h observed over 1 h, projected over 24 h)."
    )
    evidence = finding.evidence
    assert evidence["top"][0] == {
        "sku": "Standard_F72s_v2",
        "region": "brazilsouth",
        "share": 1.0,
        "new_region": True,
        "new_sku": True,
    }
    # One hour observed: 406 so far plus 406 an hour for a day (not the 273 hours left in
    # October: one hour's rate is not a month's).
    assert evidence["projected"] == 406.0 + 406.0 * 24
    assert evidence["projection"]["horizon_h"] == 24
    assert evidence["basis"] == "own baseline"
    assert finding.severity == "critical"


# --- the incident lifecycle ---------------------------------------------------------------


def test_lasting_spike_amends_its_alert_in_steps_not_every_hour() -> None:
    customer = settled()
    first = 24 * 14
    for h in range(first, first + 48):
        customer.usual([h])
        customer.spend(h, 40.0, sku="Standard_NC6s_v3", minute=30)
    open_ = opened(customer.findings)
    assert {f.incident for f in open_} == {format_ts(hour_at(first))}
    # Each revision after the first: the excess so far grew 1.5x, or the severity rose.
    assert 3 <= len(open_) <= 12
    for before, after in pairwise(open_):
        grew = after.evidence["excess_so_far"] >= 1.5 * before.evidence["excess_so_far"]
        assert grew or after.severity != before.severity


def test_spike_growing_within_the_hour_amends_when_its_severity_rises() -> None:
    customer = settled()
    h = 24 * 14 + 2
    customer.usual(range(24 * 14, h + 1))
    first = customer.spend(h, 12.0, sku="Standard_NC6s_v3", minute=10)
    assert [f.severity for f in first] == ["medium"]
    assert customer.spend(h, 0.5, sku="Standard_NC6s_v3", minute=20) == []
    bigger = customer.spend(h, 400.0, sku="Standard_NC6s_v3", minute=30)
    assert [(f.incident, f.severity) for f in bigger] == [(first[0].incident, "critical")]


def test_spike_resolves_with_a_final_amendment_when_spend_is_back_to_baseline() -> None:
    customer = settled()
    first = 24 * 14 + 2
    for h in range(first, first + 5):
        customer.usual([h])
        customer.spend(h, 50.0, sku="Standard_NC6s_v3", minute=30)
    customer.usual(range(first + 5, first + 12))
    last = customer.findings[-1]
    assert last.evidence["status"] == "resolved"
    assert last.severity == "info"
    assert last.incident == format_ts(hour_at(first))
    assert last.event_time_ms == hour_at(first + 8)  # after three calm hours
    assert last.evidence["excess_so_far"] == pytest.approx(5 * 50.0, rel=0.01)
    assert "back to baseline" in last.reasons[0]


def test_spike_resuming_soon_after_it_resolved_reopens_the_same_incident() -> None:
    customer = settled()
    first = 24 * 14 + 2
    customer.usual([first])
    customer.spend(first, 50.0, sku="Standard_NC6s_v3", minute=30)
    customer.usual(range(first + 1, first + 10))
    customer.usual([first + 10])
    again = customer.spend(first + 10, 60.0, sku="Standard_NC6s_v3", minute=30)
    assert [f.incident for f in again] == [format_ts(hour_at(first))]
    assert again[0].evidence["status"] == "open"


def test_anomalous_hours_are_not_learned_so_a_repeat_still_alerts() -> None:
    customer = settled()
    first = 24 * 14 + 2
    customer.usual(range(24 * 14, first + 1))
    customer.spend(first, 50.0, sku="Standard_NC6s_v3", minute=30)
    customer.usual(range(first + 1, first + 24 * 4))
    assert customer.state.base.hi < 6.0, "the usual peak must not have learned the spike"
    assert "Standard_NC6s_v3" not in customer.state.skus
    found = customer.spend(first + 24 * 4, 50.0, sku="Standard_NC6s_v3", minute=30)
    assert opened(found), "the first spike must not have taught the baseline"


def test_a_lasting_new_level_is_absorbed_into_the_baseline() -> None:
    customer = settled()
    first = 24 * 14
    for h in range(first, first + 100):
        customer.spend(h, normal_cost(h) + 30.0)
    statuses = [f.evidence["status"] for f in customer.findings]
    assert statuses[0] == "open"
    assert "absorbed" in statuses
    assert statuses.count("open") + statuses.count("absorbed") == len(statuses)
    assert len({f.incident for f in customer.findings}) == 1


# --- cold start and warm-up ---------------------------------------------------------------


def test_new_customer_is_judged_against_its_cohort_and_the_alert_says_so() -> None:
    customer = Customer()
    assert customer.usual(range(10)) == []
    found = customer.spend(10, 90.0, sku="Standard_NC24ads_A100_v4", region="eastus")
    assert len(found) == 1
    evidence = found[0].evidence
    assert evidence["basis"] == "cohort prior"
    assert evidence["cohort"] == "new customers"
    assert any(
        r.startswith("This customer has 10 hours of history, so it is judged against the prior")
        for r in found[0].reasons
    )


def test_new_customer_spending_like_its_cohort_raises_nothing() -> None:
    customer = Customer()
    # A GPU training run of 8 an hour on day two: unusual for this customer, usual for the cohort.
    customer.usual(range(30))
    assert customer.spend(30, 8.0, sku="Standard_NC6s_v3") == []
    assert customer.findings == []


def test_cohort_follows_the_offer_of_the_first_subscription() -> None:
    customer = Customer()
    customer.feed([activity_event("subscription.create", event_id="s-1", properties={
        "subscription_id": "sub-1", "offer": "MS-AZR-0003P"})])  # fmt: skip
    customer.usual(range(5))
    found = customer.spend(5, 90.0, sku="Standard_NC6s_v3")
    assert found[0].evidence["cohort"] == "new pay-as-you-go customers"


def test_customer_first_seen_through_usage_is_learned_before_it_is_judged() -> None:
    customer = Customer(signup=False)
    customer.usual(range(24 * 3))
    # During the warm-up everything is history, even this.
    assert customer.spend(24 * 3 + 2, 50.0, sku="Standard_NC6s_v3") == []
    customer.usual(range(24 * 3 + 3, 24 * 8))
    assert opened(customer.spend(24 * 8 + 2, 500.0, sku="Standard_NC6s_v3"))


# --- month ends ---------------------------------------------------------------------------


def month_end_customer() -> Customer:
    customer = Customer(signup=False)
    customer.usual(range(24 * 22))  # up to 2026-10-27
    return customer


def test_first_month_end_batch_in_known_regions_is_allowed() -> None:
    customer = month_end_customer()
    # Oct 30-31: a batch pool of 40 an hour around the clock, a known region, a new size.
    for h in range(24 * 25, 24 * 27):
        customer.usual([h])
        customer.spend(h, 40.0, sku="Standard_F16s_v2", minute=30)
    assert customer.findings == []


def test_month_end_allowance_does_not_cover_regions_never_used() -> None:
    customer = month_end_customer()
    h = 24 * 25 + 3
    customer.usual([h])
    found = customer.spend(h, 40.0, sku="Standard_F16s_v2", region="brazilsouth", minute=30)
    assert opened(found)


def test_learned_month_end_level_bounds_the_next_month_end() -> None:
    customer = month_end_customer()
    for h in range(24 * 25, 24 * 27):
        customer.usual([h])
        customer.spend(h, 20.0, sku="Standard_F16s_v2", minute=30)
    customer.usual(range(24 * 27, 24 * 55))  # November, up to its month end
    h = 24 * 55 + 3  # 2026-11-29T03:00Z
    customer.usual([h])
    assert customer.spend(h, 20.0, sku="Standard_F16s_v2", minute=30) == []
    customer.usual([h + 1])
    found = customer.spend(h + 1, 120.0, sku="Standard_F16s_v2", minute=30)
    assert opened(found)
    assert any(r.startswith("Month-end jobs may add up to $") for r in found[0].reasons)


# --- feedback -----------------------------------------------------------------------------


def expect(customer: Customer, h: int, until_h: int, factor: float = 5.0) -> None:
    customer.feed(
        [
            activity_event(
                "feedback.expect",
                event_id=f"fb-{h}",
                customer_id=customer.customer_id,
                at=format_ts(hour_at(h) + 10 * 60_000),
                actor="alice@example.com",
                properties={"until": format_ts(hour_at(until_h)), "reason": "launch",
                            "factor": factor},
            )
        ]
    )  # fmt: skip


def test_planned_growth_raises_the_allowance_until_it_expires() -> None:
    customer = settled()
    h = 24 * 14 + 10
    expect(customer, h, h + 48)
    customer.usual([24 * 14 + i for i in range(10)])
    assert customer.usual(range(h, h + 48), scale=4.0) == []
    # The allowed hours were learned as spend / factor: the baseline is still the usual one.
    assert customer.state.base.hi < 6.0
    after = customer.usual([h + 48], scale=4.0)  # Wednesday 10:00, the allowance expired
    assert opened(after)


def test_spend_beyond_the_planned_growth_alerts_and_names_the_owner() -> None:
    customer = settled()
    h = 24 * 14 + 10
    expect(customer, h, h + 48, factor=2.0)
    found = customer.spend(h, 200.0, sku="Standard_NC6s_v3")
    assert opened(found)
    assert found[0].evidence["allowance"] == {
        "factor": 2.0,
        "until": format_ts(hour_at(h + 48)),
        "owner": "alice@example.com",
        "reason": "launch",
    }
    assert any(
        "Planned growth recorded by alice@example.com (launch)" in r for r in found[0].reasons
    )


def test_feedback_with_factor_one_withdraws_the_allowance() -> None:
    customer = settled()
    h = 24 * 14 + 8
    customer.usual(range(24 * 14, h))
    expect(customer, h, h + 48)
    customer.usual([h], scale=6.0)
    assert customer.findings == []
    expect(customer, h + 1, h + 48, factor=1.0)
    assert opened(customer.usual([h + 1], scale=6.0))


@pytest.mark.parametrize(
    "properties",
    [
        pytest.param({"reason": "x", "factor": 3}, id="no-until"),
        pytest.param({"until": "tomorrow", "factor": 3}, id="bad-until"),
        pytest.param({"until": "2026-12-01T00:00:00Z", "factor": 0.5}, id="factor-below-one"),
        pytest.param({"until": "2026-12-01T00:00:00Z", "factor": True}, id="bool-factor"),
    ],
)
def test_malformed_feedback_changes_nothing(properties: dict[str, Any]) -> None:
    customer = settled()
    customer.feed([activity_event("feedback.expect", event_id="fb", at=format_ts(hour_at(24 * 14)),
                            properties=properties)])  # fmt: skip
    assert customer.state.expect is None


# --- odd input ----------------------------------------------------------------------------


def test_usage_in_another_currency_is_ignored() -> None:
    customer = settled()
    h = 24 * 14 + 2
    customer.n += 1
    found = customer.feed([usage_event(event_id="eur", at=format_ts(hour_at(h)), cost=900.0,
                                 currency="EUR")])  # fmt: skip
    assert found == []
    assert customer.state.currency == "USD"


def test_usage_for_an_hour_already_closed_is_counted_and_keeps_later_hours_open() -> None:
    customer = settled()
    assert customer.spend(24 * 14 - 5, 900.0, sku="Standard_NC6s_v3") == []
    assert customer.state.too_late == 1
    assert customer.state.late_h == 4  # 5 hours behind the current hour, 24 * 14 - 1


def test_idle_hours_count_as_zero_spend() -> None:
    customer = settled()
    learned = customer.state.base.n
    customer.usual([24 * 14 + 10])
    # The hour open before (closed now) and the ten idle hours 00:00-09:00.
    assert customer.state.base.n == learned + 11
    assert customer.state.base.buckets[5] < 1.5


# --- state --------------------------------------------------------------------------------


def test_state_round_trips_through_json_and_decides_the_same_after_restore() -> None:
    customer = settled()
    detector = customer.detector
    h = 24 * 14 + 2
    customer.spend(h, 60.0, sku="Standard_NC6s_v3")
    twin = detector.load(orjson.loads(orjson.dumps(detector.dump(customer.state))))
    assert twin == customer.state
    events = [usage_event(event_id=f"x-{i}", at=format_ts(hour_at(h + i)), cost=70.0 + i,
                    sku="Standard_NC6s_v3") for i in range(1, 30)]  # fmt: skip
    assert [detector.observe(twin, e) for e in events] == [
        detector.observe(customer.state, e) for e in events
    ]


def test_state_stays_small_for_a_busy_customer() -> None:
    customer = Customer()
    skus = [f"Standard_SKU_{i:02d}_with_a_long_name" for i in range(40)]
    regions = [f"region-number-{i:02d}" for i in range(30)]
    for h in range(24 * 60):
        for i in range(6):
            customer.spend(h, normal_cost(h) / 6, sku=skus[(h + i) % 40], region=regions[h % 30])
    size = len(orjson.dumps(customer.detector.dump(customer.state)))
    assert size <= 4096, size


def test_the_engine_runs_it_by_default_and_names_the_alert() -> None:
    core = Core()
    state = core.new_state("cust-1")
    decisions = [
        core.step(state, activity_event("customer.signup", event_id="s", at=format_ts(START)), 0),
        core.step(state, usage_event(event_id="u-1", at=format_ts(hour_at(3)), cost=300.0), 0),
    ]
    # A new customer with no payment on file is also usage_before_payment's business.
    alerts = [a for d in decisions for a in d.alerts if a.kind != "usage_before_payment"]
    assert [a.kind for a in alerts] == ["spend_spike"]
    assert alerts[0].detector.name == "spend_spike"


def test_config_is_the_production_one_by_default() -> None:
    assert SpendSpikeDetector().config == SpikeConfig()

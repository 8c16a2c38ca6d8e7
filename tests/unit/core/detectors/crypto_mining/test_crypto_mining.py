"""``crypto_mining``: the behaviour promised in the module docstring of
streamwatch.core.detectors.crypto_mining, with real entries of the shipped indicator lists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pytest

from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.crypto_mining.detector import MAX_REVISIONS, CryptoMiningDetector
from streamwatch.core.detectors.crypto_mining.state import MiningState
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import Alert, EnforcementRequest, Event
from streamwatch.core.indicators import EMPTY, Indicators
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.indicators import load_indicators
from streamwatch.testing import (
    activity_event,
    default_policy,
    make_alert,
    payment_event,
    usage_event,
)

LISTS = load_indicators()
"""The indicator lists shipped with streamwatch (copies of Falco's and Maltrail's)."""
START = parse_ts_ms("2026-10-01T00:00:00Z")
A100 = {"sku": "Standard_NC24ads_A100_v4", "vcpus": 24, "gpus": 1}
HB120 = {"sku": "Standard_HB120rs_v3", "vcpus": 120, "gpus": 0}
D4 = {"sku": "Standard_D4s_v5", "vcpus": 4, "gpus": 0}


class Story:
    """One customer's events in the order they are added; ``at`` is milliseconds since START."""

    def __init__(self, customer: str = "cust-1") -> None:
        self.customer = customer
        self.events: list[Event] = []
        self._n = 0

    def _common(self, at: int) -> dict[str, Any]:
        self._n += 1
        return {
            "event_id": f"{self.customer}-{self._n:05d}",
            "customer_id": self.customer,
            "at": format_ts(START + at),
        }

    def signup(self, at: int = 0, country: str = "DE", region: str = "westeurope") -> Story:
        props = {"country": country, "ip_country": country, "email_domain": "example.de"}
        self.events.append(activity_event("customer.signup", properties=props, **self._common(at)))
        sub = {"subscription_id": "sub-1", "offer": "MS-AZR-0003P"}
        self.events.append(
            activity_event(
                "subscription.create", properties=sub, region=region, **self._common(at + 1)
            )
        )
        return self

    def instrument(self, kind: str = "credit_card", at: int = 2000) -> Story:
        body = {"type": kind, "fingerprint": "card-1", "country": "DE"}
        self.events.append(
            payment_event("instrument.added", amount=None, instrument=body, **self._common(at))
        )
        return self

    def pay(self, kind: str = "payment.succeeded", at: int = 3000) -> Story:
        self.events.append(payment_event(kind, invoice_id="inv-1", **self._common(at)))
        return self

    def signin(self, at: int, country: str, *, failed: bool = False) -> Story:
        status = "failed" if failed else "succeeded"
        props = {"ip_country": country}
        self.events.append(
            activity_event("signin", properties=props, status=status, **self._common(at))
        )
        return self

    def create(
        self, at: int, region: str, count: int, machine: dict[str, Any] = A100, name: str = "m"
    ) -> Story:
        rid = f"/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/vmss/{name}"
        self.events.append(
            activity_event(
                "vm.create",
                properties={**machine, "count": count},
                region=region,
                resource_id=rid,
                **self._common(at),
            )
        )
        return self

    def hours(
        self,
        first_hour: int,
        hours: Iterable[int] | int,
        region: str,
        util: float,
        machine: dict[str, Any] = A100,
        count: int = 1,
    ) -> Story:
        """Hourly usage of a fleet from ``first_hour`` (hours since START) for the given hours
        (a count, or explicit hour offsets to leave gaps)."""
        offsets = range(hours) if isinstance(hours, int) else hours
        gpu = machine["gpus"] > 0
        for h in offsets:
            fields: dict[str, Any] = {
                "meter": "gpu" if gpu else "compute",
                "sku": machine["sku"],
                "region": region,
                "vcpus": machine["vcpus"],
                "quantity": float(count),
                "cost": round(3.6 * count, 2),
            }
            if gpu:
                fields.update(gpus=machine["gpus"], gpu_util=util)
            else:
                fields["cpu_util"] = util
            self.events.append(
                usage_event(**self._common((first_hour + h) * MS_PER_HOUR), **fields)
            )
        return self

    def flow(self, at: int, host: str | None, port: int | str) -> Story:
        props = {"dst_host": host, "dst_port": port, "protocol": "tcp", "bytes_out": 40_000}
        self.events.append(activity_event("network.flow", properties=props, **self._common(at)))
        return self

    def notice(self, at: int, category: str = "aup.crypto_mining") -> Story:
        props = {"notice_id": "PN-1", "category": category, "severity": "high"}
        self.events.append(
            activity_event(
                "provider.notice", properties=props, actor="provider", **self._common(at)
            )
        )
        return self


def findings(events: Iterable[Event], indicators: Indicators = LISTS) -> list[Finding]:
    detector = CryptoMiningDetector(indicators)
    states: dict[str, MiningState] = {}
    out: list[Finding] = []
    for event in events:
        state = states.setdefault(event.customer_id, detector.new_state())
        out.extend(detector.observe(state, event))
    return out


def engine_run(events: Iterable[Event]) -> tuple[list[Alert], list[EnforcementRequest]]:
    fleet = Fleet(Core(default_policy(), detectors=[CryptoMiningDetector(LISTS)]))
    alerts: list[Alert] = []
    requests: list[EnforcementRequest] = []
    for event in events:
        decisions = fleet.step(event, 0)
        alerts.extend(decisions.alerts)
        requests.extend(decisions.requests)
    return alerts, requests


def young_miner(prepaid: bool = True) -> Story:
    """A 2-hour-old account paying by prepaid card starts 14 A100s in 3 new regions."""
    story = Story().signup().instrument("prepaid_card" if prepaid else "credit_card")
    minute = 60_000
    at = 2 * MS_PER_HOUR
    for i, region in enumerate(("eastus", "brazilsouth", "japaneast")):
        story.create(at + i * 7 * minute, region, 5 if i < 2 else 4, name=f"m{i}")
    return story


def established(story: Story, days: int = 10) -> Story:
    """An account whose sign-up predates the stream: home-country sign-ins, an ordinary VM in
    westeurope every hour for ``days`` days, and a paid invoice."""
    story.pay(at=MS_PER_HOUR)
    for day in range(days):
        story.signin(day * MS_PER_DAY + 9 * MS_PER_HOUR, "DE")
    story.hours(0, days * 24, "westeurope", 0.4, machine=D4)
    return story


# -- alert at creation, then amendments ---------------------------------------------------------


def test_burst_of_gpus_in_new_regions_alerts_on_the_vm_create_itself() -> None:
    story = young_miner()
    first = findings(story.events)[0]
    creates = [e for e in story.events if getattr(e, "operation", "") == "vm.create"]
    assert first.event_time_ms == creates[0].ts_ms, "the first create already alerts"
    assert first.kind == "crypto_mining"
    assert first.evidence["standing"] == "untrusted"
    assert first.evidence["payment"] == "prepaid"
    last = findings(story.events)[-1]
    assert last.event_time_ms == creates[-1].ts_ms
    assert last.severity == "critical"
    summary = last.reasons[0]
    assert "14 Standard_NC24ads_A100_v4 created in 3 regions never used before" in summary
    assert "within 14 minutes" in summary
    assert "account 2 hours old, paid by prepaid card" in summary


def test_usage_amends_the_same_alert_with_flat_utilisation() -> None:
    story = young_miner().hours(3, 30, "eastus", 0.99, count=5)
    alerts, _ = engine_run(story.events)
    assert len({a.alert_id for a in alerts}) == 1, "one incident, one alert"
    last = alerts[-1]
    assert last.revision == len(alerts) > 1
    assert "GPU utilisation 0.99 flat for 24 h" in last.reasons[0]
    assert last.evidence["usage"]["hours"] == 24


def test_amendments_are_few_over_a_month_of_mining() -> None:
    story = young_miner().hours(3, 30 * 24, "eastus", 0.98, count=5)
    for hour in range(4, 30 * 24, 2):
        story.flow(hour * MS_PER_HOUR, "xmr-eu1.nanopool.org", 14444)
    alerts, _ = engine_run(sorted(story.events, key=lambda e: e.ts_ms))
    assert len({a.alert_id for a in alerts}) == 1
    assert len(alerts) <= 10 <= MAX_REVISIONS


# -- pool traffic: host and port together -------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "strength"),
    [
        ("xmr-eu1.nanopool.org", 14444, "pool"),  # falco/miner_domains.txt with a miner port
        ("pool.minexmr.com", 443, "pool"),  # falco/https_miner_domains.txt on 443
        ("94.130.143.162", 45700, "pool"),  # a Maltrail ip:port pair
        ("pool.supportxmr.com", 22, "host"),  # a listed pool host on an unrelated port
        ("minexmr.com", 443, "host"),  # a Maltrail pool domain on a web port: its web site
        ("metrics.example.net", 3333, None),  # a miner port on an ordinary host
    ],
    ids=["falco-host-and-port", "falco-https", "maltrail-ip-port", "host-only", "site", "port"],
)
def test_real_list_entries_are_judged_by_host_and_port_together(
    host: str, port: int, strength: str | None
) -> None:
    match = LISTS.judge(host, port)
    assert (match.strength if match else None) == strength


def test_flow_to_a_pool_host_and_port_alone_alerts_like_falco() -> None:
    story = Story().flow(MS_PER_HOUR, "xmr-eu1.nanopool.org", "14444")
    (finding,) = findings(story.events)
    assert finding.severity == "medium"
    assert "outbound flows to a known Monero pool on port 14444" in finding.reasons[0]
    assert finding.evidence["pool"]["list"] == "falco/miner_domains.txt"
    assert finding.evidence["indicators"] == LISTS.digest


def test_pool_host_on_an_unrelated_port_is_noted_but_not_proof() -> None:
    alone = Story().signup().flow(MS_PER_HOUR, "pool.supportxmr.com", 22)
    assert findings(alone.events) == []
    with_burst = young_miner(prepaid=False).flow(3 * MS_PER_HOUR, "pool.supportxmr.com", 22)
    last = findings(with_burst.events)[-1]
    assert last.evidence["signals"]["pool_host_other_port"] == 1.0
    assert "pool_traffic" not in last.evidence["signals"]
    assert any("not a pool port: noted, not proof" in r for r in last.reasons)


def test_port_3333_of_an_ordinary_host_is_no_evidence_at_all() -> None:
    story = young_miner(prepaid=False)
    without = findings(story.events)[-1]
    story.flow(3 * MS_PER_HOUR, "metrics.example.net", 3333)
    story.flow(4 * MS_PER_HOUR, "dev.example.org", 3333)
    detector = CryptoMiningDetector(LISTS)
    state = detector.new_state()
    out = [f for e in story.events for f in detector.observe(state, e)]
    assert out[-1] == without, "the flows changed nothing"
    assert state.campaign is not None
    assert state.campaign.pool_flows == state.campaign.host_flows == 0


def test_without_indicator_lists_flows_are_not_judged() -> None:
    story = Story().flow(MS_PER_HOUR, "xmr-eu1.nanopool.org", 14444)
    assert findings(story.events, EMPTY) == []


def test_new_indicator_lists_apply_from_the_next_flow() -> None:
    detector = CryptoMiningDetector()
    state = detector.new_state()
    story = Story().flow(MS_PER_HOUR, "xmr-eu1.nanopool.org", 14444)
    story.flow(2 * MS_PER_HOUR, "xmr-eu1.nanopool.org", 14444)
    assert detector.observe(state, story.events[0]) == []
    detector.use_indicators(LISTS)
    assert detector.indicators is LISTS
    assert len(detector.observe(state, story.events[1])) == 1


# -- context ------------------------------------------------------------------------------------


def test_sign_ins_from_a_new_country_just_before_raise_the_score() -> None:
    def burst(with_attacker: bool) -> list[Finding]:
        story = established(Story())
        at = 10 * MS_PER_DAY + 3 * MS_PER_HOUR
        if with_attacker:
            for i in range(3):
                story.signin(at - 40 * 60_000 + i * 60_000, "VN", failed=True)
            story.signin(at - 10 * 60_000, "VN")
        story.create(at, "koreacentral", 2)
        return findings(sorted(story.events, key=lambda e: e.ts_ms))

    assert burst(with_attacker=False) == [], "two GPUs in one new region alone: too little"
    (finding,) = burst(with_attacker=True)
    assert "3 failed sign-ins from VN, a country never seen before" in finding.reasons[0]
    assert "a sign-in from VN, a new country" in finding.reasons[0]
    assert finding.evidence["standing"] == "established"


def test_stealthy_throttled_miner_in_one_region_is_caught_by_its_unbroken_run() -> None:
    story = established(Story())
    at = 10 * MS_PER_DAY
    story.create(at, "koreacentral", 1)
    story.hours(10 * 24 + 1, 60, "koreacentral", 0.6)
    out = findings(sorted(story.events, key=lambda e: e.ts_ms))
    assert out, "a flat 60% run round the clock gives it away"
    assert "GPU utilisation 0.60 flat for 48 h" in out[0].reasons[0]


def test_provider_notice_is_folded_into_an_alert_but_never_opens_one() -> None:
    assert findings(Story().signup().notice(MS_PER_HOUR).events) == []
    story = young_miner(prepaid=False).notice(4 * MS_PER_HOUR)
    before, after = findings(story.events)[-2:]
    assert after.incident == before.incident
    assert after.score > before.score
    assert after.evidence["provider_notice"] == "PN-1"
    other = young_miner(prepaid=False).notice(4 * MS_PER_HOUR, category="aup.spam")
    assert findings(other.events)[-1] == before


def test_failed_payment_makes_an_established_account_untrusted() -> None:
    story = established(Story()).create(10 * MS_PER_DAY, "koreacentral", 3)
    story.signin(10 * MS_PER_DAY - 600_000, "VN")
    story.pay("payment.failed", at=10 * MS_PER_DAY + 60_000)
    out = findings(sorted(story.events, key=lambda e: e.ts_ms))
    assert [f.evidence["standing"] for f in out] == ["established", "untrusted"]
    assert out[-1].evidence["payment"] == "failed"


# -- look-alikes stay quiet ---------------------------------------------------------------------


def test_ml_training_with_job_structure_stays_quiet_even_in_a_new_region() -> None:
    story = established(Story(), days=20)
    for day in range(20):
        if day % 2 == 0:
            story.hours(day * 24 + 8, 10, "westeurope", 0.9)
    story.create(15 * MS_PER_DAY + 8 * MS_PER_HOUR, "swedencentral", 6, name="big")
    story.hours(15 * 24 + 9, 40, "swedencentral", 0.9, count=6)
    assert findings(sorted(story.events, key=lambda e: e.ts_ms)) == []


def test_hpc_job_of_many_cores_in_the_home_region_stays_quiet() -> None:
    story = Story().signup().instrument()
    story.create(3 * MS_PER_DAY, "westeurope", 32, machine=HB120)
    story.hours(3 * 24 + 1, 30, "westeurope", 0.97, machine=HB120, count=32)
    assert findings(story.events) == []


def test_ordinary_machines_in_a_new_region_are_no_evidence() -> None:
    story = Story().signup().instrument().create(MS_PER_DAY, "koreacentral", 4, machine=D4)
    story.hours(25, 48, "koreacentral", 0.99, machine=D4, count=4)
    detector = CryptoMiningDetector(LISTS)
    state = detector.new_state()
    assert [f for e in story.events for f in detector.observe(state, e)] == []
    assert state.campaign is None
    assert "koreacentral" in state.regions


# -- enforcement through the default policy -----------------------------------------------------


@pytest.mark.parametrize(
    ("standing", "confidence", "severity", "expected"),
    [
        ("untrusted", "possible", "medium", [("require_prepayment", False)]),
        ("untrusted", "likely", "high", [("restrict", True)]),
        ("untrusted", "confirmed", "critical", [("suspend", True)]),
        ("established", "possible", "medium", [("notify", False)]),
        ("established", "likely", "high", [("notify", False)]),
        ("established", "confirmed", "critical", [("restrict", True), ("notify", False)]),
    ],
    ids=[
        "young-possible",
        "young-likely",
        "young-confirmed",
        "old-possible",
        "old-likely",
        "old-confirmed",
    ],
)
def test_policy_climbs_the_ladder_for_untrusted_accounts_and_leaves_established_ones_to_a_person(
    standing: str, confidence: str, severity: str, expected: list[tuple[str, bool]]
) -> None:
    evidence = {"standing": standing, "confidence": confidence}
    alert = make_alert("crypto_mining", severity, evidence, incident="2026-10-01T00:00:00Z")
    decided = default_policy().decide(alert, {}, 0)
    assert [(r.action, r.requires_approval) for _, r in decided] == expected


def test_confident_finding_on_a_young_account_requests_suspend_with_approval() -> None:
    _, requests = engine_run(young_miner().events)
    assert {(r.action, r.requires_approval) for r in requests} <= {
        ("restrict", True),
        ("suspend", True),
    }
    assert any(r.action == "suspend" for r in requests)


def test_established_account_is_notified_first() -> None:
    story = established(Story())
    at = 10 * MS_PER_DAY
    story.signin(at - 600_000, "VN", failed=True).signin(at - 300_000, "VN")
    story.create(at, "koreacentral", 6).create(at + 60_000, "uaenorth", 6, name="m2")
    alerts, requests = engine_run(sorted(story.events, key=lambda e: e.ts_ms))
    assert alerts[-1].severity in ("high", "critical")
    assert [(r.action, r.policy) for r in requests] == [
        ("notify", "crypto-mining-established-notify")
    ]


# -- learning and state -------------------------------------------------------------------------


def test_regions_of_an_alerted_campaign_are_not_learned() -> None:
    story = young_miner()
    detector = CryptoMiningDetector(LISTS)
    state = detector.new_state()
    for event in story.events:
        detector.observe(state, event)
    assert state.regions == ["westeurope"], "the miner's regions stay never-used-before"


def test_malformed_properties_are_ignored_not_fatal() -> None:
    story = Story().signup()
    story.events.append(
        activity_event(
            "vm.create",
            properties={"sku": 7, "vcpus": "lots", "gpus": True, "count": -3},
            region="eastus",
            event_id="x1",
        )
    )
    story.events.append(
        activity_event(
            "vm.create", properties={"gpus": 1e300, "count": float("inf")}, event_id="x2"
        )
    )
    story.flow(MS_PER_HOUR, "xmr-eu1.nanopool.org", "not-a-port")
    story.flow(MS_PER_HOUR, None, 14444)
    story.events.append(activity_event("signin", properties={"ip_country": 42}, event_id="x3"))
    findings(story.events)


def test_state_stays_small_for_a_busy_customer() -> None:
    story = young_miner()
    for i, region in enumerate(("eastus", "brazilsouth", "japaneast", "uaenorth") * 3):
        machine = dict(A100, sku=f"Standard_NC{i}_v9")
        story.hours(3, 24 * 14, region, 0.97, machine=machine, count=5)
    for i in range(40):
        story.hours(3, 24, f"region-{i}", 0.3, machine=D4)
        story.signin(i * MS_PER_HOUR, f"C{i}")
    for hour in range(3, 24 * 14, 3):
        story.flow(hour * MS_PER_HOUR, "xmr-eu1.nanopool.org", 14444)
    detector = CryptoMiningDetector(LISTS)
    state = detector.new_state()
    for event in sorted(story.events, key=lambda e: e.ts_ms):
        detector.observe(state, event)
    size = len(orjson.dumps(detector.dump(state)))
    assert size < 3000, size
    assert len(state.groups) == 8
    assert min(g.hours for g in state.groups.values()) > 24 * 13, "tracked runs are not reset"


# -- quiet miners: pinned mid-size fleets, pinned GPUs started at night ------------------------

D8 = {"sku": "Standard_D8s_v5", "vcpus": 8, "gpus": 0}
NIGHT_START_H = 10 * 24 + 22
"""Hour 22 UTC of day 10: the customer's people (08:00 to 15:00) never work then."""


def worked_hours(story: Story, days: int = 10, hours: tuple[int, ...] = (8, 11, 14)) -> Story:
    """An established customer (``established``) whose people act at ``hours`` UTC daily."""
    established(story, days)
    for day in range(days):
        for hour in hours:
            story.signin(day * MS_PER_DAY + hour * MS_PER_HOUR + 60_000, "DE")
    return story


@pytest.mark.parametrize(
    ("util", "alerted"), [(0.95, True), (0.9, False)], ids=["pinned", "busy-but-not-pinned"]
)
def test_mid_size_machines_pinned_round_the_clock_alert_within_six_hours(
    util: float, alerted: bool
) -> None:
    story = worked_hours(Story())
    start_h = 10 * 24 + 3
    story.create(start_h * MS_PER_HOUR - 600_000, "westeurope", 1, machine=D8, name="w1")
    story.hours(start_h, 6, "westeurope", util, machine=D8)
    out = findings(sorted(story.events, key=lambda e: e.ts_ms))
    assert bool(out) is alerted
    if alerted:
        assert out[0].event_time_ms <= START + (start_h + 6) * MS_PER_HOUR
        assert out[0].evidence["signals"]["small_pegged"] > 0
        assert "mid-size machines" in out[0].reasons[0]


def test_cheap_gpu_pinned_from_a_night_start_alerts_within_six_hours() -> None:
    story = worked_hours(Story())
    story.create(NIGHT_START_H * MS_PER_HOUR - 900_000, "westeurope", 1, name="render")
    story.hours(NIGHT_START_H, 6, "westeurope", 0.98)
    out = findings(sorted(story.events, key=lambda e: e.ts_ms))
    assert out, "a first GPU pinned from 22:00, when the customer's people never work"
    assert out[0].event_time_ms < START + (NIGHT_START_H + 6) * MS_PER_HOUR
    assert out[0].evidence["signals"]["off_hours"] > 0
    assert out[0].evidence["standing"] == "established"


@pytest.mark.parametrize(
    ("start_h", "util"),
    [(10 * 24 + 9, 0.98), (NIGHT_START_H, 0.9)],
    ids=["pinned-from-office-hours", "night-start-not-pinned"],
)
def test_first_long_training_run_in_the_home_region_stays_quiet(start_h: int, util: float) -> None:
    story = worked_hours(Story())
    story.create(start_h * MS_PER_HOUR - 900_000, "westeurope", 2, name="train")
    story.hours(start_h, 40, "westeurope", util, count=2)
    assert findings(sorted(story.events, key=lambda e: e.ts_ms)) == []


def test_habits_survive_a_snapshot_and_load() -> None:
    story = worked_hours(Story(), days=3)
    detector = CryptoMiningDetector(LISTS)
    state = detector.new_state()
    for event in story.events:
        detector.observe(state, event)
    restored = detector.load(orjson.loads(orjson.dumps(detector.dump(state))))
    assert restored.active_hours == state.active_hours != 0
    assert restored.active_seen == state.active_seen
    old = detector.dump(state)
    del old["habits"]
    assert detector.load(old).active_hours == 0, "snapshots from before habits still load"

"""network_abuse: SMTP fan-out, scanning and egress floods against the customer's own peak, in
bounded state; and the HyperLogLog that counts distinct destinations."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import orjson
import pytest

from streamwatch.alert_truth import problems
from streamwatch.core.detectors.network_abuse import NetworkAbuseDetector, sketch
from streamwatch.core.detectors.network_abuse.detector import MAX_REVISIONS
from streamwatch.core.engine import Core
from streamwatch.core.events import Event, UsageEvent
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity_event, default_policy, run_core, ts, usage_event

START = parse_ts_ms(ts(1))


def at(hours: float) -> str:
    return format_ts(START + round(hours * MS_PER_HOUR))


class Traffic:
    def __init__(self, *, new_account: bool = False) -> None:
        self.events: list[Event] = []
        self.rng = random.Random(5)
        if new_account:
            self.act("customer.signup", 0, properties={"country": "DE"})

    def act(self, operation: str, hours: float, **kw: Any) -> None:
        event_id = f"e{len(self.events):05d}"
        self.events.append(activity_event(operation, event_id=event_id, at=at(hours), **kw))

    def flow(self, hours: float, host: str, port: int, bytes_out: int = 5000) -> None:
        props = {"dst_host": host, "dst_port": port, "protocol": "tcp", "bytes_out": bytes_out}
        self.act("network.flow", hours, properties=props)

    def smtp(self, hour: float, servers: list[str], port: int = 25) -> None:
        for server in servers:
            self.flow(hour + self.rng.random() * 0.99, server, port)

    def egress(self, hour: int, gb: float) -> None:
        event_id = f"u{len(self.events):05d}"
        self.events.append(
            usage_event(
                event_id=event_id,
                at=at(hour),
                meter="egress",
                sku="Internet_Egress_Zone1",
                quantity=gb,
                unit="GB",
                cost=round(gb * 0.087, 4),
            )
        )

    def ordered(self) -> list[Event]:
        return sorted(self.events, key=lambda e: e.ts_ms)


def core() -> Core:
    return Core(policy=default_policy(), detectors=[NetworkAbuseDetector()])


def servers(n: int, tag: str = "") -> list[str]:
    return [f"mx{i}.{tag}example{i % 13}.test" for i in range(n)]


def test_a_new_account_sending_mail_to_many_servers_is_spam() -> None:
    traffic = Traffic(new_account=True)
    traffic.smtp(5, servers(90))
    outcome = run_core(core(), traffic.ordered())
    alert, grown = outcome.alerts
    assert grown.alert_id == alert.alert_id, "amended as the fan-out doubles"
    assert grown.severity == "critical"
    assert alert.kind == "network_abuse"
    assert alert.evidence["pattern"] == "spam"
    assert alert.evidence["standing"] == "untrusted"
    assert alert.evidence["basis"] == "new-account floor"
    assert alert.severity == "high"
    assert 40 <= alert.evidence["distinct_mail_servers"] <= 45
    assert [(r.action, r.requires_approval) for r in outcome.requests] == [
        ("restrict", True),
        ("notify", False),
    ], "then the rules' cooldowns hold"


def test_spam_straddling_bucket_edges_is_found_within_the_hour() -> None:
    traffic = Traffic(new_account=True)
    start = 5.4  # the flows of the first hour fall into three half-hour buckets
    for k, server in enumerate(servers(80)):
        traffic.flow(start + k / 80, server, 25)
    [alert, *_] = run_core(core(), traffic.ordered()).alerts
    assert parse_ts_ms(alert.event_time) - parse_ts_ms(at(start)) < MS_PER_HOUR


def test_a_mail_service_with_steady_fan_out_sets_its_own_bar() -> None:
    traffic = Traffic()
    pool = servers(400)
    for hour in range(24 * 6):
        busy = 8 <= hour % 24 < 18
        traffic.smtp(hour, traffic.rng.sample(pool, 70 if busy else 12))
    assert run_core(core(), traffic.ordered()).alerts == []


def test_the_same_mail_service_tripling_its_fan_out_is_alerted() -> None:
    traffic = Traffic()
    pool = servers(1000)
    for hour in range(24 * 3):
        traffic.smtp(hour, traffic.rng.sample(pool, 50))
    traffic.smtp(24 * 3 + 1, servers(300, "spam-"))
    [alert] = run_core(core(), traffic.ordered()).alerts
    assert alert.evidence["basis"] == "baseline"
    assert alert.evidence["limit"] > 140
    assert alert.evidence["standing"] == "established"


def test_an_established_customer_is_only_learned_from_at_first() -> None:
    traffic = Traffic()
    traffic.smtp(2, servers(90))
    assert run_core(core(), traffic.ordered()).alerts == []


def test_the_start_of_an_attack_does_not_raise_its_own_bar() -> None:
    traffic = Traffic(new_account=True)
    traffic.egress(0, 1.0)
    traffic.smtp(40.6, servers(30, "a-"))  # a partial first window under the line
    traffic.smtp(41, servers(120, "b-"))
    alert = run_core(core(), traffic.ordered()).alerts[0]
    assert alert.evidence["limit"] == 40.0


def test_probing_many_ports_of_one_host_is_a_scan() -> None:
    traffic = Traffic(new_account=True)
    for port in random.Random(1).sample(range(1, 9000), 50):
        traffic.flow(3 + traffic.rng.random() * 0.1, "198.51.100.7", port, 60)
    alert = run_core(core(), traffic.ordered()).alerts[0]
    assert alert.evidence["pattern"] == "scan"
    assert alert.evidence["distinct_ports"] >= 24
    assert alert.evidence["examples"] == ["198.51.100.7"]


def test_probing_one_port_of_many_hosts_is_a_scan() -> None:
    traffic = Traffic(new_account=True)
    for i in range(120):
        traffic.flow(3 + i / 600, f"203.0.{i // 200}.{i % 200 + 1}", 22, 60)
    alerts = run_core(core(), traffic.ordered()).alerts
    assert len({a.alert_id for a in alerts}) == 1
    alert = alerts[0]
    assert alert.evidence["pattern"] == "scan"
    assert alert.evidence["distinct_endpoints"] >= 60


def test_an_egress_flood_far_above_the_customers_peak_is_ddos() -> None:
    traffic = Traffic()
    for hour in range(24 * 4):
        traffic.egress(hour, 2.0 + (hour % 24) / 10)
    for hour in range(24 * 4, 24 * 4 + 5):
        traffic.egress(hour, 800.0)
        traffic.flow(hour + 0.01, "192.0.2.50", 53, 10**11)
    outcome = run_core(core(), traffic.ordered())
    first, last = outcome.alerts
    assert first.evidence["pattern"] == "ddos"
    assert first.event_time == at(24 * 4)
    assert first.severity == "critical"
    assert first.evidence["limit"] == 50.0
    assert last.alert_id == first.alert_id
    assert last.event_time == at(24 * 4 + 3), "amended when the flood spans four hours"
    assert last.evidence["windows"] == 4
    assert last.evidence["total_gb"] == 3200.0
    assert last.evidence["top_flow"]["dst_host"] == "192.0.2.50"


def test_a_nightly_backup_sets_its_own_bar() -> None:
    traffic = Traffic()
    for hour in range(24 * 14):
        traffic.egress(hour, 400.0 if hour % 24 in (2, 3) else 3.0)
    assert run_core(core(), traffic.ordered()).alerts == []


def test_state_stays_small_however_many_destinations() -> None:
    detector = NetworkAbuseDetector()
    state = detector.new_state()
    traffic = Traffic()
    traffic.smtp(1, servers(3000))
    for port in range(1, 3000):
        traffic.flow(1.5, "198.51.100.7", port, 60)
    for event in traffic.ordered():
        detector.observe(state, event)
    assert len(orjson.dumps(detector.dump(state))) < 4096


def test_late_flows_are_not_counted_into_a_judged_window() -> None:
    traffic = Traffic(new_account=True)
    traffic.flow(10, "mx.example.test", 25)
    traffic.smtp(2, servers(90))  # arrives after hour 10, belongs to hour 2
    detector = NetworkAbuseDetector()
    state = detector.new_state()
    findings = [f for e in traffic.events for f in detector.observe(state, e)]
    assert findings == []


@pytest.mark.parametrize("n", [0, 1, 10, 50, 200, 1000, 20000])
def test_the_sketch_estimates_distinct_counts_closely(n: int) -> None:
    registers = sketch.empty()
    for i in range(n):
        sketch.add(registers, f"host-{i}.example")
        sketch.add(registers, f"host-{i}.example")  # repeats do not count
    assert abs(sketch.estimate(registers) - n) <= max(1, 0.15 * n)


def test_sketches_merge_and_round_trip() -> None:
    a, b = sketch.empty(), sketch.empty()
    for i in range(100):
        sketch.add(a, f"x{i}")
        sketch.add(b, f"x{i + 50}")
    both = sketch.merged(a, b)
    assert abs(sketch.estimate(both) - 150) <= 15
    assert sketch.load(sketch.dump(both)) == both
    with pytest.raises(ValueError, match="registers"):
        sketch.load("00")


def arrival_order(traffic: Traffic, late_sub: str, lag_h: int) -> list[Event]:
    """``late_sub``'s usage delivered ``lag_h`` hours after its hour, after later hours of the
    other subscriptions (as billing exports deliver it)."""

    def arrives(event: Event) -> int:
        lag = lag_h * MS_PER_HOUR if getattr(event, "subscription_id", None) == late_sub else 0
        return event.ts_ms + lag

    return sorted(traffic.events, key=arrives)


def split_egress(traffic: Traffic, hour: int, gb: float, late_gb: float) -> None:
    """Egress of one hour from two subscriptions: ``sub-1`` on time, ``sub-late`` lagging."""
    traffic.egress(hour, gb)
    traffic.egress(hour, late_gb)
    late = traffic.events[-1]
    assert isinstance(late, UsageEvent)
    traffic.events[-1] = dataclasses.replace(late, subscription_id="sub-late")


def test_egress_arriving_late_is_judged_by_whole_hours_as_in_event_time_order() -> None:
    traffic = Traffic()
    for hour in range(24 * 14):
        backup = hour % 24 in (2, 3)
        split_egress(traffic, hour, 2.0, 300.0 if backup else 1.0)
    in_order = run_core(core(), traffic.ordered())
    late = run_core(core(), arrival_order(traffic, "sub-late", 6))
    assert in_order.alerts == late.alerts == []
    detector = NetworkAbuseDetector()
    ordered, state = detector.new_state(), detector.new_state()
    for event in traffic.ordered():
        detector.observe(ordered, event)
    for event in arrival_order(traffic, "sub-late", 6):
        detector.observe(state, event)
    # The peak learned from whole hours (the backup's 302 GB), not from sub-1's 2 GB of them.
    assert state.egress_peak.value == pytest.approx(ordered.egress_peak.value, rel=0.02)
    assert state.egress_peak.value > 250.0
    assert state.egress_late_h == 5  # delivered just before the on-time egress of hour + 6
    assert 0 < state.egress_too_late <= 5  # the first hours, before the lag was known
    twin = detector.load(orjson.loads(orjson.dumps(detector.dump(state))))
    assert twin == state


def test_a_flood_in_late_egress_is_found_when_it_arrives_at_its_own_hour() -> None:
    traffic = Traffic()
    for hour in range(24 * 5):
        split_egress(traffic, hour, 2.0, 800.0 if hour >= 24 * 4 else 1.0)
    alerts = run_core(core(), arrival_order(traffic, "sub-late", 6)).alerts
    assert alerts
    assert alerts[0].evidence["pattern"] == "ddos"
    assert alerts[0].event_time == at(24 * 4)


def test_a_limit_set_by_the_floor_says_so_and_not_that_the_peak_set_it() -> None:
    traffic = Traffic()
    for hour in range(48):
        traffic.egress(hour, 1.0)  # a peak of 1 GB an hour: five times that is under the floor
    traffic.egress(50, 120.0)
    [alert] = run_core(core(), traffic.ordered()).alerts
    assert alert.evidence["basis"] == "floor"
    assert alert.evidence["limit"] == 50.0
    assert "the floor for every account (5 times its own peak of 1.0 is lower)" in alert.reasons[0]
    assert problems(dataclasses.asdict(alert)) == []


def test_a_limit_drawn_from_the_peak_names_the_peak_and_its_multiple() -> None:
    traffic = Traffic()
    for hour in range(48):
        traffic.egress(hour, 30.0)
    traffic.egress(50, 400.0)
    [alert] = run_core(core(), traffic.ordered()).alerts
    assert alert.evidence["basis"] == "baseline"
    assert "over the limit of 150 GB an hour, 5 times its own peak of 30.0." in alert.reasons[0]
    assert problems(dataclasses.asdict(alert)) == []


def test_becoming_sustained_is_said_even_past_the_revision_cap() -> None:
    """A flood doubling every hour uses up the alert's revisions within a day; when it has been
    over the line for more than a day, one more revision says so, for the policy to act on."""
    traffic = Traffic()
    for hour in range(48):
        traffic.egress(hour, 2.0)
    for i in range(30):
        traffic.egress(48 + i, 100.0 * 2 ** min(i, 10))
    alerts = run_core(core(), traffic.ordered()).alerts
    assert len({a.alert_id for a in alerts}) == 1
    capped = [a for a in alerts if a.evidence["sustained"] == "no"]
    assert len(capped) == MAX_REVISIONS, "the cap was reached within the day"
    [last] = [a for a in alerts if a.evidence["sustained"] == "yes"]
    assert (last.revision, last.evidence["hours"]) == (MAX_REVISIONS + 1, 25)
    assert last.event_time == at(48 + 24)

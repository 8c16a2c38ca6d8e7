"""network_abuse on customers shaped like real tenants: daily egress rows, a weekly off-site
backup and a weekly newsletter, and an egress flood ramping up over two days."""

from __future__ import annotations

import math
from itertools import count

from streamwatch.alert_truth import problems
from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.network_abuse import NetworkAbuseDetector
from streamwatch.core.detectors.network_abuse.detector import NetState
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts, parse_ts_ms
from streamwatch.testing import activity_event, usage_event

START = parse_ts_ms("2026-10-05T00:00:00Z")  # a Monday
WEEK_H = 24 * 7
_ids = count()


class Tenant:
    """One customer fed event by event, keeping every finding."""

    def __init__(self, timezone: str | None = None) -> None:
        self.detector = NetworkAbuseDetector()
        self.state: NetState = self.detector.new_state()
        self.findings: list[Finding] = []
        props = {"country": "DE"} | ({"timezone": timezone} if timezone else {})
        self.feed(activity_event("customer.signup", event_id="s", at="2022-01-10T09:00:00Z",
                                 properties=props))  # fmt: skip

    def feed(self, event: Event) -> list[Finding]:
        out = self.detector.observe(self.state, event)
        self.findings.extend(out)
        return out

    def egress(self, h: int, gb: float, interval_s: int = 3600) -> list[Finding]:
        return self.feed(
            usage_event(event_id=f"u{next(_ids)}", at=format_ts(START + h * MS_PER_HOUR),
                        meter="egress", sku="Internet_Egress", quantity=gb, unit="GB",
                        cost=round(gb * 0.087, 4), interval_s=interval_s)
        )  # fmt: skip

    def mail(self, h: int, n: int) -> list[Finding]:
        out: list[Finding] = []
        for i in range(n):
            at = format_ts(START + h * MS_PER_HOUR + (i * 3_300_000) // max(n, 1))
            props = {"dst_host": f"mx.{i}.example{i % 17}.test", "dst_port": 25,
                     "protocol": "tcp", "bytes_out": 40_000}  # fmt: skip
            out += self.feed(activity_event("network.flow", event_id=f"f{next(_ids)}", at=at,
                                            properties=props))  # fmt: skip
        return out


def daily_cycle(h: int) -> float:
    """Ordinary egress: 4 to 12 GB an hour, following the day."""
    return 8.0 + 4.0 * math.sin(2 * math.pi * (h % 24) / 24)


def test_a_daily_egress_row_is_judged_at_its_hourly_rate() -> None:
    tenant = Tenant()
    for day in range(10):
        # 195 GB for the day: 8.1 GB an hour, never "195 GB in an hour".
        assert tenant.egress(day * 24, 195.0, interval_s=86_400) == []
    assert tenant.state.egress_gb == 195.0 / 24


def test_a_flood_in_daily_rows_is_one_alert_that_says_it_read_a_days_row() -> None:
    tenant = Tenant()
    for day in range(7):
        tenant.egress(day * 24, 150.0, interval_s=86_400)
    assert tenant.findings == []
    for day in range(7, 11):
        # 1,800 GB a day: 75 GB an hour, over the floor of 50.
        tenant.egress(day * 24, 1800.0, interval_s=86_400)
    incidents = {f.incident for f in tenant.findings}
    assert len(incidents) == 1, [f.reasons[0] for f in tenant.findings]
    first = tenant.findings[0]
    assert first.reasons[0].startswith(
        "Egress at 75.0 GB an hour from 2026-10-12T00:00:00Z, reading the 24-hour record"
        " (1,800 GB) at its hourly rate"
    )
    assert first.window_end_ms == START + 8 * 24 * MS_PER_HOUR
    assert first.evidence["record_hours"] == 24


def test_a_day_long_flood_a_week_later_is_not_a_weekly_job() -> None:
    tenant = Tenant()
    for h in range(WEEK_H * 2):
        tenant.egress(h, daily_cycle(h))
    alerted_weeks: set[int] = set()
    for week in (2, 3):
        for h in range(week * WEEK_H, week * WEEK_H + 30):
            if tenant.egress(h, 400.0):
                alerted_weeks.add(week)
        for h in range(week * WEEK_H + 30, (week + 1) * WEEK_H):
            tenant.egress(h, daily_cycle(h))
    assert alerted_weeks == {2, 3}


def test_an_egress_flood_ramping_over_two_days_is_found_before_its_top() -> None:
    tenant = Tenant()
    for h in range(WEEK_H):
        tenant.egress(h, daily_cycle(h))
    assert tenant.findings == []
    ramp_h = 48
    found_at = None
    for i in range(ramp_h + 12):
        h = WEEK_H + i
        flood = 600.0 * min(1.0, (i + 1) / ramp_h)  # up to 600 GB/h over two days
        if tenant.egress(h, daily_cycle(h) + flood) and found_at is None:
            found_at = i
    assert found_at is not None
    assert found_at < ramp_h  # before the flood reached its top
    assert tenant.findings[0].evidence["pattern"] == "ddos"


def test_a_nightly_backup_sets_its_own_bar() -> None:
    tenant = Tenant()
    for h in range(WEEK_H * 5):
        # An hour a day at 85 GB, seven times the usual: learned once it is over.
        tenant.egress(h, 85.0 if h % 24 == 9 else daily_cycle(h))
    assert tenant.findings == []


def test_ordinary_growth_of_egress_raises_nothing() -> None:
    tenant = Tenant()
    for h in range(WEEK_H * 4):
        # 40% more egress each week, a little every hour.
        tenant.egress(h, daily_cycle(h) * 1.4 ** (h / WEEK_H))
    assert tenant.findings == []


def test_a_weekly_backup_at_01_local_becomes_normal() -> None:
    tenant = Tenant(timezone="Europe/Berlin")
    alerted_weeks: set[int] = set()
    for h in range(WEEK_H * 6):
        ms = START + h * MS_PER_HOUR
        offset = 2 if ms < parse_ts_ms("2026-10-25T01:00:00Z") else 1
        local = ms // MS_PER_HOUR + offset
        sunday = (local // 24 + 3) % 7 == 6
        backup = 900.0 if sunday and 1 <= local % 24 < 4 else 0.0
        if tenant.egress(h, daily_cycle(h) + backup):
            alerted_weeks.add(h // WEEK_H)
    assert alerted_weeks == {0}  # a short job: normal from its first repeat


def test_a_weekly_newsletter_becomes_normal_and_spam_at_another_time_does_not() -> None:
    tenant = Tenant()
    alerted_weeks: set[int] = set()
    for week in range(6):
        tuesday_9 = week * WEEK_H + 24 + 9
        for h in range(week * WEEK_H, tuesday_9):
            tenant.mail(h, 3)
        # Every Tuesday at 09:00 from the second week (the first is the warm-up).
        if week and tenant.mail(tuesday_9, 300):
            alerted_weeks.add(week)
    assert alerted_weeks == {1}
    assert tenant.mail(6 * WEEK_H + 24 * 3 + 15, 300)  # Thursday 15:00: no weekly rhythm


def test_what_the_alerts_say_is_true_of_their_windows() -> None:
    tenant = Tenant()
    for h in range(WEEK_H):
        tenant.egress(h, daily_cycle(h))
        tenant.mail(h, 2)
    tenant.mail(WEEK_H + 3, 400)
    for i in range(30):
        tenant.egress(WEEK_H + 5 + i, 50.0 * (i + 1))
    assert {f.evidence["pattern"] for f in tenant.findings} == {"spam", "ddos"}
    for finding in tenant.findings:
        alert = {
            "window_start": format_ts(finding.window_start_ms),
            "window_end": format_ts(finding.window_end_ms),
            "reasons": list(finding.reasons),
        }
        assert problems(alert) == [], finding.reasons


def test_a_flood_over_the_line_for_more_than_a_day_is_sustained_and_a_backup_is_not() -> None:
    """Hours are counted from the episode's first window to the end of its latest: a backup
    of a few hours, or one daily row, is not more than a day; a flood is, from its 25th hour
    (hourly rows) or its second daily row, and the alert is amended to say so."""
    backup = Tenant()
    for h in range(WEEK_H):
        backup.egress(h, daily_cycle(h))
    for h in range(WEEK_H, WEEK_H + 4):
        backup.egress(h, 900.0)
    assert backup.findings
    assert {(f.evidence["hours"], f.evidence["sustained"]) for f in backup.findings} <= {
        (h, "no") for h in range(1, 5)
    }

    flood = Tenant()
    for h in range(WEEK_H):
        flood.egress(h, daily_cycle(h))
    for i in range(30):
        flood.egress(WEEK_H + i, 400.0)
    said = {(f.evidence["hours"], f.evidence["sustained"]) for f in flood.findings}
    assert (25, "yes") in said, said
    assert all(sustained == ("yes" if hours > 24 else "no") for hours, sustained in said)
    [turned] = [f for f in flood.findings if f.evidence["hours"] == 25]
    assert turned.reasons[-1] == (
        "Over the line on and off for 25 hours, from 2026-10-12T00:00:00Z through the hour "
        "from 2026-10-13T00:00:00Z: more than a day."
    )

    daily = Tenant()
    for day in range(7):
        daily.egress(day * 24, 150.0, interval_s=86_400)
    assert daily.egress(7 * 24, 1800.0, interval_s=86_400)[-1].evidence["sustained"] == "no"
    [second] = daily.egress(8 * 24, 1800.0, interval_s=86_400)
    assert (second.evidence["hours"], second.evidence["sustained"]) == (48, "yes")

"""``replay --report``: the replay's alerts as one self-contained page with plots and tables."""

from __future__ import annotations

from collections import defaultdict

import orjson
import pytest
from html_parse import bars, external_references, read_page, series_points

from streamwatch import testing as build
from streamwatch.cli import main
from streamwatch.reports.replay_page import incidents


def hour(h: int) -> str:
    return f"2026-10-{1 + h // 24:02d}T{h % 24:02d}:00:00Z"


def stream() -> list[dict]:
    """Three customers: two reach their budget (alerts at 50%, 80%, 100%), one of them also
    gets a provider's crypto-mining notice; a third spends little and raises nothing."""
    docs = []
    for n, (customer, hourly) in enumerate((("cust-a", 20.0), ("cust-b", 5.0), ("cust-c", 0.5))):
        docs.append(build.budget_set(1000.0, customer, ts="2026-10-01T00:00:00Z",
                                     event_id=f"budget-{n}"))  # fmt: skip
        docs += [
            build.usage(customer, ts=hour(h), cost=hourly, event_id=f"u-{n}-{h}")
            for h in range(24 * 10)
        ]
    docs.append(build.provider_notice("aup.crypto_mining", "cust-b", ts="2026-10-03T12:00:00Z"))
    return docs


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], str]:
    folder = tmp_path_factory.mktemp("replay")
    events = folder / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in stream()))
    alerts, report = folder / "alerts.jsonl", folder / "report.html"
    assert main(["replay", str(events), "--alerts", str(alerts), "--report", str(report)]) == 0
    docs = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    return docs, report.read_text(encoding="utf-8")


def test_report_refers_to_nothing_outside_itself(replayed) -> None:
    _, html = replayed
    assert external_references(read_page(html)) == []


def test_report_plots_the_incidents_money_and_alerts_by_day(replayed) -> None:
    alerts, html = replayed
    page = read_page(html)
    chosen = incidents(alerts)
    assert {i.customer_id for i in chosen} == {"cust-a", "cust-b"}
    # cust-b's plot is at its crypto-mining finding, not its earlier budget alert.
    assert [i.kind for i in chosen if i.customer_id == "cust-b"] == ["provider_notice"]
    spend = sorted(c for c in page.charts if c.startswith("spend-"))
    assert spend == ["spend-1", "spend-2"]
    for chart in spend:
        assert series_points(page, chart)["spend (USD)"] == 96
    money = series_points(page, "money-at-risk")
    assert money == {"USD": len({a["event_time"] for a in alerts if a["money_at_risk"]})}
    first_day: dict[str, tuple[str, str]] = {}
    for a in sorted(alerts, key=lambda a: a["event_time"]):
        first_day.setdefault(a["alert_id"], (a["event_time"][:10], a["kind"]))
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for day_kind in first_day.values():
        expected[day_kind] += 1
    assert bars(page, "alerts-by-day") == expected


def test_kind_table_counts_the_alerts_written(replayed) -> None:
    alerts, html = replayed
    header, rows = read_page(html).tables["kinds"]
    assert header[:4] == ["Kind", "Alerts", "Revisions", "Customers"]
    expected = {}
    for kind in {a["kind"] for a in alerts}:
        mine = [a for a in alerts if a["kind"] == kind]
        expected[kind] = [
            str(len({a["alert_id"] for a in mine})),
            str(len(mine)),
            str(len({a["customer_id"] for a in mine})),
        ]
    assert {r[0]: r[1:4] for r in rows} == expected
    assert "budget_threshold" in expected
    assert "provider_notice" in expected

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


def mixed_currencies() -> list[dict]:
    """Three customers over their budgets, billed in USD, EUR and GBP: 20, 18 and 17 an hour."""
    docs = []
    rows = (("cust-usd", "USD", 20.0), ("cust-eur", "EUR", 18.0), ("cust-gbp", "GBP", 17.0))
    for n, (customer, currency, hourly) in enumerate(rows):
        budget = build.budget_set(1000.0, customer, currency=currency, event_id=f"budget-{n}")
        docs.append(budget)
        for h in range(24 * 4):
            doc = build.usage(customer, ts=hour(h), cost=hourly, event_id=f"u-{n}-{h}")
            docs.append({**doc, "currency": currency})
    return docs


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], str, str]:
    folder = tmp_path_factory.mktemp("mixed")
    events, alerts = folder / "events.jsonl", folder / "alerts.jsonl"
    events.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in mixed_currencies()))
    rates = folder / "fx.csv"
    rates.write_text("date,currency,rate\n2026-09-01,EUR,1.08\n2026-09-01,GBP,1.27\n")
    plain, converted = folder / "plain.html", folder / "converted.html"
    assert main(["replay", str(events), "--alerts", str(alerts), "--report", str(plain)]) == 0
    argv = ["replay", str(events), "--report", str(converted), "--fx", str(rates)]
    assert main([*argv, "--currency", "USD"]) == 0
    assert main(argv) == 2  # --fx without the currency it converts into
    docs = [orjson.loads(line) for line in alerts.read_bytes().splitlines()]
    return docs, plain.read_text(encoding="utf-8"), converted.read_text(encoding="utf-8")


def latest_money(alerts: list[dict]) -> dict[str, tuple[float, str]]:
    money: dict[str, tuple[str, float, str]] = {}
    for a in alerts:
        m = a.get("money_at_risk")
        if m and (a["customer_id"] not in money or a["event_time"] >= money[a["customer_id"]][0]):
            money[a["customer_id"]] = (a["event_time"], m["amount"], m["currency"])
    return {c: (amount, cur) for c, (_, amount, cur) in money.items()}


def test_without_rates_customers_are_ranked_within_their_own_currency(mixed) -> None:
    alerts, html, _ = mixed
    page = read_page(html)
    money = latest_money(alerts)
    assert {cur for _, cur in money.values()} == {"USD", "EUR", "GBP"}
    assert "customers" not in page.tables  # no order across currencies
    for customer, (amount, currency) in money.items():
        header, rows = page.tables[f"customers-{currency}"]
        assert header[:3] == ["Customer", "Money at risk", "Currency"]
        assert [r[:4] for r in rows] == [[customer, f"{amount:,.2f}", currency, "budget_threshold"]]
    assert "no currency rates given" in html
    # Plots are taken from each currency's list in turn (currencies in alphabetical order).
    assert [i.customer_id for i in incidents(alerts, top=2)] == ["cust-eur", "cust-gbp"]


def test_with_rates_customers_are_ranked_by_the_converted_amount(mixed) -> None:
    alerts, _, html = mixed
    rate = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}
    money = latest_money(alerts)
    expected = sorted(money, key=lambda c: -money[c][0] * rate[money[c][1]])
    raw_order = sorted(money, key=lambda c: -money[c][0])
    assert expected != raw_order  # the ranking must depend on the rates to show anything
    _, rows = read_page(html).tables["customers"]
    assert [r[0] for r in rows] == expected
    for row in rows:
        amount, currency = money[row[0]]
        assert row[2] == currency
        assert row[3] == f"{amount * rate[currency]:,.2f} USD"
    last_day = max(a["event_time"] for a in alerts)[:10]  # the end of the period replayed
    assert f"converted to USD at the rates in force on {last_day} (file fx.csv)" in html

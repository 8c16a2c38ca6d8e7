"""The console's server-side SVG plots and HTML pages: self-contained, escaped, and drawing
what the data says."""

from __future__ import annotations

import re
from typing import Any

from streamwatch.adapters.rates import parse_fx
from streamwatch.exposure import Exposure, Reporting, day_ms, rank
from streamwatch.web import pages
from streamwatch.web.plots import Series, bar_chart, line_chart

LABELS = ["10-01 00:00", "10-01 01:00", "10-01 02:00", "10-01 03:00"]


def test_a_line_chart_draws_each_series_and_leaves_gaps_for_missing_values() -> None:
    svg = line_chart(
        "spend",
        LABELS,
        [
            Series("spend", [1.0, 2.0, 8.0, 2.0], "#111"),
            Series("expected", [None, 2.0, 2.0, None], "#222", dashed=True),
        ],
    )
    spend = re.search(r'<polyline points="([^"]+)"[^>]*data-series="spend"', svg)
    assert spend is not None
    points = [tuple(map(float, p.split(","))) for p in spend.group(1).split()]
    assert len(points) == 4
    assert points[2][1] < points[1][1], "the spike is drawn higher (smaller y)"
    expected = re.findall(r'<polyline points="([^"]+)"[^>]*stroke-dasharray', svg)
    assert [len(p.split()) for p in expected] == [2], "one run: the Nones are gaps"
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert ">10<" in svg, "the y axis reaches a round 10 above the largest value, 8"


def test_a_single_point_run_is_a_dot_and_titles_are_escaped() -> None:
    svg = line_chart("<b>x</b>", LABELS[:1], [Series("a&b", [3.0], "#123")])
    assert "<circle" in svg
    assert "<b>" not in svg
    assert "&lt;b&gt;x&lt;/b&gt;" in svg
    assert 'data-series="a&amp;b"' in svg


def test_a_bar_chart_puts_payments_up_and_failures_down() -> None:
    svg = bar_chart(
        "payments",
        LABELS,
        Series("paid", [0, 50.0, 0, 0], "#0a0"),
        Series("failed", [0, 0, 25.0, 0], "#a00"),
    )
    bars = re.findall(
        r'<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="[^"]+" '
        r'data-series="(\w+)"',
        svg,
    )
    assert [(name, float(h)) for _, h, name in bars] == [("paid", 74.0), ("failed", 37.0)]
    (paid_y, _, _), (failed_y, _, _) = bars
    assert float(paid_y) < float(failed_y)


def customer(**over: Any) -> dict[str, Any]:
    base = {
        "customer_id": "cust-<1>",
        "risk": 0.8,
        "updated_at": "2026-10-02T10:00:00Z",
        "money_at_risk": {"amount": 1234.5, "currency": "USD"},
        "alerts": [
            {
                "alert_id": "a" * 32,
                "kind": "spend_spike",
                "severity": "high",
                "score": 0.8,
                "event_time": "2026-10-02T09:05:00Z",
                "summary": "Spend <script>",
                "suppressed": "",
            },
            {
                "alert_id": "b" * 32,
                "kind": "provider_notice",
                "severity": "high",
                "score": 0.8,
                "event_time": "2026-10-02T09:00:00Z",
                "summary": "notice",
                "suppressed": "c" * 32,
            },
        ],
        "suppressions": [
            {
                "id": "c" * 32,
                "kind": "provider_notice",
                "match": {"category": "aup.*"},
                "owner": "ops",
                "reason": "known",
                "until": "2026-12-01T00:00:00Z",
                "set_at": "2026-10-02T08:00:00Z",
                "alert_id": "",
            }
        ],
        "series": [
            {
                "hour": f"2026-10-02T0{h}:00:00Z",
                "spend": s,
                "expected": 2.0,
                "cpu": 0.5,
                "gpu": None,
                "gpus": 0,
                "paid": 0.0,
                "failed": 0.0,
                "charged_back": 0.0,
            }
            for h, s in enumerate([2.0, 2.0, 60.0])
        ],
    }
    return base | over


def test_the_customer_page_has_its_three_plots_alerts_suppressions_and_timeline() -> None:
    timeline = [
        {
            "at": "2026-10-02T09:05:00Z",
            "what": "alert",
            "title": "spend_spike",
            "detail": "d",
            "id": "a",
        }
    ]
    html = pages.customer_page(customer(), timeline, "/console")
    assert html.count("<svg") == 3
    assert "1,234.50 USD" in html
    assert "<script>" not in html.split("</script>", 1)[1], "values are escaped"
    assert "cust-&lt;1&gt;" in html
    assert "(suppressed by cccccccccccc)" in html
    assert "category=aup.*" in html
    assert "Not an anomaly" in html
    assert "/console/api/alerts/" + "a" * 32 + "/not-anomaly" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), (
        "nothing fetched from elsewhere"
    )
    assert "<link" not in html
    assert "src=" not in html


RISK_ROWS = {
    "EUR": [Exposure("eur-101", 101.0, "EUR", 0.4)],
    "GBP": [Exposure("gbp-100", 100.0, "GBP", 0.3)],
    "JPY": [Exposure("jpy", 9000.0, "JPY", 0.2)],
    "XXX": [Exposure("miner", 0.0, "XXX", 0.9)],
}


def risk_doc(reporting: Reporting | None) -> dict[str, Any]:
    doc = rank(RISK_ROWS, 50, reporting).to_dict()
    for rows in [doc["converted"], doc["unknown"], *doc["by_currency"].values()]:
        for row in rows:
            row["open_alerts"] = 1
    return doc


def test_the_risk_page_orders_across_currencies_only_converted_and_says_so() -> None:
    fx = parse_fx("date,currency,rate\n2026-11-01,EUR,1.08\n2026-11-01,GBP,1.27\n", "USD")
    html = pages.risk_page(risk_doc(Reporting(fx, day_ms("2026-12-01"), "fx.csv")), "/c", None)
    assert html.index("/c/customers/gbp-100") < html.index("/c/customers/eur-101")
    assert "money at risk converted to USD at the rates in force on 2026-12-01" in html
    assert "127.00 USD" in html
    assert "100.00 GBP" in html
    assert "1.2700 from 2026-11-01" in html
    assert "In JPY (not converted: no rate)" in html
    assert "name='on' value='2026-12-01'" in html
    assert "Total of those listed: 236.08 USD converted; not converted: 9,000.00 JPY" in html


def test_the_risk_page_without_rates_lists_each_currency_apart() -> None:
    html = pages.risk_page(risk_doc(None), "/c", None)
    assert "no currency rates given" in html
    assert "table class='risk converted'" not in html
    assert html.index("<h2>In EUR</h2>") < html.index("<h2>In GBP</h2>")
    assert html.index("<h2>In GBP</h2>") < html.index("<h2>In JPY</h2>")
    assert "Money at risk not known yet" in html
    assert "per currency: 101.00 EUR, 100.00 GBP, 9,000.00 JPY" in html
    assert "name='on'" not in html


def test_the_approvals_page_asks_for_the_approver_and_their_key() -> None:
    pending = [
        {
            "request_id": "r" * 32,
            "customer_id": "c",
            "action": "suspend",
            "policy": "p",
            "reason_held": "destructive",
        }
    ]
    html = pages.approvals_page(pending, "/console")
    assert "name='by'" in html
    assert "type='password'" in html
    assert "/console/api/approvals/" + "r" * 32 in html
    assert "No request" in pages.approvals_page([], "/console")

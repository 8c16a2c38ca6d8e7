"""Money at risk across currencies: one order only through dated rates, else per currency."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamwatch.adapters.rates import TableError, parse_fx
from streamwatch.exposure import (
    Exposure,
    Reporting,
    day_ms,
    day_text,
    load_reporting,
    rank,
    today_ms,
)

RATES = """date,currency,rate
2026-11-01,EUR,1.05
2026-12-01,EUR,1.08
2026-11-01,GBP,1.27
"""
"""Into USD: EUR moved on 2026-12-01; GBP has one rate; no JPY at all."""


def reporting(day: str = "2026-12-01", text: str = RATES) -> Reporting:
    return Reporting(parse_fx(text, "USD"), day_ms(day), "fx.csv")


def row(customer: str, amount: float, currency: str, risk: float = 0.5) -> Exposure:
    return Exposure(customer, amount, currency, risk)


def groups(*rows: Exposure) -> dict[str, list[Exposure]]:
    out: dict[str, list[Exposure]] = {}
    for r in rows:
        out.setdefault(r.currency, []).append(r)
    return out


MIXED = groups(
    row("eur-101", 101.0, "EUR"),
    row("gbp-100", 100.0, "GBP"),
    row("usd-110", 110.0, "USD"),
    row("jpy-9000", 9000.0, "JPY"),
    row("miner", 0.0, "XXX", risk=0.95),
    row("quiet", 0.0, "XXX", risk=0.10),
)


def test_converted_money_orders_100_gbp_above_101_eur_and_names_the_rates() -> None:
    ranking = rank(MIXED, 10, reporting())
    assert [(c.row.customer_id, round(c.amount, 2)) for c in ranking.converted] == [
        ("gbp-100", 127.0),
        ("usd-110", 110.0),
        ("eur-101", 109.08),
    ]
    gbp = ranking.converted[0]
    assert (gbp.row.amount, gbp.row.currency, gbp.rate) == (100.0, "GBP", 1.27)
    assert day_text(gbp.rate_from_ms or 0) == "2026-11-01"
    usd = ranking.converted[1]
    assert (usd.rate, usd.rate_from_ms) == (1.0, None), "the reporting currency converts at 1"
    assert ranking.rates_used == {
        "EUR": (1.08, day_ms("2026-12-01")),
        "GBP": (1.27, day_ms("2026-11-01")),
    }
    assert ranking.note() == (
        "money at risk converted to USD at the rates in force on 2026-12-01 (file fx.csv): "
        "EUR 1.0800, GBP 1.2700; not converted, for want of a rate on or before 2026-12-01: "
        "JPY (listed apart)"
    )


def test_without_rates_there_is_no_merged_order_only_one_per_currency() -> None:
    ranking = rank(MIXED, 10, None)
    assert ranking.converted == ()
    assert {cur: [r.customer_id for r in rows] for cur, rows in ranking.apart.items()} == {
        "EUR": ["eur-101"],
        "GBP": ["gbp-100"],
        "JPY": ["jpy-9000"],
        "USD": ["usd-110"],
    }
    assert ranking.note().startswith("no currency rates given: ")
    assert ranking.totals() == {"EUR": 101.0, "GBP": 100.0, "JPY": 9000.0, "USD": 110.0}


def test_a_currency_without_a_rate_is_kept_apart_not_dropped() -> None:
    ranking = rank(MIXED, 10, reporting())
    assert list(ranking.apart) == ["JPY"]
    assert [r.customer_id for r in ranking.apart["JPY"]] == ["jpy-9000"]
    assert ranking.totals() == {"USD": round(127.0 + 110.0 + 109.08, 2), "JPY": 9000.0}
    assert [r.customer_id for r in ranking.rows] == [
        "gbp-100",
        "usd-110",
        "eur-101",
        "jpy-9000",
        "miner",
        "quiet",
    ]


def test_the_rate_in_force_on_the_day_asked_is_used() -> None:
    before = rank(MIXED, 10, reporting("2026-11-30"))
    eur = next(c for c in before.converted if c.row.currency == "EUR")
    assert (eur.rate, day_text(eur.rate_from_ms or 0)) == (1.05, "2026-11-01")
    too_early = rank(MIXED, 10, reporting("2026-10-31"))
    assert too_early.converted[0].row.customer_id == "usd-110"
    assert list(too_early.apart) == ["EUR", "GBP", "JPY"], "no rate yet: kept apart"


def test_money_not_known_yet_is_listed_apart_riskiest_first() -> None:
    for reported in (None, reporting()):
        ranking = rank(MIXED, 10, reported)
        assert [r.customer_id for r in ranking.unknown] == ["miner", "quiet"]
        assert "XXX" not in ranking.apart
        assert "XXX" not in ranking.totals()


@pytest.mark.parametrize("reported", [None, reporting()], ids=["per-currency", "converted"])
def test_each_list_holds_n_at_most_ties_riskiest_first(reported: Reporting | None) -> None:
    many = groups(
        row("a", 10.0, "USD", 0.1),
        row("b", 10.0, "USD", 0.9),
        row("c", 5.0, "USD"),
        row("d", 1.0, "JPY"),
        row("e", 2.0, "JPY"),
        row("f", 3.0, "JPY"),
    )
    ranking = rank(many, 2, reported)
    usd = [c.row for c in ranking.converted] if reported else list(ranking.apart["USD"])
    assert [r.customer_id for r in usd] == ["b", "a"]
    assert [r.customer_id for r in ranking.apart["JPY"]] == ["f", "e"]


def test_the_ranking_as_json_keeps_the_original_and_the_converted_amounts() -> None:
    doc = rank(MIXED, 10, reporting()).to_dict()
    assert doc["reporting"] == {
        "currency": "USD",
        "day": "2026-12-01",
        "file": "fx.csv",
        "rates": {
            "EUR": {"rate": 1.08, "from": "2026-12-01"},
            "GBP": {"rate": 1.27, "from": "2026-11-01"},
        },
    }
    assert doc["converted"][0] == {
        "customer_id": "gbp-100",
        "money_at_risk": 100.0,
        "currency": "GBP",
        "risk": 0.5,
        "converted": 127.0,
        "rate": 1.27,
        "rate_from": "2026-11-01",
    }
    assert [r["customer_id"] for r in doc["by_currency"]["JPY"]] == ["jpy-9000"]
    assert [r["customer_id"] for r in doc["unknown"]] == ["miner", "quiet"]
    plain = rank(MIXED, 10, None).to_dict()
    assert plain["reporting"] is None
    assert plain["converted"] == []


def test_rates_are_read_from_a_file_for_the_day(tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text(RATES)
    loaded = load_reporting(path, "usd", day_ms("2026-12-01") + 15 * 3_600_000)
    assert (loaded.currency, loaded.day, loaded.source) == ("USD", "2026-12-01", "fx.csv")
    assert loaded.at_ms == day_ms("2026-12-01"), "the day's rates, from its start"
    path.write_text("date,currency,rate\n2026-11-01,EUR,-1\n")
    with pytest.raises(TableError, match="line 2"):
        load_reporting(path, "USD", 0)
    with pytest.raises(FileNotFoundError):
        load_reporting(tmp_path / "missing.csv", "USD", 0)


def test_days_are_utc_dates() -> None:
    assert day_ms("2026-12-01") == 1_796_083_200_000
    assert today_ms(1_796_083_200_000 + 86_399_999) == 1_796_083_200_000
    with pytest.raises(ValueError, match="isoformat"):
        day_ms("1 December")

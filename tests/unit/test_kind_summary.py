"""Alerts by kind: incidents, revisions, customers and money at risk counted once per customer."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.kind_summary import KindTally, format_money


def alert(
    alert_id: str, customer: str, kind: str, amount: float | None = None, currency: str = "USD"
) -> dict[str, Any]:
    money = None if amount is None else {"amount": amount, "currency": currency}
    return {"alert_id": alert_id, "customer_id": customer, "kind": kind, "money_at_risk": money}


def test_revisions_count_messages_and_alerts_count_incidents():
    tally = KindTally().add_all(
        [
            alert("a1", "c1", "spend_spike"),
            alert("a1", "c1", "spend_spike"),
            alert("a2", "c2", "spend_spike"),
        ]
    )
    (row,) = tally.rows()
    assert (row.kind, row.alerts, row.revisions, row.customers) == ("spend_spike", 2, 3, 2)


def test_money_at_risk_is_each_customers_latest_not_a_sum_of_its_alerts():
    tally = KindTally().add_all(
        [
            alert("a1", "c1", "collections", 100.0),
            alert("a2", "c1", "collections", 250.0),  # the same customer's money, later
            alert("a3", "c2", "collections", 40.5),
        ]
    )
    assert tally.rows()[0].money == {"USD": 290.5}


def test_total_counts_each_customer_once_across_kinds():
    tally = KindTally().add_all(
        [
            alert("a1", "c1", "collections", 100.0),
            alert("a2", "c1", "payment_failure", 120.0),
            alert("a3", "c2", "chargeback", 10.0, "EUR"),
        ]
    )
    total = tally.total()
    assert (total.alerts, total.revisions, total.customers) == (3, 3, 2)
    assert total.money == {"USD": 120.0, "EUR": 10.0}
    assert sum(r.money.get("USD", 0.0) for r in tally.rows()) == 220.0  # rows overlap


def test_rows_are_ordered_by_alerts_then_kind():
    tally = KindTally().add_all(
        [alert("a1", "c1", "zeta"), alert("a2", "c2", "alpha"), alert("a3", "c3", "zeta")]
    )
    assert [r.kind for r in tally.rows()] == ["zeta", "alpha"]


@pytest.mark.parametrize(
    "money",
    [None, {}, {"amount": "12"}, {"amount": True, "currency": "USD"}, {"amount": 5}, "oops"],
    ids=["none", "empty", "string", "bool", "no-currency", "not-a-dict"],
)
def test_unknown_or_malformed_money_counts_the_customer_but_no_amount(money):
    tally = KindTally()
    tally.add("a1", "c1", "bot_signup", money)
    (row,) = tally.rows()
    assert (row.customers, row.money) == (1, {})
    assert "-" in tally.format().splitlines()[2]


def test_table_has_a_header_a_row_per_kind_and_the_total_last():
    text = (
        KindTally()
        .add_all([alert("a1", "c1", "spend_spike", 1234.5), alert("a2", "c2", "chargeback", 10.0)])
        .format()
    )
    lines = text.splitlines()
    assert lines[0].split() == ["kind", "alerts", "revisions", "customers", "money", "at", "risk"]
    assert lines[2].startswith("chargeback") or lines[2].startswith("spend_spike")
    assert lines[-1].split()[:4] == ["TOTAL", "2", "2", "2"]
    assert lines[-1].endswith("1,244.50 USD")
    assert len({len(line) for line in (lines[1], lines[-2])}) == 1  # rules as wide as the header


def test_json_form_keeps_currencies_and_the_total():
    doc = KindTally().add_all([alert("a1", "c1", "spend_spike", 3.0)]).as_dict()
    assert doc["kinds"] == [
        {
            "kind": "spend_spike",
            "alerts": 1,
            "revisions": 1,
            "customers": 1,
            "money_at_risk": {"USD": 3.0},
        }
    ]
    assert doc["total"]["kind"] == "TOTAL"


def test_no_alerts_says_so():
    assert KindTally().format() == "No alerts."


def test_money_of_several_currencies_is_joined():
    assert format_money({"USD": 1.0, "EUR": 2000.0}) == "2,000.00 EUR + 1.00 USD"
    assert format_money({}) == "-"

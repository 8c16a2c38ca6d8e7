"""The payment scenarios: what each makes its customers do, and how their labels are anchored."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

import pytest

from streamwatch.generator import GenerationResult, GeneratorConfig, generate
from streamwatch.generator.timefmt import DAY_S, parse_ts

INCIDENTS = ("late_payer", "never_pays", "prepaid_chargeback")
LOOK_ALIKES = ("pays_late_once", "prepaid_bank_transfer", "card_declined_once")
KINDS = {
    "late_payer": {"collections", "payment_failure"},
    "never_pays": {"collections", "payment_failure", "usage_before_payment"},
    "prepaid_chargeback": {
        "collections",
        "high_risk_instrument",
        "usage_before_payment",
        "chargeback",
    },
    "pays_late_once": {"collections"},
    "prepaid_bank_transfer": {"usage_before_payment"},
    "card_declined_once": {"payment_failure"},
}


@cache
def result() -> GenerationResult:
    return generate(
        GeneratorConfig(
            seed=11,
            customers=36,
            days=100,
            start="2026-09-25T00:00:00Z",
            incidents=INCIDENTS + LOOK_ALIKES,
            incident_rate=1.0,
        )
    )


def by_customer() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in result().events:
        out[event["customer_id"]].append(event)
    return out


def customers_of(scenario: str) -> list[str]:
    return sorted({lab["customer_id"] for lab in result().labels if lab["scenario"] == scenario})


def payments(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "payment" and e["kind"] == kind]


@pytest.mark.parametrize("scenario", INCIDENTS + LOOK_ALIKES)
def test_each_scenario_labels_its_kinds_benign_only_for_look_alikes(scenario: str) -> None:
    labels = [lab for lab in result().labels if lab["scenario"] == scenario]
    assert {lab["kind"] for lab in labels} == KINDS[scenario]
    if scenario in LOOK_ALIKES:
        assert all(lab["benign"] for lab in labels)
    else:
        assert any(not lab["benign"] for lab in labels)
        assert {lab["kind"] for lab in labels if not lab["benign"]} == KINDS[scenario]


def test_labels_are_anchored_to_an_event_of_their_customer() -> None:
    events = by_customer()
    for lab in result().labels:
        if lab["detail"].get("basis") == "unsecured_exposure":
            # A window: from the first usage after the top-up to the end of the stream.
            assert lab["benign"]
            assert lab["end"] > lab["start"]
        else:
            assert lab["start"] == lab["end"]
        assert any(e["ts"] == lab["start"] for e in events[lab["customer_id"]]), lab


def test_usage_before_payment_is_labelled_at_the_first_usage() -> None:
    events = by_customer()
    for lab in result().labels:
        if lab["kind"] != "usage_before_payment" or lab["detail"].get("basis"):
            continue
        first = next(e for e in events[lab["customer_id"]] if e["type"] == "usage")
        assert lab["start"] == first["ts"]


def test_invoices_are_due_at_midnight_thirty_days_after_issue() -> None:
    events = by_customer()
    for scenario in INCIDENTS + LOOK_ALIKES:
        for customer in customers_of(scenario):
            for invoice in payments(events[customer], "invoice.issued"):
                due = parse_ts(invoice["due_date"] + "T00:00:00Z")
                assert due == (parse_ts(invoice["ts"]) // DAY_S + 30) * DAY_S


def test_dunning_labels_fall_on_the_due_date_plus_the_stage_days() -> None:
    events = by_customer()
    days = {"reminder": 1, "prepayment": 15, "restrict": 30, "suspend": 60}
    labels = [lab for lab in result().labels if lab["kind"] == "collections"]
    assert {lab["detail"]["stage"] for lab in labels} == set(days)
    for lab in labels:
        invoice = next(
            e
            for e in payments(events[lab["customer_id"]], "invoice.issued")
            if e["invoice_id"] == lab["detail"]["invoice_id"]
        )
        due = parse_ts(invoice["due_date"] + "T00:00:00Z")
        assert parse_ts(lab["start"]) == due + days[lab["detail"]["stage"]] * DAY_S


def test_never_pays_pays_nothing() -> None:
    events = by_customer()
    for customer in customers_of("never_pays"):
        mine = events[customer]
        assert payments(mine, "payment.succeeded") == payments(mine, "prepayment") == []
        assert payments(mine, "invoice.issued")


def test_late_payer_pays_one_invoice_after_its_due_date_and_the_rest_on_time() -> None:
    events = by_customer()
    late_ones = 0
    for customer in customers_of("late_payer"):
        mine = events[customer]
        due = {e["invoice_id"]: e["due_date"] for e in payments(mine, "invoice.issued")}
        late = [
            p
            for p in payments(mine, "payment.succeeded")
            if parse_ts(p["ts"]) > parse_ts(due[p["invoice_id"]] + "T00:00:00Z")
        ]
        assert len(late) <= 1
        late_ones += len(late)
    assert late_ones >= 3


def test_prepaid_chargeback_tops_up_and_charges_the_top_up_back() -> None:
    events = by_customer()
    for customer in customers_of("prepaid_chargeback"):
        mine = events[customer]
        [added] = payments(mine, "instrument.added")
        assert added["instrument"]["type"] == "prepaid_card"
        [top_up] = payments(mine, "prepayment")
        [back] = payments(mine, "chargeback")
        assert back["amount"] == top_up["amount"]
        assert parse_ts(back["ts"]) > parse_ts(top_up["ts"])
        first_usage = next(e for e in mine if e["type"] == "usage")
        assert parse_ts(top_up["ts"]) > parse_ts(first_usage["ts"])
        assert payments(mine, "payment.succeeded") == []


def test_bank_transfer_look_alike_prepays_before_any_usage() -> None:
    events = by_customer()
    for customer in customers_of("prepaid_bank_transfer"):
        mine = events[customer]
        [added] = payments(mine, "instrument.added")
        assert added["instrument"]["type"] == "bank_transfer"
        [prepaid] = payments(mine, "prepayment")
        first_usage = next(e for e in mine if e["type"] == "usage")
        assert parse_ts(prepaid["ts"]) < parse_ts(first_usage["ts"])
        cleared = [p for p in payments(mine, "payment.succeeded") if "invoice_id" not in p]
        assert parse_ts(cleared[0]["ts"]) - parse_ts(first_usage["ts"]) < 2 * DAY_S


def test_prepaid_miners_are_labelled_as_payment_risks_too() -> None:
    mined = generate(
        GeneratorConfig(seed=3, customers=12, days=5, incidents=("crypto_mining",), incident_rate=1)
    )
    prepaid = {
        e["customer_id"]
        for e in mined.events
        if e["type"] == "payment"
        and e["kind"] == "instrument.added"
        and e["instrument"]["type"] in ("prepaid_card", "stored_value")
    }
    assert prepaid
    for kind in ("high_risk_instrument", "usage_before_payment"):
        labelled = {lab["customer_id"] for lab in mined.labels if lab["kind"] == kind}
        assert labelled == prepaid


def test_payment_scenarios_are_deterministic() -> None:
    again = generate(result().config)
    assert again.labels == result().labels
    assert again.events == result().events

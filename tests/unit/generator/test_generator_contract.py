"""Every generated event follows the wire contract of DESIGN.md, and normal customers are
consistent. The checker lives here, independent of the generator and of the core codec."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest

from streamwatch.generator import GenerationResult, GeneratorConfig, generate
from streamwatch.generator.stream import build_plans

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
METERS = {"compute", "gpu", "storage", "egress", "license", "other"}
PAYMENT_KINDS = {
    "instrument.added",
    "prepayment",
    "invoice.issued",
    "payment.succeeded",
    "payment.failed",
    "chargeback",
    "refund",
}
INSTRUMENT_TYPES = {
    "credit_card",
    "debit_card",
    "prepaid_card",
    "stored_value",
    "bank_transfer",
    "direct_debit",
}
OPERATION_PROPERTIES = {
    "customer.signup": {
        "country",
        "email_domain",
        "phone_verified",
        "device_fingerprint",
        "ip_country",
    },
    "subscription.create": {"subscription_id", "offer"},
    "vm.create": {"sku", "vcpus", "gpus", "count"},
    "signin": {"ip_country"},
    "user.create": {"principal"},
    "user.delete": {"principal"},
    "role.assign": {"role", "principal", "principal_type"},
    "guest.invite": {"principal", "expires"},
    "budget.set": {"amount", "currency", "period"},
    "provider.notice": {"notice_id", "category", "severity", "action_required"},
}
NOTICE_CATEGORIES = {"aup.crypto_mining", "aup.spam", "aup.ddos", "fraud.payment"}


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def contract_problems(event: dict[str, Any]) -> list[str]:
    """Everything wrong with one event according to the wire contract (empty when fine)."""
    problems: list[str] = []

    def need(name: str, ok: bool) -> None:
        if not ok:
            problems.append(f"{name}={event.get(name)!r}")

    need("event_id", isinstance(event.get("event_id"), str) and bool(event["event_id"]))
    need("type", event.get("type") in {"usage", "activity", "payment"})
    need("customer_id", isinstance(event.get("customer_id"), str))
    need("ts", isinstance(event.get("ts"), str) and bool(TS.match(event["ts"])))
    kind = event.get("type")
    if kind == "usage":
        for name in ("subscription_id", "resource_id", "sku", "region", "unit"):
            need(name, isinstance(event.get(name), str) and bool(event[name]))
        need("meter", event.get("meter") in METERS)
        need("quantity", is_number(event.get("quantity")) and event["quantity"] >= 0)
        need("cost", is_number(event.get("cost")) and event["cost"] >= 0)
        # Whole micro-units: the budget rule's money is exact.
        need("cost", round(event.get("cost", 0) * 1_000_000) / 1_000_000 == event.get("cost"))
        need("currency", isinstance(event.get("currency"), str) and len(event["currency"]) == 3)
        need("interval_s", event.get("interval_s") == 3600)
        for name in ("vcpus", "gpus"):
            if name in event:
                need(name, isinstance(event[name], int) and event[name] >= 0)
        for name in ("cpu_util", "gpu_util"):
            if name in event:
                need(name, is_number(event[name]) and 0.0 <= event[name] <= 1.0)
        if event.get("meter") == "compute":
            need("cpu_util", "cpu_util" in event and "vcpus" in event)
        if event.get("meter") == "gpu":
            need("gpu_util", "gpu_util" in event and "gpus" in event)
    elif kind == "activity":
        for name in ("operation", "actor", "resource_id"):
            need(name, isinstance(event.get(name), str) and bool(event[name]))
        need("status", event.get("status") in {"succeeded", "failed"})
        need("properties", isinstance(event.get("properties"), dict))
        for name in ("actor_ip", "region"):
            if name in event:
                need(name, isinstance(event[name], str))
        props = event.get("properties", {})
        expected = OPERATION_PROPERTIES.get(event.get("operation", ""))
        need("operation", expected is not None)
        if expected is not None:
            need("properties", set(props) == expected)
        if event.get("operation") == "budget.set":
            need("properties", is_number(props["amount"]) and props["amount"] > 0)
            need("properties", props["period"] == "month")
        if event.get("operation") == "provider.notice":
            need("properties", props["category"] in NOTICE_CATEGORIES)
            need("actor", event["actor"] == "provider" and "actor_ip" not in event)
    elif kind == "payment":
        need("kind", event.get("kind") in PAYMENT_KINDS)
        need("billing_country", isinstance(event.get("billing_country"), str))
        if "instrument" in event:
            inst = event["instrument"]
            need("instrument", isinstance(inst, dict) and inst.get("type") in INSTRUMENT_TYPES)
        if event.get("kind") == "instrument.added":
            need("instrument", "instrument" in event)
        if event.get("kind") in {"invoice.issued", "payment.succeeded"}:
            need("invoice_id", isinstance(event.get("invoice_id"), str))
            need("amount", is_number(event.get("amount")) and event["amount"] > 0)
            need("currency", isinstance(event.get("currency"), str))
        if event.get("kind") == "invoice.issued":
            need(
                "due_date",
                isinstance(event.get("due_date"), str) and bool(TS.match(event["due_date"])),
            )
    return problems


@pytest.fixture(scope="module")
def result() -> GenerationResult:
    # 70 days from mid-month: three calendar months, so invoices and payments appear.
    return generate(GeneratorConfig(seed=11, customers=40, days=70, start="2026-10-12T00:00:00Z"))


def test_every_event_has_envelope_and_type_fields(result: GenerationResult) -> None:
    bad = {e["event_id"]: p for e in result.events if (p := contract_problems(e))}
    assert bad == {}


def test_stream_has_every_event_family(result: GenerationResult) -> None:
    seen = {(e["type"], e.get("operation") or e.get("kind") or e["meter"]) for e in result.events}
    for family in [
        ("activity", "customer.signup"),
        ("activity", "subscription.create"),
        ("activity", "vm.create"),
        ("activity", "signin"),
        ("activity", "budget.set"),
        ("activity", "provider.notice"),
        ("payment", "instrument.added"),
        ("payment", "invoice.issued"),
        ("payment", "payment.succeeded"),
        ("usage", "compute"),
        ("usage", "storage"),
        ("usage", "egress"),
    ]:
        assert family in seen


def test_event_ids_are_unique_without_duplicates(result: GenerationResult) -> None:
    ids = [e["event_id"] for e in result.events]
    assert len(ids) == len(set(ids))


def test_events_are_sorted_by_ts_then_event_id(result: GenerationResult) -> None:
    keys = [(e["ts"], e["event_id"]) for e in result.events]
    assert keys == sorted(keys)


def test_events_stay_within_the_configured_horizon(result: GenerationResult) -> None:
    assert result.events[0]["ts"] >= "2026-10-12T00:00:00Z"
    assert result.events[-1]["ts"] < "2026-12-21T00:00:00Z"


def test_normal_customer_identity_is_consistent(result: GenerationResult) -> None:
    countries: dict[str, set[str]] = defaultdict(set)
    for e in result.events:
        cid = e["customer_id"]
        if e.get("operation") == "customer.signup":
            countries[cid] |= {e["properties"]["country"], e["properties"]["ip_country"]}
        if e.get("operation") == "signin":
            countries[cid].add(e["properties"]["ip_country"])
        if e["type"] == "payment":
            countries[cid].add(e["billing_country"])
            if "instrument" in e:
                countries[cid].add(e["instrument"]["country"])
    assert countries
    assert all(len(c) == 1 for c in countries.values())


def test_each_customer_starts_with_signup_and_usage_follows_its_subscription(
    result: GenerationResult,
) -> None:
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in result.events:
        by_customer[e["customer_id"]].append(e)
    for events in by_customer.values():
        assert events[0].get("operation") == "customer.signup"
        subs = {
            e["properties"]["subscription_id"]
            for e in events
            if e.get("operation") == "subscription.create"
        }
        assert len(subs) == 1
        sub = subs.pop()
        for e in events:
            if e["type"] == "usage":
                assert e["subscription_id"] == sub
                assert e["resource_id"].startswith(f"/subscriptions/{sub}/resourceGroups/")


def test_cost_is_quantity_times_a_steady_unit_price(result: GenerationResult) -> None:
    ratios: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for e in result.events:
        if e["type"] == "usage" and e["quantity"] >= 0.5:
            ratios[(e["customer_id"], e["sku"], e["currency"])].append(e["cost"] / e["quantity"])
    for values in ratios.values():
        assert max(values) / min(values) < 1.02


def test_usage_of_one_customer_shares_an_hour_only_across_distinct_meters(
    result: GenerationResult,
) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for e in result.events:
        if e["type"] == "usage":
            key = (e["customer_id"], e["ts"], e["resource_id"], e["meter"])
            assert key not in seen
            seen.add(key)
            assert e["ts"].endswith(":00:00Z")


def test_invoice_amount_is_previous_month_usage_and_due_in_30_days(
    result: GenerationResult,
) -> None:
    micros: dict[tuple[str, str], int] = defaultdict(int)
    invoices = 0
    for e in result.events:
        if e["type"] == "usage":
            micros[(e["customer_id"], e["ts"][:7])] += round(e["cost"] * 1_000_000)
        elif e.get("kind") == "invoice.issued":
            invoices += 1
            month = e["invoice_id"][4:8] + "-" + e["invoice_id"][8:10]
            assert e["amount"] == round(micros[(e["customer_id"], month)] / 1_000_000, 2)
            issued = datetime.fromisoformat(e["ts"])
            due = datetime.fromisoformat(e["due_date"])
            assert (due - issued).days == 30
    assert invoices > 0


def test_payments_follow_their_invoice_with_the_same_amount(result: GenerationResult) -> None:
    issued: dict[str, dict[str, Any]] = {}
    paid = 0
    for e in result.events:
        if e.get("kind") == "invoice.issued":
            issued[e["invoice_id"]] = e
        elif e.get("kind") == "payment.succeeded":
            paid += 1
            invoice = issued[e["invoice_id"]]
            assert invoice["ts"] < e["ts"]
            assert invoice["amount"] == e["amount"]
    assert paid > 0


def test_signins_fall_in_local_office_hours(result: GenerationResult) -> None:
    offsets = {p.customer_id: p.country.utc_offset_h for p in build_plans(result.config)}
    hours = [
        (int(e["ts"][11:13]) + offsets[e["customer_id"]]) % 24
        for e in result.events
        if e.get("operation") == "signin"
    ]
    assert len(hours) > 100
    assert all(8 <= h < 19 for h in hours)


def test_budgets_of_normal_customers_are_never_half_spent(result: GenerationResult) -> None:
    budget: dict[str, float] = {}
    spend: dict[tuple[str, str], float] = defaultdict(float)
    overrun = {p.customer_id for p in build_plans(result.config) if p.scenarios}
    for e in result.events:
        if e.get("operation") == "budget.set":
            budget[e["customer_id"]] = e["properties"]["amount"]
        if e["type"] == "usage":
            spend[(e["customer_id"], e["ts"][:7])] += e["cost"]
    normal = [(c, m) for (c, m) in spend if c in budget and c not in overrun]
    assert normal
    assert all(spend[(c, m)] < 0.5 * budget[c] for (c, m) in normal)

"""Stripe objects and webhook events mapped to payment events."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.adapters import stripe
from streamwatch.adapters.base import Context, Refused
from streamwatch.adapters.run import Run
from streamwatch.core.codec import event_from_dict

CREATED = 1_790_000_000  # 2026-09-21T14:13:20Z


def envelope(kind: str, obj: dict[str, Any], created: int = CREATED + 60) -> dict[str, Any]:
    return {
        "id": "evt_1",
        "object": "event",
        "api_version": "2024-06-20",
        "created": created,
        "data": {"object": obj},
        "livemode": False,
        "type": kind,
    }


def payment_method(funding: str = "prepaid") -> dict[str, Any]:
    return {
        "id": "pm_1",
        "object": "payment_method",
        "type": "card",
        "customer": "cus_A",
        "created": CREATED,
        "billing_details": {"address": {"country": "fr"}, "email": "a@example.com"},
        "card": {"brand": "visa", "country": "US", "fingerprint": "FP1", "funding": funding},
    }


def charge(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "ch_1",
        "object": "charge",
        "amount": 2000,
        "currency": "eur",
        "customer": "cus_A",
        "created": CREATED,
        "status": "succeeded",
        "invoice": "in_1",
        "failure_code": None,
        "billing_details": {"address": {"country": "DE"}},
        "payment_method_details": {
            "type": "card",
            "card": {"country": "US", "fingerprint": "FP1", "funding": "prepaid"},
        },
    }
    doc.update(over)
    return doc


def test_attached_prepaid_card_is_prepaid_instrument() -> None:
    (event,) = stripe.map_record(envelope("payment_method.attached", payment_method()), Context())
    assert event["kind"] == "instrument.added"
    assert event["instrument"] == {"type": "prepaid_card", "fingerprint": "FP1", "country": "US"}
    assert event["billing_country"] == "FR"
    assert event["customer_id"] == "cus_A"
    assert event["ts"] == "2026-09-21T14:14:20Z"  # the event's time, not the card's
    event_from_dict(event)


@pytest.mark.parametrize(("funding", "kind"), [("credit", "credit_card"), ("debit", "debit_card")])
def test_card_funding_gives_the_instrument_type(funding: str, kind: str) -> None:
    (event,) = stripe.map_record(payment_method(funding), Context())
    assert event["instrument"]["type"] == kind


def test_unknown_funding_is_refused_not_guessed() -> None:
    with pytest.raises(Refused) as caught:
        stripe.map_record(payment_method("unknown"), Context())
    assert caught.value.code == "unknown_funding"


def test_charge_succeeded_in_major_units_with_invoice_and_instrument() -> None:
    (event,) = stripe.map_record(envelope("charge.succeeded", charge()), Context())
    assert (event["kind"], event["amount"], event["currency"]) == ("payment.succeeded", 20.0, "EUR")
    assert event["invoice_id"] == "in_1"
    assert event["instrument"]["type"] == "prepaid_card"
    assert event["billing_country"] == "DE"


def test_zero_decimal_currency_is_not_divided() -> None:
    (event,) = stripe.map_record(charge(currency="jpy", amount=5000), Context())
    assert event["amount"] == 5000.0


def test_failed_charge_carries_failure_code() -> None:
    failed = charge(status="failed", failure_code="card_declined")
    (event,) = stripe.map_record(envelope("charge.failed", failed), Context())
    assert (event["kind"], event["failure_reason"]) == ("payment.failed", "card_declined")


def test_charge_and_its_payment_intent_are_one_event() -> None:
    from_charge = stripe.map_record(envelope("charge.succeeded", charge()), Context())[0]
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 2000,
        "amount_received": 2000,
        "currency": "eur",
        "customer": "cus_A",
        "created": CREATED,
        "status": "succeeded",
        "latest_charge": "ch_1",
    }
    from_intent = stripe.map_record(envelope("payment_intent.succeeded", intent), Context())[0]
    assert from_charge["event_id"] == from_intent["event_id"]


def test_dispute_is_chargeback_with_reason() -> None:
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 1000,
        "currency": "usd",
        "charge": {"id": "ch_1", "object": "charge", "customer": "cus_B"},
        "created": CREATED,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    (event,) = stripe.map_record(envelope("charge.dispute.created", dispute), Context())
    assert (event["kind"], event["amount"], event["customer_id"]) == ("chargeback", 10.0, "cus_B")
    assert event["failure_reason"] == "fraudulent"


def test_paid_invoice_object_is_issued_and_paid() -> None:
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "status": "paid",
        "amount_due": 2000,
        "amount_paid": 2000,
        "currency": "usd",
        "customer": "cus_A",
        "created": CREATED,
        "due_date": None,
        "status_transitions": {"finalized_at": CREATED + 10, "paid_at": CREATED + 3600},
    }
    issued, paid = stripe.map_record(invoice, Context())
    assert (issued["kind"], issued["invoice_id"], issued["amount"]) == (
        "invoice.issued",
        "in_1",
        20.0,
    )
    assert issued["due_date"] == "2026-09-21T14:13:30Z"
    assert (paid["kind"], paid["ts"]) == ("payment.succeeded", "2026-09-21T15:13:20Z")
    for event in (issued, paid):
        event_from_dict(event)


def test_customer_map_and_missing_customer() -> None:
    ctx = Context(customers={"cus_a": "cust-1"})
    assert stripe.map_record(charge(), ctx)[0]["customer_id"] == "cust-1"
    run = Run(stripe.map_record, Context())
    assert run.record(charge(customer=None, billing_details={})) == []
    assert run.summary.refused == {"no_customer": 1}


@pytest.mark.parametrize(
    ("record", "code"),
    [
        pytest.param(
            envelope("plan.created", {"id": "p", "object": "plan"}), "unmapped_event", id="plan"
        ),
        pytest.param({"id": "cus_1", "object": "customer"}, "unsupported_object", id="customer"),
        pytest.param(charge(status="pending"), "pending", id="pending"),
        pytest.param(charge(amount="20"), "wrong_type", id="amount-string"),
        pytest.param(charge(created=None), "missing_field", id="no-time"),
        pytest.param(
            {"object": "event", "type": "charge.succeeded"}, "missing_field", id="no-data"
        ),
    ],
)
def test_unmappable_stripe_records_are_refused(record: dict[str, Any], code: str) -> None:
    run = Run(stripe.map_record, Context())
    assert run.record(record) == []
    assert run.summary.refused == {code: 1}


def test_an_object_that_names_no_type_is_refused_with_its_keys() -> None:
    with pytest.raises(Refused, match=r"no 'object' field \(keys: resources\)"):
        stripe.map_record({"resources": {"charge": {}}}, Context())
    with pytest.raises(Refused, match="object customer is not a payment object"):
        stripe.map_record({"id": "cus_1", "object": "customer"}, Context())

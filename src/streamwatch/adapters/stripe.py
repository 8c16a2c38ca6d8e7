"""Stripe objects and webhook events -> payment events.

Accepts an event envelope (``{"object": "event", "type": ..., "data": {"object": ...}}``) or a
bare object. Envelopes map by ``type``; bare objects by what they are and their status:

* ``payment_method.attached``, ``customer.source.created``; a ``payment_method`` or ``card``
  -> ``instrument.added``;
* ``charge.succeeded``, ``payment_intent.succeeded``; a succeeded ``charge`` ->
  ``payment.succeeded``; ``charge.failed``, ``payment_intent.payment_failed``; a failed
  ``charge`` -> ``payment.failed``;
* ``charge.dispute.created``; a ``dispute`` -> ``chargeback``;
* ``charge.refunded``, ``refund.created``; a ``refund`` -> ``refund``;
* ``invoice.finalized``; an open or uncollectible ``invoice`` -> ``invoice.issued``;
  ``invoice.paid``, ``invoice.payment_succeeded``; a paid ``invoice`` (issued too) ->
  ``payment.succeeded``; ``invoice.payment_failed`` -> ``payment.failed``.

Card ``funding`` gives the instrument type (``prepaid`` -> ``prepaid_card``, ``debit`` ->
``debit_card``, ``credit`` -> ``credit_card``; an ``unknown`` funding is refused for
``instrument.added`` rather than guessed); bank debits are ``direct_debit``, wallets
``stored_value``. Amounts are in minor units (cents) and divided by the currency's exponent
(none for JPY and the other zero-decimal currencies). Other events and objects are refused
(``unmapped_event``, ``unsupported_object``), as are drafts, voids and pending charges.

Event ids come from the object, not the envelope: a charge seen as ``charge.succeeded`` and as a
bare object, or as the ``latest_charge`` of a ``payment_intent.succeeded``, or as the ``charge``
of an ``invoice.paid`` (API versions that carry it), is one event. Customer: the context's map
by Stripe customer id, else that id, else the context's customer, else the billing e-mail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamwatch.adapters.base import Context, Refused, dig, event_id, opt_text, ts, when

NAME: Final = "stripe"
INPUT: Final = "json"

ZERO_DECIMAL: Final = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL: Final = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
FUNDING: Final = {"credit": "credit_card", "debit": "debit_card", "prepaid": "prepaid_card"}
METHOD_TYPES: Final = {
    "sepa_debit": "direct_debit",
    "bacs_debit": "direct_debit",
    "au_becs_debit": "direct_debit",
    "acss_debit": "direct_debit",
    "us_bank_account": "direct_debit",
    "customer_balance": "bank_transfer",
    "paypal": "stored_value",
    "cashapp": "stored_value",
    "link": "stored_value",
    "amazon_pay": "stored_value",
    "revolut_pay": "stored_value",
    "alipay": "stored_value",
    "wechat_pay": "stored_value",
}
EVENT_KINDS: Final = {
    "payment_method.attached": "instrument.added",
    "customer.source.created": "instrument.added",
    "charge.succeeded": "payment.succeeded",
    "charge.failed": "payment.failed",
    "charge.refunded": "refund",
    "charge.dispute.created": "chargeback",
    "refund.created": "refund",
    "invoice.finalized": "invoice.issued",
    "invoice.paid": "payment.succeeded",
    "invoice.payment_succeeded": "payment.succeeded",
    "invoice.payment_failed": "payment.failed",
    "payment_intent.succeeded": "payment.succeeded",
    "payment_intent.payment_failed": "payment.failed",
}


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The payment events of one Stripe event or object."""
    if record.get("object") == "event":
        kind_name = opt_text(record, "type") or ""
        obj = dig(record, "data.object")
        if not isinstance(obj, Mapping):
            raise Refused("missing_field", "field 'data.object' is missing")
        kind = EVENT_KINDS.get(kind_name)
        if kind is None:
            raise Refused("unmapped_event", f"event type {kind_name!r} is not a payment event")
        created = record.get("created")
        return _map(obj, kind, ctx, created)
    return _map(record, _kind_of(record), ctx, None)


def _kind_of(obj: Mapping[str, Any]) -> str:
    kind = opt_text(obj, "object") or ""
    status = (opt_text(obj, "status") or "").lower()
    if kind in {"payment_method", "card", "source"}:
        return "instrument.added"
    if kind == "dispute":
        return "chargeback"
    if kind == "refund":
        if status in {"failed", "canceled"}:
            raise Refused("refund_not_made", f"refund status is {status!r}")
        return "refund"
    if kind in {"charge", "payment_intent"}:
        if status == "succeeded":
            return "payment.succeeded"
        if status == "failed" or (kind == "payment_intent" and obj.get("last_payment_error")):
            return "payment.failed"
        raise Refused("pending", f"{kind} status is {status!r}: not settled yet")
    if kind == "invoice":
        if status in {"open", "uncollectible", "paid"}:
            return "invoice.issued"
        raise Refused(f"{status or 'unknown'}_invoice", f"invoice status is {status!r}")
    if not kind:
        keys = ", ".join(sorted(map(str, obj))[:5]) or "none"
        raise Refused("unsupported_object", f"a JSON object with no 'object' field (keys: {keys})")
    raise Refused("unsupported_object", f"object {kind} is not a payment object")


def _map(obj: Mapping[str, Any], kind: str, ctx: Context, created: Any) -> list[dict[str, Any]]:
    obj_type = opt_text(obj, "object") or ""
    obj_id = opt_text(obj, "id")
    if obj_id is None:
        raise Refused("missing_field", "field 'id' is missing")
    stamp = created if created is not None else obj.get("created")
    if stamp is None:
        raise Refused(
            "missing_field",
            f"field 'created' is missing (a bare {obj_type or 'object'} has no time)",
        )
    ts_ms = when(stamp, "created", ctx.tz)
    customer = _customer(obj, ctx)
    base: dict[str, Any] = {"type": "payment", "customer_id": customer}
    if kind == "instrument.added":
        return [_instrument_added(obj, obj_id, ts_ms, base)]
    currency = (opt_text(obj, "currency") or "").upper()
    if len(currency) != 3:
        raise Refused("invalid_value", f"currency {currency!r} is not an ISO 4217 code")
    if obj_type == "invoice":
        return _invoice(obj, obj_id, kind, ts_ms, base, currency, explicit=created is not None)
    if kind in {"payment.succeeded", "payment.failed"}:
        charge_id = obj_id
        if obj_type == "payment_intent":
            latest = obj.get("latest_charge")
            charge_id = (
                latest if isinstance(latest, str) else opt_text(latest or {}, "id") or obj_id
            )
        event = {
            **base,
            "event_id": event_id("stp", charge_id, kind),
            "ts": ts(ts_ms),
            "kind": kind,
            "amount": _major(obj.get("amount") or obj.get("amount_received") or 0, currency),
            "currency": currency,
        }
        if obj_type == "payment_intent" and kind == "payment.failed":
            event["amount"] = _major(obj.get("amount") or 0, currency)
        invoice = obj.get("invoice")
        if isinstance(invoice, str):
            event["invoice_id"] = invoice
        instrument = _charge_instrument(obj)
        if instrument:
            event["instrument"] = instrument
        country = opt_text(obj, "billing_details.address.country")
        if country:
            event["billing_country"] = country.upper()
        if kind == "payment.failed":
            event["failure_reason"] = (
                opt_text(obj, "failure_code")
                or opt_text(obj, "outcome.reason")
                or opt_text(obj, "last_payment_error.code")
                or opt_text(obj, "failure_message")
                or "failed"
            )
        return [event]
    if kind == "chargeback":
        return [
            {
                **base,
                "event_id": event_id("stp", obj_id, kind),
                "ts": ts(ts_ms),
                "kind": kind,
                "amount": _major(obj.get("amount") or 0, currency),
                "currency": currency,
                "failure_reason": opt_text(obj, "reason") or "dispute",
            }
        ]
    if kind == "refund":
        refunded = obj.get("amount_refunded") if obj_type == "charge" else obj.get("amount")
        return [
            {
                **base,
                "event_id": event_id("stp", obj_id, kind),
                "ts": ts(ts_ms),
                "kind": kind,
                "amount": _major(refunded or 0, currency),
                "currency": currency,
            }
        ]
    raise Refused("unsupported_object", f"{kind} from a {obj_type or '?'} object")


def _invoice(
    obj: Mapping[str, Any],
    obj_id: str,
    kind: str,
    ts_ms: int,
    base: dict[str, Any],
    currency: str,
    *,
    explicit: bool,
) -> list[dict[str, Any]]:
    status = (opt_text(obj, "status") or "").lower()
    finalized = dig(obj, "status_transitions.finalized_at")
    issued_ms = when(finalized, "finalized_at") if finalized and not explicit else ts_ms
    due = obj.get("due_date") or finalized or obj.get("created")
    issued = {
        **base,
        "event_id": event_id("stp", obj_id, "invoice.issued"),
        "ts": ts(issued_ms),
        "kind": "invoice.issued",
        "invoice_id": obj_id,
        "amount": _major(obj.get("amount_due") or obj.get("total") or 0, currency),
        "currency": currency,
        "due_date": ts(when(due, "due_date")),
    }
    country = opt_text(obj, "customer_address.country")
    if country:
        issued["billing_country"] = country.upper()
    if kind == "payment.failed":
        attempt = obj.get("attempt_count") or 0
        charge = obj.get("charge")
        return [
            {
                **base,
                "event_id": event_id("stp", charge, "payment.failed")
                if isinstance(charge, str)
                else event_id("stp", obj_id, "payment.failed", attempt),
                "ts": ts(ts_ms),
                "kind": "payment.failed",
                "invoice_id": obj_id,
                "amount": _major(
                    obj.get("amount_remaining") or obj.get("amount_due") or 0, currency
                ),
                "currency": currency,
                "failure_reason": f"invoice payment attempt {attempt} failed",
            }
        ]
    paid = kind == "payment.succeeded" or (not explicit and status == "paid")
    out = [] if kind == "payment.succeeded" else [issued]
    if paid:
        paid_at = dig(obj, "status_transitions.paid_at")
        charge = obj.get("charge")
        out.append(
            {
                **base,
                "event_id": event_id("stp", charge, "payment.succeeded")
                if isinstance(charge, str)
                else event_id("stp", obj_id, "payment.succeeded"),
                "ts": ts(when(paid_at, "paid_at") if paid_at and not explicit else ts_ms),
                "kind": "payment.succeeded",
                "invoice_id": obj_id,
                "amount": _major(obj.get("amount_paid") or 0, currency),
                "currency": currency,
            }
        )
    return out


def _instrument_added(
    obj: Mapping[str, Any], obj_id: str, ts_ms: int, base: dict[str, Any]
) -> dict[str, Any]:
    card = obj.get("card") if isinstance(obj.get("card"), Mapping) else obj
    assert isinstance(card, Mapping)
    method = opt_text(obj, "type") or "card"
    if opt_text(obj, "object") == "card" or method == "card":
        funding = (opt_text(card, "funding") or "unknown").lower()
        kind = FUNDING.get(funding)
        if kind is None:
            raise Refused("unknown_funding", f"card funding is {funding!r}: not guessed")
    else:
        found = METHOD_TYPES.get(method)
        if found is None:
            raise Refused("unsupported_payment_method", f"payment method type {method!r}")
        kind = found
    instrument: dict[str, Any] = {"type": kind}
    fingerprint = opt_text(card, "fingerprint") or opt_text(obj, f"{method}.fingerprint")
    if fingerprint:
        instrument["fingerprint"] = fingerprint
    country = opt_text(card, "country")
    if country:
        instrument["country"] = country.upper()
    event: dict[str, Any] = {
        **base,
        "event_id": event_id("stp", obj_id, "instrument.added"),
        "ts": ts(ts_ms),
        "kind": "instrument.added",
        "instrument": instrument,
    }
    billing = opt_text(obj, "billing_details.address.country") or opt_text(card, "address_country")
    if billing:
        event["billing_country"] = billing.upper()
    return event


def _charge_instrument(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    card = dig(obj, "payment_method_details.card")
    if not isinstance(card, Mapping):
        return None
    kind = FUNDING.get((opt_text(card, "funding") or "").lower())
    if kind is None:
        return None
    instrument: dict[str, Any] = {"type": kind}
    if opt_text(card, "fingerprint"):
        instrument["fingerprint"] = opt_text(card, "fingerprint")
    if opt_text(card, "country"):
        instrument["country"] = (opt_text(card, "country") or "").upper()
    return instrument


def _customer(obj: Mapping[str, Any], ctx: Context) -> str:
    customer = obj.get("customer")
    charge = obj.get("charge")
    if customer is None and isinstance(charge, Mapping):
        customer = charge.get("customer")  # a dispute or refund with its charge expanded
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    if isinstance(customer, str) and customer:
        return ctx.customers.get(customer.lower(), customer)
    if ctx.customer_id:
        return ctx.customer_id
    email = opt_text(obj, "billing_details.email") or opt_text(obj, "customer_email")
    if email:
        return ctx.customers.get(email.lower(), email.lower())
    raise Refused("no_customer", f"{opt_text(obj, 'object') or 'object'} names no customer")


def _major(amount: Any, currency: str) -> float:
    """A Stripe amount in minor units as an amount in currency units."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise Refused("wrong_type", f"amount {amount!r} is not a number")
    if currency in ZERO_DECIMAL:
        return float(amount)
    return amount / (1000 if currency in THREE_DECIMAL else 100)

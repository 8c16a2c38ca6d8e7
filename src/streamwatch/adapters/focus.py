"""FOCUS 1.0 cost and usage rows (CSV, any provider) -> usage events.

One row is one charge over ``ChargePeriodStart`` to ``ChargePeriodEnd`` (UTC; hourly or daily
as the provider writes it, kept as ``interval_s``): ``cost`` = ``BilledCost`` (or
``EffectiveCost`` with ``--cost effective``) in ``BillingCurrency``, ``quantity`` =
``ConsumedQuantity`` (else ``PricingQuantity``), ``ResourceId``, ``RegionId``, the meter from
``ServiceCategory`` (GPU machines and outbound data transfer told apart by their
descriptions). ``ChargeCategory``: ``Usage``, ``Purchase`` and positive ``Adjustment`` are
spend; ``Credit``, corrections and any negative cost become a ``credit`` payment; ``Tax`` is
refused (``tax``). ``NULL`` cells are empty.

Subscription: ``SubAccountId`` (the subscription GUID of an Azure ``/subscriptions/<id>``;
an AWS account or OCI tenancy as it is). Customer: the context's map by sub-account or
``x_CustomerId`` (Microsoft's CSP customer tenant), else that tenant, else the sub-account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamwatch.adapters.base import (
    Charge,
    Context,
    Refused,
    charge_event,
    currency_of,
    interval_of,
    meter_of,
    region_of,
    subscription_in,
    to_number,
    when,
)
from streamwatch.adapters.billing_rows import cell, row_id

NAME: Final = "focus"
INPUT: Final = "csv"

_CATEGORY_METERS: Final = {"compute": "compute", "storage": "storage"}
_EGRESS_WORDS: Final = ("data transfer out", "transfer out", "egress", "outbound", "internet out")


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The usage (or credit) event of one FOCUS row."""
    category = cell(record, "ChargeCategory")
    if category is None:
        raise Refused("missing_field", "field 'ChargeCategory' is missing")
    if category.lower() == "tax":
        raise Refused("tax", "a tax row is not consumption")
    start = cell(record, "ChargePeriodStart")
    if start is None:
        raise Refused("missing_field", "field 'ChargePeriodStart' is missing")
    start_ms = when(start, "ChargePeriodStart", ctx.tz)
    end = cell(record, "ChargePeriodEnd")
    end_ms = when(end, "ChargePeriodEnd", ctx.tz) if end else None
    cost_text = cell(record, ctx.cost_column)
    if cost_text is None:
        raise Refused("missing_field", f"field {ctx.cost_column!r} is missing")
    cost = to_number(cost_text, ctx.cost_column)
    if category.lower() == "credit" and cost > 0:
        cost = -cost
    quantity_text = cell(record, "ConsumedQuantity", "PricingQuantity")
    quantity = to_number(quantity_text, "ConsumedQuantity") if quantity_text else 0.0
    currency = currency_of(cell(record, "BillingCurrency"), "BillingCurrency")
    account = cell(record, "SubAccountId", "x_AccountId")
    if account is None:
        raise Refused("missing_field", "field 'SubAccountId' is missing")
    subscription = subscription_in(account) or account.lower()
    tenant = cell(record, "x_CustomerId")
    customer = ctx.customer_for(subscription, tenant, fallback=tenant.lower() if tenant else None)
    resource = (cell(record, "ResourceId") or "").lower()
    line = Charge(
        event_id=row_id("fcs", record),
        customer_id=customer,
        ts_ms=start_ms,
        subscription_id=subscription,
        resource_id=resource or account.lower(),
        meter=_meter(record),
        sku=cell(record, "x_SkuMeterName", "SkuId", "ServiceName") or "unknown",
        region=region_of(cell(record, "RegionId", "Region", "RegionName")),
        quantity=quantity,
        unit=cell(record, "ConsumedUnit", "PricingUnit") or "",
        cost=cost,
        currency=currency,
        interval_s=interval_of(start_ms, end_ms),
        invoice_id=cell(record, "InvoiceId", "x_InvoiceId"),
    )
    return [charge_event(line)]


def _meter(record: Mapping[str, Any]) -> str:
    words = (
        cell(record, "ChargeDescription"),
        cell(record, "x_SkuMeterCategory"),
        cell(record, "x_SkuMeterName"),
        cell(record, "ResourceType"),
    )
    guess = meter_of(*words)
    if guess == "gpu":
        return "gpu"
    joined = " ".join(w for w in words if w).lower()
    if any(word in joined for word in _EGRESS_WORDS):
        return "egress"
    category = (cell(record, "ServiceCategory") or "").lower()
    return _CATEGORY_METERS.get(category, "other")

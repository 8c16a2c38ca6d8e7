"""Azure Cost Management cost-detail exports (CSV; actual or amortized) -> usage events.

One row is one resource's use of one meter on one day (``Date``, in the ``MM/DD/YYYY`` of EA
exports or ISO): ``usage`` with ``interval_s`` = 86400, ``cost`` from ``CostInBillingCurrency``
(MCA) or ``Cost`` (EA) in ``BillingCurrency``, ``quantity``/``UnitOfMeasure``, ``ResourceId``,
``ResourceLocation``, the VM size from ``AdditionalInfo.ServiceType`` as ``sku`` (else the
meter name), the meter from ``MeterCategory``/``MeterSubCategory``/``MeterName``. Column names
are matched without case, so the camelCase of older MCA exports reads too.

Actual and amortized exports have the same columns and differ in cost: import one of them for
a period, not both (their rows share ids). ``ChargeType``: ``Usage``, ``Purchase``,
``UnusedReservation``/``UnusedSavingsPlan`` and positive ``RoundingAdjustment`` are spend;
``Refund`` and any negative cost become a ``credit`` payment; ``Tax`` is refused (``tax``: not
consumption). Customer: the context's map by subscription or ``CustomerTenantId``, else that
tenant, else the subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from streamwatch.adapters.azure_sku import vm_shape
from streamwatch.adapters.base import (
    DAY_S,
    Charge,
    Context,
    Refused,
    charge_event,
    currency_of,
    meter_of,
    region_of,
    resource_of,
    subscription_in,
    to_number,
    when,
)
from streamwatch.adapters.billing_rows import cell, row_id

NAME: Final = "azure-cost"
INPUT: Final = "csv"


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The usage (or credit) event of one cost-detail row."""
    charge_type = (cell(record, "ChargeType") or "Usage").lower()
    if charge_type == "tax":
        raise Refused("tax", "a tax row is not consumption")
    date = cell(record, "Date", "UsageDate", "UsageDateTime")
    if date is None:
        raise Refused("missing_field", "field 'Date' is missing")
    day_ms = when(date, "Date", ctx.tz)
    cost_text = cell(record, "CostInBillingCurrency", "Cost", "PreTaxCost")
    if cost_text is None:
        raise Refused("missing_field", "field 'CostInBillingCurrency/Cost' is missing")
    cost = to_number(cost_text, "Cost")
    if charge_type == "refund" and cost > 0:
        cost = -cost
    quantity_text = cell(record, "Quantity", "UsageQuantity")
    quantity = to_number(quantity_text, "Quantity") if quantity_text is not None else 0.0
    currency = currency_of(
        cell(record, "BillingCurrency", "BillingCurrencyCode", "Currency"), "BillingCurrency"
    )
    resource = resource_of(cell(record, "ResourceId", "InstanceId"))
    subscription = (
        (cell(record, "SubscriptionId", "SubscriptionGuid") or "").lower()
        or subscription_in(resource)
        or ""
    )
    if not subscription:
        raise Refused("missing_field", "field 'SubscriptionId' is missing")
    tenant = cell(record, "CustomerTenantId")
    customer = ctx.customer_for(subscription, tenant, fallback=tenant.lower() if tenant else None)
    size = _service_type(cell(record, "AdditionalInfo"))
    shape = vm_shape(size)
    meter = meter_of(
        cell(record, "MeterCategory"), cell(record, "MeterSubCategory"), cell(record, "MeterName")
    )
    if shape is not None and shape[1] > 0:
        meter = "gpu"
    if charge_type in {"purchase", "unusedreservation", "unusedsavingsplan"} and meter == "other":
        meter = "license"
    line = Charge(
        event_id=row_id("acd", record),
        customer_id=customer,
        ts_ms=day_ms,
        subscription_id=subscription,
        resource_id=resource or f"/subscriptions/{subscription}",
        meter=meter,
        sku=size or cell(record, "MeterName", "Product") or "unknown",
        region=region_of(cell(record, "ResourceLocation", "MeterRegion", "Location")),
        quantity=quantity,
        unit=cell(record, "UnitOfMeasure") or "",
        cost=cost,
        currency=currency,
        interval_s=DAY_S,
        invoice_id=cell(record, "InvoiceId"),
        vcpus=shape[0] if shape else None,
        gpus=shape[1] if shape and shape[1] else None,
    )
    return [charge_event(line)]


def _service_type(info: str | None) -> str | None:
    if not info or not info.startswith("{"):
        return None
    try:
        parsed = orjson.loads(info)
    except orjson.JSONDecodeError:
        return None
    value = parsed.get("ServiceType") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) and value else None

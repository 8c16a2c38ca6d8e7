"""Partner Center daily-rated usage line items (billed and unbilled) -> usage events.

One ``DailyRatedUsageLineItem`` is one resource's use of one meter on one day (``usageDate``,
UTC midnight): ``usage`` with ``interval_s`` = 86400, ``cost`` = ``billingPreTaxTotal`` in
``billingCurrency``, ``quantity``/``unitOfMeasure``, ``resourceUri``, ``resourceLocation``, the
VM size from ``additionalInfo.ServiceType`` as ``sku`` (else ``skuName``, else the meter), the
meter from ``meterCategory``/``meterSubCategory``/``meterName``. A negative total (a refund, a
credit, a correction) is a ``credit`` payment (see ``base.charge_event``).

The ``event_id`` is derived from what identifies the usage, not the invoice: the same line seen
unbilled and later billed (with an invoice number) is one event, processed once. Customer: the
context's map by subscription or customer tenant, else ``customerId``, else the subscription.
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
    charge_event,
    currency_of,
    event_id,
    meter_of,
    number,
    opt_text,
    region_of,
    resource_of,
    text,
    when,
)

NAME: Final = "partner-usage"
INPUT: Final = "json"


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The usage (or credit) event of one daily-rated usage line item."""
    subscription = text(record, "subscriptionId").lower()
    day_ms = when(record.get("usageDate"), "usageDate", ctx.tz)
    cost = number(record, "billingPreTaxTotal")
    quantity = number(record, "quantity")
    currency = currency_of(record.get("billingCurrency"), "billingCurrency")
    resource = resource_of(opt_text(record, "resourceUri")) or f"/subscriptions/{subscription}"
    info = _info(record.get("additionalInfo"))
    size = opt_text(info, "ServiceType")
    shape = vm_shape(size)
    tenant = opt_text(record, "customerId")
    customer = ctx.customer_for(subscription, tenant, fallback=tenant.lower() if tenant else None)
    meter = meter_of(
        opt_text(record, "meterCategory"),
        opt_text(record, "meterSubCategory"),
        opt_text(record, "meterName"),
    )
    if shape is not None and shape[1] > 0:
        meter = "gpu"
    identity = (
        customer,
        subscription,
        opt_text(record, "entitlementId") or "",
        resource,
        (opt_text(record, "meterId") or "").lower(),
        day_ms,
        (opt_text(record, "chargeType") or "").lower(),
        opt_text(record, "productId") or "",
        opt_text(record, "skuId") or "",
        opt_text(record, "availabilityId") or "",
        size or "",
    )
    line = Charge(
        event_id=event_id("pcu", *identity),
        customer_id=customer,
        ts_ms=day_ms,
        subscription_id=subscription,
        resource_id=resource,
        meter=meter,
        sku=size or opt_text(record, "skuName") or opt_text(record, "meterName") or "unknown",
        region=region_of(opt_text(record, "resourceLocation") or opt_text(record, "meterRegion")),
        quantity=quantity,
        unit=opt_text(record, "unitOfMeasure") or opt_text(record, "unitType") or "",
        cost=cost,
        currency=currency,
        interval_s=DAY_S,
        invoice_id=opt_text(record, "invoiceNumber"),
        vcpus=shape[0] if shape else None,
        gpus=shape[1] if shape and shape[1] else None,
    )
    return [charge_event(line)]


def _info(value: Any) -> Mapping[str, Any]:
    """``additionalInfo``: an object, or a JSON string of one (Partner Center writes both)."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}

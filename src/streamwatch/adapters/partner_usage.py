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

Field names are read without case: the API's camelCase items, and the PascalCase rows of the
daily-rated recon files (CSV) and of the billed/unbilled usage export (gzipped JSON lines).
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
    # The API writes camelCase, the recon files and the v2 export PascalCase: read both.
    record = {k.lower(): v for k, v in record.items() if isinstance(k, str)}
    subscription = text(record, "subscriptionid").lower()
    day_ms = when(record.get("usagedate"), "usageDate", ctx.tz)
    cost = number(record, "billingpretaxtotal")
    quantity = number(record, "quantity")
    currency = currency_of(record.get("billingcurrency"), "billingCurrency")
    resource = resource_of(opt_text(record, "resourceuri")) or f"/subscriptions/{subscription}"
    info = _info(record.get("additionalinfo"))
    size = opt_text(info, "ServiceType")
    shape = vm_shape(size)
    tenant = opt_text(record, "customerid")
    customer = ctx.customer_for(subscription, tenant, fallback=tenant.lower() if tenant else None)
    meter = meter_of(
        opt_text(record, "metercategory"),
        opt_text(record, "metersubcategory"),
        opt_text(record, "metername"),
    )
    if shape is not None and shape[1] > 0:
        meter = "gpu"
    identity = (
        customer,
        subscription,
        opt_text(record, "entitlementid") or "",
        resource,
        (opt_text(record, "meterid") or "").lower(),
        day_ms,
        (opt_text(record, "chargetype") or "").lower(),
        opt_text(record, "productid") or "",
        opt_text(record, "skuid") or "",
        opt_text(record, "availabilityid") or "",
        size or "",
    )
    line = Charge(
        event_id=event_id("pcu", *identity),
        customer_id=customer,
        ts_ms=day_ms,
        subscription_id=subscription,
        resource_id=resource,
        meter=meter,
        sku=size or opt_text(record, "skuname") or opt_text(record, "metername") or "unknown",
        region=region_of(opt_text(record, "resourcelocation") or opt_text(record, "meterregion")),
        quantity=quantity,
        unit=(
            opt_text(record, "unitofmeasure")
            or opt_text(record, "unit")
            or opt_text(record, "unittype")
            or ""
        ),
        cost=cost,
        currency=currency,
        interval_s=DAY_S,
        invoice_id=opt_text(record, "invoicenumber"),
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

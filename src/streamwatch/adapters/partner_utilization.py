"""Partner Center Azure utilization records -> usage events, priced from the user's rates.

An ``AzureUtilizationRecord`` says how much of a meter (``resource.id``) a resource used between
``usageStartTime`` and ``usageEndTime`` (hourly or daily, with the offset of the partner's
zone), and nothing about price. The cost is ``quantity x`` the unit price the context's rate
table gives for the meter (``--rates``); without a price for the meter the event carries the
quantity with ``cost`` 0 and the currency ``XXX`` ("no currency", ISO 4217), so that spend
detectors see no money they would have to invent.

Utilization records are fetched per customer and subscription, and carry neither: they come
from the context (``--customer``, ``--subscription``), else from the subscription inside
``instanceData.resourceUri``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamwatch.adapters.base import (
    Charge,
    Context,
    Refused,
    charge_event,
    event_id,
    interval_of,
    meter_of,
    number,
    opt_text,
    region_of,
    resource_of,
    subscription_in,
    text,
    when,
)

NAME: Final = "partner-utilization"
INPUT: Final = "json"
NO_CURRENCY: Final = "XXX"


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The usage event of one utilization record."""
    start_ms = when(record.get("usageStartTime"), "usageStartTime", ctx.tz)
    end = record.get("usageEndTime")
    end_ms = when(end, "usageEndTime", ctx.tz) if end else None
    meter_id = text(record, "resource.id").lower()
    quantity = number(record, "quantity")
    uri = resource_of(opt_text(record, "instanceData.resourceUri"))
    subscription = (ctx.subscription_id or "").lower() or subscription_in(uri)
    if not subscription:
        raise Refused(
            "no_subscription",
            "the record names no subscription: give the one it was fetched for",
        )
    customer = ctx.customer_for(subscription)
    rate = ctx.rates.get(meter_id)
    cost, currency = (quantity * rate.price, rate.currency) if rate else (0.0, NO_CURRENCY)
    if rate and ctx.currency and ctx.currency != currency and ctx.convert is not None:
        try:
            cost, currency = ctx.convert(cost, currency, ctx.currency, start_ms), ctx.currency
        except KeyError as exc:
            raise Refused("no_exchange_rate", str(exc).strip("'\"")) from None
    name = opt_text(record, "resource.name")
    line = Charge(
        event_id=event_id("pcz", subscription, meter_id, uri, start_ms, end_ms),
        customer_id=customer,
        ts_ms=start_ms,
        subscription_id=subscription,
        resource_id=uri or f"/subscriptions/{subscription}",
        meter=meter_of(
            opt_text(record, "resource.category"), opt_text(record, "resource.subcategory"), name
        ),
        sku=name or meter_id,
        region=region_of(
            opt_text(record, "instanceData.location") or opt_text(record, "resource.region")
        ),
        quantity=quantity,
        unit=opt_text(record, "unit") or (rate.unit if rate and rate.unit else ""),
        cost=cost,
        currency=currency,
        interval_s=interval_of(start_ms, end_ms),
    )
    return [charge_event(line)]

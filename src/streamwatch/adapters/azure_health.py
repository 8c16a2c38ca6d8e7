"""Azure Resource Health and Service Health (REST) -> ``provider.notice`` (``health.*``).

Two record shapes, told apart by their properties:

* an availability status (``properties.availabilityState``): one notice for the resource
  (category ``health.resource``, severity low when ``Unavailable`` or ``Degraded``, else info),
  at ``occuredTime`` (sic); ``Available`` is refused as ``healthy``;
* a service health event (``properties.eventType``: ``ServiceIssue``, ``PlannedMaintenance``,
  ``HealthAdvisory``, ``SecurityAdvisory``...): one notice per impacted subscription
  (``impact[].impactedRegions[].impactedSubscriptions``, else the context's subscription),
  ``notice_id`` = the tracking id, at ``impactStartTime``.

Health notices are informational: the provider's platform had trouble, the customer did
nothing. They let people see provider-side causes next to a customer's alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamwatch.adapters import notices
from streamwatch.adapters.base import (
    Context,
    Refused,
    event_id,
    opt_text,
    region_of,
    resource_of,
    subscription_in,
    when,
)

NAME: Final = "azure-health"
INPUT: Final = "json"

EVENT_CATEGORIES: Final = {
    "serviceissue": "health.service_issue",
    "plannedmaintenance": "health.planned_maintenance",
    "healthadvisory": "health.advisory",
    "securityadvisory": "security.advisory",
    "emergingissues": "health.advisory",
}


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The notices of one availability status or service health event."""
    props = record.get("properties")
    if not isinstance(props, Mapping):
        raise Refused("missing_field", "field 'properties' is missing")
    if "availabilityState" in props:
        return [_availability(record, props, ctx)]
    if "eventType" in props:
        return _service_event(record, props, ctx)
    raise Refused("unknown_shape", "neither an availability status nor a service health event")


def _availability(
    record: Mapping[str, Any], props: Mapping[str, Any], ctx: Context
) -> dict[str, Any]:
    state = opt_text(props, "availabilityState") or "Unknown"
    if state.lower() == "available":
        raise Refused("healthy", "the resource is Available: nothing to notice")
    raw_id = (opt_text(record, "id") or "").replace(" ", "")
    resource = resource_of(raw_id.split("/providers/Microsoft.ResourceHealth")[0])
    subscription = subscription_in(resource) or (ctx.subscription_id or "").lower()
    if not subscription:
        raise Refused("no_subscription", "the status names no resource or subscription")
    time = props.get("occuredTime") or props.get("occurredTime") or props.get("reportedTime")
    ts_ms = when(time, "occuredTime", ctx.tz)
    notice_id = event_id("rh", resource, ts_ms, state.lower())
    return notices.notice(
        event_id=notice_id,
        customer_id=ctx.customer_for(subscription),
        ts_ms=ts_ms,
        notice_id=notice_id,
        category="health.resource",
        severity="low" if state.lower() in {"unavailable", "degraded"} else "info",
        resource_id=resource,
        region=region_of(opt_text(record, "location")) or None,
        extra={
            "state": state,
            "title": opt_text(props, "title"),
            "reason": opt_text(props, "reasonType"),
            "context": opt_text(props, "context"),
            "source": "resource-health",
        },
    )


def _service_event(
    record: Mapping[str, Any], props: Mapping[str, Any], ctx: Context
) -> list[dict[str, Any]]:
    tracking = opt_text(record, "name") or opt_text(props, "trackingId") or opt_text(record, "id")
    if not tracking:
        raise Refused("missing_field", "field 'name' (the tracking id) is missing")
    kind = (opt_text(props, "eventType") or "").lower()
    category = EVENT_CATEGORIES.get(kind, "health.advisory")
    time = props.get("impactStartTime") or props.get("lastUpdateTime")
    ts_ms = when(time, "impactStartTime", ctx.tz)
    status = opt_text(props, "status") or "Active"
    impacted: dict[str, str | None] = {}
    impact = props.get("impact")
    for service in impact if isinstance(impact, list) else []:
        regions = service.get("impactedRegions") if isinstance(service, Mapping) else None
        for region in regions if isinstance(regions, list) else []:
            if not isinstance(region, Mapping):
                continue
            subscriptions = region.get("impactedSubscriptions")
            for sub in subscriptions if isinstance(subscriptions, list) else []:
                if isinstance(sub, str) and sub.strip():
                    impacted.setdefault(sub.strip().lower(), opt_text(region, "impactedRegion"))
    if not impacted and ctx.subscription_id:
        impacted[ctx.subscription_id.lower()] = None
    if not impacted:
        raise Refused("no_subscription", f"event {tracking} names no impacted subscription")
    return [
        notices.notice(
            event_id=event_id("sh", tracking, sub, status.lower(), ts_ms),
            customer_id=ctx.customer_for(sub),
            ts_ms=ts_ms,
            notice_id=tracking,
            category=category,
            severity="low" if category == "health.service_issue" else "info",
            resource_id=f"/subscriptions/{sub}",
            region=region_of(region) or None,
            extra={
                "title": opt_text(props, "title"),
                "status": status,
                "event_type": opt_text(props, "eventType"),
                "subscription_id": sub,
                "source": "service-health",
            },
        )
        for sub, region in sorted(impacted.items())
    ]

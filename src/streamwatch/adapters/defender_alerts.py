"""Microsoft Defender for Cloud security alerts (REST ``Microsoft.Security/locations/alerts``,
and the same alert as exported to Event Hubs) -> ``provider.notice``.

Category from ``alertType`` and ``alertDisplayName`` (``VM_DigitalCurrencyMining`` and other
mining alerts -> ``aup.crypto_mining``, spam -> ``aup.spam``, DDoS -> ``aup.ddos``, anything
else ``security.alert``); severity from ``severity``; the first Azure resource of
``resourceIdentifiers``, else ``compromisedEntity``. ``notice_id`` is the alert's
``systemAlertId`` (or its name), the event id adds the status, so a status change is a new
event and the notice detector alerts once. ``Dismissed`` alerts (false positives by someone's
judgement) are refused as ``dismissed``. Time: ``startTimeUtc`` (else ``timeGeneratedUtc``).
Customer: the context's map by the resource's subscription, else that subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from streamwatch.adapters import notices
from streamwatch.adapters.base import (
    Context,
    Refused,
    dig,
    event_id,
    opt_text,
    region_of,
    resource_of,
    subscription_in,
    when,
)

NAME: Final = "defender-alerts"
INPUT: Final = "json"


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The ``provider.notice`` of one Defender for Cloud alert."""
    props = record.get("properties") if isinstance(record.get("properties"), Mapping) else record
    assert isinstance(props, Mapping)
    alert_type = opt_text(props, "alertType") or opt_text(props, "AlertType")
    name = opt_text(props, "alertDisplayName") or opt_text(props, "AlertDisplayName")
    if alert_type is None and name is None:
        raise Refused("missing_field", "field 'properties.alertType' is missing")
    status = opt_text(props, "status") or opt_text(props, "Status") or "Active"
    if status.lower() == "dismissed":
        raise Refused("dismissed", f"alert {alert_type or name} was dismissed")
    start = (
        props.get("startTimeUtc")
        or props.get("StartTime")
        or props.get("timeGeneratedUtc")
        or props.get("TimeGenerated")
    )
    ts_ms = when(start, "startTimeUtc", ctx.tz)
    resource = _resource(props) or resource_of(opt_text(record, "id"))
    subscription = subscription_in(resource) or subscription_in(opt_text(record, "id"))
    if not subscription:
        raise Refused("no_subscription", "the alert names no Azure resource or subscription")
    customer = ctx.customer_for(subscription)
    notice_id = (
        opt_text(props, "systemAlertId")
        or opt_text(props, "SystemAlertId")
        or opt_text(record, "name")
        or opt_text(record, "id")
        or ""
    )
    if not notice_id:
        raise Refused("missing_field", "field 'properties.systemAlertId' is missing")
    location = (opt_text(record, "id") or "").lower().split("/locations/")
    region = region_of(location[1].split("/")[0]) if len(location) > 1 else None
    return [
        notices.notice(
            event_id=event_id("mdc", notice_id, status.lower()),
            customer_id=customer,
            ts_ms=ts_ms,
            notice_id=notice_id,
            category=notices.category_of_alert(alert_type, name),
            severity=notices.severity_of(
                opt_text(props, "severity") or opt_text(props, "Severity")
            ),
            resource_id=resource or f"/subscriptions/{subscription}",
            region=region or None,
            extra={
                "alert_type": alert_type,
                "title": name,
                "status": status,
                "intent": opt_text(props, "intent"),
                "compromised_entity": opt_text(props, "compromisedEntity"),
                "source": "defender",
            },
        )
    ]


def _resource(props: Mapping[str, Any]) -> str:
    identifiers = props.get("resourceIdentifiers") or props.get("ResourceIdentifiers")
    if isinstance(identifiers, list):
        for item in identifiers:
            found = opt_text(item, "azureResourceId") if isinstance(item, Mapping) else None
            if found:
                return resource_of(found)
    return resource_of(opt_text(props, "azureResourceId") or dig(props, "AzureResourceId"))

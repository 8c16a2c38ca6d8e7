"""Partner Center fraud events (``GET /v1/fraudEvents``, legacy and new model) -> notices.

Each event becomes a ``provider.notice`` with ``notice_id`` = ``eventId`` and a category from
``eventType`` (``NetworkConnectionsToCryptoMiningPools`` -> ``aup.crypto_mining``, usage and
deployment anomalies -> ``fraud.usage_anomaly``/``fraud.deployment_anomaly``, see
``notices.FRAUD_EVENT_TYPES``). The legacy model has no type: it reports crypto-mining pool
connections only. Severity from ``severity`` (legacy: high), with ``confidenceLevel``,
``eventStatus``, ``hitCount`` and the mining details (VM and pool addresses, pool domain) kept
in the properties. The provider asks the partner to investigate, not to suspend:
``action_required`` is ``none``, and the enforcement policy decides.

An event is re-sent as its status changes (Active, Investigating, Resolved): each status is its
own event id, and the notice detector alerts once per ``notice_id``. Time: ``eventTime`` (no
offset in the API: UTC unless the context says otherwise). Customer: the context's map by
subscription or ``customerTenantId``, else that tenant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from streamwatch.adapters import notices
from streamwatch.adapters.base import Context, event_id, opt_text, text, when

NAME: Final = "partner-fraud"
INPUT: Final = "json"


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The ``provider.notice`` of one fraud event."""
    notice_id = text(record, "eventId")
    ts_ms = when(record.get("eventTime") or record.get("firstOccurrence"), "eventTime", ctx.tz)
    subscription = text(record, "subscriptionId").lower()
    tenant = opt_text(record, "customerTenantId")
    customer = ctx.customer_for(subscription, tenant, fallback=tenant.lower() if tenant else None)
    event_type = opt_text(record, "eventType")
    category = (
        notices.FRAUD_EVENT_TYPES.get(event_type.lower(), "fraud.other")
        if event_type
        else "aup.crypto_mining"
    )
    status = opt_text(record, "eventStatus") or "Active"
    severity = notices.severity_of(opt_text(record, "severity"), default="high")
    details = record.get("additionalDetails")
    details = details if isinstance(details, Mapping) else {}
    affected = record.get("affectedResources")
    resource = ""
    if isinstance(affected, list) and affected and isinstance(affected[0], Mapping):
        resource = (opt_text(affected[0], "azureResourceId") or "").lower()
    if not resource.startswith("/subscriptions/"):
        resource = f"/subscriptions/{subscription}"
    extra: dict[str, Any] = {
        "subscription_id": subscription,
        "event_type": event_type or "legacy",
        "status": status,
        "confidence": (opt_text(record, "confidenceLevel") or "").lower() or None,
        "hit_count": _whole(record.get("hitCount")),
        "vm_ips": _addresses(details.get("vM_IP")),
        "pool_ips": _addresses(details.get("miningPool_IP")),
        "pool_domain": opt_text(details, "cryptoCurrencyMiningPoolDomainName"),
        "connections": _whole(details.get("connectionCount")),
        "title": opt_text(record, "displayName"),
    }
    return [
        notices.notice(
            event_id=event_id("pcf", notice_id, status.lower()),
            customer_id=customer,
            ts_ms=ts_ms,
            notice_id=notice_id,
            category=category,
            severity=severity,
            resource_id=resource,
            extra=extra,
        )
    ]


def _whole(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _addresses(value: Any) -> list[str]:
    """Addresses as the API writes them: a JSON array inside a string, or a plain list."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []

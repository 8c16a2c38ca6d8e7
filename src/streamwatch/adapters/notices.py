"""``provider.notice`` events and the categories the provider's alert types fall into.

Shared by the adapters of Partner Center fraud events, Defender for Cloud alerts, resource and
service health, and the activity log (which carries Defender alerts and health events as
categories of its own). A category names what the notice is about, in the contract's words:
``aup.crypto_mining``, ``aup.spam``, ``aup.ddos`` (acceptable-use breaches the policy may act
on), ``fraud.*`` (the provider's own anomaly detections), ``security.*`` and ``health.*``
(informational). Pure.
"""

from __future__ import annotations

import re
from typing import Any, Final

from streamwatch.adapters.base import ts

_AUP: Final = (
    (
        "aup.crypto_mining",
        re.compile(
            r"crypto.?currency|crypto.?min|coin.?min|digital.?currency|mining.?pool|miner|mining",
            re.I,
        ),
    ),
    ("aup.spam", re.compile(r"spam|smtp|outbound.?mail|mass.?mail", re.I)),
    ("aup.ddos", re.compile(r"ddos|denial.?of.?service", re.I)),
)

FRAUD_EVENT_TYPES: Final = {
    "networkconnectionstocryptominingpools": "aup.crypto_mining",
    "usageanomalydetection": "fraud.usage_anomaly",
    "multiregionmachinelearningusageanomaly": "fraud.usage_anomaly",
    "virtualmachinedeploymentanomaly": "fraud.deployment_anomaly",
    "multiregionvirtualmachinescalesetdeploymentanomaly": "fraud.deployment_anomaly",
    "servicehealthsecurityadvisory": "security.advisory",
}
"""Partner Center fraud event types (new events model) and their categories. Unknown types
are ``fraud.other``; the legacy model, which has no type, reports crypto-mining pools."""

SEVERITIES: Final = {
    "informational": "info",
    "information": "info",
    "info": "info",
    "low": "low",
    "medium": "medium",
    "moderate": "medium",
    "high": "high",
    "critical": "critical",
    "error": "high",
    "warning": "low",
}


def category_of_alert(*names: str | None) -> str:
    """The category of a security alert from its type and display name: an acceptable-use
    breach where the words say so (mining, spam, DDoS), else ``security.alert``."""
    joined = " ".join(n for n in names if n)
    for category, pattern in _AUP:
        if pattern.search(joined):
            return category
    return "security.alert"


def severity_of(value: str | None, default: str = "medium") -> str:
    """The provider's severity word in the contract's scale."""
    if not value:
        return default
    return SEVERITIES.get(value.strip().lower(), default)


def notice(
    *,
    event_id: str,
    customer_id: str,
    ts_ms: int,
    notice_id: str,
    category: str,
    severity: str,
    resource_id: str = "",
    actor: str = "provider",
    action_required: str = "none",
    region: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``provider.notice`` activity event (wire form)."""
    properties: dict[str, Any] = {
        "notice_id": notice_id,
        "category": category,
        "severity": severity,
        "action_required": action_required,
    }
    if extra:
        properties.update({k: v for k, v in extra.items() if v not in (None, "", [], {})})
    event: dict[str, Any] = {
        "event_id": event_id,
        "type": "activity",
        "customer_id": customer_id,
        "ts": ts(ts_ms),
        "operation": "provider.notice",
        "actor": actor,
        "status": "succeeded",
        "resource_id": resource_id,
        "properties": properties,
    }
    if region:
        event["region"] = region
    return event

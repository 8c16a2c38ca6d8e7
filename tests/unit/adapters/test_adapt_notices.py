"""Provider notices: Partner Center fraud events (legacy and new model), Defender for Cloud
alerts, resource and service health."""

from __future__ import annotations

from typing import Any

import pytest

from streamwatch.adapters import azure_health, defender_alerts, partner_fraud
from streamwatch.adapters.base import Context, Refused
from streamwatch.core.codec import event_from_dict

SUB = "2a7064fb-1e33-4007-974e-352cb3f2c805"


def fraud_event(**over: Any) -> dict[str, Any]:
    """One element of GET /v1/fraudEvents with the X-NewEventsModel header (valid JSON)."""
    doc: dict[str, Any] = {
        "eventTime": "2026-10-08T00:25:45.69",
        "eventId": f"{SUB}_2edeb5b1",
        "partnerTenantId": "partner-1",
        "customerTenantId": "A248DA34-6840-4c67-82d7-7f55ccd50d03",
        "subscriptionId": SUB,
        "hitCount": "10",
        "eventStatus": "Active",
        "eventType": "NetworkConnectionsToCryptoMiningPools",
        "severity": "Medium",
        "confidenceLevel": "High",
        "displayName": "Connections to crypto-mining pools",
        "affectedResources": [
            {
                "azureResourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                "Microsoft.Compute/virtualMachines/vm1",
                "type": "Microsoft.Compute/virtualMachines",
            }
        ],
        "additionalDetails": {
            "vM_IP": '[\r\n "13.89.185.189"\r\n]',
            "miningPool_IP": '[\r\n "104.243.33.118"\r\n]',
            "connectionCount": "31",
            "cryptoCurrencyMiningPoolDomainName": "pool.example",
        },
    }
    doc.update(over)
    return doc


def test_crypto_mining_fraud_event_is_aup_notice() -> None:
    (event,) = partner_fraud.map_record(fraud_event(), Context())
    props = event["properties"]
    assert event["operation"] == "provider.notice"
    assert event["customer_id"] == "a248da34-6840-4c67-82d7-7f55ccd50d03"
    assert event["ts"] == "2026-10-08T00:25:45.690Z"
    assert event["resource_id"].endswith("/virtualmachines/vm1")
    assert props["notice_id"] == f"{SUB}_2edeb5b1"
    assert (props["category"], props["severity"], props["confidence"]) == (
        "aup.crypto_mining",
        "medium",
        "high",
    )
    assert props["vm_ips"] == ["13.89.185.189"]
    assert props["pool_ips"] == ["104.243.33.118"]
    assert (props["connections"], props["hit_count"]) == (31, 10)
    event_from_dict(event)


def test_legacy_model_without_type_is_crypto_mining() -> None:
    record = fraud_event()
    for key in ("eventType", "severity", "confidenceLevel", "additionalDetails"):
        del record[key]
    (event,) = partner_fraud.map_record(record, Context())
    assert event["properties"]["category"] == "aup.crypto_mining"
    assert event["properties"]["severity"] == "high"


@pytest.mark.parametrize(
    ("event_type", "category"),
    [
        ("UsageAnomalyDetection", "fraud.usage_anomaly"),
        ("VirtualMachineDeploymentAnomaly", "fraud.deployment_anomaly"),
        ("MultiRegionVirtualMachineScaleSetDeploymentAnomaly", "fraud.deployment_anomaly"),
        ("ServiceHealthSecurityAdvisory", "security.advisory"),
        ("SomethingNew", "fraud.other"),
    ],
)
def test_fraud_event_types_get_categories(event_type: str, category: str) -> None:
    (event,) = partner_fraud.map_record(fraud_event(eventType=event_type), Context())
    assert event["properties"]["category"] == category


def test_status_changes_are_new_events_of_one_notice() -> None:
    active = partner_fraud.map_record(fraud_event(), Context())[0]
    resolved = partner_fraud.map_record(fraud_event(eventStatus="Resolved"), Context())[0]
    assert active["event_id"] != resolved["event_id"]
    assert active["properties"]["notice_id"] == resolved["properties"]["notice_id"]


def test_fraud_event_time_never_is_refused() -> None:
    with pytest.raises(Refused) as caught:
        partner_fraud.map_record(fraud_event(eventTime="9999-12-31T23:59:59.9970000"), Context())
    assert caught.value.code == "invalid_timestamp"


def defender_alert(**over: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "alertType": "VM_DigitalCurrencyMining",
        "systemAlertId": "2518-abc",
        "alertDisplayName": "Digital currency mining related behavior detected",
        "severity": "High",
        "status": "Active",
        "startTimeUtc": "2026-10-02T10:00:00.0000000Z",
        "resourceIdentifiers": [
            {
                "azureResourceId": f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                "Microsoft.Compute/virtualMachines/vm1",
                "type": "AzureResource",
            }
        ],
        "compromisedEntity": "vm1",
    }
    props.update(over)
    return {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Security/locations/"
        "westeurope/alerts/2518-abc",
        "name": "2518-abc",
        "type": "Microsoft.Security/Locations/alerts",
        "properties": props,
    }


def test_defender_mining_alert_is_aup_notice_of_its_severity() -> None:
    (event,) = defender_alerts.map_record(defender_alert(), Context(customers={SUB: "cust-9"}))
    props = event["properties"]
    assert event["customer_id"] == "cust-9"
    assert (props["category"], props["severity"], props["notice_id"]) == (
        "aup.crypto_mining",
        "high",
        "2518-abc",
    )
    assert event["region"] == "westeurope"
    assert event["ts"] == "2026-10-02T10:00:00Z"


def test_other_defender_alert_is_security_alert_and_dismissed_refused() -> None:
    (event,) = defender_alerts.map_record(
        defender_alert(alertType="VM_EICAR", alertDisplayName="test alert", severity="Low"),
        Context(),
    )
    assert event["properties"]["category"] == "security.alert"
    assert event["properties"]["severity"] == "low"
    with pytest.raises(Refused) as caught:
        defender_alerts.map_record(defender_alert(status="Dismissed"), Context())
    assert caught.value.code == "dismissed"


def test_unavailable_resource_is_health_notice_and_available_refused() -> None:
    record = {
        "id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/"
        "virtualMachines/vm1/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
        "location": "eastus",
        "properties": {
            "availabilityState": "Unavailable",
            "title": "Unavailable",
            "reasonType": "Unplanned",
            "occuredTime": "2026-10-02T09:12:00Z",
        },
    }
    (event,) = azure_health.map_record(record, Context())
    assert event["properties"]["category"] == "health.resource"
    assert event["resource_id"].endswith("/virtualmachines/vm1")
    assert event["customer_id"] == SUB
    record["properties"]["availabilityState"] = "Available"
    with pytest.raises(Refused) as caught:
        azure_health.map_record(record, Context())
    assert caught.value.code == "healthy"


def test_service_issue_gives_one_notice_per_impacted_subscription() -> None:
    other = "99999999-0000-0000-0000-000000000000"
    record = {
        "id": "/providers/Microsoft.ResourceHealth/events/BC_1-FXZ",
        "name": "BC_1-FXZ",
        "properties": {
            "eventType": "ServiceIssue",
            "status": "Active",
            "title": "Virtual machines in West US",
            "impactStartTime": "2026-10-07T00:00:00Z",
            "impact": [
                {
                    "impactedService": "Virtual Machines",
                    "impactedRegions": [
                        {"impactedRegion": "West US", "impactedSubscriptions": [SUB, other]}
                    ],
                }
            ],
        },
    }
    events = azure_health.map_record(record, Context())
    assert sorted(e["customer_id"] for e in events) == sorted([SUB, other])
    assert {e["properties"]["category"] for e in events} == {"health.service_issue"}
    assert {e["region"] for e in events} == {"westus"}
    assert len({e["event_id"] for e in events}) == 2

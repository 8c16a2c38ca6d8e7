"""Azure Activity Log records, in the REST and the diagnostic-export shapes, mapped to activity
events: operations, statuses, callers, notices and refusals."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streamwatch.adapters import azure_activity
from streamwatch.adapters.base import Context, Refused
from streamwatch.adapters.run import Run

SUB = "11111111-2222-3333-4444-555555555555"
VM = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"


def rest(**over: Any) -> dict[str, Any]:
    """A REST EventData record as the Activity Log API returns it."""
    doc: dict[str, Any] = {
        "authorization": {"action": "Microsoft.Compute/virtualMachines/write", "scope": VM},
        "caller": "Alice@Contoso.com",
        "claims": {"ipaddr": "203.0.113.7"},
        "correlationId": "corr-1",
        "eventDataId": "ed-1",
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "eventTimestamp": "2026-10-02T08:00:00.1234567Z",
        "httpRequest": {"clientIpAddress": "198.51.100.4", "method": "PUT"},
        "operationName": {"value": "Microsoft.Compute/virtualMachines/write"},
        "resourceId": VM,
        "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
        "subscriptionId": SUB,
        "properties": {
            "statusCode": "Created",
            "requestbody": orjson.dumps(
                {
                    "location": "West Europe",
                    "properties": {"hardwareProfile": {"vmSize": "Standard_NC24ads_A100_v4"}},
                }
            ).decode(),
        },
    }
    doc.update(over)
    return doc


def exported(**over: Any) -> dict[str, Any]:
    """The same event as diagnostic settings export it (one element of ``records``)."""
    doc: dict[str, Any] = {
        "time": "2026-10-02T08:00:00.1234567Z",
        "resourceId": VM.upper(),
        "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
        "category": "Administrative",
        "resultType": "Success",
        "resultSignature": "Succeeded.Created",
        "callerIpAddress": "198.51.100.4",
        "correlationId": "corr-1",
        "identity": {
            "claims": {
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice@contoso.com"
            }
        },
        "level": "Information",
        "properties": {"eventCategory": "Administrative"},
        "tenantId": "tenant-1",
    }
    doc.update(over)
    return doc


def one(record: dict[str, Any], ctx: Context | None = None) -> dict[str, Any]:
    events = azure_activity.map_record(record, ctx or Context())
    assert len(events) == 1
    return events[0]


def test_vm_write_becomes_vm_create_with_gpu_shape_from_request_body() -> None:
    event = one(rest())
    assert event["operation"] == "vm.create"
    assert event["status"] == "succeeded"
    assert event["actor"] == "Alice@Contoso.com"
    assert event["actor_ip"] == "198.51.100.4"
    assert event["region"] == "westeurope"
    assert event["ts"] == "2026-10-02T08:00:00.123Z"
    assert event["properties"] == {
        "sku": "Standard_NC24ads_A100_v4",
        "vcpus": 24,
        "gpus": 1,
        "count": 1,
    }
    assert event["resource_id"] == VM.lower()
    assert event["customer_id"] == SUB  # no tenant in the REST shape: the subscription


def test_both_shapes_of_one_event_share_the_event_id() -> None:
    assert one(rest())["event_id"] == one(exported())["event_id"]


def test_export_shape_reads_actor_from_claims_and_customer_from_tenant() -> None:
    event = one(exported())
    assert event["actor"] == "alice@contoso.com"
    assert event["customer_id"] == "tenant-1"
    assert event["actor_ip"] == "198.51.100.4"


def test_customer_map_wins_over_tenant_and_subscription() -> None:
    ctx = Context(customers={SUB: "cust-42"})
    assert one(exported(), ctx)["customer_id"] == "cust-42"
    assert one(rest(), ctx)["customer_id"] == "cust-42"


@pytest.mark.parametrize(
    ("record", "status"),
    [
        pytest.param(rest(status={"value": "Failed"}), "failed", id="rest-failed"),
        pytest.param(exported(resultType="Failure"), "failed", id="export-failure"),
        pytest.param(exported(resultType="Success"), "succeeded", id="export-success"),
    ],
)
def test_final_statuses_map(record: dict[str, Any], status: str) -> None:
    assert one(record)["status"] == status


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(rest(status={"value": "Started"}), id="rest-started"),
        pytest.param(rest(status={"value": "Accepted"}), id="rest-accepted"),
        pytest.param(exported(resultType="Start"), id="export-start"),
    ],
)
def test_interim_records_are_refused_so_an_operation_is_one_event(record: dict[str, Any]) -> None:
    with pytest.raises(Refused) as caught:
        azure_activity.map_record(record, Context())
    assert caught.value.code == "interim_status"


def test_role_assignment_names_built_in_role_and_principal() -> None:
    body = {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/"
            "roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "principalId": "ABC-123",
            "principalType": "ServicePrincipal",
        }
    }
    event = one(
        exported(
            operationName="Microsoft.Authorization/roleAssignments/write",
            properties={"requestbody": orjson.dumps(body).decode()},
        )
    )
    assert event["operation"] == "role.assign"
    assert event["properties"] == {
        "role": "Owner",
        "principal": "abc-123",
        "principal_type": "service",
    }


def test_vm_delete_and_unknown_operations_are_kept() -> None:
    deleted = one(rest(operationName={"value": "Microsoft.Compute/virtualMachines/delete"}))
    assert deleted["operation"] == "vm.delete"
    other = one(exported(operationName="Microsoft.Network/networkSecurityGroups/write"))
    assert other["operation"] == "azure:microsoft.network/networksecuritygroups/write"


def test_truncated_request_body_still_gives_vm_create() -> None:
    event = one(rest(properties={"requestbody": '{"location": "westeurope", "propert'}))
    assert event["operation"] == "vm.create"
    assert event["properties"]["sku"] == "unknown"
    assert "region" not in event


def test_security_category_is_a_provider_notice_with_aup_category() -> None:
    record = rest(
        category={"value": "Security"},
        operationName={"value": "Microsoft.Security/locations/alerts/activate/action"},
        eventName={"value": "Digital currency mining related behavior detected"},
        status={"value": "Active"},
        properties={"Severity": "High"},
    )
    event = one(record)
    assert event["operation"] == "provider.notice"
    assert event["properties"]["category"] == "aup.crypto_mining"
    assert event["properties"]["severity"] == "high"


def test_resource_health_back_to_available_is_refused() -> None:
    record = rest(
        category={"value": "ResourceHealth"}, properties={"currentHealthStatus": "Available"}
    )
    with pytest.raises(Refused) as caught:
        azure_activity.map_record(record, Context())
    assert caught.value.code == "healthy"


def test_entra_sign_in_failure_carries_country() -> None:
    record = {
        "time": "2026-10-02T07:00:00Z",
        "resourceId": "/tenants/tenant-1/providers/Microsoft.aadiam",
        "operationName": "Sign-in activity",
        "category": "SignInLogs",
        "resultType": "50126",
        "callerIpAddress": "192.0.2.9",
        "tenantId": "tenant-1",
        "properties": {
            "userPrincipalName": "Bob@Contoso.com",
            "location": {"countryOrRegion": "ng"},
        },
    }
    event = one(record)
    assert event["operation"] == "signin"
    assert event["status"] == "failed"
    assert event["actor"] == "bob@contoso.com"
    assert event["properties"] == {"ip_country": "NG"}
    assert event["customer_id"] == "tenant-1"


@pytest.mark.parametrize(
    ("record", "code"),
    [
        pytest.param({"time": "2026-10-02T08:00:00Z"}, "missing_field", id="no-operation"),
        pytest.param(exported(time="yesterday"), "invalid_timestamp", id="bad-time"),
        pytest.param(exported(operationName=42), "wrong_type", id="operation-number"),
        pytest.param(exported(resultType=None), "missing_field", id="no-status"),
    ],
)
def test_malformed_records_are_refused_with_reason(record: dict[str, Any], code: str) -> None:
    run = Run(azure_activity.map_record, Context())
    assert run.record(record) == []
    assert run.summary.refused == {code: 1}

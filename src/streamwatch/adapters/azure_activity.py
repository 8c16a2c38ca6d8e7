"""Azure Activity Log -> activity events (and ``provider.notice`` for health and security).

Both shapes of one record: the REST ``EventData`` (``operationName.value``, ``status.value``,
``eventTimestamp``, ``caller``, ``httpRequest.clientIpAddress``) and the diagnostic-settings
export that Event Hubs and storage receive as ``{"records": [...]}`` (``operationName``,
``resultType``, ``time``, ``identity.claims``, ``callerIpAddress``). The reader unwraps the
``records`` array; this module maps one record. The same event in either shape gets the same
``event_id`` (from its correlation id, operation, status, time and resource).

* Status: ``Succeeded``/``Success`` -> succeeded; ``Failed``/``Failure``/``Canceled`` ->
  failed. ``Started``/``Start``/``Accepted``/``In Progress`` are interim records of an
  operation whose final record follows: refused as ``interim_status`` so that one operation is
  one event, not two.
* Operations (Administrative category): VM and scale-set writes -> ``vm.create`` (size, vCPUs
  and GPUs from the request body where the log kept it), their deletes -> ``vm.delete``, role
  assignment writes -> ``role.assign`` (well-known role names, principal and its type),
  subscription aliases -> ``subscription.create``. Every other operation is kept as
  ``azure:<operationName, lower case>``: the contract accepts unknown operations.
* Entra ID records exported the same way: sign-ins (``Sign-in activity``) -> ``signin`` with
  the country; audit ``Add user``/``Delete user``/``Invite external user`` -> ``user.create``,
  ``user.delete``, ``guest.invite``.
* Category ``Security`` (a Defender for Cloud alert), ``ServiceHealth`` and ``ResourceHealth``
  -> ``provider.notice``; ``Alert``, ``Autoscale``, ``Recommendation`` and ``Policy`` records
  are kept as unknown operations (succeeded: the event happened).

Customer: the context's map by subscription or tenant, else the record's ``tenantId``, else its
subscription.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from streamwatch.adapters import notices
from streamwatch.adapters.azure_sku import vm_shape
from streamwatch.adapters.base import (
    Context,
    Refused,
    dig,
    event_id,
    opt_text,
    region_of,
    resource_of,
    subscription_in,
    text,
    ts,
    when,
)

NAME: Final = "azure-activity"
INPUT: Final = "json"

SUCCEEDED: Final = frozenset({"succeeded", "success"})
FAILED: Final = frozenset({"failed", "failure", "canceled", "cancelled"})
INTERIM: Final = frozenset({"started", "start", "accepted", "in progress", "inprogress"})
_STATUS_WORDS: Final = {
    **dict.fromkeys(SUCCEEDED, "succeeded"),
    **dict.fromkeys(FAILED, "failed"),
    **dict.fromkeys(INTERIM, "started"),
}
"""The two shapes spell one status two ways (``Succeeded``/``Success``): one word each, so
that both shapes of an event get one id."""

OPERATIONS: Final = {
    "microsoft.compute/virtualmachines/write": "vm.create",
    "microsoft.compute/virtualmachinescalesets/write": "vm.create",
    "microsoft.compute/virtualmachines/delete": "vm.delete",
    "microsoft.compute/virtualmachinescalesets/delete": "vm.delete",
    "microsoft.authorization/roleassignments/write": "role.assign",
    "microsoft.subscription/aliases/write": "subscription.create",
}
ENTRA_AUDIT: Final = {
    "add user": "user.create",
    "delete user": "user.delete",
    "invite external user": "guest.invite",
}
ROLES: Final = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "9980e02c-c2be-4d73-94e8-173b1dc7cf3c": "Virtual Machine Contributor",
}
"""Built-in Azure role definition ids (the same in every tenant) and their names."""
PRINCIPAL_TYPES: Final = {
    "user": "user",
    "serviceprincipal": "service",
    "group": "group",
    "foreigngroup": "group",
}
NOTICE_CATEGORIES: Final = frozenset({"security", "servicehealth", "resourcehealth"})
SIGNIN_CATEGORIES: Final = frozenset(
    {"signinlogs", "noninteractiveusersigninlogs", "serviceprincipalsigninlogs"}
)
_CLAIM: Final = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


def map_record(record: Mapping[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The activity event of one activity-log record, in either shape; Refused otherwise."""
    rest = "eventTimestamp" in record or isinstance(record.get("operationName"), Mapping)
    operation_name = text(record, "operationName")
    ts_ms = when(record.get("eventTimestamp") or record.get("time"), "eventTimestamp/time", ctx.tz)
    raw_status = opt_text(record, "status" if rest else "resultType") or ""
    props_raw = record.get("properties")
    props: Mapping[str, Any] = props_raw if isinstance(props_raw, Mapping) else {}
    category = (
        opt_text(record, "category") or opt_text(props, "eventCategory") or "Administrative"
    ).lower()
    resource_id = resource_of(opt_text(record, "resourceId"))
    subscription = (
        (opt_text(record, "subscriptionId") or "").lower() or subscription_in(resource_id) or None
    )
    tenant = opt_text(record, "tenantId")
    customer = ctx.customer_for(subscription, tenant, fallback=tenant.lower() if tenant else None)
    identity = (
        opt_text(record, "correlationId") or opt_text(record, "eventDataId") or "",
        operation_name.lower(),
        _STATUS_WORDS.get(raw_status.strip().lower(), raw_status.strip().lower()),
        ts_ms,
        resource_id,
    )
    eid = event_id("az", *identity)

    if category in SIGNIN_CATEGORIES or operation_name.lower() == "sign-in activity":
        return [_signin(record, props, eid, customer, ts_ms, resource_id)]
    if category in NOTICE_CATEGORIES:
        return [_notice(record, props, category, eid, customer, ts_ms, resource_id)]

    status = _status(raw_status, operation_name)
    claims = _claims(record, rest)
    actor = (
        opt_text(record, "caller")
        or _claim(claims, "upn")
        or _claim(claims, "name")
        or _claim(claims, "appid")
        or _claim(claims, "spn")
        or "system"
    )
    actor_ip = (
        opt_text(record, "httpRequest.clientIpAddress")
        or opt_text(record, "callerIpAddress")
        or _claim(claims, "ipaddr")
    )
    if category == "auditlogs":
        operation = ENTRA_AUDIT.get(operation_name.lower(), "entra:" + operation_name.lower())
        properties = _entra_audit(props, operation)
    else:
        operation = OPERATIONS.get(operation_name.lower(), "azure:" + operation_name.lower())
        properties = {}
    body = _request_body(props)
    region = region_of(opt_text(body, "location")) or None
    if operation == "vm.create":
        properties = _vm(body)
    elif operation == "role.assign":
        properties = _role(body)
    elif operation == "subscription.create":
        properties = {"subscription_id": subscription or ""}
    elif not properties:
        properties = {"category": category}
        if raw_status:
            properties["source_status"] = raw_status
    event: dict[str, Any] = {
        "event_id": eid,
        "type": "activity",
        "customer_id": customer,
        "ts": ts(ts_ms),
        "operation": operation,
        "actor": actor,
        "status": status,
        "resource_id": resource_id,
        "properties": properties,
    }
    if actor_ip:
        event["actor_ip"] = actor_ip
    if region:
        event["region"] = region
    return [event]


def _status(raw: str, operation_name: str) -> str:
    value = raw.strip().lower()
    if value in SUCCEEDED:
        return "succeeded"
    if value in FAILED:
        return "failed"
    if value in INTERIM:
        raise Refused(
            "interim_status",
            f"{operation_name} is {raw!r}: an interim record, its final record follows",
        )
    if not value:
        raise Refused("missing_field", "field 'status/resultType' is missing")
    return "succeeded"  # Active, Resolved, Activated, Updated: the event happened


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    """A token claim by its short name or its schema URI (claim keys hold dots: no ``dig``)."""
    for key in (name, _CLAIM + name):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _claims(record: Mapping[str, Any], rest: bool) -> Mapping[str, Any]:
    claims = record.get("claims") if rest else dig(record, "identity.claims")
    return claims if isinstance(claims, Mapping) else {}


def _request_body(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request body the log kept (a JSON string, often truncated), or an empty object."""
    raw = props.get("requestbody") or props.get("requestBody")
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str) and raw.startswith("{"):
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}
        return body if isinstance(body, dict) else {}
    return {}


def _vm(body: Mapping[str, Any]) -> dict[str, Any]:
    sku = opt_text(body, "properties.hardwareProfile.vmSize") or opt_text(body, "sku.name")
    capacity = dig(body, "sku.capacity")
    properties: dict[str, Any] = {"sku": sku or "unknown"}
    shape = vm_shape(sku)
    if shape is not None:
        properties["vcpus"], properties["gpus"] = shape
    if isinstance(capacity, int) and not isinstance(capacity, bool) and capacity >= 0:
        properties["count"] = capacity
    else:
        properties["count"] = 1
    return properties


def _role(body: Mapping[str, Any]) -> dict[str, Any]:
    definition = (opt_text(body, "properties.roleDefinitionId") or "").lower()
    guid = definition.rsplit("/", 1)[-1]
    kind = (opt_text(body, "properties.principalType") or "").lower()
    properties: dict[str, Any] = {
        "role": ROLES.get(guid, guid or "unknown"),
        "principal": (opt_text(body, "properties.principalId") or "unknown").lower(),
    }
    if kind:
        properties["principal_type"] = PRINCIPAL_TYPES.get(kind, kind)
    return properties


def _entra_audit(props: Mapping[str, Any], operation: str) -> dict[str, Any]:
    targets = props.get("targetResources")
    first = targets[0] if isinstance(targets, list) and targets else {}
    first = first if isinstance(first, Mapping) else {}
    principal = opt_text(first, "userPrincipalName") or opt_text(first, "displayName")
    properties: dict[str, Any] = {}
    if principal:
        properties["principal"] = principal.lower()
    if operation == "guest.invite":
        properties["principal_type"] = "guest"
    return properties


def _signin(
    record: Mapping[str, Any],
    props: Mapping[str, Any],
    eid: str,
    customer: str,
    ts_ms: int,
    resource_id: str,
) -> dict[str, Any]:
    result = (opt_text(record, "resultType") or "").strip()
    error = dig(props, "status.errorCode")
    failed = (result not in {"", "0", "Success", "Succeeded"}) or (
        isinstance(error, int) and error != 0
    )
    actor = (
        opt_text(props, "userPrincipalName")
        or opt_text(record, "identity")
        or opt_text(props, "servicePrincipalName")
        or "unknown"
    )
    properties: dict[str, Any] = {}
    country = opt_text(props, "location.countryOrRegion")
    if country:
        properties["ip_country"] = country.upper()
    event: dict[str, Any] = {
        "event_id": eid,
        "type": "activity",
        "customer_id": customer,
        "ts": ts(ts_ms),
        "operation": "signin",
        "actor": actor.lower(),
        "status": "failed" if failed else "succeeded",
        "resource_id": resource_id,
        "properties": properties,
    }
    ip = opt_text(record, "callerIpAddress") or opt_text(props, "ipAddress")
    if ip:
        event["actor_ip"] = ip
    return event


def _notice(
    record: Mapping[str, Any],
    props: Mapping[str, Any],
    category: str,
    eid: str,
    customer: str,
    ts_ms: int,
    resource_id: str,
) -> dict[str, Any]:
    title = opt_text(props, "title") or opt_text(record, "eventName") or ""
    if category == "security":
        name = opt_text(record, "eventName") or opt_text(props, "alertDisplayName")
        kind = notices.category_of_alert(opt_text(props, "alertType"), name)
        severity = notices.severity_of(opt_text(props, "Severity") or opt_text(props, "severity"))
    elif category == "servicehealth":
        kind = _service_health_category(opt_text(props, "incidentType"))
        severity = "low" if kind == "health.service_issue" else "info"
    else:
        health = opt_text(props, "currentHealthStatus") or opt_text(props, "healthStatus") or ""
        if health.lower() == "available":
            raise Refused("healthy", "resource health returned to Available: nothing to notice")
        kind = "health.resource"
        severity = "low" if health.lower() in {"unavailable", "degraded"} else "info"
    notice_id = (
        opt_text(props, "trackingId")
        or opt_text(record, "correlationId")
        or opt_text(record, "eventDataId")
        or eid
    )
    region = region_of(opt_text(props, "region")) or None
    return notices.notice(
        event_id=eid,
        customer_id=customer,
        ts_ms=ts_ms,
        notice_id=notice_id,
        category=kind,
        severity=severity,
        resource_id=resource_id,
        region=region,
        extra={"title": title, "source": "activity-log"},
    )


def _service_health_category(incident_type: str | None) -> str:
    kind = (incident_type or "").lower()
    if kind in {"incident", "serviceissue"}:
        return "health.service_issue"
    if kind in {"maintenance", "plannedmaintenance"}:
        return "health.planned_maintenance"
    if kind == "security":
        return "security.advisory"
    return "health.advisory"

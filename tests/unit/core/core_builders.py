"""Builders shared by the core's unit tests: wire-format events, decoded events, a fake clock,
the default policy, and a runner that collects decisions.

Self-contained on purpose (a later step moves the reusable parts into ``streamwatch.testing``).
Dict builders return what a producer sends; ``decoded`` turns a dict into a core event through
the real codec, so every test event is also a valid contract event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

import streamwatch
from streamwatch.core.codec import event_from_dict
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import (
    ActivityEvent,
    Alert,
    DetectorRef,
    EnforcementRequest,
    Event,
    PaymentEvent,
    UsageEvent,
)
from streamwatch.core.ids import stable_id
from streamwatch.core.policy import Policy, parse_policy
from streamwatch.core.timeutil import parse_ts_ms

REPO_ROOT: Final = Path(__file__).resolve().parents[3]
DEFAULT_POLICY_PATH: Final = Path(streamwatch.__file__).parent / "config" / "policy.toml"
NOW_MS: Final = parse_ts_ms("2030-01-01T00:00:00Z")
"""A wall clock far from any event time, so a test can tell the two apart."""

RESOURCE: Final = (
    "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
)


def ts(day: int = 1, hour: int = 0, minute: int = 0, second: int = 0, month: int = 10) -> str:
    """An RFC 3339 UTC timestamp in 2026 (October unless told)."""
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def usage_doc(
    event_id: str = "u-1",
    customer_id: str = "cust-1",
    at: str = "2026-10-01T00:00:00Z",
    cost: float = 1.0,
    **fields: Any,
) -> dict[str, Any]:
    """A usage event: one hour of a 4-vCPU VM costing ``cost`` USD, unless overridden."""
    doc: dict[str, Any] = {
        "event_id": event_id,
        "type": "usage",
        "customer_id": customer_id,
        "ts": at,
        "subscription_id": "sub-1",
        "resource_id": RESOURCE,
        "meter": "compute",
        "sku": "Standard_D4s_v5",
        "region": "westeurope",
        "quantity": 1.0,
        "unit": "hour",
        "cost": cost,
        "currency": "USD",
    }
    doc.update(fields)
    return doc


def activity_doc(
    operation: str = "signin",
    event_id: str = "a-1",
    customer_id: str = "cust-1",
    at: str = "2026-10-01T00:00:00Z",
    properties: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An activity event by ``user@example.com`` that succeeded, unless overridden."""
    doc: dict[str, Any] = {
        "event_id": event_id,
        "type": "activity",
        "customer_id": customer_id,
        "ts": at,
        "operation": operation,
        "actor": "user@example.com",
        "status": "succeeded",
        "properties": properties if properties is not None else {},
    }
    doc.update(fields)
    return doc


def payment_doc(
    kind: str = "payment.succeeded",
    event_id: str = "p-1",
    customer_id: str = "cust-1",
    at: str = "2026-10-01T00:00:00Z",
    **fields: Any,
) -> dict[str, Any]:
    """A payment event of 100 USD, unless overridden (``amount=None`` drops the amount)."""
    doc: dict[str, Any] = {
        "event_id": event_id,
        "type": "payment",
        "customer_id": customer_id,
        "ts": at,
        "kind": kind,
        "amount": 100.0,
        "currency": "USD",
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def budget_set_doc(
    amount: Any = 1000, currency: Any = "USD", event_id: str = "b-1", **fields: Any
) -> dict[str, Any]:
    """A ``budget.set`` activity for a monthly budget."""
    return activity_doc(
        "budget.set",
        event_id=event_id,
        properties={"amount": amount, "currency": currency, "period": "month"},
        **fields,
    )


def notice_doc(
    notice_id: str | None = "n-1",
    category: str = "aup.crypto_mining",
    severity: str = "high",
    action_required: str = "none",
    event_id: str = "pn-1",
    **fields: Any,
) -> dict[str, Any]:
    """A ``provider.notice`` activity on the default VM (``notice_id=None`` omits the id)."""
    props: dict[str, Any] = {
        "notice_id": notice_id,
        "category": category,
        "severity": severity,
        "action_required": action_required,
    }
    fields.setdefault("actor", "provider")
    fields.setdefault("resource_id", RESOURCE)
    return activity_doc(
        "provider.notice",
        event_id=event_id,
        properties={k: v for k, v in props.items() if v is not None},
        **fields,
    )


def without(doc: dict[str, Any], *names: str) -> dict[str, Any]:
    """A copy of ``doc`` without the named keys."""
    return {k: v for k, v in doc.items() if k not in names}


def raw(doc: Any) -> bytes:
    """The wire bytes of a document."""
    return orjson.dumps(doc)


def decoded(doc: dict[str, Any]) -> Event:
    """The core event of a wire dict, through the real codec."""
    return event_from_dict(doc)


def usage(**kw: Any) -> UsageEvent:
    event = decoded(usage_doc(**kw))
    assert isinstance(event, UsageEvent)
    return event


def activity(operation: str = "signin", **kw: Any) -> ActivityEvent:
    event = decoded(activity_doc(operation, **kw))
    assert isinstance(event, ActivityEvent)
    return event


def payment(kind: str = "payment.succeeded", **kw: Any) -> PaymentEvent:
    event = decoded(payment_doc(kind, **kw))
    assert isinstance(event, PaymentEvent)
    return event


def budget_set(amount: Any = 1000, currency: Any = "USD", **kw: Any) -> ActivityEvent:
    event = decoded(budget_set_doc(amount, currency, **kw))
    assert isinstance(event, ActivityEvent)
    return event


def notice(notice_id: str | None = "n-1", **kw: Any) -> ActivityEvent:
    event = decoded(notice_doc(notice_id, **kw))
    assert isinstance(event, ActivityEvent)
    return event


def default_policy_text() -> str:
    return DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def default_policy() -> Policy:
    """The policy shipped in ``streamwatch/config/policy.toml``."""
    return parse_policy(default_policy_text())


@dataclass
class FakeClock:
    """A wall clock that advances ``step_ms`` on every read, starting at ``now_ms``."""

    now_ms: int = NOW_MS
    step_ms: int = 1000

    def __call__(self) -> int:
        now = self.now_ms
        self.now_ms += self.step_ms
        return now


@dataclass
class Outcome:
    """Everything a run of the core decided, in order."""

    alerts: list[Alert] = field(default_factory=list)
    requests: list[EnforcementRequest] = field(default_factory=list)
    shadowed: list[EnforcementRequest] = field(default_factory=list)


def run(fleet: Fleet, events: Iterable[Event], clock: FakeClock | None = None) -> Outcome:
    """Step every event through the fleet; collect the decisions."""
    clock = clock or FakeClock()
    out = Outcome()
    for event in events:
        decisions = fleet.step(event, clock())
        out.alerts.extend(decisions.alerts)
        out.requests.extend(decisions.requests)
        out.shadowed.extend(decisions.shadowed)
    return out


def run_core(core: Core, events: Iterable[Event], clock: FakeClock | None = None) -> Outcome:
    return run(Fleet(core), events, clock)


def alert_view(alert: Alert) -> dict[str, Any]:
    """The wire form of an alert without its wall-clock field, for comparing runs."""
    return {k: v for k, v in alert.to_dict().items() if k != "detected_at"}


def request_view(request: EnforcementRequest) -> dict[str, Any]:
    """The wire form of a request without its wall-clock field, for comparing runs."""
    return {k: v for k, v in request.to_dict().items() if k != "requested_at"}


def outcome_view(outcome: Outcome) -> dict[str, list[dict[str, Any]]]:
    return {
        "alerts": [alert_view(a) for a in outcome.alerts],
        "requests": [request_view(r) for r in outcome.requests],
        "shadowed": [request_view(r) for r in outcome.shadowed],
    }


def make_alert(
    kind: str = "provider_notice",
    severity: Any = "high",
    evidence: dict[str, Any] | None = None,
    customer_id: str = "cust-1",
    incident: str = "n-1",
    event_time: str = "2026-10-01T00:00:00Z",
    detected_at: str = "2030-01-01T00:00:00Z",
    reasons: tuple[str, ...] = ("The provider reported aup.crypto_mining.",),
    subscription_ids: tuple[str, ...] = ("sub-1",),
    score: float = 0.85,
) -> Alert:
    """An alert as the engine would make it, for policy tests."""
    return Alert(
        alert_id=stable_id(customer_id, kind, incident),
        customer_id=customer_id,
        kind=kind,
        severity=severity,
        score=score,
        event_time=event_time,
        window_start=event_time,
        window_end=event_time,
        detected_at=detected_at,
        reasons=reasons,
        evidence=evidence if evidence is not None else {},
        subscription_ids=subscription_ids,
        detector=DetectorRef("test", "1"),
    )


# One valid example of every contract event shape (DESIGN.md "Wire contract").
CONTRACT_EXAMPLES: Final[dict[str, dict[str, Any]]] = {
    "usage-full": usage_doc(
        interval_s=900,
        vcpus=4,
        gpus=1,
        cpu_util=0.97,
        gpu_util=1.0,
        meter="gpu",
        quantity=0.25,
        cost=0.0,
    ),
    "usage-minimal": usage_doc(),
    "usage-other-meter-eur": usage_doc(meter="egress", unit="GB", currency="EUR", quantity=12),
    "activity-signup": activity_doc(
        "customer.signup",
        actor_ip="203.0.113.7",
        region="westeurope",
        properties={
            "country": "DE",
            "email_domain": "example.com",
            "phone_verified": False,
            "device_fingerprint": "fp-1",
            "ip_country": "NL",
        },
    ),
    "activity-subscription-create": activity_doc(
        "subscription.create", properties={"subscription_id": "sub-2", "offer": "MS-AZR-0017P"}
    ),
    "activity-vm-create": activity_doc(
        "vm.create",
        resource_id=RESOURCE,
        properties={"sku": "Standard_NC6", "vcpus": 6, "gpus": 1, "count": 3},
    ),
    "activity-vm-delete": activity_doc("vm.delete", resource_id=RESOURCE),
    "activity-role-assign": activity_doc(
        "role.assign",
        properties={"role": "Owner", "principal": "g@evil.test", "principal_type": "guest"},
    ),
    "activity-user-create": activity_doc("user.create", properties={"principal": "u2"}),
    "activity-user-delete": activity_doc("user.delete", properties={"principal": "u2"}),
    "activity-guest-invite": activity_doc(
        "guest.invite", properties={"principal": "g@x.test", "expires": "2026-11-01T00:00:00Z"}
    ),
    "activity-signin-failed": activity_doc(
        "signin", status="failed", properties={"ip_country": "RU"}
    ),
    "activity-network-flow": activity_doc(
        "network.flow",
        properties={
            "dst_host": "pool.mine.test",
            "dst_port": 3333,
            "protocol": "tcp",
            "bytes_out": 123456,
        },
    ),
    "activity-budget-set": budget_set_doc(),
    "activity-provider-notice": notice_doc(action_required="suspend"),
    "activity-unknown-operation": activity_doc("quantum.entangle", properties={"qubits": 7}),
    "activity-minimal": without(activity_doc("signin"), "properties"),
    "activity-null-optionals": activity_doc("signin", resource_id=None, actor_ip=None, region=None)
    | {"properties": None},
    "payment-instrument-added": payment_doc(
        "instrument.added",
        amount=None,
        currency=None,
        instrument={"type": "prepaid_card", "fingerprint": "card-1", "country": "US"},
        billing_country="DE",
    ),
    "payment-prepayment": payment_doc("prepayment", amount=50),
    "payment-invoice-issued-date": payment_doc(
        "invoice.issued", invoice_id="inv-1", due_date="2026-10-31"
    ),
    "payment-invoice-issued-datetime": payment_doc(
        "invoice.issued", invoice_id="inv-2", due_date="2026-10-31T23:59:59+02:00"
    ),
    "payment-succeeded": payment_doc("payment.succeeded", invoice_id="inv-1"),
    "payment-failed": payment_doc(
        "payment.failed",
        invoice_id="inv-1",
        failure_reason="insufficient_funds",
        instrument={"type": "credit_card"},
    ),
    "payment-chargeback": payment_doc("chargeback", invoice_id="inv-1", currency="GBP"),
    "payment-refund": payment_doc("refund", amount=0),
    "payment-credit": payment_doc("credit", amount=12.5, invoice_id="G000123"),
    "payment-extra-keys": payment_doc("refund", x_trace={"span": [1, 2, 3]}, x_flag=True),
}

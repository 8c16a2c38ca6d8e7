"""Input events and output messages of the wire contract (DESIGN.md), as frozen dataclasses.

Input events carry the raw ``ts`` string as received and ``ts_ms`` (epoch milliseconds) for
arithmetic. Output messages turn into plain dicts with ``to_dict`` for the codec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

EventType = Literal["usage", "activity", "payment"]
Severity = Literal["info", "low", "medium", "high", "critical"]
Action = Literal["notify", "require_prepayment", "restrict", "suspend", "resume"]

EVENT_TYPES: Final = frozenset({"usage", "activity", "payment"})
METERS: Final = frozenset({"compute", "gpu", "storage", "egress", "license", "other"})
ACTIVITY_STATUSES: Final = frozenset({"succeeded", "failed"})
PAYMENT_KINDS: Final = frozenset(
    {
        "instrument.added",
        "prepayment",
        "invoice.issued",
        "payment.succeeded",
        "payment.failed",
        "chargeback",
        "refund",
        "credit",
    }
)
"""``credit`` is money taken off what the customer owes for usage (a provider credit, a usage
refund, a negative correction or adjustment on a bill line), with ``amount`` its size (>= 0);
``refund`` is money paid back to the customer. Usage ``cost`` stays >= 0: a credit is never
summed with spend."""
INSTRUMENT_TYPES: Final = frozenset(
    {"credit_card", "debit_card", "prepaid_card", "stored_value", "bank_transfer", "direct_debit"}
)
SEVERITIES: Final[tuple[Severity, ...]] = ("info", "low", "medium", "high", "critical")
ACTIONS: Final[tuple[Action, ...]] = (
    "notify",
    "require_prepayment",
    "restrict",
    "suspend",
    "resume",
)


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """Metered consumption of one resource over ``interval_s`` seconds ending near ``ts``."""

    event_id: str
    customer_id: str
    ts: str
    ts_ms: int
    subscription_id: str
    resource_id: str
    meter: str
    sku: str
    region: str
    quantity: float
    unit: str
    cost: float
    currency: str
    interval_s: int = 3600
    vcpus: int | None = None
    gpus: int | None = None
    cpu_util: float | None = None
    gpu_util: float | None = None

    type: ClassVar[EventType] = "usage"


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """One activity-log entry: an operation by an actor, with operation-specific properties."""

    event_id: str
    customer_id: str
    ts: str
    ts_ms: int
    operation: str
    actor: str
    status: str
    resource_id: str = ""
    actor_ip: str | None = None
    region: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    type: ClassVar[EventType] = "activity"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A payment instrument: its type, a fingerprint that links reuse, and its issuing country."""

    type: str
    fingerprint: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A payment-side event: instruments, prepayments, invoices, payments, chargebacks."""

    event_id: str
    customer_id: str
    ts: str
    ts_ms: int
    kind: str
    invoice_id: str | None = None
    amount: float | None = None
    currency: str | None = None
    due_date: str | None = None
    instrument: Instrument | None = None
    billing_country: str | None = None
    failure_reason: str | None = None

    type: ClassVar[EventType] = "payment"


Event = UsageEvent | ActivityEvent | PaymentEvent


@dataclass(frozen=True, slots=True)
class DetectorRef:
    """Which detector, at which version, produced an alert."""

    name: str
    version: str


@dataclass(frozen=True, slots=True)
class Alert:
    """An explained finding about one customer (the ``alerts`` topic).

    ``alert_id`` is derived from the evidence, so the same incident always has the same id; a
    growing incident is re-sent with the same id and a higher ``revision``.
    """

    alert_id: str
    customer_id: str
    kind: str
    severity: Severity
    score: float
    event_time: str
    window_start: str
    window_end: str
    detected_at: str
    reasons: tuple[str, ...]
    evidence: dict[str, Any]
    subscription_ids: tuple[str, ...]
    detector: DetectorRef
    revision: int = 1
    money_at_risk: dict[str, Any] | None = None
    """The customer's money at risk when the alert was raised (see
    ``PaymentsDetector.exposure``), or None when nothing is known of its money. Not part of
    the incident's evidence: money moving never re-sends an alert."""

    def to_dict(self) -> dict[str, Any]:
        """The wire form of the alert."""
        return {
            "alert_id": self.alert_id,
            "customer_id": self.customer_id,
            "kind": self.kind,
            "severity": self.severity,
            "score": self.score,
            "event_time": self.event_time,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "detected_at": self.detected_at,
            "reasons": list(self.reasons),
            "evidence": self.evidence,
            "subscription_ids": list(self.subscription_ids),
            "detector": {"name": self.detector.name, "version": self.detector.version},
            "revision": self.revision,
            "money_at_risk": self.money_at_risk,
        }


@dataclass(frozen=True, slots=True)
class EnforcementRequest:
    """A request to act on a customer (the ``enforcement`` topic), made by a policy rule."""

    request_id: str
    customer_id: str
    action: Action
    subscription_ids: tuple[str, ...]
    policy: str
    alert_ids: tuple[str, ...]
    reason: str
    dry_run: bool
    requires_approval: bool
    requested_at: str

    def to_dict(self) -> dict[str, Any]:
        """The wire form of the request."""
        return {
            "request_id": self.request_id,
            "customer_id": self.customer_id,
            "action": self.action,
            "subscription_ids": list(self.subscription_ids),
            "policy": self.policy,
            "alert_ids": list(self.alert_ids),
            "reason": self.reason,
            "dry_run": self.dry_run,
            "requires_approval": self.requires_approval,
            "requested_at": self.requested_at,
        }


def subscription_of(resource_id: str) -> str | None:
    """The subscription id inside an Azure-style resource id (``/subscriptions/<id>/...``)."""
    parts = resource_id.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "subscriptions" and parts[i + 1]:
            return parts[i + 1]
    return None

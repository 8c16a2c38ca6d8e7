"""One valid example of every contract event shape, built with the kit's fixed-id builders,
for the codec and schema tests; and the repository root, where ``topics/`` is."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from streamwatch.testing import (
    RESOURCE,
    activity_doc,
    budget_set_doc,
    notice_doc,
    payment_doc,
    usage_doc,
    without,
)

REPO_ROOT: Final = Path(__file__).resolve().parents[3]


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

"""Normal customers: who signs up, what they run, when they work, and how they pay.

``build_plan`` draws one customer from a weighted mix of archetypes. Everything a normal
customer does is consistent (sign-up country = IP country = card country = billing country), and
its budget, when it sets one, is about three times its largest expected month, so normal spend
stays below 50% of it. Deterministic: the plan depends only on (seed, index, horizon).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Final

from streamwatch.generator.catalog import (
    COUNTRIES,
    EMAIL_WORDS,
    EUR_PER_USD,
    FIRST_NAMES,
    SKUS,
)
from streamwatch.generator.ids import customer_id, hex_token, rng_for, uuid_like
from streamwatch.generator.plan import (
    BodyBuilder,
    Budget,
    CustomerPlan,
    JsonDict,
    Ledger,
    Mode,
    Resource,
)
from streamwatch.generator.rhythm import (
    Weekly,
    business_day,
    flat,
    office_hours,
    training_runs,
    weekly,
)
from streamwatch.generator.timefmt import (
    DAY_S,
    HOUR_S,
    ceil_hour,
    format_ts,
    local_hour_of_week,
    month_key,
    month_start,
    month_starts,
    next_month_start,
)

BUDGET_SHARE: Final = 0.6
"""Share of customers that set a monthly budget soon after signing up."""

BUDGET_HEADROOM: Final = 3.0
"""A normal budget is this many times the customer's largest expected month."""

EXISTING_SHARE: Final = 0.6
"""Share of customers that sign up in the first hours of the stream; the rest join later."""

Builder = Callable[[CustomerPlan, random.Random, int], None]


def build_plan(seed: int, index: int, horizon_start_s: int, horizon_end_s: int) -> CustomerPlan:
    """The normal plan of customer ``index``: identity, onboarding, resources, habits, budget."""
    cid = customer_id(index)
    rng = rng_for(seed, cid, "plan")
    name = rng.choices([a[0] for a in ARCHETYPES], weights=[a[1] for a in ARCHETYPES])[0]
    country = rng.choice(COUNTRIES)
    currency = "EUR" if country.euro and rng.random() < 0.6 else "USD"
    span = horizon_end_s - horizon_start_s
    if rng.random() < EXISTING_SHARE:
        signup = horizon_start_s + rng.randrange(min(span, 6 * HOUR_S))
    else:
        signup = horizon_start_s + rng.randrange(max(1, span // 2))
    domain = f"{rng.choice(EMAIL_WORDS)}{rng.choice(EMAIL_WORDS)}.{country.tld}"
    users = [f"{n}@{domain}" for n in rng.sample(FIRST_NAMES, rng.randint(1, 4))]
    plan = CustomerPlan(
        customer_id=cid,
        archetype=name,
        country=country,
        currency=currency,
        signup_s=signup,
        horizon_start_s=horizon_start_s,
        horizon_end_s=horizon_end_s,
        subscription_id=uuid_like(rng),
        email_domain=domain,
        users=users,
        actor_ip=f"{country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        device_fingerprint=hex_token(rng, 32),
        card_fingerprint=hex_token(rng, 24),
    )
    _onboard(plan, rng)
    builder = {a[0]: a[2] for a in ARCHETYPES}[name]
    builder(plan, rng, signup + rng.randrange(15 * 60, 90 * 60))
    _signins(plan, rng)
    _invoices(plan, rng)
    _directory(plan, rng_for(seed, cid, "directory"))
    if rng.random() < BUDGET_SHARE:
        set_at = signup + rng.randrange(HOUR_S, 48 * HOUR_S)
        amount = nice_amount(BUDGET_HEADROOM * max_monthly_cost(plan))
        plan.budgets.append(Budget(amount, currency, set_at))
    return plan


def max_monthly_cost(plan: CustomerPlan) -> float:
    """Largest expected calendar-month cost among the months the horizon touches."""
    months = [month_start(plan.signup_s), *month_starts(plan.signup_s, plan.horizon_end_s)]
    return max(plan.expected_cost(m, next_month_start(m)) for m in months)


def nice_amount(value: float) -> float:
    """Round up to two significant digits (1234.5 -> 1300.0); at least 5."""
    if value <= 5.0:
        return 5.0
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / step) * step, 2)


def _onboard(plan: CustomerPlan, rng: random.Random) -> None:
    signup_and_card(plan, rng)
    plan.activity(
        plan.signup_s + rng.randrange(8 * 60, 14 * 60),
        "subscription.create",
        {"subscription_id": plan.subscription_id, "offer": "MS-AZR-0003P"},
        region=plan.region,
    )


def signup_and_card(plan: CustomerPlan, rng: random.Random, actor: str | None = None) -> None:
    """The ``customer.signup`` at ``plan.signup_s`` (by ``actor``, else the admin) and the
    card added minutes later: what every normal customer starts with."""
    cc = plan.country.code
    plan.activity(
        plan.signup_s,
        "customer.signup",
        {
            "country": cc,
            "email_domain": plan.email_domain,
            "phone_verified": True,
            "device_fingerprint": plan.device_fingerprint,
            "ip_country": cc,
        },
        actor=actor,
        resource_id=f"/customers/{plan.customer_id}",
    )
    plan.schedule(
        plan.signup_s + rng.randrange(60, 8 * 60),
        "payment",
        {
            "kind": "instrument.added",
            "instrument": {
                "type": "credit_card",
                "fingerprint": plan.card_fingerprint,
                "country": cc,
            },
            "billing_country": cc,
        },
    )


def _rid(plan: CustomerPlan, group: str, provider: str, name: str) -> str:
    return (
        f"/subscriptions/{plan.subscription_id}/resourceGroups/{group}/providers/{provider}/{name}"
    )


def _price(plan: CustomerPlan, sku: str) -> float:
    usd = SKUS[sku].price_usd
    return usd * EUR_PER_USD if plan.currency == "EUR" else usd


def add_vm(
    plan: CustomerPlan,
    at_s: int,
    group: str,
    name: str,
    sku: str,
    mode: Mode,
    base: float,
    profile: Weekly,
    *,
    util_base: float = 0.5,
    min_qty: float = 0.0,
    growth_per_day: float = 0.0,
    month_end_only: bool = False,
    on_hours: frozenset[int] | None = None,
) -> Resource:
    """A VM (fixed) or scale set (scaled): its resource and its ``vm.create`` event."""
    kind = "virtualMachineScaleSets" if mode == "scaled" else "virtualMachines"
    rid = _rid(plan, group, "Microsoft.Compute", f"{kind}/{name}")
    s = SKUS[sku]
    plan.activity(
        at_s,
        "vm.create",
        {"sku": sku, "vcpus": s.vcpus or 0, "gpus": s.gpus or 0, "count": max(1, round(base))},
        resource_id=rid,
        region=plan.region,
    )
    res = Resource(
        resource_id=rid,
        sku=s,
        region=plan.region,
        mode=mode,
        base=base,
        weekly=profile,
        unit_price=_price(plan, sku),
        active_from_s=ceil_hour(at_s),
        growth_per_day=growth_per_day,
        month_end_only=month_end_only,
        on_hours=on_hours,
        util_base=util_base,
        min_qty=min_qty,
    )
    plan.resources.append(res)
    return res


def add_attached(
    plan: CustomerPlan,
    parent: Resource,
    sku: str,
    mode: Mode,
    base: float,
    profile: Weekly,
    growth_per_day: float = 0.0,
) -> Resource:
    """A meter billed on an existing resource (its egress or its licence)."""
    res = Resource(
        resource_id=parent.resource_id,
        sku=SKUS[sku],
        region=parent.region,
        mode=mode,
        base=base,
        weekly=profile,
        unit_price=_price(plan, sku),
        active_from_s=parent.active_from_s,
        growth_per_day=growth_per_day,
    )
    plan.resources.append(res)
    return res


def add_storage(
    plan: CustomerPlan,
    rng: random.Random,
    at_s: int,
    group: str,
    sku: str,
    gb: float,
    growth_per_day: float,
) -> Resource:
    """A storage account holding ``gb`` GB, growing by ``growth_per_day`` (no rhythm)."""
    rid = _rid(plan, group, "Microsoft.Storage", f"storageAccounts/st{hex_token(rng, 10)}")
    res = Resource(
        resource_id=rid,
        sku=SKUS[sku],
        region=plan.region,
        mode="level",
        base=gb,
        weekly=flat(),
        unit_price=_price(plan, sku),
        active_from_s=ceil_hour(at_s),
        growth_per_day=growth_per_day,
        rampable=False,
    )
    plan.resources.append(res)
    return res


def _web_shop(plan: CustomerPlan, rng: random.Random, t: int) -> None:
    """A few VMs behind a scale set, busy in local business hours, quieter at weekends."""
    shape = weekly(business_day(rng.uniform(0.15, 0.35)), rng.uniform(0.5, 0.7))
    web = add_vm(
        plan,
        t,
        "rg-web",
        "vmss-web",
        rng.choice(("Standard_D2s_v5", "Standard_D4s_v5")),
        "scaled",
        rng.uniform(2.0, 5.0),
        shape,
        min_qty=1.0,
        util_base=0.55,
    )
    add_vm(
        plan, t + 120, "rg-web", "vm-db-1", "Standard_E4s_v5", "fixed", 1.0, shape, util_base=0.35
    )
    add_storage(plan, rng, t + 240, "rg-web", "Standard_LRS", rng.uniform(50, 400), 0.002)
    add_attached(plan, web, "Internet_Egress_Zone1", "flow", rng.uniform(0.5, 4.0), shape)


def _saas(plan: CustomerPlan, rng: random.Random, t: int) -> None:
    """An app tier and a database, growing steadily day by day."""
    growth = rng.uniform(0.004, 0.008)
    shape = weekly(business_day(rng.uniform(0.4, 0.6), width_h=5.0), 0.75)
    app = add_vm(
        plan,
        t,
        "rg-app",
        "vmss-app",
        "Standard_D4s_v5",
        "scaled",
        rng.uniform(3.0, 8.0),
        shape,
        min_qty=2.0,
        util_base=0.5,
        growth_per_day=growth,
    )
    add_vm(
        plan, t + 180, "rg-data", "vm-db-1", "Standard_E8s_v5", "fixed", 1.0, shape, util_base=0.4
    )
    add_storage(plan, rng, t + 300, "rg-data", "Premium_LRS", rng.uniform(200, 1000), 0.01)
    add_attached(plan, app, "Internet_Egress_Zone1", "flow", rng.uniform(2.0, 10.0), shape, growth)


def _enterprise_batch(plan: CustomerPlan, rng: random.Random, t: int) -> None:
    """Licensed VMs in office hours on weekdays only, plus a batch pool at month end."""
    hours = office_hours(7, 19)
    for i in range(rng.randint(2, 5)):
        vm = add_vm(
            plan,
            t + 60 * i,
            "rg-erp",
            f"vm-erp-{i + 1}",
            "Standard_D8s_v5",
            "fixed",
            1.0,
            hours,
            util_base=0.45,
        )
        add_attached(plan, vm, "Windows_Server_8core", "fixed", 1.0, hours)
    add_vm(
        plan,
        t + 600,
        "rg-batch",
        "vmss-batch",
        "Standard_F16s_v2",
        "scaled",
        rng.uniform(8.0, 20.0),
        flat(),
        month_end_only=True,
        util_base=0.9,
    )
    add_storage(plan, rng, t + 900, "rg-erp", "Standard_LRS", rng.uniform(500, 3000), 0.001)


def _ml_team(plan: CustomerPlan, rng: random.Random, t: int) -> None:
    """A GPU VM busy during training runs of several hours a few times a week, a dev VM."""
    runs = training_runs(rng, ceil_hour(t), plan.horizon_end_s)
    sku = rng.choice(("Standard_NC24ads_A100_v4", "Standard_NC6s_v3"))
    add_vm(
        plan,
        t,
        "rg-ml",
        "vm-train-1",
        sku,
        "fixed",
        float(rng.randint(1, 2)),
        flat(),
        on_hours=runs,
        util_base=0.9,
    )
    add_vm(
        plan,
        t + 300,
        "rg-ml",
        "vm-dev-1",
        "Standard_D4s_v5",
        "fixed",
        1.0,
        office_hours(8, 20),
        util_base=0.3,
    )
    add_storage(plan, rng, t + 400, "rg-ml", "Premium_LRS", rng.uniform(500, 4000), 0.003)


def _dormant(plan: CustomerPlan, rng: random.Random, t: int) -> None:
    """A little storage and perhaps one tiny VM idling around the clock."""
    add_storage(plan, rng, t, "rg-default", "Standard_LRS", rng.uniform(1, 20), 0.0)
    if rng.random() < 0.5:
        add_vm(
            plan, t + 60, "rg-default", "vm-1", "Standard_B1s", "fixed", 1.0, flat(), util_base=0.05
        )


ARCHETYPES: Final[tuple[tuple[str, float, Builder], ...]] = (
    ("web_shop", 0.35, _web_shop),
    ("saas_startup", 0.25, _saas),
    ("enterprise_batch", 0.15, _enterprise_batch),
    ("ml_team", 0.15, _ml_team),
    ("dormant", 0.10, _dormant),
)
"""(name, weight, builder) of each archetype; weights need not sum to one."""


def _signins(plan: CustomerPlan, rng: random.Random) -> None:
    """A few sign-ins on working days in local office hours (about one a week when dormant)."""
    offset = plan.country.utc_offset_h
    day = plan.signup_s - plan.signup_s % DAY_S
    while day < plan.horizon_end_s:
        if plan.archetype == "dormant":
            count = 1 if rng.random() < 0.15 else 0
        else:
            count = rng.randint(1, 3)
        for _ in range(count):
            ts = day + (rng.randint(8, 18) - offset) * HOUR_S + rng.randrange(HOUR_S)
            weekend = local_hour_of_week(ts, offset) >= 5 * 24
            if weekend and rng.random() < 0.85:
                continue
            if plan.signup_s + 30 * 60 <= ts < plan.horizon_end_s:
                plan.activity(
                    ts, "signin", {"ip_country": plan.country.code}, actor=rng.choice(plan.users)
                )
        day += DAY_S


GUEST_SHARE: Final = 0.25
"""Share of customers that invite a partner's guest for a few weeks."""


def _directory(plan: CustomerPlan, rng: random.Random) -> None:
    """The account's people: the users other than the admin created in the first half hour and
    given a role (now and then Owner), and, for some customers, a partner's guest invited for
    two to six weeks, signing in now and then in office hours until a day before its invitation
    expires, and deleted at expiry half of the time.

    Drawn from its own random stream, so that every other draw of the plan is as it was before
    the account had people."""
    for user in plan.users[1:]:
        at = plan.signup_s + rng.randrange(5 * 60, 25 * 60)
        plan.activity(at, "user.create", {"principal": user})
        role = rng.choices(("Contributor", "Reader", "Owner"), weights=(6, 3, 1))[0]
        plan.activity(
            at + rng.randrange(30, 180),
            "role.assign",
            {"role": role, "principal": user, "principal_type": "user"},
        )
    if rng.random() >= GUEST_SHARE:
        return
    span = plan.horizon_end_s - plan.signup_s
    invited = plan.signup_s + DAY_S + rng.randrange(max(1, span // 2))
    if invited >= plan.horizon_end_s:
        return
    partner = f"{rng.choice(EMAIL_WORDS)}{rng.choice(EMAIL_WORDS)}-consulting.com"
    guest = f"{rng.choice(FIRST_NAMES)}@{partner}"
    expires = invited + rng.randint(14, 45) * DAY_S
    plan.activity(invited, "guest.invite", {"principal": guest, "expires": format_ts(expires)})
    role = rng.choice(("Reader", "Contributor"))
    plan.activity(
        invited + rng.randrange(60, 600),
        "role.assign",
        {"role": role, "principal": guest, "principal_type": "guest"},
    )
    ip = f"{plan.country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    last = min(expires - DAY_S, plan.horizon_end_s)
    offset = plan.country.utc_offset_h
    for _ in range(rng.randint(2, 6)):
        day = invited + DAY_S + rng.randrange(max(1, last - invited - DAY_S))
        at = day - day % DAY_S + (rng.randint(9, 17) - offset) * HOUR_S + rng.randrange(HOUR_S)
        if invited < at < last:
            plan.activity(at, "signin", {"ip_country": plan.country.code}, actor=guest, actor_ip=ip)
    if rng.random() < 0.5:
        plan.activity(expires + rng.randrange(2 * DAY_S), "user.delete", {"principal": guest})


def _invoices(plan: CustomerPlan, rng: random.Random) -> None:
    """At each month start, an invoice for the previous month and its payment days later."""
    for m in month_starts(plan.signup_s, plan.horizon_end_s):
        prev = month_start(m - 1)
        number = f"INV-{month_key(prev).replace('-', '')}-{plan.customer_id[5:]}"
        issued = m + 2 * HOUR_S + rng.randrange(4 * HOUR_S)
        paid = issued + rng.randint(2, 12) * DAY_S + rng.randrange(-3 * HOUR_S, 6 * HOUR_S)
        plan.schedule(issued, "payment", _invoice_builder(plan, prev, number, issued))
        plan.schedule(paid, "payment", _payment_builder(plan, prev, number))


def _invoice_builder(plan: CustomerPlan, month: int, number: str, issued_s: int) -> BodyBuilder:
    def build(ledger: Ledger) -> JsonDict | None:
        amount = ledger.month_spend(month)
        if amount <= 0.0:
            return None
        return {
            "kind": "invoice.issued",
            "invoice_id": number,
            "amount": amount,
            "currency": plan.currency,
            "due_date": format_ts(issued_s + 30 * DAY_S),
            "billing_country": plan.country.code,
        }

    return build


def _payment_builder(plan: CustomerPlan, month: int, number: str) -> BodyBuilder:
    def build(ledger: Ledger) -> JsonDict | None:
        amount = ledger.month_spend(month)
        if amount <= 0.0:
            return None
        return {
            "kind": "payment.succeeded",
            "invoice_id": number,
            "amount": amount,
            "currency": plan.currency,
            "instrument": {
                "type": "credit_card",
                "fingerprint": plan.card_fingerprint,
                "country": plan.country.code,
            },
            "billing_country": plan.country.code,
        }

    return build

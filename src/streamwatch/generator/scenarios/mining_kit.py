"""Helpers shared by the crypto-mining scenarios and their look-alikes (no scenario here).

Heavy machines (GPU and many-core SKUs beyond the catalog's), machines in any region, turning
a customer into an established one (signed up long before the stream), an attacker's sign-ins,
and network flows: to real mining-pool endpoints taken from the Falco and Maltrail lists, and
to ordinary hosts (some on a port that Falco's list holds too, which alone proves nothing).
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.catalog import COUNTRIES, EUR_PER_USD, SKUS, Country, Sku
from streamwatch.generator.ids import hex_token
from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.rhythm import Weekly, flat
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour, format_ts, month_key

EXTRA_SKUS: Final[dict[str, Sku]] = {
    s.name: s
    for s in (
        Sku("Standard_NC4as_T4_v3", "gpu", "hours", 0.526, vcpus=4, gpus=1),
        Sku("Standard_NV36ads_A10_v5", "gpu", "hours", 3.20, vcpus=36, gpus=1),
        Sku("Standard_ND96asr_v4", "gpu", "hours", 27.20, vcpus=96, gpus=8),
        Sku("Standard_F72s_v2", "compute", "hours", 3.045, vcpus=72),
        Sku("Standard_HB120rs_v3", "compute", "hours", 3.60, vcpus=120),
        Sku("Standard_D64s_v5", "compute", "hours", 3.072, vcpus=64),
    )
}
"""GPU and many-core SKUs the catalog lacks (USD list prices, approximate)."""

GPU_SKUS: Final = (
    "Standard_NC24ads_A100_v4",
    "Standard_NC6s_v3",
    "Standard_NC4as_T4_v3",
    "Standard_NV36ads_A10_v5",
)
CPU_SKUS: Final = (
    "Standard_F72s_v2",
    "Standard_HB120rs_v3",
    "Standard_D64s_v5",
    "Standard_F16s_v2",
)
ORDINARY_SKUS: Final = ("Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_E8s_v5")

REGIONS: Final = tuple(
    sorted(
        {c.region for c in COUNTRIES}
        | {
            "eastus2",
            "westus3",
            "centralus",
            "southcentralus",
            "northcentralus",
            "koreacentral",
            "norwayeast",
            "switzerlandnorth",
            "polandcentral",
            "uaenorth",
            "southafricanorth",
        }
    )
)

POOL_ENDPOINTS: Final = (
    ("pool.supportxmr.com", 3333),
    ("pool.supportxmr.com", 5555),
    ("xmr-eu1.nanopool.org", 14444),
    ("xmr-us-east1.nanopool.org", 14433),
    ("pool.minexmr.com", 4444),
    ("pool.monero.hashvault.pro", 3333),
    ("eth-eu1.nanopool.org", 9999),
    ("eu1.ethermine.org", 4444),
    ("stratum.antpool.com", 443),
    ("94.130.143.162", 45700),
    ("107.191.47.239", 3333),
)
"""Real pool endpoints: each host is on the Falco or Maltrail lists together with its port."""

ORDINARY_ENDPOINTS: Final = (
    ("github.com", 443),
    ("pypi.org", 443),
    ("registry-1.docker.io", 443),
    ("huggingface.co", 443),
    ("login.microsoftonline.com", 443),
    ("metrics.example.net", 3333),
    ("dev.example.org", 8080),
)
"""Ordinary destinations; two use ports on Falco's miner-port list, which alone proves nothing."""

POOL_SITE: Final = ("nanopool.org", 443)
"""A pool's web site: a listed domain on a web port, a host-only match."""


def sku(name: str) -> Sku:
    """A SKU from the catalog or ``EXTRA_SKUS``."""
    return SKUS[name] if name in SKUS else EXTRA_SKUS[name]


def price(plan: CustomerPlan, name: str) -> float:
    """List price of ``name`` in the customer's currency."""
    usd = sku(name).price_usd
    return usd * EUR_PER_USD if plan.currency == "EUR" else usd


def resource_id(plan: CustomerPlan, group: str, name: str) -> str:
    """An Azure-style id of a VM or scale set in the customer's subscription."""
    return (
        f"/subscriptions/{plan.subscription_id}/resourceGroups/{group}/providers/"
        f"Microsoft.Compute/virtualMachineScaleSets/{name}"
    )


def add_machines(
    plan: CustomerPlan,
    at_s: int,
    region: str,
    group: str,
    name: str,
    sku_name: str,
    count: int,
    util_base: float,
    *,
    until_s: int | None = None,
    on_hours: frozenset[int] | None = None,
    weekly: Weekly | None = None,
    label: LabelSpec | None = None,
) -> Resource:
    """``count`` machines of ``sku_name`` in ``region`` from ``at_s``: the ``vm.create`` and
    the resource (a fixed fleet, flat unless told), optionally a ``vm.delete`` at ``until_s``."""
    s = sku(sku_name)
    rid = resource_id(plan, group, name)
    plan.activity(
        at_s,
        "vm.create",
        {"sku": sku_name, "vcpus": s.vcpus or 0, "gpus": s.gpus or 0, "count": count},
        resource_id=rid,
        region=region,
        label=label,
    )
    res = Resource(
        resource_id=rid,
        sku=s,
        region=region,
        mode="fixed",
        base=float(count),
        weekly=weekly if weekly is not None else flat(),
        unit_price=price(plan, sku_name),
        active_from_s=ceil_hour(at_s),
        active_until_s=until_s,
        on_hours=on_hours,
        util_base=util_base,
    )
    plan.resources.append(res)
    if until_s is not None and until_s < plan.horizon_end_s:
        plan.activity(until_s, "vm.delete", {}, resource_id=rid, region=region)
    return res


def new_regions(plan: CustomerPlan, rng: random.Random, k: int) -> list[str]:
    """``k`` regions the customer has never used (its resources' and home region excluded)."""
    used = {plan.region} | {r.region for r in plan.resources}
    return rng.sample([r for r in REGIONS if r not in used], k)


def drop_machines(plan: CustomerPlan) -> None:
    """Remove the archetype's resources and their ``vm.create`` events (a miner's account
    exists to mine)."""
    plan.resources = []
    plan.scheduled = [
        s
        for s in plan.scheduled
        if not (isinstance(s.body, dict) and s.body.get("operation") == "vm.create")
    ]


def pay_by(plan: CustomerPlan, instrument_type: str) -> None:
    """Make the sign-up's payment instrument one of ``instrument_type``.

    A prepaid card or stored value is what the payment rules flag: its ``instrument.added`` is
    labelled ``high_risk_instrument`` and the first usage ``usage_before_payment`` (scenario:
    ``plan.budget_scenario``).
    """
    prepaid = instrument_type in ("prepaid_card", "stored_value")
    for item in plan.scheduled:
        body = item.body
        if isinstance(body, dict) and body.get("kind") == "instrument.added":
            body["instrument"] = dict(body["instrument"], type=instrument_type)
            if prepaid:
                detail = {"instrument": instrument_type}
                item.label = LabelSpec("high_risk_instrument", plan.budget_scenario, detail)
    if prepaid:
        spec = LabelSpec("usage_before_payment", plan.budget_scenario, {})
        plan.usage_labels.append((plan.signup_s, spec))


_ONBOARDING: Final = frozenset({"customer.signup", "subscription.create", "vm.create"})


def weeks_before(on_hours: frozenset[int], first_hour: int) -> frozenset[int]:
    """A rhythm of busy hours (``Resource.on_hours``) that begins more than a week after
    ``first_hour``, with its first week repeated back to ``first_hour``: an established
    customer's training runs went on before the stream too, not only from the day its plan
    first had them."""
    begun = min(on_hours)
    week_h = 7 * DAY_S // HOUR_S
    if begun <= first_hour + week_h:
        return on_hours  # it began within the stream's first week: no gap to explain
    first_week = [h for h in on_hours if h < begun + week_h]
    out = set(on_hours)
    back = week_h
    while begun + week_h - back > first_hour:
        out.update(h - back for h in first_week if h - back >= first_hour)
        back += week_h
    return frozenset(out)


def make_established(plan: CustomerPlan, rng: random.Random) -> None:
    """Turn the customer into one that signed up months before the stream: no sign-up,
    onboarding (its team's users and roles included) or instrument in the stream, resources
    running from its start, home-country sign-ins from its first day, and last month's invoice
    paid in its first week.

    Machines already in the plan count as running since before the stream (their ``vm.create``
    is dropped); add the stream's own machines and events after calling it.
    """
    start = plan.horizon_start_s
    original_signup = plan.signup_s
    plan.signup_s = start - rng.randint(60, 900) * DAY_S
    team = set(plan.users)
    plan.scheduled = [
        s
        for s in plan.scheduled
        if not (
            isinstance(s.body, dict)
            and (
                s.body.get("operation") in _ONBOARDING
                or s.body.get("kind") == "instrument.added"
                or _team_member(s.body, team)
            )
        )
    ]
    for res in plan.resources:
        res.active_from_s = ceil_hour(start)
        if res.on_hours:
            res.on_hours = weeks_before(res.on_hours, ceil_hour(start) // HOUR_S)
    day = start
    while day < min(original_signup + DAY_S, plan.horizon_end_s):
        for _ in range(rng.randint(1, 2)):
            ts = day + (rng.randint(8, 17) - plan.country.utc_offset_h) % 24 * HOUR_S
            ts += rng.randrange(HOUR_S)
            if start <= ts < plan.horizon_end_s:
                plan.activity(ts, "signin", {"ip_country": plan.country.code})
        day += DAY_S
    prev = month_key(start - DAY_S)
    invoice = f"INV-{prev.replace('-', '')}-{plan.customer_id[5:]}"
    amount = round(max(5.0, plan.expected_cost(start, start + 30 * DAY_S)), 2)
    issued = start + rng.randrange(2 * HOUR_S, 6 * HOUR_S)
    plan.schedule(
        issued,
        "payment",
        {
            "kind": "invoice.issued",
            "invoice_id": invoice,
            "amount": amount,
            "currency": plan.currency,
            "due_date": format_ts(issued + 30 * DAY_S),
            "billing_country": plan.country.code,
        },
    )
    plan.schedule(
        issued + rng.randrange(DAY_S, 6 * DAY_S),
        "payment",
        {
            "kind": "payment.succeeded",
            "invoice_id": invoice,
            "amount": amount,
            "currency": plan.currency,
            "instrument": {
                "type": "credit_card",
                "fingerprint": plan.card_fingerprint,
                "country": plan.country.code,
            },
            "billing_country": plan.country.code,
        },
    )


def _team_member(body: dict[str, object], team: set[str]) -> bool:
    """Whether ``body`` creates, or gives a role to, one of the original team (who existed
    before the stream when the customer is made an established one)."""
    props = body.get("properties")
    return (
        body.get("operation") in ("user.create", "role.assign")
        and isinstance(props, dict)
        and props.get("principal") in team
    )


def home_signins(plan: CustomerPlan, rng: random.Random, before_s: int) -> None:
    """Two ordinary sign-ins from the customer's country in the two days before ``before_s``."""
    for _ in range(2):
        ts = before_s - rng.randrange(3 * HOUR_S, 2 * DAY_S)
        if ts >= max(plan.horizon_start_s, plan.signup_s):
            plan.activity(ts, "signin", {"ip_country": plan.country.code})


def attacker_signins(
    plan: CustomerPlan, rng: random.Random, at_s: int, *, failed: bool, succeeded: bool
) -> Country:
    """An attacker's sign-ins from a foreign country just before ``at_s``: a few failed ones,
    then a successful one; returns the country."""
    country = rng.choice([c for c in COUNTRIES if c.code != plan.country.code])
    ip = f"{country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    if failed:
        first = at_s - rng.randrange(40 * 60, 3 * HOUR_S)
        for i in range(rng.randint(2, 6)):
            plan.activity(
                first + i * rng.randrange(20, 300),
                "signin",
                {"ip_country": country.code},
                actor_ip=ip,
                status="failed",
            )
    if succeeded:
        plan.activity(
            at_s - rng.randrange(3 * 60, 30 * 60),
            "signin",
            {"ip_country": country.code},
            actor_ip=ip,
        )
    return country


def flows(
    plan: CustomerPlan,
    rng: random.Random,
    res: Resource,
    endpoints: tuple[tuple[str, int], ...],
    start_s: int,
    every_s: tuple[int, int],
    limit: int,
) -> None:
    """Up to ``limit`` outbound flows from ``res`` to ``endpoints`` from ``start_s`` on."""
    host, port = rng.choice(endpoints)
    ts = start_s
    end = plan.horizon_end_s if res.active_until_s is None else res.active_until_s
    for _ in range(limit):
        if ts >= end:
            return
        plan.activity(
            ts,
            "network.flow",
            {
                "dst_host": host,
                "dst_port": port,
                "protocol": "tcp",
                "bytes_out": rng.randrange(2_000, 400_000),
            },
            resource_id=res.resource_id,
            region=res.region,
        )
        ts += rng.randrange(*every_s)
        if rng.random() < 0.2:
            host, port = rng.choice(endpoints)


def crypto_notice(plan: CustomerPlan, rng: random.Random, at_s: int, scenario: str) -> None:
    """The provider's ``aup.crypto_mining`` notice at ``at_s``, labelled provider_notice."""
    if at_s >= plan.horizon_end_s:
        return
    action = rng.choice(("suspend", "restrict", "none"))
    plan.activity(
        at_s,
        "provider.notice",
        {
            "notice_id": f"PN-{hex_token(rng, 12)}",
            "category": "aup.crypto_mining",
            "severity": "high",
            "action_required": action,
        },
        actor="provider",
        actor_ip=None,
        label=LabelSpec(
            "provider_notice",
            scenario,
            {"category": "aup.crypto_mining", "action_required": action},
        ),
    )

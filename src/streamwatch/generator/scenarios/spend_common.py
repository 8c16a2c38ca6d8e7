"""Helpers shared by the spend scenarios (spikes and their benign look-alikes).

Nothing here registers a scenario. Sizes are in the customer's currency per hour; the peak is
the noise-free, ramp-free upper estimate of the customer's busiest hour, which is what a person
would call its usual peak.
"""

from __future__ import annotations

import math
import random

from streamwatch.generator.catalog import COUNTRIES, EUR_PER_USD, SKUS, Country
from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.rhythm import flat
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

SPIKE_KIND = "spend_spike"


def unit_price(plan: CustomerPlan, sku: str) -> float:
    """List price of ``sku`` in the customer's currency."""
    usd = SKUS[sku].price_usd
    return usd * EUR_PER_USD if plan.currency == "EUR" else usd


def peak_hourly_cost(plan: CustomerPlan) -> float:
    """Expected cost of the customer's busiest hour (growth and ramps aside), at least 0.01."""
    total = 0.0
    for r in plan.resources:
        top = max(r.weekly) if r.weekly else 1.0
        if r.mode in ("fixed", "level"):
            qty = r.base if (r.mode == "level" or top > 0.0 or r.on_hours is not None) else 0.0
        else:
            qty = max(r.min_qty, r.base * top)
        total += qty * r.unit_price
    return max(0.01, total)


def active_span(plan: CustomerPlan) -> tuple[int, int]:
    """When the customer can have usage in the stream: [first resource hour, horizon end)."""
    first = min((r.active_from_s for r in plan.resources), default=plan.horizon_end_s)
    return max(first, plan.horizon_start_s), plan.horizon_end_s


def foreign_country(plan: CustomerPlan, rng: random.Random) -> Country:
    """A country other than the customer's, for an attacker's sign-in."""
    return rng.choice([c for c in COUNTRIES if c.code != plan.country.code])


def foreign_region(plan: CustomerPlan, rng: random.Random) -> str:
    """A region other than the customer's home region."""
    return rng.choice(sorted({c.region for c in COUNTRIES} - {plan.region}))


def ip_in(country: Country, rng: random.Random) -> str:
    """An address in the country's range."""
    return f"{country.ip_prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def resource_id(plan: CustomerPlan, group: str, name: str) -> str:
    """An Azure-style id of a VM scale set in the customer's subscription."""
    return (
        f"/subscriptions/{plan.subscription_id}/resourceGroups/{group}/providers/"
        f"Microsoft.Compute/virtualMachineScaleSets/{name}"
    )


def add_fleet(
    plan: CustomerPlan,
    *,
    at_s: int,
    until_s: int,
    region: str,
    sku: str,
    count: int,
    group: str,
    name: str,
    actor: str,
    actor_ip: str,
    label: LabelSpec | None = None,
) -> Resource:
    """``count`` always-on VMs of ``sku`` in ``region`` from ``at_s`` (a ``vm.create`` by
    ``actor``, carrying ``label``) until ``until_s`` (a ``vm.delete``); not affected by ramps."""
    rid = resource_id(plan, group, name)
    s = SKUS[sku]
    plan.activity(
        at_s,
        "vm.create",
        {"sku": sku, "vcpus": s.vcpus or 0, "gpus": s.gpus or 0, "count": count},
        actor=actor,
        actor_ip=actor_ip,
        resource_id=rid,
        region=region,
        label=label,
    )
    plan.activity(until_s, "vm.delete", {}, resource_id=rid, region=region)
    res = Resource(
        resource_id=rid,
        sku=s,
        region=region,
        mode="fixed",
        base=float(count),
        weekly=flat(),
        unit_price=unit_price(plan, sku),
        active_from_s=ceil_hour(at_s),
        active_until_s=until_s,
        util_base=0.97,
        rampable=False,
    )
    plan.resources.append(res)
    return res


def vms_for(plan: CustomerPlan, sku: str, hourly: float) -> int:
    """How many VMs of ``sku`` cost about ``hourly`` per hour (at least one)."""
    return max(1, math.ceil(hourly / unit_price(plan, sku)))


def pick_start(plan: CustomerPlan, rng: random.Random, tail_s: int) -> int | None:
    """A start time at least six hours into the customer's usage and ``tail_s`` before the end
    of the stream, or None when the customer has no such time."""
    lo, hi = active_span(plan)
    lo += 6 * HOUR_S
    hi -= tail_s
    if hi <= lo:
        return None
    return lo + rng.randrange(hi - lo)


def local_time(plan: CustomerPlan, day_s: int, hour: int) -> int:
    """Epoch seconds of ``hour``:00 local time on the UTC day starting at ``day_s``."""
    return day_s - day_s % DAY_S + (hour - plan.country.utc_offset_h) * HOUR_S

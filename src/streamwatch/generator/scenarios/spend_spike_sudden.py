"""``spend_spike_sudden``: a compromised subscription starts burning money at once.

The attacker signs in with the admin's stolen credentials from another country, then creates a
fleet of GPU or compute-optimised VMs, in a region the customer never used (70%) or in its home
region, costing 15-60 times the customer's usual peak hour (at least 40-150 per hour), which run
around the clock for 6-48 hours until they are deleted. Labelled ``spend_spike`` at the
``vm.create`` (the first hour of usage starts at the next whole hour).
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.spend_common import (
    SPIKE_KIND,
    add_fleet,
    foreign_country,
    foreign_region,
    ip_in,
    peak_hourly_cost,
    pick_start,
    vms_for,
)
from streamwatch.generator.timefmt import HOUR_S

NAME = "spend_spike_sudden"
SKUS: Final = ("Standard_NC24ads_A100_v4", "Standard_NC6s_v3", "Standard_F16s_v2")
NEW_REGION_SHARE: Final = 0.7


@register_scenario(NAME, also=("crypto_mining",))
def spend_spike_sudden(plan: CustomerPlan, rng: random.Random) -> None:
    """Schedule the attack described in the module docstring (nothing if the customer has no
    usage early enough in the stream)."""
    duration = rng.randint(6, 48) * HOUR_S
    start = pick_start(plan, rng, duration + HOUR_S)
    if start is None:
        return
    sku = rng.choice(SKUS)
    region = foreign_region(plan, rng) if rng.random() < NEW_REGION_SHARE else plan.region
    hourly = max(peak_hourly_cost(plan) * rng.uniform(15.0, 60.0), rng.uniform(40.0, 150.0))
    count = vms_for(plan, sku, hourly)
    attacker = foreign_country(plan, rng)
    ip = ip_in(attacker, rng)
    plan.activity(
        start - rng.randrange(10 * 60, 60 * 60),
        "signin",
        {"ip_country": attacker.code},
        actor=plan.admin,
        actor_ip=ip,
    )
    add_fleet(
        plan,
        at_s=start,
        until_s=start + duration,
        region=region,
        sku=sku,
        count=count,
        group="rg-x",
        name="vmss-x",
        actor=plan.admin,
        actor_ip=ip,
        label=LabelSpec(
            SPIKE_KIND,
            NAME,
            {"region": region, "sku": sku, "count": count, "new_region": region != plan.region},
        ),
    )

"""``spend_spike_gradual``: a compromised subscription whose spend ramps up over hours.

As in ``spend_spike_sudden`` the attacker signs in from another country with the admin's
credentials, but starts with a fleet costing 3-5 times the customer's usual peak hour (at least
12-25 per hour more), then adds VMs every 1-3 hours so that the attack's hourly cost grows
1.3-1.7 times per step over 5-10 steps, and keeps it all running for 6-24 hours after the last
step. Labelled ``spend_spike`` at the first ``vm.create``.
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
    unit_price,
)
from streamwatch.generator.timefmt import HOUR_S

NAME = "spend_spike_gradual"
SKUS: Final = ("Standard_NC6s_v3", "Standard_F16s_v2", "Standard_D8s_v5")
NEW_REGION_SHARE: Final = 0.6


@register_scenario(NAME, also=("crypto_mining",))
def spend_spike_gradual(plan: CustomerPlan, rng: random.Random) -> None:
    """Schedule the attack described in the module docstring (nothing if the customer has no
    usage early enough in the stream)."""
    steps = rng.randint(5, 10)
    gaps = [rng.randint(1, 3) * HOUR_S for _ in range(steps - 1)]
    tail = rng.randint(6, 24) * HOUR_S
    start = pick_start(plan, rng, sum(gaps) + tail + HOUR_S)
    if start is None:
        return
    until = start + sum(gaps) + tail
    sku = rng.choice(SKUS)
    price = unit_price(plan, sku)
    region = foreign_region(plan, rng) if rng.random() < NEW_REGION_SHARE else plan.region
    peak = peak_hourly_cost(plan)
    target = max(peak * rng.uniform(3.0, 5.0), peak + rng.uniform(12.0, 25.0))
    growth = rng.uniform(1.3, 1.7)
    attacker = foreign_country(plan, rng)
    ip = ip_in(attacker, rng)
    plan.activity(
        start - rng.randrange(10 * 60, 60 * 60),
        "signin",
        {"ip_country": attacker.code},
        actor=plan.admin,
        actor_ip=ip,
    )
    running = 0
    at = start
    for step in range(steps):
        count = max(1, round(target / price) - running)
        label = None
        if step == 0:
            label = LabelSpec(
                SPIKE_KIND,
                NAME,
                {
                    "region": region,
                    "sku": sku,
                    "count": count,
                    "steps": steps,
                    "new_region": region != plan.region,
                },
            )
        add_fleet(
            plan,
            at_s=at,
            until_s=until,
            region=region,
            sku=sku,
            count=count,
            group="rg-x",
            name=f"vmss-x{step + 1}",
            actor=plan.admin,
            actor_ip=ip,
            label=label,
        )
        running += count
        target *= growth
        if step < steps - 1:
            at += gaps[step]

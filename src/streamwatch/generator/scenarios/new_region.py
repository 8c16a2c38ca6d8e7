"""``new_region``: a customer opens a region it never used for ordinary workloads, a look-alike
of mining's region hopping that must stay quiet.

A few days into the customer's life it creates 1-4 ordinary machines (two to eight vCPUs, no
GPU) and storage in a new region, busy in business hours. Its machines talk to ordinary hosts,
some on ports that Falco's miner-port list also holds (8080, 3333), and three in ten also poll
a mining pool's web site on 443: a listed host on a web port. No labels: any crypto_mining
alert on it is a false positive.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.archetypes import add_storage
from streamwatch.generator.plan import CustomerPlan
from streamwatch.generator.rhythm import business_day, weekly
from streamwatch.generator.scenarios.mining_kit import (
    ORDINARY_ENDPOINTS,
    ORDINARY_SKUS,
    POOL_SITE,
    add_machines,
    flows,
    new_regions,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S

NAME: Final = "new_region"


@register_scenario(NAME)
def new_region(plan: CustomerPlan, rng: random.Random) -> None:
    """Open a new region for ordinary machines (see the module docstring)."""
    lo = max(plan.signup_s, plan.horizon_start_s) + 2 * DAY_S
    hi = plan.horizon_end_s - DAY_S
    at = rng.randrange(lo, hi) if hi > lo else lo
    region = new_regions(plan, rng, 1)[0]
    shape = weekly(business_day(rng.uniform(0.2, 0.4)), 0.6)
    first = None
    for i in range(rng.randint(1, 4)):
        res = add_machines(
            plan,
            at + i * rng.randrange(60, 900),
            region,
            "rg-" + region,
            f"vm-app-{i + 1}",
            rng.choice(ORDINARY_SKUS),
            1,
            0.5,
            weekly=shape,
        )
        first = first or res
    store = add_storage(
        plan, rng, at + 1200, "rg-" + region, "Standard_LRS", rng.uniform(50, 500), 0.002
    )
    store.region = region
    if first is not None:
        endpoints = ORDINARY_ENDPOINTS + ((POOL_SITE,) if rng.random() < 0.3 else ())
        flows(plan, rng, first, endpoints, at + 900, (HOUR_S, 8 * HOUR_S), 30)

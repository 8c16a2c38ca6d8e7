"""``hpc_batch``: an established HPC customer, a look-alike of many-core mining that must stay
quiet.

The customer signed up months before the stream and pays its invoices. A small login node and
storage run all the time; every one to three days it creates a pool of 4-32 many-core machines
in its home region for one job, which runs flat out for 4-30 hours, then deletes the pool.
No labels: any crypto_mining alert on it is a false positive.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.archetypes import add_storage, add_vm
from streamwatch.generator.plan import CustomerPlan
from streamwatch.generator.rhythm import flat
from streamwatch.generator.scenarios.mining_kit import (
    ORDINARY_ENDPOINTS,
    add_machines,
    drop_machines,
    flows,
    make_established,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

NAME: Final = "hpc_batch"
HPC_SKUS: Final = ("Standard_HB120rs_v3", "Standard_F72s_v2", "Standard_F16s_v2")


@register_scenario(NAME, also=("spend_spike",))
def hpc_batch(plan: CustomerPlan, rng: random.Random) -> None:
    """Make the customer an established HPC shop running many-core jobs."""
    drop_machines(plan)
    at = plan.signup_s + 600
    add_vm(plan, at, "rg-hpc", "vm-login-1", "Standard_D4s_v5", "fixed", 1.0, flat(), util_base=0.1)
    add_storage(plan, rng, at, "rg-hpc", "Premium_LRS", rng.uniform(1000, 8000), 0.002)
    make_established(plan, rng)
    plan.budget_scenario = NAME
    sku_name = rng.choice(HPC_SKUS)
    t = plan.horizon_start_s + rng.randrange(2 * HOUR_S, DAY_S)
    job = 0
    while t < plan.horizon_end_s - 6 * HOUR_S:
        job += 1
        hours = rng.randint(4, 30)
        res = add_machines(
            plan,
            t,
            plan.region,
            "rg-hpc",
            f"vmss-job-{job}",
            sku_name,
            rng.randint(4, 32),
            rng.uniform(0.9, 0.98),
            until_s=ceil_hour(t) + hours * HOUR_S,
        )
        if rng.random() < 0.5:
            flows(plan, rng, res, ORDINARY_ENDPOINTS, t + 300, (HOUR_S, 5 * HOUR_S), 4)
        t = ceil_hour(t) + hours * HOUR_S + rng.randrange(6 * HOUR_S, 3 * DAY_S)

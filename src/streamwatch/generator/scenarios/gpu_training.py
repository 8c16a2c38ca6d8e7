"""``gpu_training``: an established ML team, a look-alike of GPU mining that must stay quiet.

The customer signed up months before the stream and pays its invoices. Its GPU machines run
training jobs of 4-12 hours several times a week (busy at 0.9, idle in between), next to a
dev machine and storage, and it pulls from the usual hosts (package indexes, model hubs). Ten
or more days into the stream it scales out for a big job: 2-6 more GPUs for 12-40 hours, in its
home region or (half the time) in a region it never used, where capacity was free; a second
such job may follow days later. No labels: any crypto_mining alert on it is a false positive.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.archetypes import add_storage, add_vm
from streamwatch.generator.plan import CustomerPlan
from streamwatch.generator.rhythm import office_hours, training_runs
from streamwatch.generator.scenarios.mining_kit import (
    ORDINARY_ENDPOINTS,
    add_machines,
    drop_machines,
    flows,
    make_established,
    new_regions,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

NAME: Final = "gpu_training"
TRAINING_SKUS: Final = ("Standard_NC24ads_A100_v4", "Standard_NC6s_v3", "Standard_ND96asr_v4")


@register_scenario(NAME, also=("spend_spike",))
def gpu_training(plan: CustomerPlan, rng: random.Random) -> None:
    """Make the customer an established ML team with job-structured GPU use."""
    drop_machines(plan)
    start = plan.horizon_start_s
    end = plan.horizon_end_s
    at = plan.signup_s + 600
    sku_name = rng.choice(TRAINING_SKUS[:2])
    runs = training_runs(rng, ceil_hour(start), end, runs_per_week=(3, 5))
    count = rng.randint(1, 2)
    add_machines(plan, at, plan.region, "rg-ml", "vmss-train", sku_name, count, 0.9, on_hours=runs)
    dev = office_hours(8, 20)
    add_vm(plan, at, "rg-ml", "vm-dev-1", "Standard_D4s_v5", "fixed", 1.0, dev, util_base=0.3)
    add_storage(plan, rng, at, "rg-ml", "Premium_LRS", rng.uniform(500, 4000), 0.003)
    make_established(plan, rng)
    plan.budget_scenario = NAME
    span = end - start
    at = start + max(10 * DAY_S, span // 3) + rng.randrange(max(HOUR_S, span // 3))
    for job in range(rng.randint(1, 2)):
        if at >= end - 12 * HOUR_S:
            break
        region = new_regions(plan, rng, 1)[0] if rng.random() < 0.5 else plan.region
        hours = rng.randint(12, 40)
        res = add_machines(
            plan,
            at,
            region,
            "rg-ml-big",
            f"vmss-big-{job + 1}",
            rng.choice(TRAINING_SKUS),
            rng.randint(2, 6),
            0.9,
            until_s=ceil_hour(at) + hours * HOUR_S,
        )
        flows(plan, rng, res, ORDINARY_ENDPOINTS[:4], at + 600, (2 * HOUR_S, 6 * HOUR_S), 6)
        at += hours * HOUR_S + rng.randrange(2 * DAY_S, 6 * DAY_S)

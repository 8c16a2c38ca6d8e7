"""Thefts too small or too slow for fixed thresholds, on localised tenants (``tenant_kit``).

``small_account_theft``: a small established tenant that usually spends $0.04-0.17 an hour
(one or two small VMs and a little storage) has its credentials used to run small VMs at
10-20 times that for a day (then they are deleted). Labelled ``spend_spike`` at the
``vm.create``.

``slow_egress_flood``: an established tenant's new scale set floods a victim, ramping over
24-48 hours to 200-800 GB an hour of egress, then holding it for 12-36 hours; no provider
notice. Labelled ``network_abuse`` from the first flow to the victim, at the ramp's start, to the
flood's end.

The detail of each label carries the loss that followed (``loss``: the theft's cost,
noise-free).
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.archetypes import add_storage, add_vm
from streamwatch.generator.catalog import SKUS
from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.rhythm import flat
from streamwatch.generator.scenarios.abuse_kit import flow, public_ip
from streamwatch.generator.scenarios.mining_kit import add_machines, drop_machines, price
from streamwatch.generator.scenarios.quiet_mining import loss
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.tenant_kit import localize
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

SMALL: Final = "small_account_theft"
SLOW_FLOOD: Final = "slow_egress_flood"
SMALL_SKUS: Final = ("Standard_B2s", "Standard_D2s_v5")
RAMP_STEPS: Final = 8


def _start(plan: CustomerPlan, rng: random.Random, tail_s: int) -> int:
    span = plan.horizon_end_s - plan.horizon_start_s
    lo = plan.horizon_start_s + min(8 * DAY_S, span // 3)
    return rng.randrange(lo, max(lo + HOUR_S, plan.horizon_end_s - tail_s))


@register_scenario(SMALL)
def small_account_theft(plan: CustomerPlan, rng: random.Random) -> None:
    """A day of small VMs at 10-20x a small account's usual spend (see the module
    docstring)."""
    drop_machines(plan)
    localize(plan, rng)
    t = plan.horizon_start_s
    add_storage(plan, rng, t, "rg-site", "Standard_LRS", rng.uniform(5, 40), 0.0)
    usual = 0.0
    skus = [rng.choice(("Standard_B2s", "Standard_D2s_v5"))]
    if rng.random() < 0.5:
        skus.append("Standard_B2s")
    for i, sku in enumerate(skus):
        add_vm(plan, t + 60 * i, "rg-site", f"vm-site-{i + 1}", sku, "fixed", 1.0, flat())
        usual += price(plan, sku)
    for res in plan.resources:
        res.active_from_s = t
    usual = max(usual, 0.04)
    start = _start(plan, rng, 2 * DAY_S)
    factor = rng.uniform(10.0, 20.0)
    sku = rng.choice(SMALL_SKUS)
    count = max(1, round(usual * factor / price(plan, sku)))
    label = LabelSpec(
        "spend_spike",
        SMALL,
        {"usual_per_hour": round(usual, 3), "factor": round(factor, 1), "sku": sku},
    )
    res = add_machines(
        plan,
        start,
        plan.region,
        "rg-site",
        "vmss-tmp",
        sku,
        count,
        0.9,
        until_s=ceil_hour(start) + DAY_S,
        label=label,
    )
    label.detail.update(machines=count, loss=loss([res], plan.horizon_end_s))


@register_scenario(SLOW_FLOOD, also=("spend_spike",))
def slow_egress_flood(plan: CustomerPlan, rng: random.Random) -> None:
    """Egress ramped over one to two days to a flood (see the module docstring)."""
    localize(plan, rng)
    start = _start(plan, rng, 4 * DAY_S)
    peak = rng.uniform(200.0, 800.0)
    ramp_s = rng.randint(24, 48) * HOUR_S
    hold_s = rng.randint(12, 36) * HOUR_S
    end = min(plan.horizon_end_s, ceil_hour(start) + ramp_s + hold_s)
    vm = add_machines(
        plan,
        start - 20 * 60,
        plan.region,
        "rg-edge",
        "vmss-edge",
        "Standard_D4s_v5",
        2,
        0.6,
        until_s=end,
    )
    victim = public_ip(rng)
    source = (vm.resource_id, vm.region)
    detail = {"pattern": "ddos", "peak_gb_per_hour": round(peak)}
    label = LabelSpec("network_abuse", SLOW_FLOOD, detail, end_s=end)
    steps: list[Resource] = []
    for i in range(RAMP_STEPS):
        at = ceil_hour(start) + i * ramp_s // RAMP_STEPS
        at -= at % HOUR_S
        res = Resource(
            resource_id=vm.resource_id,
            sku=SKUS["Internet_Egress_Zone1"],
            region=vm.region,
            mode="flow",
            base=peak / RAMP_STEPS,
            weekly=flat(),
            unit_price=price(plan, "Internet_Egress_Zone1"),
            active_from_s=at,
            active_until_s=end,
            rampable=False,
        )
        plan.resources.append(res)
        steps.append(res)
        first = label if i == 0 else None
        flow(plan, at, source, victim, 443, int(peak / RAMP_STEPS * 1e9), label=first)
    hour = ceil_hour(start) + ramp_s
    while hour < end:
        flow(plan, hour + rng.randrange(HOUR_S), source, victim, 443, int(peak * 1e9))
        hour += 6 * HOUR_S
    label.detail.update(loss=loss(steps, plan.horizon_end_s), ramp_h=ramp_s // HOUR_S)

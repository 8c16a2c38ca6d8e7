"""Crypto-miners: in new accounts, in compromised established ones, and stealthy ones.

``crypto_mining``: an account opened to mine. Its own machines are dropped; half pay by prepaid
card. Between 20 minutes and 12 hours after sign-up a burst of ``vm.create`` puts GPU (70%) or
many-core CPU machines into 2-4 regions the account never used, within half an hour; they run
flat out (utilisation 0.95-0.99) round the clock. Most talk to a real mining pool; some draw a
provider notice days later.

``crypto_mining_compromised``: an established customer (signed up months before the stream,
paying its invoices) keeps its workload; on a day of the stream an attacker signs in from a
foreign country, mostly after failed attempts, and starts the same kind of burst in 1-3 new
regions.

``crypto_mining_stealthy``: either of the two above, but small and quiet: 1-3 machines in one
new region, throttled to 50-70% utilisation, no pool traffic, no notice; a quarter of the
compromised ones leave no sign-in trace.

Each miner is labelled ``crypto_mining`` at its first ``vm.create`` (detail: variant, SKU,
regions, machines, whether it talks to a pool); a provider notice is labelled provider_notice.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.plan import CustomerPlan, LabelSpec
from streamwatch.generator.scenarios.mining_kit import (
    CPU_SKUS,
    GPU_SKUS,
    POOL_ENDPOINTS,
    add_machines,
    attacker_signins,
    crypto_notice,
    drop_machines,
    flows,
    home_signins,
    make_established,
    new_regions,
    pay_by,
)
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.timefmt import DAY_S, HOUR_S

KIND: Final = "crypto_mining"
NEW_ACCOUNT: Final = "crypto_mining"
COMPROMISED: Final = "crypto_mining_compromised"
STEALTHY: Final = "crypto_mining_stealthy"


MINING_ALSO = ("spend_spike",)
"""A miner's bill is a spend spike too."""


@register_scenario(NEW_ACCOUNT, also=MINING_ALSO)
def crypto_mining(plan: CustomerPlan, rng: random.Random) -> None:
    """A new account that mines loudly (see the module docstring)."""
    _new_account(plan, rng, NEW_ACCOUNT, stealthy=False)


@register_scenario(COMPROMISED, also=MINING_ALSO)
def crypto_mining_compromised(plan: CustomerPlan, rng: random.Random) -> None:
    """An established customer's account taken over to mine (see the module docstring)."""
    _compromised(plan, rng, COMPROMISED, stealthy=False)


@register_scenario(STEALTHY, also=MINING_ALSO)
def crypto_mining_stealthy(plan: CustomerPlan, rng: random.Random) -> None:
    """A small, throttled miner in one new region (see the module docstring)."""
    if rng.random() < 0.5:
        _new_account(plan, rng, STEALTHY, stealthy=True)
    else:
        _compromised(plan, rng, STEALTHY, stealthy=True)


def _new_account(plan: CustomerPlan, rng: random.Random, scenario: str, *, stealthy: bool) -> None:
    drop_machines(plan)
    plan.budget_scenario = scenario
    if rng.random() < (0.3 if stealthy else 0.5):
        pay_by(plan, rng.choice(("prepaid_card", "prepaid_card", "stored_value")))
    delay = rng.randrange(20 * 60, (36 if stealthy else 12) * HOUR_S)
    start = max(plan.signup_s, plan.horizon_start_s) + 15 * 60 + delay
    _mine(plan, rng, scenario, "new_account", min(start, plan.horizon_end_s - 6 * HOUR_S), stealthy)


def _compromised(plan: CustomerPlan, rng: random.Random, scenario: str, *, stealthy: bool) -> None:
    make_established(plan, rng)
    plan.budget_scenario = scenario
    span = plan.horizon_end_s - plan.horizon_start_s
    lo = plan.horizon_start_s + min(4 * DAY_S, span // 3)
    hi = max(lo + HOUR_S, plan.horizon_end_s - min(3 * DAY_S, span // 4))
    start = rng.randrange(lo, hi)
    home_signins(plan, rng, start - 3 * HOUR_S)
    trace = rng.random()
    if not stealthy or trace < 0.75:
        attacker_signins(plan, rng, start, failed=trace < 0.6, succeeded=trace >= 0.2)
    _mine(plan, rng, scenario, "compromised", start, stealthy)


def _mine(
    plan: CustomerPlan,
    rng: random.Random,
    scenario: str,
    variant: str,
    start: int,
    stealthy: bool,
) -> None:
    gpu = rng.random() < 0.7
    skus = GPU_SKUS if gpu else CPU_SKUS
    if stealthy:
        k = 1
    elif variant == "new_account":
        k = rng.randint(2, 4)
    else:
        k = rng.randint(1, 3)
    regions = new_regions(plan, rng, k)
    pool = not stealthy and rng.random() < (0.85 if variant == "new_account" else 0.7)
    util = rng.uniform(0.5, 0.7) if stealthy else rng.uniform(0.95, 0.99)
    sku_name = rng.choice(skus)
    plan_machines: list[tuple[int, str, int]] = []
    at = start
    for region in regions:
        for _ in range(1 if stealthy else rng.randint(1, 2)):
            count = rng.randint(1, 3) if stealthy else rng.randint(2, 6)
            plan_machines.append((at, region, count))
            at += rng.randrange(30, 30 * 60 if stealthy else 8 * 60)
    total = sum(count for _, _, count in plan_machines)
    label = LabelSpec(
        KIND,
        scenario,
        {
            "variant": variant,
            "stealthy": stealthy,
            "sku": sku_name,
            "regions": list(regions),
            "machines": total,
            "pool": pool,
        },
    )
    for i, (ts, region, count) in enumerate(plan_machines):
        res = add_machines(
            plan,
            ts,
            region,
            "rg-" + region,
            f"vmss-{i + 1}",
            sku_name,
            count,
            util,
            label=label if i == 0 else None,
        )
        if pool and i < 2:
            flows(
                plan,
                rng,
                res,
                POOL_ENDPOINTS,
                ts + rng.randrange(3 * 60, 15 * 60),
                (HOUR_S, 4 * HOUR_S),
                40,
            )
    if not stealthy and rng.random() < 0.3:
        crypto_notice(plan, rng, start + rng.randrange(2 * DAY_S, 6 * DAY_S), scenario)

"""Miners that hide in plain sight, and the honest first training run they resemble.

``patient_miner``: an established customer (months old, paying) whose account grows a scale
set of 8-vCPU machines in its home region, one machine at a time, from 1 to 12 over three
days, each pegged at 95-97% CPU round the clock. No machine is "heavy" (16+ vCPUs), no region
is new and each step is small; half of them send nothing to a pool, the others only port 443
to a host on no list.

``night_gpu_miner``: an established customer with no GPU history starts one or two cheap GPUs
($2-4 an hour) in its home region, a region it already uses, late in the local evening, and
runs them every night until morning at a flat 96-99% utilisation.

``ml_first_training`` (look-alike): an established customer's team starts its first long
training runs in its home region during local business hours: 1-4 GPUs for 20-60 hours at
0.9 utilisation (data loading and evaluation keep it off the ceiling), then deletes them; one
or two such runs. No labels: any crypto_mining alert on it is a false positive.

Each miner is labelled ``crypto_mining`` at its first ``vm.create``; the detail carries the
loss that followed (the miner's cost until the end of the stream, noise-free) as ``loss``.
"""

from __future__ import annotations

import random
from typing import Final

from streamwatch.generator.plan import CustomerPlan, LabelSpec, Resource
from streamwatch.generator.scenarios.mining_kit import add_machines
from streamwatch.generator.scenarios.registry import register_scenario
from streamwatch.generator.scenarios.tenant_kit import local_s, localize
from streamwatch.generator.timefmt import DAY_S, HOUR_S, ceil_hour

KIND: Final = "crypto_mining"
PATIENT: Final = "patient_miner"
NIGHT_GPU: Final = "night_gpu_miner"
ML_FIRST: Final = "ml_first_training"
PATIENT_SKU: Final = "Standard_D8s_v5"
CHEAP_GPUS: Final = ("Standard_NC6s_v3", "Standard_NV36ads_A10_v5", "Standard_NC24ads_A100_v4")
"""GPUs listed at $3-4 an hour."""
UNLISTED_443: Final = ("edge-sync.cloudrelay.net", "api.metrics-collector.io", "cdn.stat-push.com")
"""Hosts on no indicator list, reached on 443: a pool behind TLS looks like any web API."""
LATE_EVENING_H: Final = (21, 24)
"""Local hours at which the night miner starts."""
NIGHT_HOURS: Final = 10
BUSINESS_START_H: Final = (9, 16)


def loss(resources: list[Resource], end_s: int) -> float:
    """Noise-free cost of ``resources`` until ``end_s``: what the incident cost the reseller."""
    return round(sum(r.expected_cost(r.active_from_s, end_s) for r in resources), 2)


def drop_gpus(plan: CustomerPlan) -> None:
    """Remove the archetype's GPU machines and their ``vm.create``: a customer without GPU
    history."""
    gone = {r.resource_id for r in plan.resources if r.sku.gpus}
    plan.resources = [r for r in plan.resources if r.resource_id not in gone]
    plan.scheduled = [
        s
        for s in plan.scheduled
        if not (isinstance(s.body, dict) and s.body.get("resource_id") in gone)
    ]


def local_day_hour(plan: CustomerPlan, day_s: int, hour: int) -> int:
    """Epoch seconds of local ``hour`` on the UTC day starting at ``day_s``."""
    return local_s(plan, day_s, hour)


def _start(plan: CustomerPlan, rng: random.Random, tail_s: int) -> int:
    span = plan.horizon_end_s - plan.horizon_start_s
    lo = plan.horizon_start_s + min(7 * DAY_S, span // 3)
    hi = max(lo + HOUR_S, plan.horizon_end_s - tail_s)
    return rng.randrange(lo, hi)


@register_scenario(PATIENT, also=("spend_spike",))
def patient_miner(plan: CustomerPlan, rng: random.Random) -> None:
    """A scale set grown one machine at a time in the home region (see the module docstring)."""
    localize(plan, rng)
    plan.budget_scenario = PATIENT
    start = _start(plan, rng, 4 * DAY_S)
    util = rng.uniform(0.95, 0.97)
    steps = 11
    span = 3 * DAY_S
    times = [start + i * span // steps + rng.randrange(-1800, 1800) for i in range(steps + 1)]
    times[0] = start
    host = rng.choice(UNLISTED_443) if rng.random() < 0.5 else None
    resources: list[Resource] = []
    label = LabelSpec(KIND, PATIENT, {"variant": "patient", "sku": PATIENT_SKU, "pool": False})
    for i, at in enumerate(times):
        if at >= plan.horizon_end_s:
            break
        res = add_machines(
            plan,
            at,
            plan.region,
            "rg-workers",
            f"vmss-workers-{i + 1}",
            PATIENT_SKU,
            1,
            util,
            label=label if i == 0 else None,
        )
        resources.append(res)
    label.detail.update(machines=len(resources), loss=loss(resources, plan.horizon_end_s))
    if host is not None:
        label.detail["host_443"] = host
        _tls_flows(plan, rng, resources[0], host, start)


@register_scenario(NIGHT_GPU, also=("spend_spike",))
def night_gpu_miner(plan: CustomerPlan, rng: random.Random) -> None:
    """Cheap GPUs mining every night in the home region (see the module docstring)."""
    drop_gpus(plan)
    localize(plan, rng)
    plan.budget_scenario = NIGHT_GPU
    begin = _start(plan, rng, 3 * DAY_S)
    day = begin - begin % DAY_S
    first = local_day_hour(plan, day, rng.randint(*LATE_EVENING_H) - 1) + rng.randrange(HOUR_S)
    if first < begin:
        first += DAY_S
    first = min(first, plan.horizon_end_s - 2 * DAY_S)
    start_h = ceil_hour(first) // HOUR_S
    nights = frozenset(
        h
        for n in range((plan.horizon_end_s - first) // DAY_S + 1)
        for h in range(start_h + 24 * n, start_h + 24 * n + NIGHT_HOURS)
    )
    sku_name = rng.choice(CHEAP_GPUS)
    count = rng.randint(1, 2)
    label = LabelSpec(KIND, NIGHT_GPU, {"variant": "night_gpu", "sku": sku_name, "pool": False})
    res = add_machines(
        plan,
        first,
        plan.region,
        "rg-render",
        "vmss-render",
        sku_name,
        count,
        rng.uniform(0.97, 0.99),
        on_hours=nights,
        label=label,
    )
    label.detail.update(machines=count, loss=loss([res], plan.horizon_end_s))


@register_scenario(ML_FIRST, also=("spend_spike",), lookalike=True)
def ml_first_training(plan: CustomerPlan, rng: random.Random) -> None:
    """First long training runs of an established team (see the module docstring)."""
    drop_gpus(plan)
    localize(plan, rng)
    plan.budget_scenario = ML_FIRST
    at = _start(plan, rng, 4 * DAY_S)
    for run in range(rng.randint(1, 2)):
        day = at - at % DAY_S
        begin = local_day_hour(plan, day, rng.randint(*BUSINESS_START_H)) + rng.randrange(HOUR_S)
        if (day // DAY_S + 3) % 7 >= 5:
            begin += (7 - (day // DAY_S + 3) % 7) * DAY_S  # start on a working day
        hours = rng.randint(20, 60)
        if begin + hours * HOUR_S >= plan.horizon_end_s:
            break
        add_machines(
            plan,
            begin,
            plan.region,
            "rg-ml",
            f"vmss-train-{run + 1}",
            rng.choice(CHEAP_GPUS),
            rng.randint(1, 4),
            0.9,
            until_s=ceil_hour(begin) + hours * HOUR_S,
        )
        at = begin + hours * HOUR_S + rng.randrange(2 * DAY_S, 5 * DAY_S)


def _tls_flows(
    plan: CustomerPlan, rng: random.Random, res: Resource, host: str, start_s: int
) -> None:
    """A flow to ``host``:443 every one to four hours from the first machine."""
    ts = start_s + rng.randrange(5 * 60, 30 * 60)
    while ts < plan.horizon_end_s:
        plan.activity(
            ts,
            "network.flow",
            {
                "dst_host": host,
                "dst_port": 443,
                "protocol": "tcp",
                "bytes_out": rng.randrange(2_000, 60_000),
            },
            resource_id=res.resource_id,
            region=res.region,
        )
        ts += rng.randrange(HOUR_S, 4 * HOUR_S)

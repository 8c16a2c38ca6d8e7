"""crypto_mining on a generated month: recall, precision and delay by ``streamwatch.evaluate``.

Miners of every kind (new accounts, compromised established ones, stealthy ones) among
look-alikes (established ML teams and HPC shops with job structure, customers opening a region
for ordinary machines) and the ordinary archetypes (ML teams, month-end batch pools...).
Targets: recall and precision at least 0.95, median delay from the first ``vm.create`` at most
an hour, and not one crypto_mining alert on a legitimate GPU or HPC customer.

An alert counts for a miner when it comes within ``TOLERANCE_S`` of the first ``vm.create``:
mining runs for days, and the delay target is what keeps detection fast. To print the figures:

    .venv/bin/python \
        tests/unit/core/detectors/crypto_mining/test_crypto_mining_evaluation.py [SEED ...]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

from streamwatch.config import load_policy
from streamwatch.core.codec import event_from_dict
from streamwatch.core.detectors.crypto_mining import CryptoMiningDetector
from streamwatch.core.engine import Core, Fleet
from streamwatch.evaluate import Report, evaluate, format_report
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.generator.stream import build_plans
from streamwatch.indicators import load_indicators

MINERS = ("crypto_mining", "crypto_mining_compromised", "crypto_mining_stealthy")
LOOK_ALIKES = ("gpu_training", "hpc_batch", "new_region")
LEGITIMATE_HEAVY_ARCHETYPES = ("ml_team", "enterprise_batch")
TOLERANCE_S = 3 * 86_400
SEED = 20261001


@dataclass(frozen=True)
class Outcome:
    report: Report
    within_hour: Report
    stealthy: Report
    alerts: list[dict[str, Any]]
    legitimate_heavy: frozenset[str]


def config(seed: int) -> GeneratorConfig:
    return GeneratorConfig(
        seed=seed,
        customers=180,
        days=30,
        incidents=(*MINERS, *LOOK_ALIKES, "budget_overrun", "provider_notice"),
        incident_rate=0.75,
    )


@cache
def outcome(seed: int = SEED) -> Outcome:
    cfg = config(seed)
    result = generate(cfg)
    fleet = Fleet(Core(load_policy(), detectors=[CryptoMiningDetector(load_indicators())]))
    alerts = [
        alert.to_dict()
        for event in result.events
        for alert in fleet.step(event_from_dict(event), 0).alerts
    ]
    labels = [lab for lab in result.labels if lab["kind"] == "crypto_mining"]
    stealthy = [lab for lab in labels if lab["detail"]["stealthy"]]
    legitimate = frozenset(
        plan.customer_id
        for plan in build_plans(cfg)
        if not set(plan.scenarios) & set(MINERS)
        and (
            set(plan.scenarios) & {"gpu_training", "hpc_batch"}
            or plan.archetype in LEGITIMATE_HEAVY_ARCHETYPES
        )
    )
    stealthy_ids = {lab["customer_id"] for lab in stealthy}
    return Outcome(
        report=evaluate(labels, alerts, tolerance_s=TOLERANCE_S),
        within_hour=evaluate(labels, alerts, tolerance_s=3600),
        stealthy=evaluate(
            stealthy,
            [a for a in alerts if a["customer_id"] in stealthy_ids],
            tolerance_s=TOLERANCE_S,
        ),
        alerts=alerts,
        legitimate_heavy=legitimate,
    )


def test_recall_on_mining_incidents_is_at_least_095() -> None:
    score = outcome().report.kind("crypto_mining")
    assert score.labels >= 40
    assert score.recall is not None
    assert score.recall >= 0.95


def test_stealthy_miners_are_caught_too() -> None:
    score = outcome().stealthy.kind("crypto_mining")
    assert score.labels >= 10
    assert score.recall is not None
    assert score.recall >= 0.9


def test_precision_is_at_least_095() -> None:
    score = outcome().report.kind("crypto_mining")
    assert score.precision is not None
    assert score.precision >= 0.95


def test_median_delay_from_the_first_vm_create_is_at_most_an_hour() -> None:
    score = outcome().report.kind("crypto_mining")
    assert score.delay_median_s is not None
    assert score.delay_median_s <= 3600


def test_no_alert_on_any_legitimate_gpu_or_hpc_customer() -> None:
    legitimate = outcome().legitimate_heavy
    assert len(legitimate) >= 30
    assert not [a for a in outcome().alerts if a["customer_id"] in legitimate]


def main(seeds: list[int]) -> None:
    for seed in seeds:
        out = outcome(seed)
        cfg = config(seed)
        sys.stdout.write(
            f"seed {seed}: {cfg.customers} customers, {cfg.days} days; "
            f"{len(out.legitimate_heavy)} legitimate GPU/HPC customers, alerts on them: "
            f"{sum(1 for a in out.alerts if a['customer_id'] in out.legitimate_heavy)}\n"
        )
        for title, report in (
            (f"all miners, alert within {TOLERANCE_S // 86_400} days", out.report),
            ("all miners, alert within 1 hour", out.within_hour),
            ("stealthy miners only", out.stealthy),
        ):
            sys.stdout.write(f"-- {title}\n{format_report(report)}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [SEED])

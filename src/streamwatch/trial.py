"""A trial: generate a stream with chosen scenarios, run it through the core in-process (the
replay path, no services), and keep what scoring needs.

``streamwatch evaluate --seeds 7,8,9`` and ``bench/scenarios.py`` run trials of ``SCENARIOS``,
the incidents and look-alikes of real tenants that the detectors must tell apart. Deterministic
for the same arguments, apart from the wall-clock ``detected_at`` of alerts.

``delivery`` picks the generator's line order (``GeneratorConfig.delivery``): replay then reads
the lines in that order, as the live worker would read them from the input topics, unless
``sort`` asks for the analysts' lateness sort. ``allowed_lateness_s`` is the core's (and so
replay's) allowed lateness; the replay's counts of late, duplicate and dead-lettered events
come back with the trial, so that no event is lost without being counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from streamwatch.config import build_core
from streamwatch.core.engine import Settings
from streamwatch.core.state import CustomerState
from streamwatch.generator import GeneratorConfig, generate
from streamwatch.generator.config import Delivery
from streamwatch.generator.stream import build_plans
from streamwatch.replay.runner import ListSink, Replay, Source

SCENARIOS: Final = (
    # attacks
    "patient_miner",
    "night_gpu_miner",
    "prepaid_gpu",
    "prepaid_gpu_ring",
    "card_ramp_chargeback",
    "small_account_theft",
    "slow_egress_flood",
    # look-alikes
    "ml_first_training",
    "neighbour_billing",
    "corporate_card",
    "weekly_backup",
    "weekly_newsletter",
    "local_tenant",
    "gpu_training",
)
"""Every case of the detection review, as scenarios; one per incident customer, round-robin."""


@dataclass(frozen=True, slots=True)
class Trial:
    """One trial's labels, alerts and requests (wire dicts) and who plays which scenario."""

    seed: int
    labels: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    scenarios_of: dict[str, str]
    events: int
    processed: int = 0
    """Lines replay stepped through the core as events (late ones included, repeats not)."""
    late: int = 0
    """Events the core counted as late (older than its allowed lateness; still processed)."""
    duplicates: int = 0
    """Lines the core recognised as repeats of an event_id and skipped."""
    dead_letters: int = 0
    generated_duplicates: int = 0
    """Repeats the generator wrote (re-delivered batches): more than ``duplicates`` means some
    repeat came after the core's dedupe window and was processed twice."""
    after_close: int = 0
    """Usage records that came for an hour spend_spike or network_abuse had already closed
    (counted in their state, not in any hour)."""


def run_trial(
    seed: int,
    *,
    customers: int = 56,
    days: int = 30,
    scenarios: Iterable[str] = SCENARIOS,
    incident_rate: float = 0.5,
    delivery: Delivery = "event_time",
    sort: bool = False,
    allowed_lateness_s: int | None = None,
) -> Trial:
    """Generate ``customers`` over ``days`` with ``scenarios`` on ``incident_rate`` of them,
    delivered in ``delivery`` order, replay it through the default core (``sort``: the
    analysts' lateness sort; ``allowed_lateness_s``: the core's, default its own), and return
    the results."""
    config = GeneratorConfig(
        seed=seed,
        customers=customers,
        days=days,
        incidents=tuple(scenarios),
        incident_rate=incident_rate,
        delivery=delivery,
    )
    generated = generate(config)
    scenarios_of: dict[str, str] = {}
    for plan in build_plans(config):
        if plan.scenarios:
            scenarios_of[plan.customer_id] = plan.scenarios[-1]
            for companion in plan.companions:
                scenarios_of[companion.customer_id] = plan.scenarios[-1]
    lines = [orjson.dumps(e) for e in generated.events]
    sink = ListSink()
    settings = (
        None if allowed_lateness_s is None else Settings(allowed_lateness_s=allowed_lateness_s)
    )
    replay = Replay(
        build_core(settings=settings),
        sink,
        clock=lambda: time.time_ns() // 1_000_000,
        sort=sort,
    )
    stats = replay.run([Source(((line, n) for n, line in enumerate(lines, 1)), _origin)])
    return Trial(
        seed=seed,
        labels=list(generated.labels),
        alerts=[a.to_dict() for a in sink.alerts],
        requests=[r.to_dict() for r in sink.requests],
        scenarios_of=scenarios_of,
        events=len(generated.events),
        processed=stats.events,
        late=stats.late,
        duplicates=stats.duplicates,
        dead_letters=sum(stats.dead_letters.values()),
        generated_duplicates=generated.duplicates,
        after_close=sum(_after_close(state) for state in replay.states.values()),
    )


def _after_close(state: CustomerState) -> int:
    """What a customer's hourly detectors received for hours they had closed."""
    spike = state.detectors.get("spend_spike")
    net = state.detectors.get("network_abuse")
    return getattr(spike, "too_late", 0) + getattr(net, "egress_too_late", 0)


def pooled(trials: Iterable[Trial]) -> Trial:
    """Several trials as one: each customer and alert id prefixed with its seed
    (``7/cust-00001``), so that the same index in two seeds stays two customers (alert ids
    derive from the customer's own id, and would collide too)."""
    labels: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    scenarios_of: dict[str, str] = {}
    events = processed = late = duplicates = dead_letters = generated_duplicates = 0
    after_close = 0
    seeds = []
    for trial in trials:
        seeds.append(trial.seed)
        tag = f"{trial.seed}/"
        labels.extend({**d, "customer_id": tag + d["customer_id"]} for d in trial.labels)
        alerts.extend(
            {**d, "customer_id": tag + d["customer_id"], "alert_id": tag + d["alert_id"]}
            for d in trial.alerts
        )
        requests.extend({**d, "customer_id": tag + d["customer_id"]} for d in trial.requests)
        scenarios_of.update({tag + k: v for k, v in trial.scenarios_of.items()})
        events += trial.events
        processed += trial.processed
        late += trial.late
        duplicates += trial.duplicates
        dead_letters += trial.dead_letters
        generated_duplicates += trial.generated_duplicates
        after_close += trial.after_close
    return Trial(
        seeds[0] if seeds else 0,
        labels,
        alerts,
        requests,
        scenarios_of,
        events,
        processed,
        late,
        duplicates,
        dead_letters,
        generated_duplicates,
        after_close,
    )


def _origin(number: int) -> dict[str, object]:
    return {"file": "<generated>", "line": number}

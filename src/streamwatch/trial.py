"""A trial: generate a stream with chosen scenarios, run it through the core in-process (the
replay path, no services), and keep what scoring needs.

``streamwatch evaluate --seeds 7,8,9`` and ``bench/scenarios.py`` run trials of ``SCENARIOS``,
the incidents and look-alikes of real tenants that the detectors must tell apart. Deterministic
for the same arguments: alerts are stamped (``detected_at``) with stream time, the newest event
time read so far, which is what a live worker's clock would read taking the lines in as they
arrive. Each alert revision also comes with when its evidence arrived (``evidence_arrival_ms``,
see ``streamwatch.detection_delay``), so that a trial reports how long detection took from the
evidence and from its arrival.

``delivery`` picks the generator's line order (``GeneratorConfig.delivery``): replay then reads
the lines in that order, as the live worker would read them from the input topics, unless
``sort`` asks for the analysts' lateness sort. ``allowed_lateness_s`` and
``usage_lateness_s`` are the core's allowed lateness (``Settings``; the first is replay's too);
the replay's counts of late, duplicate and dead-lettered events
come back with the trial, so that no event is lost without being counted.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from streamwatch.config import build_core
from streamwatch.core.engine import lateness_settings
from streamwatch.core.state import CustomerState
from streamwatch.core.timeutil import MS_PER_HOUR, parse_ts_ms, ts_ms_or_none
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
    evidence_arrival_ms: list[int | None] = field(default_factory=list)
    """For each of ``alerts``: the stream time at which its evidence had arrived, the last record
    of its event time's hour (of the customer, of an event type its kind is judged on) read by
    the time it was raised; None if none was."""


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
    usage_lateness_s: int | None = None,
) -> Trial:
    """Generate ``customers`` over ``days`` with ``scenarios`` on ``incident_rate`` of them,
    delivered in ``delivery`` order, replay it through the default core (``sort``: the
    analysts' lateness sort; ``allowed_lateness_s``, ``usage_lateness_s``: the core's,
    default its own), and return the results."""
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
    sink = ListSink()
    core = build_core(settings=lateness_settings(allowed_lateness_s, usage_lateness_s))
    stream = _StreamClock()
    replay = Replay(core, sink, clock=stream.now, sort=sort)
    stats = replay.run([Source(stream.read(generated.events), _origin)])
    judged_on = {kind: d.event_types for d in core.detectors for kind in d.kinds}
    alerts = [a.to_dict() for a in sink.alerts]
    return Trial(
        seed=seed,
        labels=list(generated.labels),
        alerts=alerts,
        requests=[r.to_dict() for r in sink.requests],
        scenarios_of=scenarios_of,
        events=len(generated.events),
        processed=stats.events,
        late=stats.late,
        duplicates=stats.duplicates,
        dead_letters=sum(stats.dead_letters.values()),
        generated_duplicates=generated.duplicates,
        after_close=sum(_after_close(state) for state in replay.states.values()),
        evidence_arrival_ms=[stream.arrival(a, judged_on.get(a["kind"], ())) for a in alerts],
    )


class _StreamClock:
    """Stream time while replay reads the lines, and when each customer's records came."""

    def __init__(self) -> None:
        self.ms = 0
        self._came: dict[tuple[str, str, int], list[int]] = defaultdict(list)
        """(customer, event type, hour of event time) -> stream times its records were read."""

    def now(self) -> int:
        """The newest event time read so far (replay's ``clock``)."""
        return self.ms

    def read(self, events: Sequence[dict[str, Any]]) -> Iterator[tuple[bytes, int]]:
        """The lines of ``events`` for replay, moving stream time as they are read."""
        came = self._came
        for n, event in enumerate(events, 1):
            ts_ms = ts_ms_or_none(event.get("ts"))
            if ts_ms is not None:  # a line replay will dead-letter moves nothing
                self.ms = max(self.ms, ts_ms)
                key = (str(event.get("customer_id")), str(event.get("type")))
                came[(*key, ts_ms - ts_ms % MS_PER_HOUR)].append(self.ms)
            yield orjson.dumps(event), n

    def arrival(self, alert: dict[str, Any], types: Iterable[str]) -> int | None:
        """When the evidence of ``alert`` had arrived: the last record of its event time's
        hour, of ``types``, read by the time the alert was raised (None: none was)."""
        at = parse_ts_ms(alert["event_time"])
        raised = parse_ts_ms(alert["detected_at"])
        latest = None
        for t in types:
            times = self._came.get((alert["customer_id"], t, at - at % MS_PER_HOUR), [])
            index = bisect.bisect_right(times, raised)
            if index and (latest is None or times[index - 1] > latest):
                latest = times[index - 1]
        return latest


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
    arrivals: list[int | None] = []
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
        arrivals.extend(trial.evidence_arrival_ms)
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
        arrivals,
    )


def _origin(number: int) -> dict[str, object]:
    return {"file": "<generated>", "line": number}

"""Test helpers shipped with the package: contract event builders, a fake clock, and the live
worker's processing without a broker.

Builders return wire-format dicts (what producers send); ``raw`` turns one into bytes and
``decoded`` into a core event. Every builder takes keyword overrides for any field. Two styles:

- ``usage``, ``activity``, ``payment``, ``budget_set``, ``provider_notice``: a fresh event id
  per call unless given, for streams;
- ``usage_doc``, ``activity_doc``, ``payment_doc``, ``budget_set_doc``, ``notice_doc``: one
  fixed id per builder unless given (sending one twice is a duplicate), the time as ``at``
  (``ts(day, hour)`` writes one), for the core's unit tests; ``usage_event`` and the other
  ``*_event`` builders validate them into core events (``event_from_dict``: no JSON on the
  way, so a test can hand the core what JSON cannot carry).

``run`` and ``run_core`` step events through the core and collect its decisions (``Outcome``);
``outcome_view`` compares runs without wall-clock fields; ``make_alert`` makes an alert as the
engine would. ``simulate_live`` runs lines through the partition pipelines as the live worker
would, with random delivery, batches, commits and crashes, for conformance tests against
replay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count
from random import Random
from typing import Any, Final

import orjson

from streamwatch.config import default_policy_text
from streamwatch.core.codec import DecodeError, decode_event, event_from_dict
from streamwatch.core.engine import Core, Fleet
from streamwatch.core.events import (
    ActivityEvent,
    Alert,
    DetectorRef,
    EnforcementRequest,
    Event,
    PaymentEvent,
    UsageEvent,
)
from streamwatch.core.ids import stable_id
from streamwatch.core.policy import Policy, parse_policy
from streamwatch.core.rings import ALWAYS, NEVER, Rings, Sighting, SightingGate
from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.pipeline.ordering import Message
from streamwatch.pipeline.partition import DictStore, PartitionPipeline, Step, decode
from streamwatch.pipeline.routing import DEFAULT_PARTITIONS, partition_for
from streamwatch.replay.runner import STREAMS

_ids = count(1)

NOW_MS: Final = parse_ts_ms("2030-01-01T00:00:00Z")
"""A wall clock far from any event time, so a test can tell the two apart."""
RESOURCE: Final = (
    "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
)


def _envelope(kind: str, customer_id: str, ts: str, event_id: str | None) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{next(_ids):08d}",
        "type": kind,
        "customer_id": customer_id,
        "ts": ts,
    }


def usage(
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    cost: float = 1.0,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A usage event: one hour of a D4s_v5 VM in westeurope unless overridden."""
    doc = _envelope("usage", customer_id, ts, event_id)
    doc.update(
        subscription_id="sub-1",
        resource_id=RESOURCE,
        meter="compute",
        sku="Standard_D4s_v5",
        region="westeurope",
        quantity=1.0,
        unit="hours",
        cost=cost,
        currency="USD",
        interval_s=3600,
    )
    doc.update(fields)
    return doc


def activity(
    operation: str,
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An activity-log event of ``operation``, succeeded, by ``user@example.com``."""
    doc = _envelope("activity", customer_id, ts, event_id)
    doc.update(
        operation=operation,
        actor="user@example.com",
        status="succeeded",
        resource_id="",
        properties=properties or {},
    )
    doc.update(fields)
    return doc


def budget_set(
    amount: float,
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    currency: str = "USD",
    **fields: Any,
) -> dict[str, Any]:
    """A ``budget.set`` activity for a monthly budget."""
    props = {"amount": amount, "currency": currency, "period": "month"}
    return activity("budget.set", customer_id, ts, props, **fields)


def provider_notice(
    category: str = "aup.crypto_mining",
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    notice_id: str = "N-1",
    severity: str = "high",
    action_required: str = "suspend",
    **fields: Any,
) -> dict[str, Any]:
    """A ``provider.notice`` activity from the provider."""
    props = {
        "notice_id": notice_id,
        "category": category,
        "severity": severity,
        "action_required": action_required,
    }
    fields.setdefault("actor", "provider")
    fields.setdefault("resource_id", RESOURCE)
    return activity("provider.notice", customer_id, ts, props, **fields)


def payment(
    kind: str,
    customer_id: str = "cust-1",
    ts: str = "2026-10-01T00:00:00Z",
    amount: float | None = 100.0,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A payment event of ``kind`` (amount in USD unless overridden)."""
    doc = _envelope("payment", customer_id, ts, event_id)
    doc["kind"] = kind
    if amount is not None:
        doc.update(amount=amount, currency="USD")
    doc.update(fields)
    return doc


def raw(doc: Any) -> bytes:
    """The wire bytes of a builder's dict."""
    return orjson.dumps(doc)


def decoded(doc: dict[str, Any]) -> Event:
    """The core event of a builder's dict (raises DecodeError if the dict is not valid)."""
    return decode_event(orjson.dumps(doc))


@dataclass
class FakeClock:
    """A wall clock for tests: returns ``now_ms``, then moves ``step_ms`` on (by default it
    stays put), and advances when told."""

    now_ms: int = 1_790_000_000_000
    step_ms: int = 0

    def __call__(self) -> int:
        now = self.now_ms
        self.now_ms += self.step_ms
        return now

    def advance(self, ms: int) -> None:
        """Move the clock forward by ``ms`` milliseconds."""
        self.now_ms += ms


# --- the core's unit tests: fixed ids, decoded events, runs ---------------------------


def ts(day: int = 1, hour: int = 0, minute: int = 0, second: int = 0, month: int = 10) -> str:
    """An RFC 3339 UTC timestamp in 2026 (October unless told)."""
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def usage_doc(
    event_id: str = "u-1",
    customer_id: str = "cust-1",
    at: str = "2026-10-01T00:00:00Z",
    cost: float = 1.0,
    **fields: Any,
) -> dict[str, Any]:
    """A usage event: one hour of a 4-vCPU VM costing ``cost`` USD, unless overridden."""
    doc: dict[str, Any] = {
        "event_id": event_id,
        "type": "usage",
        "customer_id": customer_id,
        "ts": at,
        "subscription_id": "sub-1",
        "resource_id": RESOURCE,
        "meter": "compute",
        "sku": "Standard_D4s_v5",
        "region": "westeurope",
        "quantity": 1.0,
        "unit": "hour",
        "cost": cost,
        "currency": "USD",
    }
    doc.update(fields)
    return doc


def activity_doc(
    operation: str = "signin",
    event_id: str = "a-1",
    customer_id: str = "cust-1",
    at: str = "2026-10-01T00:00:00Z",
    properties: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """An activity event by ``user@example.com`` that succeeded, unless overridden."""
    doc: dict[str, Any] = {
        "event_id": event_id,
        "type": "activity",
        "customer_id": customer_id,
        "ts": at,
        "operation": operation,
        "actor": "user@example.com",
        "status": "succeeded",
        "properties": properties if properties is not None else {},
    }
    doc.update(fields)
    return doc


def suppress_doc(
    kind: str = "*",
    match: dict[str, str] | None = None,
    *,
    until: str = "2026-12-01T00:00:00Z",
    reason: str = "known batch job",
    owner: str = "ops@example.com",
    **fields: Any,
) -> dict[str, Any]:
    """A ``feedback.suppress`` activity event (``streamwatch.core.feedback``)."""
    doc = activity_doc(
        "feedback.suppress",
        properties={"kind": kind, "match": match or {}, "until": until, "reason": reason},
        **fields,
    )
    doc["actor"] = owner
    return doc


def not_anomaly_doc(
    alert: Alert, *, reason: str = "expected", owner: str = "ops@example.com", **fields: Any
) -> dict[str, Any]:
    """A ``feedback.not_anomaly`` activity event about ``alert``, as ``streamwatch feedback``
    writes it (the alert's id, kind and evidence)."""
    props = {
        "alert_id": alert.alert_id,
        "kind": alert.kind,
        "evidence": alert.evidence,
        "reason": reason,
    }
    fields.setdefault("customer_id", alert.customer_id)
    doc = activity_doc("feedback.not_anomaly", properties=props, **fields)
    doc["actor"] = owner
    return doc


def payment_doc(
    kind: str = "payment.succeeded",
    event_id: str = "p-1",
    customer_id: str = "cust-1",
    at: str = "2026-10-01T00:00:00Z",
    **fields: Any,
) -> dict[str, Any]:
    """A payment event of 100 USD, unless overridden (``amount=None`` drops the amount)."""
    doc: dict[str, Any] = {
        "event_id": event_id,
        "type": "payment",
        "customer_id": customer_id,
        "ts": at,
        "kind": kind,
        "amount": 100.0,
        "currency": "USD",
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


def budget_set_doc(
    amount: Any = 1000, currency: Any = "USD", event_id: str = "b-1", **fields: Any
) -> dict[str, Any]:
    """A ``budget.set`` activity for a monthly budget."""
    return activity_doc(
        "budget.set",
        event_id=event_id,
        properties={"amount": amount, "currency": currency, "period": "month"},
        **fields,
    )


def notice_doc(
    notice_id: str | None = "n-1",
    category: str = "aup.crypto_mining",
    severity: str = "high",
    action_required: str = "none",
    event_id: str = "pn-1",
    **fields: Any,
) -> dict[str, Any]:
    """A ``provider.notice`` activity on the default VM (``notice_id=None`` omits the id)."""
    props: dict[str, Any] = {
        "notice_id": notice_id,
        "category": category,
        "severity": severity,
        "action_required": action_required,
    }
    fields.setdefault("actor", "provider")
    fields.setdefault("resource_id", RESOURCE)
    return activity_doc(
        "provider.notice",
        event_id=event_id,
        properties={k: v for k, v in props.items() if v is not None},
        **fields,
    )


def without(doc: dict[str, Any], *names: str) -> dict[str, Any]:
    """A copy of ``doc`` without the named keys."""
    return {k: v for k, v in doc.items() if k not in names}


def usage_event(**kw: Any) -> UsageEvent:
    """The core event of ``usage_doc(**kw)``."""
    event = event_from_dict(usage_doc(**kw))
    assert isinstance(event, UsageEvent)
    return event


def activity_event(operation: str = "signin", **kw: Any) -> ActivityEvent:
    """The core event of ``activity_doc(operation, **kw)``."""
    event = event_from_dict(activity_doc(operation, **kw))
    assert isinstance(event, ActivityEvent)
    return event


def payment_event(kind: str = "payment.succeeded", **kw: Any) -> PaymentEvent:
    """The core event of ``payment_doc(kind, **kw)``."""
    event = event_from_dict(payment_doc(kind, **kw))
    assert isinstance(event, PaymentEvent)
    return event


def budget_set_event(amount: Any = 1000, currency: Any = "USD", **kw: Any) -> ActivityEvent:
    """The core event of ``budget_set_doc(amount, currency, **kw)``."""
    event = event_from_dict(budget_set_doc(amount, currency, **kw))
    assert isinstance(event, ActivityEvent)
    return event


def notice_event(notice_id: str | None = "n-1", **kw: Any) -> ActivityEvent:
    """The core event of ``notice_doc(notice_id, **kw)``."""
    event = event_from_dict(notice_doc(notice_id, **kw))
    assert isinstance(event, ActivityEvent)
    return event


def default_policy() -> Policy:
    """The policy shipped in ``streamwatch/config/policy.toml``."""
    return parse_policy(default_policy_text())


@dataclass
class Outcome:
    """Everything a run of the core decided, in order."""

    alerts: list[Alert] = field(default_factory=list)
    requests: list[EnforcementRequest] = field(default_factory=list)
    shadowed: list[EnforcementRequest] = field(default_factory=list)
    suppressed: list[tuple[Alert, str]] = field(default_factory=list)
    """Alerts feedback held back, with the suppression's id."""


def run(fleet: Fleet, events: Iterable[Event], clock: FakeClock | None = None) -> Outcome:
    """Step every event through the fleet; collect the decisions. The wall clock starts at
    ``NOW_MS`` and moves a second per step unless given."""
    clock = clock or FakeClock(NOW_MS, step_ms=1000)
    out = Outcome()
    for event in events:
        decisions = fleet.step(event, clock())
        out.alerts.extend(decisions.alerts)
        out.requests.extend(decisions.requests)
        out.shadowed.extend(decisions.shadowed)
        out.suppressed.extend(decisions.suppressed)
    return out


def run_core(core: Core, events: Iterable[Event], clock: FakeClock | None = None) -> Outcome:
    """``run`` with a fleet of ``core``."""
    return run(Fleet(core), events, clock)


def alert_view(alert: Alert) -> dict[str, Any]:
    """The wire form of an alert without its wall-clock field, for comparing runs."""
    return {k: v for k, v in alert.to_dict().items() if k != "detected_at"}


def request_view(request: EnforcementRequest) -> dict[str, Any]:
    """The wire form of a request without its wall-clock field, for comparing runs."""
    return {k: v for k, v in request.to_dict().items() if k != "requested_at"}


def outcome_view(outcome: Outcome) -> dict[str, list[dict[str, Any]]]:
    """``outcome`` in wire form without wall-clock fields, for comparing runs."""
    return {
        "alerts": [alert_view(a) for a in outcome.alerts],
        "requests": [request_view(r) for r in outcome.requests],
        "shadowed": [request_view(r) for r in outcome.shadowed],
    }


def make_alert(
    kind: str = "provider_notice",
    severity: Any = "high",
    evidence: dict[str, Any] | None = None,
    customer_id: str = "cust-1",
    incident: str = "n-1",
    event_time: str = "2026-10-01T00:00:00Z",
    detected_at: str = "2030-01-01T00:00:00Z",
    reasons: tuple[str, ...] = ("The provider reported aup.crypto_mining.",),
    subscription_ids: tuple[str, ...] = ("sub-1",),
    score: float = 0.85,
) -> Alert:
    """An alert as the engine would make it, for policy tests."""
    return Alert(
        alert_id=stable_id(customer_id, kind, incident),
        customer_id=customer_id,
        kind=kind,
        severity=severity,
        score=score,
        event_time=event_time,
        window_start=event_time,
        window_end=event_time,
        detected_at=detected_at,
        reasons=reasons,
        evidence=evidence if evidence is not None else {},
        subscription_ids=subscription_ids,
        detector=DetectorRef("test", "1"),
    )


@dataclass
class LiveOutputs:
    """What an in-memory live run sent, as read back with read_committed (``simulate_live``)."""

    alerts: list[Alert] = field(default_factory=list)
    requests: list[EnforcementRequest] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    suppressed: list[Alert] = field(default_factory=list)
    """Alerts feedback held back (decided, not sent)."""


def simulate_live(
    core: Core,
    lines: Sequence[bytes],
    *,
    seed: int,
    partitions: int = DEFAULT_PARTITIONS,
    crashes: int = 0,
    clock: Callable[[], int] | None = None,
) -> LiveOutputs:
    """The live worker's processing of ``lines`` without a broker: what it would send.

    The lines are "produced" in order to the stream of their type on their customer's
    partition (as the producers key them; lines that do not decode go to partition 0's first
    stream, as replay routes them), then delivered as a backlog in a random interleaving of
    topic partitions and chunk sizes (``seed``), released in random batch sizes, and committed
    after random batches, as the worker's transactions are. ``crashes`` times, at random, the
    run loses everything since its last commit (outputs, states, progress) and resumes from the
    committed offsets with the committed states, as a worker restarted after SIGKILL does.
    Link keys go through one in-memory linker behind a ``SightingGate``, as the worker's ring
    agent: each partition, when it releases, says how far it has got (or that it is idle, all
    delivered and nothing queued), and the links of what the gate lets through are stepped at
    once. What the gate held is committed with the rest (the worker reads it again from its
    re-key topic); what the partitions said is forgotten at a crash (they say it again).
    """
    rng = Random(seed)  # noqa: S311 - a reproducible test order, not a secret
    clock = clock or FakeClock()
    topics: dict[tuple[int, str], list[Message]] = {}
    for raw in lines:
        decoded = decode(raw)
        if isinstance(decoded, DecodeError):
            where = (0, STREAMS[0])
        else:
            where = (partition_for(decoded.customer_id.encode(), partitions), decoded.type)
        queue = topics.setdefault(where, [])
        queue.append(Message(where[1], len(queue), None, raw))
    run = _LiveRun(core, topics, partitions, clock)
    crash_at = sorted(rng.sample(range(1, max(len(lines), 2)), min(crashes, len(lines) - 1)))
    released = 0
    while run.pending():
        if crash_at and released >= crash_at[0]:
            crash_at.pop(0)
            run.crash()
        where = rng.choice(run.pending())
        run.deliver(where, rng.randint(1, 8))
        released += run.release(where[0], rng.choice((1, 3, 50, None)))
        if rng.random() < 0.3:
            run.commit()
    for partition in range(partitions):
        # The end of the input: what waits for a partition to move on is released, as
        # replay releases it at the end.
        run.release(partition, None, final=True)
    run.commit()
    return run.committed


class _LiveRun:
    """The state of ``simulate_live``: topics, per-partition pipelines, what is committed."""

    def __init__(
        self,
        core: Core,
        topics: dict[tuple[int, str], list[Message]],
        partitions: int,
        clock: Callable[[], int],
    ) -> None:
        self.core = core
        self.topics = topics
        self.partitions = partitions
        self.clock = clock
        self.committed = LiveOutputs()
        self._snapshots: dict[int, dict[str, dict[str, Any]]] = {p: {} for p in range(partitions)}
        self._rings_snapshot: dict[str, dict[str, Any]] = {}
        self._held_snapshot: list[Sighting] = []
        self._offsets: dict[tuple[int, str], int] = {}
        """Committed: the next offset of each topic partition to process."""
        self._start()

    def _start(self) -> None:
        """A (re)started worker: committed states and offsets, nothing queued."""
        core = self.core
        self.pending_out = LiveOutputs()
        self.rings = Rings()
        self.rings.restore(self._rings_snapshot)
        self.gate = SightingGate(self.partitions)
        """Holds, as the worker's re-key topic past its committed offset does, what the
        partitions have not all passed."""
        for sighting in self._held_snapshot:
            self.gate.add(sighting)
        self.progress: dict[int, int] = {}
        self.delivered = dict(self._offsets)
        self.processed = dict(self._offsets)
        self.stores: list[DictStore] = []
        self.pipelines: list[PartitionPipeline] = []
        for partition in range(self.partitions):
            store = DictStore(core)
            for customer_id, snapshot in self._snapshots[partition].items():
                store.states[customer_id] = core.restore(snapshot)
            marks = [s.watermark_ms for s in store.states.values()]
            self.stores.append(store)
            self.pipelines.append(
                PartitionPipeline(
                    core,
                    STREAMS,
                    store,
                    clock=self.clock,
                    origin=lambda m: {"stream": m.stream, "offset": m.offset},
                    clock_ms=max(marks) if marks else None,
                )
            )

    def pending(self) -> list[tuple[int, str]]:
        """Topic partitions with messages not yet delivered."""
        return [w for w, q in self.topics.items() if self.delivered.get(w, 0) < len(q)]

    def deliver(self, where: tuple[int, str], count: int) -> None:
        start = self.delivered.get(where, 0)
        for message in self.topics[where][start : start + count]:
            self.pipelines[where[0]].add(message)
        self.delivered[where] = min(start + count, len(self.topics[where]))

    def release(self, partition: int, most: int | None, final: bool = False) -> int:
        def caught_up(stream: str, _ts_ms: int) -> bool:
            where = (partition, stream)
            return self.delivered.get(where, 0) >= len(self.topics.get(where, ()))

        pipeline = self.pipelines[partition]
        steps = pipeline.release(caught_up, final, most)
        for step in steps:
            self._take(step)
            assert step.message is not None
            self.processed[(partition, step.message.stream)] = step.message.offset + 1
            if step.event is not None:
                released = max(self.progress.get(partition, NEVER), step.event.ts_ms)
                self.progress[partition] = released
        idle = not len(pipeline.merge) and all(caught_up(stream, 0) for stream in STREAMS)
        if idle:
            self.gate.passed(partition, ALWAYS)
        elif partition in self.progress:
            # Released up to and including this time: nothing before it is still to come.
            self.gate.passed(partition, self.progress[partition])
        for sighting, _tag in self.gate.ready():
            for link in self.rings.link((sighting,), sighting.ts_ms):
                where = partition_for(link.customer_id.encode(), self.partitions)
                self._take(self.pipelines[where].step_derived(link))
        return len(steps)

    def _take(self, step: Step) -> None:
        out = self.pending_out
        if step.dead_letter is not None:
            out.dead_letters.append(step.dead_letter)
        out.alerts.extend(step.alerts)
        out.requests.extend(step.requests)
        out.suppressed.extend(alert for alert, _ in step.suppressed)
        for sighting in step.sightings:
            self.gate.add(sighting)

    def commit(self) -> None:
        """Every partition's transaction commits: outputs, states and offsets together."""
        core = self.core
        for partition, store in enumerate(self.stores):
            self._snapshots[partition] = {c: core.snapshot(s) for c, s in store.states.items()}
        self._rings_snapshot = self.rings.snapshot()
        self._held_snapshot = self.gate.held()
        self._offsets = dict(self.processed)
        self.committed.alerts.extend(self.pending_out.alerts)
        self.committed.requests.extend(self.pending_out.requests)
        self.committed.dead_letters.extend(self.pending_out.dead_letters)
        self.committed.suppressed.extend(self.pending_out.suppressed)
        self.pending_out = LiveOutputs()

    def crash(self) -> None:
        """SIGKILL and restart: whatever was not committed is gone."""
        self._start()

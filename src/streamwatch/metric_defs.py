"""Every Prometheus metric streamwatch exposes: names, help, labels, in one place.

The worker and the suspension worker each build their set on a ``CollectorRegistry`` passed
in (a test builds its own) and serve it on ``/metrics`` (``streamwatch.probes``). Counters
are per process and start at zero; Prometheus's ``rate``/``increase`` handle restarts. The
alert rules and the dashboard in ``deploy/`` use these names; a unit test keeps them in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

EVENTS_IN: Final = "streamwatch_events_in"
"""Input messages the worker processed, by topic (catalogue name; dead letters included)."""
DEAD_LETTERS: Final = "streamwatch_dead_letters"
"""Messages dead-lettered, by DecodeError code."""
ALERTS: Final = "streamwatch_alerts"
"""Alerts sent (amendments included), by kind and severity."""
REQUESTS: Final = "streamwatch_requests"
"""Enforcement requests the worker decided, by action and outcome (``sent``, ``shadowed``)."""
EVENT_TO_ALERT: Final = "streamwatch_event_to_alert_seconds"
"""From the input record's Kafka timestamp to the alert it caused being sent."""
CONSUMER_LAG: Final = "streamwatch_consumer_lag"
"""Messages between the worker's position and the end of each input partition it owns."""
COMMIT: Final = "streamwatch_commit_seconds"
"""One partition transaction's commit (state flush, offsets, commit) in the worker; one batch
commit (results flushed, offsets committed) in the suspension worker."""
CUSTOMERS_IN_STATE: Final = "streamwatch_customers_in_state"
"""Customers whose state this worker holds."""
STATE_BYTES: Final = "streamwatch_state_bytes"
"""Bytes of the snapshots of the state this worker holds (as written to the changelog)."""
RING_SIGHTINGS_HELD: Final = "streamwatch_ring_sightings_held"
"""Sign-up and card sightings the ring agent holds until every input partition has passed
them (0 on workers that do not own the ring partition)."""
RING_OLDEST_HELD: Final = "streamwatch_ring_oldest_held_seconds"
"""How long the longest-held sighting has waited in the ring agent (0 when none is held):
about the allowed lateness while input flows, far more when an input partition is stuck."""
READY: Final = "streamwatch_ready"
"""1 when the process answers ``/ready`` with 200, else 0."""
ENFORCE_REQUESTS: Final = "streamwatch_enforce_requests"
"""Requests the suspension worker handled, by action and outcome (``done``, ``failed``,
``dry_run``, ``awaiting_approval``, ``held_cap``, ``refused``, ``rejected``, ``withdrawn``,
``withdraw_failed``, ``repeat``)."""
PENDING_APPROVALS: Final = "streamwatch_pending_approvals"
"""Requests waiting for a person's approval (this deployment, read from Redis)."""
OLDEST_PENDING_APPROVAL: Final = "streamwatch_oldest_pending_approval_age_seconds"
"""How long the oldest request waiting for approval has waited (0 when none)."""
NOTIFY_ALERTS: Final = "streamwatch_notify_alerts"
"""Alert messages ``streamwatch notify`` read, by outcome (``delivered``, ``failed``: some sink
did not take it, ``stale``: an older revision than one already sent, ``invalid``:
dead-lettered)."""
NOTIFY_DELIVERIES: Final = "streamwatch_notify_deliveries"
"""POSTs to a sink, by sink (``alertmanager``, ``webhook``), purpose (``alert``, ``resend``)
and outcome (``ok``, ``failed``: after its retries)."""
NOTIFY_OPEN: Final = "streamwatch_notify_open_alerts"
"""Alerts in the book that ``streamwatch notify`` re-sends to Alertmanager."""

LATENCY_BUCKETS_S: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
COMMIT_BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

WORKER_METRICS: Final = (
    EVENTS_IN,
    DEAD_LETTERS,
    ALERTS,
    REQUESTS,
    EVENT_TO_ALERT,
    CONSUMER_LAG,
    COMMIT,
    CUSTOMERS_IN_STATE,
    STATE_BYTES,
    RING_SIGHTINGS_HELD,
    RING_OLDEST_HELD,
    READY,
)
NOTIFY_METRICS: Final = (
    NOTIFY_ALERTS,
    NOTIFY_DELIVERIES,
    NOTIFY_OPEN,
    DEAD_LETTERS,
    READY,
)
ENFORCE_METRICS: Final = (
    ENFORCE_REQUESTS,
    DEAD_LETTERS,
    COMMIT,
    PENDING_APPROVALS,
    OLDEST_PENDING_APPROVAL,
    READY,
)


@dataclass(frozen=True, slots=True)
class WorkerMetrics:
    """The live worker's metrics, registered on ``registry``."""

    registry: CollectorRegistry
    events_in: Counter
    dead_letters: Counter
    alerts: Counter
    requests: Counter
    event_to_alert: Histogram
    consumer_lag: Gauge
    commit: Histogram
    customers_in_state: Gauge
    state_bytes: Gauge
    ring_sightings_held: Gauge
    ring_oldest_held: Gauge
    ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> WorkerMetrics:
        """Register every worker metric on ``registry``."""
        return cls(
            registry=registry,
            events_in=Counter(EVENTS_IN, _help(EVENTS_IN), ["topic"], registry=registry),
            dead_letters=Counter(DEAD_LETTERS, _help(DEAD_LETTERS), ["code"], registry=registry),
            alerts=Counter(ALERTS, _help(ALERTS), ["kind", "severity"], registry=registry),
            requests=Counter(REQUESTS, _help(REQUESTS), ["action", "outcome"], registry=registry),
            event_to_alert=Histogram(
                EVENT_TO_ALERT, _help(EVENT_TO_ALERT), buckets=LATENCY_BUCKETS_S, registry=registry
            ),
            consumer_lag=Gauge(
                CONSUMER_LAG, _help(CONSUMER_LAG), ["topic", "partition"], registry=registry
            ),
            commit=Histogram(COMMIT, _help(COMMIT), buckets=COMMIT_BUCKETS_S, registry=registry),
            customers_in_state=Gauge(
                CUSTOMERS_IN_STATE, _help(CUSTOMERS_IN_STATE), registry=registry
            ),
            state_bytes=Gauge(STATE_BYTES, _help(STATE_BYTES), registry=registry),
            ring_sightings_held=Gauge(
                RING_SIGHTINGS_HELD, _help(RING_SIGHTINGS_HELD), registry=registry
            ),
            ring_oldest_held=Gauge(RING_OLDEST_HELD, _help(RING_OLDEST_HELD), registry=registry),
            ready=Gauge(READY, _help(READY), registry=registry),
        )


@dataclass(frozen=True, slots=True)
class EnforceMetrics:
    """The suspension worker's metrics, registered on ``registry``."""

    registry: CollectorRegistry
    requests: Counter
    dead_letters: Counter
    commit: Histogram
    pending_approvals: Gauge
    oldest_pending_approval: Gauge
    ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> EnforceMetrics:
        """Register every suspension-worker metric on ``registry``."""
        return cls(
            registry=registry,
            requests=Counter(
                ENFORCE_REQUESTS, _help(ENFORCE_REQUESTS), ["action", "outcome"], registry=registry
            ),
            dead_letters=Counter(DEAD_LETTERS, _help(DEAD_LETTERS), ["code"], registry=registry),
            commit=Histogram(COMMIT, _help(COMMIT), buckets=COMMIT_BUCKETS_S, registry=registry),
            pending_approvals=Gauge(PENDING_APPROVALS, _help(PENDING_APPROVALS), registry=registry),
            oldest_pending_approval=Gauge(
                OLDEST_PENDING_APPROVAL, _help(OLDEST_PENDING_APPROVAL), registry=registry
            ),
            ready=Gauge(READY, _help(READY), registry=registry),
        )


@dataclass(frozen=True, slots=True)
class NotifyMetrics:
    """The metrics of ``streamwatch notify``, registered on ``registry``."""

    registry: CollectorRegistry
    alerts: Counter
    deliveries: Counter
    open_alerts: Gauge
    dead_letters: Counter
    ready: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> NotifyMetrics:
        """Register every notify metric on ``registry``."""
        return cls(
            registry=registry,
            alerts=Counter(NOTIFY_ALERTS, _help(NOTIFY_ALERTS), ["outcome"], registry=registry),
            deliveries=Counter(
                NOTIFY_DELIVERIES,
                _help(NOTIFY_DELIVERIES),
                ["sink", "purpose", "outcome"],
                registry=registry,
            ),
            open_alerts=Gauge(NOTIFY_OPEN, _help(NOTIFY_OPEN), registry=registry),
            dead_letters=Counter(DEAD_LETTERS, _help(DEAD_LETTERS), ["code"], registry=registry),
            ready=Gauge(READY, _help(READY), registry=registry),
        )


_HELP: Final = {
    EVENTS_IN: "Input messages processed, by topic (dead letters included).",
    DEAD_LETTERS: "Messages dead-lettered, by reason code.",
    ALERTS: "Alerts sent (amendments included), by kind and severity.",
    REQUESTS: "Enforcement requests decided, by action and outcome (sent, shadowed).",
    EVENT_TO_ALERT: "Seconds from an input record's Kafka timestamp to the alert it caused.",
    CONSUMER_LAG: "Messages between the worker's position and the end of an input partition.",
    COMMIT: "Seconds one commit took (worker: a partition transaction; enforce: a batch).",
    CUSTOMERS_IN_STATE: "Customers whose state this worker holds.",
    STATE_BYTES: "Bytes of the state snapshots this worker holds.",
    RING_SIGHTINGS_HELD: "Ring sightings waiting for every input partition's progress.",
    RING_OLDEST_HELD: "Seconds the longest-held ring sighting has waited (0 when none is).",
    READY: "1 when the process is ready (answers /ready with 200).",
    ENFORCE_REQUESTS: "Enforcement requests handled by the suspension worker, by outcome.",
    PENDING_APPROVALS: "Enforcement requests waiting for approval.",
    OLDEST_PENDING_APPROVAL: "Seconds the oldest request waiting for approval has waited.",
    NOTIFY_ALERTS: "Alert messages read by streamwatch notify, by outcome.",
    NOTIFY_DELIVERIES: "POSTs to an alert sink, by sink, purpose and outcome.",
    NOTIFY_OPEN: "Open alerts streamwatch notify re-sends to Alertmanager.",
}


def _help(name: str) -> str:
    return _HELP[name]

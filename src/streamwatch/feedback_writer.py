"""Feedback events as people write them (``streamwatch suppress``, ``streamwatch feedback``, the
console), and the one way they reach the live worker: the activity topic.

The events are the wire contract's activity events read by ``streamwatch.core.feedback``; each
is checked by the codec before it leaves, so a writer never produces what the worker would
dead-letter. Event ids derive from the content, so sending the same feedback twice is
deduplicated downstream.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streamwatch.core import feedback
from streamwatch.core.codec import event_from_dict
from streamwatch.core.ids import stable_id
from streamwatch.kafka_clients import client_options
from streamwatch.settings import DeploymentSettings


def _event(
    customer_id: str, operation: str, owner: str, at: str, props: dict[str, Any]
) -> dict[str, Any]:
    """An activity event of ``operation``; raises codec.DecodeError if it breaks the contract."""
    event = {
        "event_id": "fb-"
        + stable_id(
            customer_id,
            operation,
            at,
            owner,
            orjson.dumps(props, option=orjson.OPT_SORT_KEYS).decode(),
        )[:24],
        "type": "activity",
        "customer_id": customer_id,
        "ts": at,
        "operation": operation,
        "actor": owner,
        "status": "succeeded",
        "resource_id": "",
        "properties": props,
    }
    event_from_dict(event)
    return event


def suppress_event(
    customer_id: str,
    *,
    kind: str,
    match: dict[str, str],
    until: str,
    reason: str,
    owner: str,
    at: str,
    suppression_id: str = "",
) -> dict[str, Any]:
    """A ``feedback.suppress`` event (an ``until`` not after ``at`` withdraws the suppression
    of that scope, or of ``suppression_id`` when given). Raises codec.DecodeError."""
    props: dict[str, Any] = {"kind": kind, "match": match, "until": until, "reason": reason}
    if suppression_id:
        props["id"] = suppression_id
    return _event(customer_id, feedback.SUPPRESS, owner, at, props)


def not_anomaly_event(
    alert: dict[str, Any], *, reason: str, owner: str, at: str, until: str | None = None
) -> dict[str, Any]:
    """A ``feedback.not_anomaly`` event about ``alert`` (its wire form): its id, kind and
    evidence travel with it, so the event alone says what it means. Raises codec.DecodeError."""
    evidence = alert.get("evidence")
    props: dict[str, Any] = {
        "alert_id": alert["alert_id"],
        "kind": alert["kind"],
        "evidence": evidence if isinstance(evidence, dict) else {},
        "reason": reason,
    }
    if until is not None:
        props["until"] = until
    return _event(alert["customer_id"], feedback.NOT_ANOMALY, owner, at, props)


async def produce(settings: DeploymentSettings, event: dict[str, Any]) -> None:
    """Send ``event`` to the activity topic, keyed by its customer, and wait for the broker's
    acknowledgement. Raises KafkaError or OSError when Kafka cannot be used."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic("activity"),
            orjson.dumps(event),
            key=event["customer_id"].encode(),
        )
    finally:
        await producer.stop()

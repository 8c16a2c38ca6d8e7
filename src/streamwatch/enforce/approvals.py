"""What ``streamwatch approve`` and ``streamwatch reject`` do: check the request's record, send
a signed decision to the ``enforcement-decisions`` topic, and optionally wait for its result.

The commands never change a record themselves: the enforce worker is its only writer, so that
a decision goes through the same compare-and-set as everything else and lands on the results
topic like every other outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from streamwatch import exits
from streamwatch.core.signing import signed
from streamwatch.enforce.decide import APPLYING, DONE, WITHDRAWING, Nothing, Record, on_decision
from streamwatch.enforce.messages import (
    Decision,
    DecisionKind,
    decision_message,
)
from streamwatch.enforce.store import RequestStore
from streamwatch.kafka_clients import client_options
from streamwatch.settings import DeploymentSettings

POLL_S: Final = 0.2


@dataclass(frozen=True, slots=True)
class Sent:
    """What the command did: ``exit_code`` and the lines to print (``error`` for stderr)."""

    exit_code: int
    lines: tuple[str, ...] = ()
    error: str = ""


async def decide(
    settings: DeploymentSettings,
    redis: Redis,
    request_id: str,
    kind: DecisionKind,
    by: str,
    note: str,
    *,
    wait_s: float = 0.0,
    clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
) -> Sent:
    """Send ``kind`` on ``request_id`` if it would change something, signed with the key of
    the person ``by`` names (STREAMWATCH_APPROVER_KEY: ``by`` must be its name); wait up to
    ``wait_s`` for the worker's result. Raises redis.RedisError or KafkaError if a service is
    unreachable."""
    if settings.approver_key is None:
        return Sent(
            exits.USAGE,
            error="STREAMWATCH_APPROVER_KEY is not set: a decision is signed with its "
            "approver's own key (name:secret), one of the suspension worker's "
            "STREAMWATCH_APPROVER_KEYS",
        )
    key_id, key = settings.approver_key
    if by != key_id:
        return Sent(
            exits.USAGE,
            error=f"--by {by} but STREAMWATCH_APPROVER_KEY is the key of {key_id!r}: a "
            "decision is made in the name of the key that signs it",
        )
    store = RequestStore(redis, settings.redis_prefix)
    found = await store.load(request_id)
    if found is None:
        return Sent(
            exits.NOTHING_FOUND,
            error=f"no enforcement request {request_id!r}: the enforce worker has not recorded "
            "it (check the id, and STREAMWATCH_TOPIC_PREFIX)",
        )
    record, _ = found
    doc = decision_message(request_id, record.request.customer_id, kind, by, note, clock())
    decision = Decision(
        request_id=request_id,
        customer_id=record.request.customer_id,
        decision=kind,
        by=by,
        note=note,
        at=doc["at"],
        doc=doc,
    )
    step = on_decision(decision, record)
    if isinstance(step, Nothing):
        return Sent(exits.NOTHING_FOUND, error=step.reason)
    await _send(settings, signed(doc, key_id, key), record.request.customer_id)
    what = _describe(kind, record)
    lines = [f"{what}: sent by {by}"]
    if wait_s <= 0:
        lines.append("the enforce worker reports the outcome on the enforcement-results topic")
        return Sent(exits.OK, tuple(lines))
    result = await _wait(store, request_id, record, wait_s)
    if result is None:
        lines.append(f"no result from the enforce worker within {wait_s:g} s; is it running?")
        return Sent(exits.NO_OUTCOME, tuple(lines))
    lines.append(f"{result['outcome']}: {result['reason']}")
    return Sent(exits.NOTHING_FOUND if result["outcome"] == "failed" else exits.OK, tuple(lines))


async def pending(redis: Redis, settings: DeploymentSettings, limit: int = 100) -> list[Record]:
    """The requests awaiting approval, oldest first."""
    return await RequestStore(redis, settings.redis_prefix).pending(limit)


def pending_json(records: list[Record]) -> list[bytes]:
    """One JSON line per request awaiting approval: the request and why it waits."""
    return [
        orjson.dumps(
            {
                **record.request.doc,
                "reason_held": record.result["reason"] if record.result else None,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        for record in records
    ]


def format_pending(records: list[Record]) -> list[str]:
    """One line per request awaiting approval, then its reason."""
    if not records:
        return ["no enforcement request is awaiting approval"]
    lines = []
    for record in records:
        request = record.request
        lines.append(
            f"{request.request_id}  {request.action:<18} customer {request.customer_id}  "
            f"rule {request.policy}"
        )
        if record.result is not None:
            lines.append(f"    {record.result['reason']}")
    return lines


def _describe(kind: DecisionKind, record: Record) -> str:
    request = record.request
    target = f"{request.action} of customer {request.customer_id} (request {request.request_id})"
    if kind == "approve":
        return f"approval of the {target}"
    if record.state in (DONE, WITHDRAWING):
        return f"withdrawal of the approved {target}; the worker will ask the backend to resume"
    return f"rejection of the {target}"


async def _send(settings: DeploymentSettings, decision: dict[str, Any], customer_id: str) -> None:
    producer = AIOKafkaProducer(**client_options(settings), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topics.enforcement_decisions,
            orjson.dumps(decision),
            key=customer_id.encode(),
        )
    finally:
        await producer.stop()


async def _wait(
    store: RequestStore, request_id: str, before: Record, wait_s: float
) -> dict[str, Any] | None:
    """The request's next result, once the worker has recorded one after ``before``."""
    old = before.result["result_id"] if before.result is not None else None
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        found = await store.load(request_id)
        if found is not None:
            record, _ = found
            settled = record.state not in (APPLYING, WITHDRAWING)
            if settled and record.result is not None and record.result["result_id"] != old:
                return record.result
        await asyncio.sleep(POLL_S)
    return None

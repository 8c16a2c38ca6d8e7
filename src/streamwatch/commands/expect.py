"""``streamwatch expect``: record planned growth of a customer's spend (feedback).

    streamwatch expect CUSTOMER --until T --reason TEXT [--owner NAME] [--factor F] [--at T]
                       (--out FILE | --kafka)

Planned growth (a launch, a promotion, a migration) would otherwise look like a spend spike.
The command turns it into data: an activity event with operation ``feedback.expect``, actor =
the owner, and properties ``until`` (RFC 3339), ``reason`` and ``factor``, at event time
``--at`` (default: now). The spend-spike detector reads it from the event stream and allows that
customer ``factor`` times its usual spend until ``until``; alerts beyond the allowance name the
owner, reason and expiry. Because the feedback travels with the events, live and replay decide
alike. A later ``expect`` replaces the earlier one; ``--factor 1`` withdraws it.

``--out FILE`` appends the event to a JSONL file, for replay next to the other inputs.
``--kafka`` produces it to the activity topic (key = customer id; broker and topic prefix from
STREAMWATCH_KAFKA and STREAMWATCH_TOPIC_PREFIX) for the live worker, and records it in Redis
(STREAMWATCH_REDIS) as the hash ``<prefix>streamwatch:expect:<customer>`` with owner, reason,
until, factor, set_at and event_id, expiring at ``until``, so that people can see it.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamwatch import exits

HELP = (
    "Record planned growth: allow a customer FACTOR x its usual spend until a time "
    "(a feedback.expect event, to a JSONL file or to Kafka and Redis)."
)


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("customer_id", help="the customer whose spend will grow")
    parser.add_argument("--until", required=True, help="RFC 3339 time the allowance expires")
    parser.add_argument("--reason", required=True, help="why the spend grows (shown in alerts)")
    parser.add_argument("--owner", help="who answers for it (default: the current user)")
    parser.add_argument(
        "--factor",
        type=float,
        default=2.0,
        help="allowed multiple of the usual spend (default 2; 1 withdraws an earlier one)",
    )
    parser.add_argument("--at", help="event time, RFC 3339 (default: now)")
    parser.add_argument("--out", type=Path, help="append the event to this JSONL file")
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="produce the event to the activity topic and record it in Redis (live path)",
    )


def feedback_event(
    customer_id: str, *, until: str, reason: str, owner: str, factor: float, at: str
) -> dict[str, Any]:
    """The ``feedback.expect`` activity event (a wire-contract dict); its id derives from its
    content, so recording the same feedback twice is deduplicated downstream."""
    from streamwatch.core.ids import stable_id

    props = {"until": until, "reason": reason, "factor": factor}
    return {
        "event_id": "fb-" + stable_id(customer_id, at, owner, until, reason, repr(factor))[:24],
        "type": "activity",
        "customer_id": customer_id,
        "ts": at,
        "operation": "feedback.expect",
        "actor": owner,
        "status": "succeeded",
        "resource_id": "",
        "properties": props,
    }


def run(args: argparse.Namespace) -> int:
    """Validate, build the event, then write it where asked."""
    import orjson

    from streamwatch.core.codec import DecodeError, event_from_dict
    from streamwatch.core.timeutil import TimestampError, format_ts, parse_ts_ms

    if args.out is None and not args.kafka:
        print("streamwatch expect: give --out FILE, --kafka, or both", file=sys.stderr)
        return exits.USAGE
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    try:
        at_ms = parse_ts_ms(args.at) if args.at else now_ms
        until_ms = parse_ts_ms(args.until)
    except TimestampError as exc:
        print(f"streamwatch expect: {exc}", file=sys.stderr)
        return exits.USAGE
    problem = None
    if until_ms <= at_ms:
        problem = f"--until {args.until} is not after the event time {format_ts(at_ms)}"
    elif not args.factor >= 1.0:
        problem = f"--factor must be at least 1, not {args.factor}"
    elif not args.reason.strip():
        problem = "--reason must say why"
    if problem:
        print(f"streamwatch expect: {problem}", file=sys.stderr)
        return exits.USAGE
    event = feedback_event(
        args.customer_id,
        until=format_ts(until_ms),
        reason=args.reason.strip(),
        owner=args.owner or getpass.getuser(),
        factor=args.factor,
        at=format_ts(at_ms),
    )
    try:
        event_from_dict(event)
    except DecodeError as exc:
        print(f"streamwatch expect: {exc.reason}", file=sys.stderr)
        return exits.USAGE
    line = orjson.dumps(event)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("ab") as handle:
            handle.write(line + b"\n")
        print(f"appended {event['event_id']} to {args.out}")
    if args.kafka:
        import asyncio

        code = asyncio.run(_live(event, until_ms))
        if code:
            return code
    props = event["properties"]
    print(
        f"{args.customer_id}: spend up to {props['factor']:g}x usual allowed until "
        f"{props['until']} ({props['reason']}; owner {event['actor']})"
    )
    return 0


async def _live(event: dict[str, Any], until_ms: int) -> int:
    """Produce to the activity topic, then record the hash in Redis."""
    from aiokafka.errors import KafkaError
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from streamwatch.feedback_writer import produce
    from streamwatch.kafka_clients import client_options
    from streamwatch.settings import DeploymentSettings, SettingsError

    try:
        settings = DeploymentSettings.from_env()
        client_options(settings)  # unusable TLS files are a usage error, before any I/O
    except SettingsError as exc:
        print(f"streamwatch expect: {exc}", file=sys.stderr)
        return exits.USAGE
    topic = settings.topic("activity")
    customer = event["customer_id"]
    try:
        await produce(settings, event)
    except (KafkaError, OSError) as exc:
        print(
            f"streamwatch expect: cannot produce to {topic} at {settings.kafka}: {exc}\n"
            "Is Kafka running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    print(f"produced {event['event_id']} to {topic}")
    key = f"{settings.redis_prefix}expect:{customer}"
    props = event["properties"]
    client = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.hset(
            key,
            mapping={
                "owner": event["actor"],
                "reason": props["reason"],
                "until": props["until"],
                "factor": repr(props["factor"]),
                "set_at": event["ts"],
                "event_id": event["event_id"],
            },
        )
        await client.pexpireat(key, until_ms)
    except (RedisError, OSError) as exc:
        print(
            f"streamwatch expect: the event is on {topic}, but Redis at {settings.redis} did "
            f"not record it: {exc}",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    finally:
        await client.aclose()
    print(f"recorded {key} in Redis (expires {props['until']})")
    return 0

"""``streamwatch suppress``: hold back a customer's matching alerts until a time (feedback).

    streamwatch suppress CUSTOMER --until T --reason TEXT [--kind GLOB] [--match FIELD=GLOB]...
                         [--owner NAME] [--at T] (--out FILE | --kafka)
    streamwatch suppress CUSTOMER --expire ID [--owner NAME] [--at T] (--out FILE | --kafka)
    streamwatch suppress --list [CUSTOMER] [--json]

A suppression is a ``feedback.suppress`` activity event (``streamwatch.core.feedback``): alerts
of the customer whose kind matches ``--kind`` (a glob, default every kind) and whose evidence
fields match every ``--match FIELD=GLOB`` (as the policy's ``where`` does) are decided but not
sent, and not acted on, until ``--until`` (event time); they are counted and shown as
suppressed. Suppressing the same scope again replaces it; ``--expire ID`` withdraws one now.
The event travels like any other (``--out`` appends it to a JSONL file for replay, ``--kafka``
produces it to the activity topic for the live worker), so live and replay decide alike.
``--list`` prints the suppressions the live view in Redis shows (those the worker holds).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamwatch import exits

HELP = "Hold back a customer's matching alerts until a time, with an owner and a reason."


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("customer_id", nargs="?", help="the customer whose alerts to hold back")
    parser.add_argument("--kind", default="*", help="alert kinds, a glob (default: every kind)")
    parser.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="FIELD=GLOB",
        help="an evidence field and the glob its value must match (repeatable; default none)",
    )
    parser.add_argument("--until", help="RFC 3339 time (event time) the suppression expires")
    parser.add_argument("--reason", help="why these alerts are expected (shown with them)")
    parser.add_argument("--expire", metavar="ID", help="withdraw the suppression with this id")
    parser.add_argument("--list", action="store_true", help="list suppressions from Redis")
    parser.add_argument("--json", action="store_true", help="with --list: JSON lines")
    add_writer_options(parser)


def add_writer_options(parser: argparse.ArgumentParser) -> None:
    """``--owner``, ``--at``, ``--out`` and ``--kafka``, shared with ``streamwatch feedback``."""
    parser.add_argument("--owner", help="who answers for it (default: the current user)")
    parser.add_argument("--at", help="event time, RFC 3339 (default: now)")
    parser.add_argument("--out", type=Path, help="append the event to this JSONL file")
    parser.add_argument(
        "--kafka", action="store_true", help="produce the event to the activity topic (live)"
    )


def now_ts() -> str:
    """The wall clock as an RFC 3339 event time."""
    from streamwatch.core.timeutil import format_ts

    return format_ts(int(datetime.now(UTC).timestamp() * 1000))


def run(args: argparse.Namespace) -> int:
    """Build the event, then write it where asked (or list)."""
    from streamwatch.core.codec import DecodeError
    from streamwatch.core.timeutil import TimestampError, format_ts, parse_ts_ms
    from streamwatch.feedback_writer import suppress_event

    name = "streamwatch suppress"
    if args.list:
        return _list(args.customer_id, args.json)
    if not args.customer_id:
        print(f"{name}: give a CUSTOMER (or --list)", file=sys.stderr)
        return exits.USAGE
    match: dict[str, str] = {}
    for item in args.match:
        field, sep, glob = item.partition("=")
        if not sep or not field:
            print(f"{name}: --match {item!r} is not FIELD=GLOB", file=sys.stderr)
            return exits.USAGE
        match[field] = glob
    try:
        at = format_ts(parse_ts_ms(args.at)) if args.at else now_ts()
        if args.expire:
            until = at
        elif not args.until or not (args.reason or "").strip():
            print(f"{name}: give --until and --reason (or --expire ID)", file=sys.stderr)
            return exits.USAGE
        else:
            until = format_ts(parse_ts_ms(args.until))
            if parse_ts_ms(until) <= parse_ts_ms(at):
                print(f"{name}: --until {until} is not after the event time {at}", file=sys.stderr)
                return exits.USAGE
        event = suppress_event(
            args.customer_id,
            kind=args.kind,
            match=match,
            until=until,
            reason=(args.reason or "withdrawn").strip(),
            owner=args.owner or getpass.getuser(),
            at=at,
            suppression_id=args.expire or "",
        )
    except (TimestampError, DecodeError) as exc:
        print(f"{name}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return exits.USAGE
    code = write_event(name, event, args.out, args.kafka)
    if code == exits.OK:
        what = "withdrawn" if args.expire else f"held back until {until}"
        print(
            f"{args.customer_id}: alerts of kind {args.kind} matching {match or 'anything'} {what}"
        )
    return code


def write_event(name: str, event: dict[str, Any], out: Path | None, kafka: bool) -> int:
    """Append ``event`` to ``out`` and/or produce it to the activity topic; the exit code."""
    import asyncio

    import orjson

    if out is None and not kafka:
        print(f"{name}: give --out FILE, --kafka, or both", file=sys.stderr)
        return exits.USAGE
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("ab") as handle:
            handle.write(orjson.dumps(event) + b"\n")
        print(f"appended {event['event_id']} to {out}")
    if kafka:
        return asyncio.run(_produce(name, event))
    return exits.OK


async def _produce(name: str, event: dict[str, Any]) -> int:
    from aiokafka.errors import KafkaError

    from streamwatch.feedback_writer import produce
    from streamwatch.settings import DeploymentSettings, SettingsError

    try:
        settings = DeploymentSettings.from_env()
        await produce(settings, event)
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exits.USAGE
    except (KafkaError, OSError) as exc:
        print(
            f"{name}: cannot produce to the activity topic: {exc}\n"
            "Is Kafka running? Start it with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    print(f"produced {event['event_id']} to {settings.topic('activity')}")
    return exits.OK


def _list(customer_id: str | None, as_json: bool) -> int:
    import asyncio

    import orjson
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from streamwatch.live.redis_view import RiskView
    from streamwatch.settings import DeploymentSettings, SettingsError

    async def listed() -> list[dict[str, Any]]:
        settings = DeploymentSettings.from_env()
        client = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
        try:
            return await RiskView(client, settings.redis_prefix).suppressions(customer_id)
        finally:
            await client.aclose()

    try:
        rows = asyncio.run(listed())
    except SettingsError as exc:
        print(f"streamwatch suppress: {exc}", file=sys.stderr)
        return exits.USAGE
    except (RedisError, OSError) as exc:
        print(f"streamwatch suppress: cannot read Redis: {exc}", file=sys.stderr)
        return exits.UNAVAILABLE
    for row in rows:
        if as_json:
            sys.stdout.buffer.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        else:
            print(
                f"{row['id']}  {row['customer_id']}  kind {row['kind']}  match {row['match']}  "
                f"until {row['until']}  owner {row['owner']}: {row['reason']}"
            )
    if not rows and not as_json:
        print("no suppression in effect")
    return exits.OK

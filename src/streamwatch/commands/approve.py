"""``streamwatch approve``: approve an enforcement request held for approval, or list them."""

from __future__ import annotations

import argparse
import sys

from streamwatch import exits

HELP = "Approve an enforcement request awaiting approval (the enforce worker then applies it)."


def configure(parser: argparse.ArgumentParser) -> None:
    """``approve REQUEST_ID [--by NAME] [--note TEXT] [--wait S]`` or ``approve --list``."""
    parser.add_argument("request_id", nargs="?", metavar="REQUEST_ID", help="the request")
    parser.add_argument(
        "--list", action="store_true", help="list the requests awaiting approval instead"
    )
    parser.add_argument(
        "--json", action="store_true", help="with --list: one JSON object per request"
    )
    add_decision_options(parser)


def add_decision_options(parser: argparse.ArgumentParser) -> None:
    """``--by``, ``--note`` and ``--wait``, shared with ``streamwatch reject``."""
    parser.add_argument(
        "--by",
        metavar="NAME",
        default=None,
        help="who decides: the name of your STREAMWATCH_APPROVER_KEY (the default)",
    )
    parser.add_argument(
        "--note", metavar="TEXT", default="", help="why, for the record (default: none)"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for the worker's outcome and print it (exit 3 if none)",
    )


def run(args: argparse.Namespace) -> int:
    """Send the approval (or list pending requests); see ``streamwatch.enforce.approvals``."""
    if args.list == (args.request_id is not None):
        print("streamwatch approve: give a REQUEST_ID or --list (not both)", file=sys.stderr)
        return exits.USAGE
    return decide_command(args, "approve")


def decide_command(args: argparse.Namespace, kind: str) -> int:
    """Run ``approve`` or ``reject`` with the parsed ``args``; returns the exit code."""
    import asyncio

    return asyncio.run(_decide(args, kind))


async def _decide(args: argparse.Namespace, kind: str) -> int:
    from aiokafka.errors import KafkaError
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from streamwatch.enforce import approvals
    from streamwatch.settings import DeploymentSettings, SettingsError

    name = f"streamwatch {kind}"
    try:
        settings = DeploymentSettings.from_env()
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exits.USAGE
    client = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
    try:
        if getattr(args, "list", False):
            records = await approvals.pending(client, settings)
            if getattr(args, "json", False):
                for encoded in approvals.pending_json(records):
                    sys.stdout.buffer.write(encoded)
            else:
                for line in approvals.format_pending(records):
                    print(line)
            return exits.OK
        by = args.by or (settings.approver_key[0] if settings.approver_key else "")
        sent = await approvals.decide(
            settings,
            client,
            args.request_id,
            "approve" if kind == "approve" else "reject",
            by,
            args.note,
            wait_s=args.wait,
        )
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exits.USAGE
    except (RedisError, KafkaError, OSError) as exc:
        print(
            f"{name}: cannot reach Redis at {settings.redis} or Kafka at {settings.kafka}: "
            f"{exc}\nStart them with: bash deploy/services.sh up",
            file=sys.stderr,
        )
        return exits.UNAVAILABLE
    finally:
        await client.aclose()
    for line in sent.lines:
        print(line)
    if sent.error:
        print(f"{name}: {sent.error}", file=sys.stderr)
    return sent.exit_code

"""``streamwatch feedback``: tell streamwatch an alert was not an anomaly.

    streamwatch feedback ALERT_ID --not-anomaly --reason TEXT [--until T] [--alerts FILE]
                         [--owner NAME] [--at T] (--out FILE | --kafka)

The alert is looked up in ``--alerts FILE`` (JSON lines, as replay writes them) or else on the
``alerts`` topic, and a ``feedback.not_anomaly`` activity event carrying its id, kind and
evidence is written (``streamwatch.core.feedback``). spend_spike and network_abuse learn the
alert's level as normal for that customer (its baseline, its peak); for other kinds the same
evidence pattern of that customer is suppressed until ``--until`` (default 90 days after the
event time). ``--out`` appends the event to a JSONL file for replay, ``--kafka`` produces it to
the activity topic for the live worker, so live and replay decide alike.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from streamwatch import exits

HELP = "Tell streamwatch an alert was not an anomaly (learned, or its pattern suppressed)."


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    from streamwatch.commands.suppress import add_writer_options

    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("alert_id", metavar="ALERT_ID", help="the alert")
    parser.add_argument(
        "--not-anomaly", action="store_true", required=True, help="the alert was expected"
    )
    parser.add_argument("--reason", required=True, help="why it is normal for this customer")
    parser.add_argument("--until", help="RFC 3339 time a suppression made of it expires")
    parser.add_argument("--alerts", type=Path, help="find the alert in this JSONL file")
    add_writer_options(parser)


def run(args: argparse.Namespace) -> int:
    """Find the alert, build the event, write it where asked."""
    import asyncio

    from streamwatch.commands.suppress import now_ts, write_event
    from streamwatch.core.codec import DecodeError
    from streamwatch.core.timeutil import TimestampError, format_ts, parse_ts_ms
    from streamwatch.feedback_writer import not_anomaly_event

    name = "streamwatch feedback"
    if args.alerts is not None:
        alert = _from_file(args.alerts, args.alert_id)
    else:
        found = asyncio.run(_from_topic(name, args.alert_id))
        if isinstance(found, int):
            return found
        alert = found
    if alert is None:
        where = args.alerts or "the alerts topic"
        print(f"{name}: no alert {args.alert_id!r} in {where}", file=sys.stderr)
        return exits.NOTHING_FOUND
    try:
        at = format_ts(parse_ts_ms(args.at)) if args.at else now_ts()
        until = format_ts(parse_ts_ms(args.until)) if args.until else None
        event = not_anomaly_event(
            alert,
            reason=args.reason.strip(),
            owner=args.owner or getpass.getuser(),
            at=at,
            until=until,
        )
    except (TimestampError, DecodeError) as exc:
        print(f"{name}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return exits.USAGE
    code = write_event(name, event, args.out, args.kafka)
    if code == exits.OK:
        print(
            f"{alert['customer_id']}: {alert['kind']} alert {args.alert_id} marked not an anomaly"
        )
    return code


def _from_file(path: Path, alert_id: str) -> dict[str, Any] | None:
    """The last revision of the alert in a JSONL file, or None."""
    import orjson

    found = None
    with path.open("rb") as handle:
        for line in handle:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(doc, dict) and doc.get("alert_id") == alert_id:
                found = doc
    return found


async def _from_topic(name: str, alert_id: str) -> dict[str, Any] | int | None:
    """The last revision of the alert on the alerts topic, None, or an exit code."""
    from aiokafka.errors import KafkaError

    from streamwatch.settings import DeploymentSettings, SettingsError
    from streamwatch.web.feed import find_alert

    try:
        settings = DeploymentSettings.from_env()
        return await find_alert(settings, alert_id)
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exits.USAGE
    except (KafkaError, OSError, LookupError) as exc:
        print(f"{name}: cannot read the alerts topic: {exc}", file=sys.stderr)
        return exits.UNAVAILABLE

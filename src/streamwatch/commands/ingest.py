"""``streamwatch ingest``: map a raw topic of a real-world format onto the input topics, live.

    streamwatch ingest FORMAT --from TOPIC [--customers CSV] [--customer ID]
                       [--subscription ID] [--rates FILE] [--tz ZONE] [--cost billed|effective]

A Faust agent (consumer group ``<app id>-ingest-<FORMAT>``) reads TOPIC, for example the Event
Hub that Azure diagnostic settings stream the activity log to (through the Event Hubs Kafka
endpoint), maps each record with the FORMAT adapter (see ``streamwatch import --help``) and
produces the events to the usage, activity and payments topics; refused records go to the
dead-letter topic with code ``unmappable`` and the adapter's reason. Broker, prefix and app id
come from STREAMWATCH_KAFKA, STREAMWATCH_TOPIC_PREFIX and STREAMWATCH_APP_ID. Runs until
SIGTERM or SIGINT. Redelivered records map to the same event ids: the worker processes each once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streamwatch import exits

HELP = "map a raw topic (e.g. an activity-log Event Hub) onto the input topics, live"


def configure(parser: argparse.ArgumentParser) -> None:
    """The command's arguments; its help is the module docstring."""
    from streamwatch.adapters import FORMATS
    from streamwatch.commands.importer import add_time_and_cost_options

    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("format", choices=sorted(FORMATS), help="the raw topic's format")
    parser.add_argument("--from", dest="source", required=True, help="the raw topic to read")
    parser.add_argument("--customers", type=Path, help="CSV key,customer_id")
    parser.add_argument("--customer", help="customer id for records that name none")
    parser.add_argument("--subscription", help="subscription id for records that name none")
    parser.add_argument("--rates", type=Path, help="unit prices (see streamwatch import)")
    add_time_and_cost_options(parser)
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="log level (JSON lines on stderr; default info)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the context and the app, then run the worker until stopped."""
    import asyncio

    import faust

    from streamwatch import logging as swlog
    from streamwatch.adapters import FORMATS
    from streamwatch.commands.importer import build_context
    from streamwatch.kafka_clients import KafkaUnavailable, check_connection
    from streamwatch.live.ingest import create_ingest_app
    from streamwatch.settings import DeploymentSettings, SettingsError

    swlog.configure(args.log_level)
    args.currency = args.fx = None
    try:
        settings = DeploymentSettings.from_env()
        ctx = build_context(args)
    except (SettingsError, OSError, ValueError) as exc:
        print(f"streamwatch ingest: {exc}", file=sys.stderr)
        return exits.USAGE
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        # Faust retries a refused login forever: check the connection (and credentials) first.
        loop.run_until_complete(check_connection(settings))
    except (KafkaUnavailable, SettingsError) as exc:
        print(f"streamwatch ingest: {exc}", file=sys.stderr)
        loop.close()
        return exits.USAGE if isinstance(exc, SettingsError) else exits.UNAVAILABLE
    settings.prepare_data_dir()
    app = create_ingest_app(settings, FORMATS[args.format], ctx, args.source)
    worker = faust.Worker(app, loop=loop, loglevel=args.log_level.upper())
    worker.execute_from_commandline()
    return 0

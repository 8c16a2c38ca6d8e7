"""``streamwatch worker``: run the live Faust worker until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamwatch.live.settings import LiveSettings

HELP = "Run the live worker: input topics in; alerts, enforcement and risk view out."

EXIT_UNAVAILABLE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the worker; connection settings come from STREAMWATCH_* variables."""
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="log level (JSON lines on stderr; default info)",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="enforcement policy TOML (default: STREAMWATCH_POLICY, else the packaged one)",
    )


def run(args: argparse.Namespace) -> int:
    """Check the topics, then run the worker; returns its exit code."""
    import asyncio
    import dataclasses

    import faust
    import structlog

    from streamwatch import logging as swlog
    from streamwatch.core.policy import PolicyError
    from streamwatch.live.app import create_app
    from streamwatch.live.settings import LiveSettings, SettingsError

    swlog.configure(args.log_level)
    log = structlog.get_logger("streamwatch.worker")
    try:
        settings = LiveSettings.from_env()
        if args.policy is not None:
            settings = dataclasses.replace(settings, policy_path=args.policy)
    except SettingsError as exc:
        log.error("bad settings", error=str(exc))
        return EXIT_UNAVAILABLE
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    partitions = loop.run_until_complete(_preflight(settings))
    if partitions is None:
        loop.close()
        return EXIT_UNAVAILABLE
    _prepare_data_dir(settings.data_dir)
    try:
        app = create_app(settings, partitions=partitions)
    except (PolicyError, SettingsError) as exc:
        log.error("cannot load the enforcement policy", error=str(exc))
        return EXIT_UNAVAILABLE
    log.info(
        "worker starting",
        app_id=settings.app_id,
        kafka=settings.kafka,
        topic_prefix=settings.topic_prefix,
        partitions=partitions,
    )
    worker = faust.Worker(
        app,
        loop=loop,
        loglevel=args.log_level.upper(),
        quiet=True,
        override_logging=False,
        redirect_stdouts=False,
    )
    worker.spinner = None  # a terminal spinner has no place in JSON logs
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        log.info("worker stopped", exit_code=code)
        return code
    return 0


async def _preflight(settings: LiveSettings) -> int | None:
    """The input topics' partition count, or None (logged) if the topics are not usable."""
    import structlog
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    from streamwatch.live.admin import AdminError, create_topics, describe
    from streamwatch.live.catalogue import TopicSpec
    from streamwatch.live.rings import RING_KEYS_RETENTION_S, ring_keys_topic

    log = structlog.get_logger("streamwatch.worker")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        await admin.start()
        found = await describe(admin, list(settings.topics.all))
        missing = [name for name in settings.topics.all if name not in found]
        if missing:
            log.error("topics missing; create them with: streamwatch topics apply", missing=missing)
            return None
        counts = {name: found[name].partitions for name in settings.topics.inputs}
        if len(set(counts.values())) != 1:
            log.error("input topics are not co-partitioned", partitions=counts)
            return None
        partitions = next(iter(counts.values()))
        # The internal re-key topic must exist before the worker joins its group: Faust would
        # create it too, but only as it subscribes, too late for the group's first
        # assignment, which then leaves it out until the next rebalance.
        rekeyed = ring_keys_topic(settings.app_id)
        if not await describe(admin, [rekeyed]):
            spec = TopicSpec(
                rekeyed,
                partitions,
                replication_factor=1,
                config={
                    "cleanup.policy": "delete",
                    "retention.ms": str(RING_KEYS_RETENTION_S * 1000),
                },
            )
            await create_topics(admin, [spec])
            log.info("created the ring-keys topic", topic=rekeyed, partitions=partitions)
        return partitions
    except (KafkaError, OSError) as exc:
        log.error(
            "kafka is not reachable; start it with: bash deploy/services.sh up",
            kafka=settings.kafka,
            error=str(exc),
        )
        return None
    except AdminError as exc:
        log.error("cannot create the ring-keys topic", error=str(exc))
        return None
    finally:
        await admin.close()


def _prepare_data_dir(path: Path) -> None:
    """Create Faust's data dir with a .gitignore, so that it never lands in a commit."""
    path.mkdir(parents=True, exist_ok=True)
    ignore = path / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by streamwatch worker: local state, never committed.\n*\n")

"""``streamwatch worker``: run the live Faust worker until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import exits

if TYPE_CHECKING:
    from streamwatch.live.app import Readiness
    from streamwatch.metric_defs import WorkerMetrics
    from streamwatch.probes import ProbeServer
    from streamwatch.settings import DeploymentSettings

HELP = "Run the live worker: input topics in; alerts, enforcement and risk view out."

HTTP_PORT = 9464
"""Default port of /metrics, /health and /ready (STREAMWATCH_HTTP overrides)."""


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
    from prometheus_client import CollectorRegistry, ProcessCollector

    from streamwatch import logging as swlog
    from streamwatch.core.policy import PolicyError
    from streamwatch.live.app import Readiness, create_app
    from streamwatch.metric_defs import WorkerMetrics
    from streamwatch.settings import DeploymentSettings, SettingsError

    swlog.configure(args.log_level)
    log = structlog.get_logger("streamwatch.worker")
    try:
        settings = DeploymentSettings.from_env()
        if args.policy is not None:
            settings = dataclasses.replace(settings, policy_path=args.policy)
        http = settings.http_address(HTTP_PORT)
    except SettingsError as exc:
        log.error("bad settings", error=str(exc))
        return exits.USAGE
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    partitions = loop.run_until_complete(_preflight(settings))
    if partitions is None:
        loop.close()
        return exits.UNAVAILABLE
    settings.prepare_data_dir()
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    metrics = WorkerMetrics.create(registry)
    readiness = Readiness()
    try:
        app = create_app(settings, partitions=partitions, metrics=metrics, readiness=readiness)
    except (PolicyError, SettingsError) as exc:
        log.error("cannot load the enforcement policy", error=str(exc))
        return exits.USAGE
    try:
        probes = loop.run_until_complete(_serve_probes(http, metrics, readiness, settings))
    except OSError as exc:
        log.error("cannot serve /metrics, /health and /ready", address=http, error=str(exc))
        return exits.USAGE
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
    finally:
        if probes is not None and not loop.is_closed():
            loop.run_until_complete(probes.stop())
    return 0


async def _serve_probes(
    http: tuple[str, int] | None,
    metrics: WorkerMetrics,
    readiness: Readiness,
    settings: DeploymentSettings,
) -> ProbeServer | None:
    """Serve /metrics, /health and /ready, and the web console under /console, on ``http``
    (None: switched off, serve nothing). Raises OSError if the address is taken."""
    from streamwatch.probes import ProbeServer
    from streamwatch.web import console

    if http is None:
        return None
    probes = ProbeServer(
        metrics.registry,
        readiness,
        host=http[0],
        port=http[1],
        broken=readiness.broken,
        ready_gauge=metrics.ready,
        mounts=[(console.BASE, console.build(settings))],
    )
    await probes.start()
    return probes


async def _preflight(settings: DeploymentSettings) -> int | None:
    """The input topics' partition count, or None (logged) if the topics are not usable."""
    import structlog
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    from streamwatch.kafka_clients import KafkaUnavailable, check_connection, client_options
    from streamwatch.live.admin import AdminError, create_topics, describe
    from streamwatch.live.catalogue import TopicSpec
    from streamwatch.live.rings import RING_KEYS_RETENTION_S, ring_keys_topic
    from streamwatch.settings import SettingsError

    log = structlog.get_logger("streamwatch.worker")
    try:
        await check_connection(settings)
    except (KafkaUnavailable, SettingsError) as exc:
        log.error("cannot connect to kafka", kafka=settings.kafka, error=str(exc))
        return None
    admin = AIOKafkaAdminClient(**client_options(settings))
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
                # As replicated as the inputs whose events it carries (the environment's).
                replication_factor=found[settings.topics.usage].replication_factor,
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

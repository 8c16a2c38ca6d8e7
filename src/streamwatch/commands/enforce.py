"""``streamwatch enforce``: run the suspension worker until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import exits
from streamwatch.cli_options import add_http_retries, add_log_level

if TYPE_CHECKING:
    from streamwatch.core.policy import Policy
    from streamwatch.enforce.backend import Backend
    from streamwatch.settings import DeploymentSettings

HELP = "Run the suspension worker: act on signed enforcement requests, report the outcomes."

HTTP_PORT = 9465
"""Default port of /metrics, /health and /ready (STREAMWATCH_HTTP overrides)."""
WEBHOOK_SECRET_ENV = "STREAMWATCH_WEBHOOK_SECRET"  # noqa: S105 (a variable name, not a secret)


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the worker; connection settings and keys come from STREAMWATCH_* variables."""
    parser.add_argument(
        "--backend",
        choices=("log", "webhook"),
        default="log",
        help="what carries actions out: log them (default), or POST them to --webhook-url",
    )
    parser.add_argument("--webhook-url", metavar="URL", help="where the webhook backend POSTs")
    add_http_retries(parser, "webhook-", "webhook")
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="policy TOML whose max_customers_per_hour caps apply "
        "(default: STREAMWATCH_POLICY, else the packaged one)",
    )
    add_log_level(parser)


def run(args: argparse.Namespace) -> int:
    """Check settings, keys, policy, backend and services, then run the worker."""
    import asyncio
    import dataclasses

    import structlog

    from streamwatch import logging as swlog
    from streamwatch.core.policy import PolicyError, parse_policy
    from streamwatch.settings import DeploymentSettings, SettingsError

    swlog.configure(args.log_level)
    log = structlog.get_logger("streamwatch.enforce")
    try:
        settings = DeploymentSettings.from_env()
        if args.policy is not None:
            settings = dataclasses.replace(settings, policy_path=args.policy)
        policy = parse_policy(settings.policy_text())
    except (SettingsError, PolicyError) as exc:
        log.error("bad settings", error=str(exc))
        return exits.USAGE
    if not settings.signing_keys:
        log.error(
            "STREAMWATCH_SIGNING_KEYS is not set: the enforce worker acts only on signed "
            "requests and needs the keys that verify them (id:secret,id2:secret2, the same as "
            "the live worker's); refusing to start"
        )
        return exits.USAGE
    if not settings.approver_keys:
        log.warning(
            "STREAMWATCH_APPROVER_KEYS is not set: no one can approve or reject, and requests "
            "that need approval wait until the worker restarts with the approvers' keys"
        )
    try:
        backend = _backend(args)
    except ValueError as exc:
        log.error("bad backend options", error=str(exc))
        return exits.USAGE
    worst_case_s = 0.0
    if args.backend == "webhook":
        tries = args.webhook_retries + 1
        worst_case_s = tries * args.webhook_timeout + args.webhook_backoff * 2 ** (tries - 1)
    return asyncio.run(_main(settings, policy, backend, worst_case_s))


def _backend(args: argparse.Namespace) -> Backend:
    """The backend the options ask for; raises ValueError naming what is missing."""
    import os

    from streamwatch.enforce.backend import LogBackend
    from streamwatch.enforce.webhook import WebhookBackend

    if args.backend == "log":
        return LogBackend()
    if not args.webhook_url:
        raise ValueError("--backend webhook needs --webhook-url URL")
    secret = os.environ.get(WEBHOOK_SECRET_ENV, "")
    if not secret:
        raise ValueError(
            f"--backend webhook needs {WEBHOOK_SECRET_ENV}: the secret that signs each POST "
            "(X-Streamwatch-Signature), shared with the receiver"
        )
    return WebhookBackend(
        args.webhook_url,
        secret.encode(),
        timeout_s=args.webhook_timeout,
        retries=args.webhook_retries,
        backoff_s=args.webhook_backoff,
    )


async def _main(
    settings: DeploymentSettings, policy: Policy, backend: Backend, worst_case_s: float
) -> int:
    import asyncio
    import signal

    import structlog
    from prometheus_client import CollectorRegistry, ProcessCollector
    from redis.asyncio import Redis

    from streamwatch.enforce.service import EnforceWorker, batch_size_for
    from streamwatch.metric_defs import EnforceMetrics
    from streamwatch.preflight import preflight
    from streamwatch.probes import serve_probes
    from streamwatch.settings import SettingsError

    log = structlog.get_logger("streamwatch.enforce")
    redis = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
    probes = None
    try:
        topics = settings.topics
        needed = [
            topics.enforcement,
            topics.enforcement_decisions,
            topics.enforcement_results,
            topics.dead_letter,
        ]
        if not await preflight(settings, redis, needed, "streamwatch.enforce"):
            await backend.close()
            return exits.UNAVAILABLE
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        metrics = EnforceMetrics.create(registry)
        worker = EnforceWorker(
            settings,
            policy,
            backend,
            redis,
            max_batch=batch_size_for(worst_case_s),
            metrics=metrics,
        )
        try:
            probes = await serve_probes(
                settings.http_address(HTTP_PORT), registry, worker.readiness, metrics.ready
            )
        except (SettingsError, OSError) as exc:
            log.error("cannot serve /metrics, /health and /ready", error=str(exc))
            await backend.close()
            return exits.USAGE
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stopping.set)
        watcher = asyncio.create_task(worker.watch_pending())
        try:
            await worker.run()
        finally:
            worker.stopping.set()
            await watcher
    finally:
        if probes is not None:
            await probes.stop()
        await redis.aclose()
    log.info("enforce worker exited")
    return 0

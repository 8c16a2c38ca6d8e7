"""``streamwatch notify``: deliver alerts to Alertmanager and a webhook until SIGTERM or SIGINT.

Reads the ``alerts`` topic (consumer group ``<app id>-notify``, read_committed) and sends each
alert to the Alertmanagers of STREAMWATCH_ALERTMANAGER (API v2; open alerts re-sent every
STREAMWATCH_NOTIFY_RESEND_S, resolved ones sent as resolved) and, with
STREAMWATCH_ALERT_WEBHOOK_URL, POSTs it there signed with STREAMWATCH_ALERT_WEBHOOK_SECRET.
Grouping, routing, silences and inhibition are Alertmanager's. Bad or undeliverable alerts are
dead-lettered and counted on /metrics; they never stop it. See ``streamwatch.notify``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from streamwatch import exits
from streamwatch.cli_options import add_http_retries, add_log_level

if TYPE_CHECKING:
    from streamwatch.notify.sinks import AlertmanagerSink, WebhookSink
    from streamwatch.settings import DeploymentSettings

HELP = "Deliver alerts to Alertmanager (v2 API) and a signed webhook."

HTTP_PORT = 9466
"""Default port of /metrics, /health and /ready (STREAMWATCH_HTTP overrides)."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Options; where to deliver comes from STREAMWATCH_* settings."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_http_retries(parser, what="sink")
    add_log_level(parser)


def run(args: argparse.Namespace) -> int:
    """Check settings and services, then deliver until stopped."""
    import asyncio

    import structlog

    from streamwatch import logging as swlog
    from streamwatch.notify.sinks import AlertmanagerSink, WebhookSink
    from streamwatch.settings import DeploymentSettings, SettingsError

    swlog.configure(args.log_level)
    log = structlog.get_logger("streamwatch.notify")
    try:
        settings = DeploymentSettings.from_env()
    except SettingsError as exc:
        log.error("bad settings", error=str(exc))
        return exits.USAGE
    if not settings.alertmanager_urls and not settings.alert_webhook_url:
        log.error(
            "nothing to deliver to: set STREAMWATCH_ALERTMANAGER (Alertmanager base URLs) "
            "and/or STREAMWATCH_ALERT_WEBHOOK_URL with STREAMWATCH_ALERT_WEBHOOK_SECRET"
        )
        return exits.USAGE
    options = {"timeout_s": args.timeout, "retries": args.retries, "backoff_s": args.backoff}
    try:
        manager = (
            AlertmanagerSink(settings.alertmanager_urls, **options)
            if settings.alertmanager_urls
            else None
        )
        webhook = (
            WebhookSink(settings.alert_webhook_url, settings.alert_webhook_secret or b"", **options)
            if settings.alert_webhook_url
            else None
        )
    except ValueError as exc:
        log.error("bad delivery options", error=str(exc))
        return exits.USAGE
    return asyncio.run(_main(settings, manager, webhook))


async def _main(
    settings: DeploymentSettings,
    manager: AlertmanagerSink | None,
    webhook: WebhookSink | None,
) -> int:
    import asyncio
    import signal

    import structlog
    from prometheus_client import CollectorRegistry, ProcessCollector
    from redis.asyncio import Redis

    from streamwatch.metric_defs import NotifyMetrics
    from streamwatch.notify.service import NotifyWorker
    from streamwatch.preflight import preflight
    from streamwatch.probes import serve_probes
    from streamwatch.settings import SettingsError

    log = structlog.get_logger("streamwatch.notify")
    redis = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
    probes = None
    try:
        needed = [settings.topics.alerts, settings.topics.dead_letter]
        if not await preflight(settings, redis, needed, "streamwatch.notify"):
            return exits.UNAVAILABLE
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        metrics = NotifyMetrics.create(registry)
        worker = NotifyWorker(
            settings, redis, alertmanager_sink=manager, webhook_sink=webhook, metrics=metrics
        )
        try:
            probes = await serve_probes(
                settings.http_address(HTTP_PORT), registry, worker.readiness, metrics.ready
            )
        except (SettingsError, OSError) as exc:
            log.error("cannot serve /metrics, /health and /ready", error=str(exc))
            return exits.USAGE
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stopping.set)
        await worker.run()
    finally:
        if probes is not None:
            await probes.stop()
        for sink in (manager, webhook):
            if sink is not None:
                await sink.close()
        await redis.aclose()
    log.info("notify worker exited")
    return exits.OK

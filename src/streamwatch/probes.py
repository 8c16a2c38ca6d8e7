"""The HTTP endpoints of a running worker: ``/metrics``, ``/health`` and ``/ready``.

- ``/metrics``: the process's Prometheus registry, in the text exposition format.
- ``/health`` (liveness): 200 while the process runs and its event loop answers; 503 with the
  reason once ``broken`` reports one (the worker crashed and is shutting down). A blocked loop
  does not answer at all, which a liveness probe with a timeout treats as a failure.
- ``/ready`` (readiness): 200 once ``ready`` returns None (partitions assigned, state
  recovered); 503 with its reason otherwise.

One small aiohttp server on the process's own event loop, for the live worker and the
suspension worker alike; both pass their checks in as functions. The worker also mounts its
web console (``streamwatch.web.console``) under ``/console``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

log = structlog.get_logger("streamwatch.probes")

Check = Callable[[], str | None]
"""None when all is well, else the reason (a sentence) it is not."""


class ProbeServer:
    """Serves the three endpoints on ``host:port`` (port 0: any free port; see ``port``)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        ready: Check,
        *,
        host: str,
        port: int,
        broken: Check = lambda: None,
        ready_gauge: Gauge | None = None,
        mounts: Sequence[tuple[str, web.Application]] = (),
    ) -> None:
        self.registry = registry
        self.ready = ready
        self.broken = broken
        self.host = host
        self.requested_port = port
        self.ready_gauge = ready_gauge
        self.mounts = tuple(mounts)
        """Applications served under a path prefix besides the three endpoints (the worker's
        web console under ``/console``)."""
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The port bound, once ``start`` returned."""

    async def start(self) -> None:
        """Bind and serve; raises OSError if the address is taken."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        app.router.add_get("/ready", self._ready)
        for prefix, sub in self.mounts:
            app.add_subapp(prefix, sub)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # aiohttp exposes the bound port only on the server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.requested_port
        log.info("http endpoints listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def readiness(self) -> str | None:
        """The reason the process is not ready, or None; also sets the ready gauge."""
        reason = self.broken() or self.ready()
        if self.ready_gauge is not None:
            self.ready_gauge.set(0 if reason else 1)
        return reason

    async def _metrics(self, _request: web.Request) -> web.Response:
        self.readiness()
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def _health(self, _request: web.Request) -> web.Response:
        reason = self.broken()
        if reason:
            return web.json_response({"status": "failing", "reason": reason}, status=503)
        return web.json_response({"status": "ok"})

    async def _ready(self, _request: web.Request) -> web.Response:
        reason = self.readiness()
        if reason:
            return web.json_response({"status": "not ready", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})


async def serve_probes(
    address: tuple[str, int] | None,
    registry: CollectorRegistry,
    ready: Check,
    ready_gauge: Gauge | None = None,
) -> ProbeServer | None:
    """The endpoints of a service started on ``address`` (host, port), or None when the
    settings turn them off (no address). Raises OSError if the address is taken."""
    if address is None:
        return None
    probes = ProbeServer(registry, ready, host=address[0], port=address[1], ready_gauge=ready_gauge)
    await probes.start()
    return probes

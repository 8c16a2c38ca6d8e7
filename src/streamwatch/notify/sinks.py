"""Where alerts go: Alertmanager's v2 API, and a generic signed webhook.

Both answer with a ``Delivery`` (never raise for an HTTP or network failure): delivered or
not, and a sentence saying what happened. Retries: 5xx, 408, 429, timeouts and connection
errors are retried with backoff (doubling from ``backoff_s``); other statuses fail at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aiohttp
import orjson

from streamwatch.enforce.backend import BackendResult
from streamwatch.enforce.webhook import RETRYABLE_STATUSES, WebhookBackend
from streamwatch.http_session import LazySession

ALERTS_PATH: Final = "/api/v2/alerts"
MAX_DETAIL_CHARS: Final = 200
MAX_ALERTS_PER_POST: Final = 500
"""A re-send of a large book goes in several requests of this many alerts."""


Delivery = BackendResult
"""The answer of a sink: ``ok``, and what happened (for logs and dead letters)."""


class AlertmanagerSink:
    """POSTs lists of alerts to ``<url>/api/v2/alerts`` of every Alertmanager of ``urls``
    (a cluster shares alerts only through its own gossip, and a client must reach each member).
    Delivered when every one of them took the list."""

    name = "alertmanager"

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if not urls:
            raise ValueError("no Alertmanager URL")
        self.urls = [url.rstrip("/") + ALERTS_PATH for url in urls]
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = retries
        self.backoff_s = backoff_s
        self._session = LazySession(self.timeout)

    async def post(self, alerts: Sequence[Mapping[str, Any]]) -> Delivery:
        """Send ``alerts`` (Alertmanager's postable form) to every Alertmanager, at most
        ``MAX_ALERTS_PER_POST`` a request."""
        if not alerts:
            return Delivery(True, "nothing to send")
        bodies = [
            orjson.dumps(list(alerts[i : i + MAX_ALERTS_PER_POST]))
            for i in range(0, len(alerts), MAX_ALERTS_PER_POST)
        ]
        answers = await asyncio.gather(
            *(self._post_one(url, body) for url in self.urls for body in bodies)
        )
        failed = [a.detail for a in answers if not a.ok]
        if failed:
            return Delivery(False, "; ".join(failed))
        return Delivery(True, f"{len(alerts)} alerts to {len(self.urls)} Alertmanagers")

    async def _post_one(self, url: str, body: bytes) -> Delivery:
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            session = self._session.get()
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    status, text = response.status, await response.text(errors="replace")
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = f"{url} unreachable ({type(exc).__name__}: {exc})"
                continue
            if 200 <= status < 300:
                return Delivery(True, f"{url} answered {status}")
            last = f"{url} answered {status}: {text.strip()[:MAX_DETAIL_CHARS]}"
            if status < 500 and status not in RETRYABLE_STATUSES:
                break
        return Delivery(False, last)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()


class WebhookSink:
    """POSTs each alert, as on the alerts topic, to one URL, signed and retried exactly as the
    suspension worker's webhook backend does (``streamwatch.enforce.webhook``: headers
    ``X-Streamwatch-Signature``, ``Idempotency-Key`` = ``<alert_id>:<revision>``,
    ``X-Streamwatch-Delivery``)."""

    name = "webhook"

    def __init__(self, url: str, secret: bytes, **options: Any) -> None:
        self.backend = WebhookBackend(url, secret, **options)

    async def post(self, alert: Mapping[str, Any]) -> Delivery:
        """Send one alert."""
        key = f"{alert['alert_id']}:{alert['revision']}"
        return await self.backend.apply(alert, key)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.backend.close()

"""The webhook backend: each action is an HTTP POST of the signed request to one URL.

The receiver (the reseller's provisioning system) gets:

- the body: the enforcement request as JSON, exactly as the worker received it (its own
  ``signature`` field included), or for a withdrawn approval, a ``resume`` request signed by
  the worker;
- ``Idempotency-Key``: the request id. The worker may POST the same request again (a retry
  after a 5xx or a timeout, or after a crash before it recorded the answer); a receiver that
  has already acted on the key must answer 2xx without acting twice;
- ``X-Streamwatch-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256 under the webhook secret
  over ``"<t>." + body``, so the receiver can check the sender and refuse stale replays
  (``verify_signature`` is the reference check);
- ``X-Streamwatch-Delivery``: 1 for the first POST of this call, 2 for its first retry, ...

Answers: 2xx is success. 5xx, 408, 429, timeouts and connection errors are retried with
exponential backoff (``backoff_s``, doubling, at most 30 s apart) up to ``retries`` times, then
reported as a failure. Any other status (4xx, and 3xx: redirects are not followed) fails at
once, with the status in the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import aiohttp
import orjson
import structlog

from streamwatch.enforce.backend import BackendResult
from streamwatch.http_session import LazySession

log = structlog.get_logger("streamwatch.enforce.webhook")

SIGNATURE_HEADER: Final = "X-Streamwatch-Signature"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
DELIVERY_HEADER: Final = "X-Streamwatch-Delivery"
RETRYABLE_STATUSES: Final = frozenset({408, 429})
MAX_BACKOFF_S: Final = 30.0
MAX_DETAIL_CHARS: Final = 200


def signature_header(secret: bytes, body: bytes, unix_s: int) -> str:
    """The ``X-Streamwatch-Signature`` value for ``body`` sent at ``unix_s``."""
    digest = hmac.new(secret, str(unix_s).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={unix_s},v1={digest}"


def verify_signature(
    secret: bytes, body: bytes, header: str, now_s: int, tolerance_s: int = 300
) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` within ``tolerance_s`` of ``now_s``
    (what a receiver checks)."""
    parts = dict(item.partition("=")[::2] for item in header.split(","))
    try:
        unix_s = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now_s - unix_s) > tolerance_s:
        return False
    return hmac.compare_digest(signature_header(secret, body, unix_s), header)


class WebhookBackend:
    """POSTs each action to ``url`` (see the module docstring)."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes,
        *,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        clock_s: Callable[[], float] = time.time,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL {url!r} must start with http:// or https://")
        if not secret:
            raise ValueError("the webhook secret must not be empty")
        if timeout_s <= 0 or retries < 0 or backoff_s < 0:
            raise ValueError("webhook timeout must be > 0, retries and backoff >= 0")
        self.url = url
        self.secret = secret
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = retries
        self.backoff_s = backoff_s
        self.clock_s = clock_s
        self._session = LazySession(self.timeout)

    async def apply(self, request: Mapping[str, Any], idempotency_key: str) -> BackendResult:
        """POST ``request``, retrying as the module docstring says; never raises for an HTTP
        or network failure."""
        body = orjson.dumps(dict(request))
        tries = self.retries + 1
        last = ""
        for delivery in range(1, tries + 1):
            if delivery > 1:
                await asyncio.sleep(min(self.backoff_s * 2 ** (delivery - 2), MAX_BACKOFF_S))
            outcome = await self._post(body, idempotency_key, delivery)
            if isinstance(outcome, BackendResult):
                return outcome
            last = outcome
            log.warning(
                "webhook delivery failed; will retry" if delivery < tries else "webhook gave up",
                delivery=delivery,
                tries=tries,
                error=last,
            )
        return BackendResult(ok=False, detail=f"{last}, after {tries} tries")

    async def _post(self, body: bytes, key: str, delivery: int) -> BackendResult | str:
        """One POST: a final result, or the text of a retryable failure."""
        headers = {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: key,
            SIGNATURE_HEADER: signature_header(self.secret, body, int(self.clock_s())),
            DELIVERY_HEADER: str(delivery),
        }
        session = self._session.get()
        try:
            async with session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status, text = response.status, (await response.text(errors="replace"))
                phrase = response.reason or ""
        except TimeoutError:
            return f"webhook did not answer within {self.timeout.total:g} s"
        except aiohttp.ClientError as exc:
            return f"webhook unreachable ({type(exc).__name__}: {exc})"
        answered = f"webhook answered {status} {phrase}".rstrip()
        tries = f" after {delivery} tries" if delivery > 1 else ""
        if 200 <= status < 300:
            return BackendResult(ok=True, detail=answered + tries)
        if status >= 500 or status in RETRYABLE_STATUSES:
            return answered
        said = text.strip()[:MAX_DETAIL_CHARS]
        return BackendResult(ok=False, detail=answered + (f": {said}" if said else "") + tries)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._session.close()

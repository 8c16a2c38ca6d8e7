"""Action backends: what actually notifies, restricts, suspends or resumes a customer.

A backend is anything with a ``name``, ``apply(request, idempotency_key)`` and ``close()``
(``Backend``). The worker calls ``apply`` at least once per request it acts on, and more than
once only with the same idempotency key (the request id): after a crash between the call and
the record of its answer, or when a person retries a failed request. A backend whose effect
must happen once has to honour that key (the webhook backend sends it as ``Idempotency-Key``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

log = structlog.get_logger("streamwatch.enforce")


@dataclass(frozen=True, slots=True)
class BackendResult:
    """What a backend answered: ``ok`` if the action took effect, and a short ``detail`` for
    the result's reason (e.g. "webhook answered 200 after 2 tries")."""

    ok: bool
    detail: str


class Backend(Protocol):
    """Applies enforcement actions (see the module docstring)."""

    @property
    def name(self) -> str:
        """Short name reported on every result (``log``, ``webhook``)."""
        ...

    async def apply(self, request: Mapping[str, Any], idempotency_key: str) -> BackendResult:
        """Act on ``request`` (the signed wire form; ``action`` says what to do).

        Returns ok=False with the reason when the action could not be applied; raises only on
        a programming error, which the worker reports as a failure.
        """
        ...

    async def close(self) -> None:
        """Release connections; called once when the worker stops."""
        ...


class LogBackend:
    """Logs each action and succeeds: the default, for trying the flow and for dry setups."""

    name = "log"

    async def apply(self, request: Mapping[str, Any], idempotency_key: str) -> BackendResult:
        """Log the action (event ``enforcement action applied``); always ok."""
        log.info(
            "enforcement action applied",
            action=request.get("action"),
            customer_id=request.get("customer_id"),
            subscription_ids=request.get("subscription_ids"),
            idempotency_key=idempotency_key,
        )
        return BackendResult(ok=True, detail="logged")

    async def close(self) -> None:
        """Nothing to release."""

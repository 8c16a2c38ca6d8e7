"""The live risk view in Redis: what the worker knows about each customer, for people and tools.

Keys (``P`` is the deployment prefix, ``LiveSettings.redis_prefix``):

- ``P customer:<id>``  hash: ``customer_id``, ``risk`` (0..1), ``open_alerts`` (count),
  ``alerts`` (JSON list of ``alert_id, kind, severity, score, event_time, summary``, riskiest
  first), ``money_at_risk`` (JSON object of ``Core.money_at_risk``, or ``null``),
  ``updated_at`` (RFC 3339 wall clock);
- ``P risk``           sorted set of customer ids scored by risk;
- ``P exposure``       sorted set of customer ids scored by money at risk (its ``amount``, in
  the customer's own currency; 0 when unknown): the order of ``top``;
- ``P metrics``        hash of counters (``streamwatch.live.metrics``).

A customer's hash is derived from its state alone (``customer_view``), so writing it again
after a restart writes the same thing: the view is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis

from streamwatch.core.state import CustomerState
from streamwatch.core.timeutil import format_ts


@dataclass(frozen=True, slots=True)
class CustomerView:
    """One customer as the risk view shows it."""

    customer_id: str
    risk: float
    alerts: list[dict[str, Any]]
    updated_at: str
    money_at_risk: dict[str, Any] | None = None

    @property
    def open_alerts(self) -> int:
        """How many alerts are open."""
        return len(self.alerts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``streamwatch risk --json``)."""
        return {
            "customer_id": self.customer_id,
            "risk": self.risk,
            "open_alerts": self.open_alerts,
            "alerts": self.alerts,
            "money_at_risk": self.money_at_risk,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class TopRow:
    """One customer of ``RiskView.top``."""

    customer_id: str
    money_at_risk: float
    currency: str | None
    risk: float


def customer_view(
    state: CustomerState, now_ms: int, money_at_risk: dict[str, Any] | None = None
) -> dict[str, str]:
    """The Redis hash fields of a customer's view (``money_at_risk`` from
    ``Core.money_at_risk``). Deterministic but for ``updated_at``."""
    alerts: list[dict[str, Any]] = [
        {
            "alert_id": alert_id,
            "kind": alert.kind,
            "severity": alert.severity,
            "score": alert.score,
            "event_time": format_ts(alert.event_time_ms),
            "summary": alert.summary,
        }
        for alert_id, alert in state.alerts.items()
    ]
    alerts.sort(key=lambda a: (-a["score"], a["event_time"], a["alert_id"]))
    return {
        "customer_id": state.customer_id,
        "risk": repr(state.risk),
        "open_alerts": str(len(alerts)),
        "alerts": orjson.dumps(alerts).decode(),
        "money_at_risk": orjson.dumps(money_at_risk).decode(),
        "updated_at": format_ts(now_ms),
    }


class RiskView:
    """Reads and writes the risk view under one key prefix."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.risk_key = f"{prefix}risk"
        self.exposure_key = f"{prefix}exposure"
        self.metrics_key = f"{prefix}metrics"

    def customer_key(self, customer_id: str) -> str:
        """The hash holding one customer's view."""
        return f"{self.prefix}customer:{customer_id}"

    async def publish(
        self, views: Mapping[str, Mapping[str, str]], counts: Mapping[str, int]
    ) -> None:
        """Write customer views (from ``customer_view``) and add ``counts`` to the metrics.

        One round trip. Raises redis.RedisError if Redis refuses or cannot be reached.
        """
        if not views and not counts:
            return
        pipe = self.client.pipeline(transaction=False)
        for customer_id, fields in views.items():
            mapping: dict[Any, Any] = dict(fields)
            pipe.hset(self.customer_key(customer_id), mapping=mapping)
        if views:
            pipe.zadd(self.risk_key, {cid: float(fields["risk"]) for cid, fields in views.items()})
            pipe.zadd(
                self.exposure_key,
                {cid: _amount(fields.get("money_at_risk")) for cid, fields in views.items()},
            )
        for name, value in counts.items():
            pipe.hincrby(self.metrics_key, name, value)
        await pipe.execute()

    async def customer(self, customer_id: str) -> CustomerView | None:
        """One customer's view, or None if the worker has raised no alert for them."""
        fields = await self.client.hgetall(self.customer_key(customer_id))
        if not fields:
            return None
        text = {_text(k): _text(v) for k, v in fields.items()}
        return CustomerView(
            customer_id=text.get("customer_id", customer_id),
            risk=float(text.get("risk", "0")),
            alerts=orjson.loads(text.get("alerts", "[]")),
            updated_at=text.get("updated_at", ""),
            money_at_risk=orjson.loads(text.get("money_at_risk", "null")),
        )

    async def top(self, n: int) -> list[TopRow]:
        """The ``n`` customers with the most money at risk, most first (ties: riskiest
        first), with their risk."""
        rows = cast(
            "list[tuple[bytes, float]]",
            await self.client.zrevrange(self.exposure_key, 0, max(n, 1) - 1, withscores=True),
        )
        if not rows:
            return []
        pipe = self.client.pipeline(transaction=False)
        for member, _ in rows:
            pipe.zscore(self.risk_key, member)
            pipe.hget(self.customer_key(_text(member)), "money_at_risk")
        found = await pipe.execute()
        out = []
        for i, (member, amount) in enumerate(rows):
            risk, money = found[2 * i], found[2 * i + 1]
            exposure = orjson.loads(money) if money else None
            currency = exposure.get("currency") if isinstance(exposure, dict) else None
            out.append(TopRow(_text(member), float(amount), currency, float(risk or 0.0)))
        out.sort(key=lambda r: (-r.money_at_risk, -r.risk, r.customer_id))
        return out

    async def metrics(self) -> dict[str, int]:
        """Every counter in the metrics hash."""
        fields = await self.client.hgetall(self.metrics_key)
        return {_text(k): int(v) for k, v in fields.items()}


def _amount(money_at_risk: str | None) -> float:
    """The ``amount`` of a view's ``money_at_risk`` JSON field, 0 when unknown."""
    doc = orjson.loads(money_at_risk) if money_at_risk else None
    return float(doc["amount"]) if isinstance(doc, dict) else 0.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

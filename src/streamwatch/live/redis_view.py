"""The live risk view in Redis: what the worker knows about each customer, for people and tools.

Keys (``P`` is the deployment prefix, ``DeploymentSettings.redis_prefix``):

- ``P customer:<id>``  hash: ``customer_id``, ``risk`` (0..1), ``open_alerts`` (count),
  ``alerts`` (JSON list of ``alert_id, kind, severity, score, event_time, summary,
  suppressed`` (the id of the suppression holding it back, or ""), riskiest first),
  ``money_at_risk`` (JSON object of ``Core.money_at_risk``, or ``null``), ``suppressions``
  (JSON list of the customer's suppressions, ``Suppression.to_dict``), ``series`` (JSON list
  of its recent hours, ``series_of``: spend against the learned baseline, CPU/GPU use,
  payments), ``updated_at`` (RFC 3339 wall clock);
- ``P risk``           sorted set of customer ids scored by risk;
- ``P exposure:<CUR>`` one sorted set per currency (``exposure:EUR``, ``exposure:USD``, ...) of
  the customer ids whose money at risk is in that currency, scored by its ``amount``; a
  customer is in one of them only, that of its latest view (``exposure:XXX``, score 0, when its
  money at risk is not known yet). Amounts in different currencies are never in one set:
  ``top`` orders across currencies only through dated rates (``streamwatch.exposure``);
- ``P exposure-currencies``  set of the currencies that have (or had) an ``exposure:<CUR>`` set;
  a currency stays in it after its last customer left (its set is then empty, hence gone);
- ``P metrics:worker:<worker>``  hash of one worker process's counter totals
  (``streamwatch.live.metrics``), absolute values, expiring ``WORKER_TTL_S`` after its last
  write; ``metrics`` adds up every worker's;
- ``P metrics:workers`` sorted set of the worker ids that wrote counters, scored by the time
  (epoch seconds) of their last write;
- ``P view:worker:<worker>``  the worker's marker: the epoch of its view (when it started),
  rewritten at every flush with a TTL. A marker gone while the worker runs means Redis lost
  its data (restarted empty), or ``streamwatch risk --rebuild`` asked for the view again: the
  worker then writes the view of every customer it holds again (``RedisPublisher``).

Every write sets values (HSET, ZADD, SADD, SET, and ZREM from the currencies a customer is no
longer in), none adds to what is there: a write repeated after a timeout, or a view written
again from state, leaves the same thing. A customer's hash is derived from its state alone
(``customer_view``), so writing it again after a restart writes the same thing. (Older workers
added to a single ``P metrics`` hash, and scored every currency in a single ``P exposure`` set;
neither is read any more.)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

import orjson
from redis.asyncio import Redis

from streamwatch.core.detectors.spend_spike import SpendSpikeDetector, expected_spend
from streamwatch.core.detectors.spend_spike.state import SpikeState
from streamwatch.core.state import CustomerState
from streamwatch.core.timeutil import format_ts
from streamwatch.exposure import NO_CURRENCY, Exposure, Ranking, Reporting, rank

WORKER_TTL_S: Final = 600
"""How long a worker's counters and marker outlive its last write: a stopped worker's totals
drop out of ``metrics`` after this long; a Redis unreachable for longer finds the marker gone
when it answers again, and the view is rewritten from state (which a long outage may need)."""


@dataclass(frozen=True, slots=True)
class CustomerView:
    """One customer as the risk view shows it."""

    customer_id: str
    risk: float
    alerts: list[dict[str, Any]]
    updated_at: str
    money_at_risk: dict[str, Any] | None = None
    suppressions: list[dict[str, Any]] = field(default_factory=list)
    series: list[dict[str, Any]] = field(default_factory=list)

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
            "suppressions": self.suppressions,
            "series": self.series,
            "updated_at": self.updated_at,
        }


FILE_EXPOSURE: Final = """
for i = 2, #ARGV, 3 do
  redis.call('SADD', KEYS[1], ARGV[i + 1])
end
local known = redis.call('SMEMBERS', KEYS[1])
for i = 2, #ARGV, 3 do
  local customer, currency = ARGV[i], ARGV[i + 1]
  for _, other in ipairs(known) do
    if other ~= currency then
      redis.call('ZREM', ARGV[1] .. other, customer)
    end
  end
  redis.call('ZADD', ARGV[1] .. currency, ARGV[i + 2], customer)
end
return #known
"""
"""Files customers under their currency's exposure set (one call, atomic). KEYS[1]: the
currency set; ARGV[1]: the prefix of the exposure sets (``P exposure:``), then a customer id,
its currency and its amount for each customer. Each customer is scored in its currency's set
and removed from every other currency's: a customer whose currency changed leaves the old set,
and the call repeated leaves the same thing."""


def series_of(state: CustomerState) -> list[dict[str, Any]]:
    """The customer's recent hours (``core.series``), each with the hourly spend its
    spend_spike baseline expects (None without one, or before it learned anything)."""
    spike = state.detectors.get(SpendSpikeDetector.name)
    if not isinstance(spike, SpikeState):
        return state.series.points()
    return state.series.points(lambda hour_ms: expected_spend(spike, hour_ms))


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
            "suppressed": alert.suppressed,
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
        "suppressions": orjson.dumps([s.to_dict() for s in state.suppressions.values()]).decode(),
        "series": orjson.dumps(series_of(state)).decode(),
        "updated_at": format_ts(now_ms),
    }


class RiskView:
    """Reads and writes the risk view under one key prefix."""

    def __init__(self, client: Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.risk_key = f"{prefix}risk"
        self.currencies_key = f"{prefix}exposure-currencies"
        self.workers_key = f"{prefix}metrics:workers"

    def customer_key(self, customer_id: str) -> str:
        """The hash holding one customer's view."""
        return f"{self.prefix}customer:{customer_id}"

    def exposure_key(self, currency: str) -> str:
        """The sorted set of the customers whose money at risk is in ``currency``."""
        return f"{self.prefix}exposure:{currency}"

    def metrics_key(self, worker: str) -> str:
        """The hash of one worker's counter totals."""
        return f"{self.prefix}metrics:worker:{worker}"

    def marker_key(self, worker: str) -> str:
        """The key whose presence says that Redis still holds what ``worker`` wrote."""
        return f"{self.prefix}view:worker:{worker}"

    async def publish(
        self,
        views: Mapping[str, Mapping[str, str]],
        totals: Mapping[str, int] | None = None,
        *,
        worker: str | None = None,
        epoch: str = "",
    ) -> bool:
        """Write customer views (from ``customer_view``) and, for ``worker``, its counter
        totals (absolute, replacing what it wrote before) and its marker (value ``epoch``).

        One round trip; every command sets values, so repeating it changes nothing. Returns
        whether the worker's marker was there before this write (True without ``worker``).
        Raises redis.RedisError if Redis refuses or cannot be reached.
        """
        if worker is None and not views:
            return True
        pipe = self.client.pipeline(transaction=False)
        if worker is not None:
            pipe.exists(self.marker_key(worker))
        for customer_id, fields in views.items():
            mapping: dict[Any, Any] = dict(fields)
            pipe.hset(self.customer_key(customer_id), mapping=mapping)
        if views:
            pipe.zadd(self.risk_key, {cid: float(fields["risk"]) for cid, fields in views.items()})
            filed: list[Any] = [self.exposure_key("")]
            for cid, fields in views.items():
                currency, amount = _money(fields.get("money_at_risk"))
                filed += [cid, currency, repr(amount)]
            pipe.eval(FILE_EXPOSURE, 1, self.currencies_key, *filed)
        if worker is not None:
            if totals:
                now = time.time()
                key = self.metrics_key(worker)
                totals_map: dict[Any, Any] = dict(totals)
                pipe.hset(key, mapping=totals_map)
                pipe.expire(key, WORKER_TTL_S)
                pipe.zadd(self.workers_key, {worker: now})
                pipe.zremrangebyscore(self.workers_key, "-inf", now - WORKER_TTL_S)
            pipe.set(self.marker_key(worker), epoch or "-", ex=WORKER_TTL_S)
        found = await pipe.execute()
        return worker is None or bool(found[0])

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
            suppressions=orjson.loads(text.get("suppressions", "[]")),
            series=orjson.loads(text.get("series", "[]")),
        )

    async def suppressions(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        """The suppressions the view shows (``Suppression.to_dict`` with ``customer_id``), of
        one customer or of every customer in the view (a SCAN: for people, not hot paths),
        soonest expiry first."""
        if customer_id is not None:
            keys = [self.customer_key(customer_id)]
        else:
            pattern = _glob_escape(self.customer_key("")) + "*"
            keys = [_text(k) async for k in self.client.scan_iter(match=pattern, count=500)]
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, ["customer_id", "suppressions"])
        rows: list[dict[str, Any]] = []
        for customer, found in await pipe.execute():
            if found and customer:
                rows.extend({**s, "customer_id": _text(customer)} for s in orjson.loads(found))
        rows.sort(key=lambda r: (r["until"], r["customer_id"], r["id"]))
        return rows

    async def exposures(self, n: int) -> dict[str, list[Exposure]]:
        """The ``n`` customers with the most money at risk in each currency, by currency (each
        list most first, never merged: ``top`` does that), with their risk. A customer whose
        view says another currency than the set it was found in (a write under way) is left
        out of that set's list."""
        currencies = sorted(_text(c) for c in await self.client.smembers(self.currencies_key))
        if not currencies:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for currency in currencies:
            pipe.zrevrange(self.exposure_key(currency), 0, max(n, 1) - 1, withscores=True)
        found = cast("list[list[tuple[bytes, float]]]", await pipe.execute())
        listed = [
            (currency, _text(member), float(amount))
            for currency, rows in zip(currencies, found, strict=True)
            for member, amount in rows
        ]
        if not listed:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for _, customer_id, _ in listed:
            pipe.zscore(self.risk_key, customer_id)
            pipe.hget(self.customer_key(customer_id), "money_at_risk")
        details = await pipe.execute()
        out: dict[str, list[Exposure]] = {}
        for i, (currency, customer_id, amount) in enumerate(listed):
            risk, money = details[2 * i], details[2 * i + 1]
            if money is not None and _money(_text(money))[0] != currency:
                continue
            out.setdefault(currency, []).append(
                Exposure(customer_id, amount, currency, float(risk or 0.0))
            )
        return out

    async def top(self, n: int, reporting: Reporting | None = None) -> Ranking:
        """The customers with the most money at risk (``n`` at most per list of the
        ``Ranking``): converted through ``reporting`` into one order, or without it in one
        order per currency, never across currencies (``streamwatch.exposure.rank``)."""
        return rank(await self.exposures(n), n, reporting)

    async def open_alerts(self, customer_ids: Iterable[str]) -> dict[str, int]:
        """How many open alerts each customer's view shows (0 without a view)."""
        ids = list(customer_ids)
        if not ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for customer_id in ids:
            pipe.hget(self.customer_key(customer_id), "open_alerts")
        found = await pipe.execute()
        return {cid: int(n or 0) for cid, n in zip(ids, found, strict=True)}

    async def worker_metrics(self) -> dict[str, dict[str, int]]:
        """Each worker's counter totals, by worker id (workers whose hash expired left out)."""
        members = cast("list[bytes]", await self.client.zrange(self.workers_key, 0, -1))
        workers = [_text(w) for w in members]
        if not workers:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for worker in workers:
            pipe.hgetall(self.metrics_key(worker))
        found = await pipe.execute()
        return {
            worker: {_text(k): int(v) for k, v in fields.items()}
            for worker, fields in zip(workers, found, strict=True)
            if fields
        }

    async def metrics(self) -> dict[str, int]:
        """Every counter, added up over the workers (``worker_metrics``)."""
        return sum_counts((await self.worker_metrics()).values())

    async def ask_rebuild(self) -> int:
        """Remove every worker's marker, so that each running worker writes the view of every
        customer it holds again within a second or so; returns how many markers there were."""
        pattern = _glob_escape(self.marker_key("")) + "*"
        keys = [key async for key in self.client.scan_iter(match=pattern, count=500)]
        return int(await self.client.delete(*keys)) if keys else 0


def sum_counts(many: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Counters added up name by name."""
    total: dict[str, int] = {}
    for counts in many:
        for name, value in counts.items():
            total[name] = total.get(name, 0) + value
    return total


def _money(money_at_risk: str | None) -> tuple[str, float]:
    """(currency, amount) of a view's ``money_at_risk`` JSON field; (``XXX``, 0) when unknown."""
    doc = orjson.loads(money_at_risk) if money_at_risk else None
    if not isinstance(doc, dict) or not doc.get("currency"):
        return NO_CURRENCY, 0.0
    return str(doc["currency"]), float(doc.get("amount") or 0.0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _glob_escape(text: str) -> str:
    """``text`` matched literally in a Redis glob pattern (SCAN MATCH)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

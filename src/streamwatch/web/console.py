"""The web console and its JSON API: an aiohttp application mounted at ``/console``.

It reads the Redis risk view (customers by money at risk, each customer's open alerts,
suppressions and recent hours) and the output topics (``web.feed``: whole alerts, requests and
results), and writes nothing itself: approvals go through ``enforce.approvals.decide`` (the
signed decision the suspension worker acts on, as ``streamwatch approve``/``reject`` send
it), and suppressions and "not an anomaly" through ``feedback_writer`` to the activity topic,
where the worker (and any replay) reads them as events.

JSON API (``/console/api``; errors are ``{"error": ...}`` with 400, 404, 409 or 503):

- ``GET  /risk?top=N&on=YYYY-MM-DD``: customers most at risk, most money first: converted
  through the rates of STREAMWATCH_FX_RATES in force on the day ``on`` (default today) into
  one order, or without rates one order per currency (``streamwatch.exposure.Ranking.to_dict``);
- ``GET  /customers/{id}``: the customer's view (alerts, suppressions, ``series``) and
  ``timeline`` of alerts, requests and results;
- ``GET  /alerts?kind=&severity=&status=&customer=&limit=``: recent alerts, newest first;
- ``GET  /approvals``: requests awaiting approval;
- ``POST /approvals/{request_id}`` ``{"decision": "approve"|"reject", "by", "key", "note"}``:
  ``key`` is the approver's own secret (of ``STREAMWATCH_APPROVER_KEYS`` on the suspension
  worker), so the decision is signed in the approver's name and the console holds no key;
- ``GET  /suppressions?customer=``: suppressions in effect;
- ``POST /suppressions`` ``{"customer_id", "kind", "match", "until", "reason", "owner"}``
  (``match`` an object, or text ``field=glob, ...``);
- ``POST /suppressions/{customer_id}/{id}/expire`` ``{"owner"}``;
- ``POST /alerts/{alert_id}/not-anomaly`` ``{"owner", "reason", "until"?}``.

Pages (HTML, ``web.pages``): ``/console/``, ``/console/customers/{id}``, ``/console/alerts``,
``/console/approvals``, ``/console/suppressions``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streamwatch.core.codec import DecodeError
from streamwatch.core.timeutil import TimestampError, format_ts, parse_ts_ms
from streamwatch.enforce import approvals
from streamwatch.exposure import Reporting, day_ms, load_reporting
from streamwatch.feedback_writer import not_anomaly_event, produce, suppress_event
from streamwatch.live.redis_view import RiskView
from streamwatch.settings import DeploymentSettings
from streamwatch.web import pages
from streamwatch.web.feed import Recent, TopicFeed, status_of

BASE: Final = "/console"
MAX_TOP: Final = 500
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request the console will not carry out; ``status`` and the message go back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Console:
    """What the handlers share: settings, Redis, the topic feed, a clock and a producer."""

    settings: DeploymentSettings
    redis: Redis
    feed: TopicFeed
    clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    send: Callable[[DeploymentSettings, dict[str, Any]], Awaitable[None]] = produce

    @property
    def view(self) -> RiskView:
        return RiskView(self.redis, self.settings.redis_prefix)

    @property
    def recent(self) -> Recent:
        return self.feed.recent

    # --- reads ------------------------------------------------------------------------

    def reporting(self, on: str | None) -> Reporting | None:
        """The rates of STREAMWATCH_FX_RATES (read now, so a new file applies at once) for the
        day ``on`` (``YYYY-MM-DD``; default today, UTC); None when none are configured."""
        path, currency = self.settings.fx_rates, self.settings.reporting_currency
        if path is None or currency is None:
            if on:
                raise Refused(400, "'on' needs currency rates (STREAMWATCH_FX_RATES)")
            return None
        try:
            at_ms = day_ms(on) if on else self.clock()
        except ValueError as exc:
            raise Refused(400, "on must be a day, YYYY-MM-DD") from exc
        try:
            return load_reporting(path, currency, at_ms)
        except OSError as exc:
            raise Refused(503, f"cannot read STREAMWATCH_FX_RATES={path}: {exc.strerror}") from exc
        except ValueError as exc:
            raise Refused(503, f"STREAMWATCH_FX_RATES={path}: {exc}") from exc

    async def risk(self, top: int, on: str | None = None) -> dict[str, Any]:
        """Customers by money at risk (``Ranking.to_dict``), each row with its open alerts."""
        ranking = await self.view.top(min(max(top, 1), MAX_TOP), self.reporting(on))
        doc = ranking.to_dict()
        rows = [*doc["converted"], *doc["unknown"]]
        rows += [row for listed in doc["by_currency"].values() for row in listed]
        counts = await self.view.open_alerts(row["customer_id"] for row in rows)
        for row in rows:
            row["open_alerts"] = counts[row["customer_id"]]
        return doc

    async def customer(self, customer_id: str) -> dict[str, Any]:
        view = await self.view.customer(customer_id)
        if view is None:
            raise Refused(404, f"no customer {customer_id!r} in the risk view")
        return {**view.to_dict(), "timeline": self.recent.timeline(customer_id)}

    def alerts(self, query: dict[str, str]) -> list[dict[str, Any]]:
        try:
            limit = int(query.get("limit", "200"))
        except ValueError as exc:
            raise Refused(400, "limit must be a whole number") from exc
        found = self.recent.alert_list(
            customer_id=query.get("customer") or None,
            kind=query.get("kind") or None,
            severity=query.get("severity") or None,
            status=query.get("status") or None,
            limit=min(max(limit, 1), 5000),
        )
        return [{**a, "status": status_of(a)} for a in found]

    async def pending(self) -> list[dict[str, Any]]:
        records = await approvals.pending(self.redis, self.settings)
        return [orjson.loads(line) for line in approvals.pending_json(records)]

    # --- writes -----------------------------------------------------------------------

    async def decide(self, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
        decision, by, key = body.get("decision"), body.get("by"), body.get("key")
        if decision not in ("approve", "reject"):
            raise Refused(400, "decision must be 'approve' or 'reject'")
        if not isinstance(by, str) or not by or not isinstance(key, str) or not key:
            raise Refused(400, "give the approver's name ('by') and own key ('key')")
        settings = dataclasses.replace(self.settings, approver_key=(by, key.encode()))
        sent = await approvals.decide(
            settings, self.redis, request_id, decision, by, str(body.get("note", ""))
        )
        if sent.error:
            raise Refused(404 if sent.exit_code == 1 else 400, sent.error)
        return {"message": "; ".join(sent.lines)}

    async def suppress(self, body: dict[str, Any]) -> dict[str, Any]:
        customer_id, owner = body.get("customer_id"), body.get("owner")
        reason, until = body.get("reason"), body.get("until")
        if not all(isinstance(v, str) and v.strip() for v in (customer_id, owner, reason, until)):
            raise Refused(400, "give customer_id, owner, reason and until")
        assert isinstance(customer_id, str)
        assert isinstance(until, str)
        at = format_ts(self.clock())
        try:
            until_ts = format_ts(parse_ts_ms(until.strip()))
        except TimestampError as exc:
            raise Refused(400, f"until: {exc}") from exc
        if until_ts <= at:
            raise Refused(400, f"until {until_ts} is not after now ({at})")
        event = self._checked(
            lambda: suppress_event(
                customer_id.strip(),
                kind=str(body.get("kind") or "*"),
                match=_match(body.get("match")),
                until=until_ts,
                reason=str(reason).strip(),
                owner=str(owner).strip(),
                at=at,
            )
        )
        await self.send(self.settings, event)
        return {"message": f"suppression sent for {customer_id} until {until_ts}", "event": event}

    async def expire(
        self, customer_id: str, suppression_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        owner = body.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            raise Refused(400, "give the owner withdrawing it")
        at = format_ts(self.clock())
        event = self._checked(
            lambda: suppress_event(
                customer_id,
                kind="*",
                match={},
                until=at,
                reason="withdrawn",
                owner=owner.strip(),
                at=at,
                suppression_id=suppression_id,
            )
        )
        await self.send(self.settings, event)
        return {"message": f"suppression {suppression_id} withdrawn", "event": event}

    async def not_anomaly(self, alert_id: str, body: dict[str, Any]) -> dict[str, Any]:
        owner, reason, until = body.get("owner"), body.get("reason"), body.get("until") or None
        if not all(isinstance(v, str) and v.strip() for v in (owner, reason)):
            raise Refused(400, "give owner and reason")
        alert = self.recent.alerts.get(alert_id)
        if alert is None:
            raise Refused(404, f"no alert {alert_id!r} among the recent alerts")
        at = format_ts(self.clock())
        event = self._checked(
            lambda: not_anomaly_event(
                alert,
                reason=str(reason).strip(),
                owner=str(owner).strip(),
                at=at,
                until=None if until is None else format_ts(parse_ts_ms(str(until))),
            )
        )
        await self.send(self.settings, event)
        return {
            "message": f"{alert['kind']} alert {alert_id} marked not an anomaly",
            "event": event,
        }

    @staticmethod
    def _checked(build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return build()
        except DecodeError as exc:
            raise Refused(400, exc.reason) from exc
        except TimestampError as exc:
            raise Refused(400, str(exc)) from exc


def _match(value: Any) -> dict[str, str]:
    """``match`` as an object of text, or text ``field=glob, field=glob``."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise Refused(400, "match must be an object or 'field=glob, ...'")
    out = {}
    for part in value.split(","):
        field, sep, glob = part.strip().partition("=")
        if not sep or not field:
            raise Refused(400, f"match {part.strip()!r} is not field=glob")
        out[field.strip()] = glob.strip()
    return out


def _guarded(handler: Handler) -> Handler:
    """Turn Refused into its status and unreachable services into 503, as JSON."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        except (RedisError, KafkaError, OSError) as exc:
            return web.json_response({"error": f"a service is unavailable: {exc}"}, status=503)

    return run


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise Refused(400, "the body must be a JSON object") from exc
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    return body


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


def console_app(console: Console, *, own_feed: bool = True) -> web.Application:
    """The application to mount at ``/console`` (``add_subapp``) or to serve on its own
    under that prefix. With ``own_feed`` it starts and stops the topic feed with itself."""
    app = web.Application()
    c = console
    base = BASE

    async def api_risk(request: web.Request) -> web.StreamResponse:
        try:
            top = int(request.query.get("top", "50"))
        except ValueError as exc:
            raise Refused(400, "top must be a whole number") from exc
        return _json(await c.risk(top, request.query.get("on") or None))

    async def api_customer(request: web.Request) -> web.StreamResponse:
        return _json(await c.customer(request.match_info["customer_id"]))

    async def api_alerts(request: web.Request) -> web.StreamResponse:
        return _json(c.alerts(dict(request.query)))

    async def api_pending(_request: web.Request) -> web.StreamResponse:
        return _json(await c.pending())

    async def api_decide(request: web.Request) -> web.StreamResponse:
        return _json(await c.decide(request.match_info["request_id"], await _body(request)))

    async def api_suppressions(request: web.Request) -> web.StreamResponse:
        return _json(await c.view.suppressions(request.query.get("customer") or None))

    async def api_suppress(request: web.Request) -> web.StreamResponse:
        return _json(await c.suppress(await _body(request)))

    async def api_expire(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        return _json(await c.expire(info["customer_id"], info["sid"], await _body(request)))

    async def api_not_anomaly(request: web.Request) -> web.StreamResponse:
        return _json(await c.not_anomaly(request.match_info["alert_id"], await _body(request)))

    async def page_risk(request: web.Request) -> web.StreamResponse:
        on = request.query.get("on") or None
        return _html(pages.risk_page(await c.risk(50, on), base, c.feed.error, on))

    async def page_customer(request: web.Request) -> web.StreamResponse:
        customer_id = request.match_info["customer_id"]
        try:
            data = await c.customer(customer_id)
        except Refused:
            data = {
                "customer_id": customer_id,
                "alerts": [],
                "suppressions": [],
                "series": [],
                "timeline": c.recent.timeline(customer_id),
            }
        return _html(pages.customer_page(data, data["timeline"], base))

    async def page_alerts(request: web.Request) -> web.StreamResponse:
        filters = {k: request.query.get(k, "") for k in ("kind", "severity", "status")}
        return _html(pages.alerts_page(c.alerts(dict(request.query)), filters, base))

    async def page_approvals(_request: web.Request) -> web.StreamResponse:
        return _html(pages.approvals_page(await c.pending(), base))

    async def page_suppressions(_request: web.Request) -> web.StreamResponse:
        return _html(pages.suppressions_page(await c.view.suppressions(), base))

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/api/risk", api_risk),
        ("GET", "/api/customers/{customer_id}", api_customer),
        ("GET", "/api/alerts", api_alerts),
        ("GET", "/api/approvals", api_pending),
        ("POST", "/api/approvals/{request_id}", api_decide),
        ("GET", "/api/suppressions", api_suppressions),
        ("POST", "/api/suppressions", api_suppress),
        ("POST", "/api/suppressions/{customer_id}/{sid}/expire", api_expire),
        ("POST", "/api/alerts/{alert_id}/not-anomaly", api_not_anomaly),
        ("GET", "/", page_risk),
        ("GET", "/customers/{customer_id}", page_customer),
        ("GET", "/alerts", page_alerts),
        ("GET", "/approvals", page_approvals),
        ("GET", "/suppressions", page_suppressions),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _guarded(handler))
    if own_feed:

        async def start(_app: web.Application) -> None:
            await c.feed.start()

        async def stop(_app: web.Application) -> None:
            await c.feed.stop()
            await c.redis.aclose()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
    return app


def build(settings: DeploymentSettings) -> web.Application:
    """The console app for ``settings`` (its own Redis client and topic feed)."""
    redis = Redis.from_url(settings.redis, socket_connect_timeout=5, socket_timeout=5)
    return console_app(Console(settings, redis, TopicFeed(settings)))

"""``streamwatch notify`` against a real Alertmanager (``deploy/alertmanager.sh``), the real
broker and Redis: alerts arrive grouped by customer, resolving an incident resolves it there,
a silence is honoured, and the generic webhook gets each alert signed.

Alertmanager runs with the configuration ``deploy/alertmanager.sh`` writes: grouped by
``customer``, one webhook receiver at ALERTMANAGER_RECEIVER_URL, which this test serves. Its
address comes from STREAMWATCH_ALERTMANAGER (default ``http://127.0.0.1:9095``). Customers are
named after the test's prefix, so runs never see each other's alerts.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from endpoints import port_of, scrape
from processes import ServiceProcess, worker_env
from redis.asyncio import Redis

from streamwatch.core.ids import stable_id
from streamwatch.enforce.webhook import SIGNATURE_HEADER, verify_signature
from streamwatch.settings import DeploymentSettings

pytestmark = pytest.mark.integration

ALERTMANAGER = (os.environ.get("STREAMWATCH_ALERTMANAGER") or "http://127.0.0.1:9095").split(",")[0]
RECEIVER = os.environ.get("ALERTMANAGER_RECEIVER_URL") or "http://127.0.0.1:9096/alerts"
WEBHOOK_SECRET = "notify-test-secret"
HINT = "Start it with: bash deploy/services.sh up (deploy/alertmanager.sh)"


@dataclass
class Receiver:
    """What Alertmanager's webhook receiver and the generic webhook were sent."""

    notifications: list[dict[str, Any]] = field(default_factory=list)
    webhook: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)

    def for_customer(self, customer: str) -> list[dict[str, Any]]:
        return [n for n in self.notifications if n["groupLabels"].get("customer") == customer]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An HTTP server at ALERTMANAGER_RECEIVER_URL (Alertmanager's notifications) that also
    takes the generic webhook's POSTs on ``/generic``."""
    got = Receiver()
    url = urllib.parse.urlsplit(RECEIVER)

    async def notification(request: web.Request) -> web.Response:
        got.notifications.append(await request.json())
        return web.Response(text="ok")

    async def generic(request: web.Request) -> web.Response:
        got.webhook.append((await request.read(), dict(request.headers)))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(url.path or "/", notification)
    app.router.add_post("/generic", generic)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, url.hostname, url.port)
    await site.start()
    try:
        yield got
    finally:
        await runner.cleanup()


async def am(method: str, path: str, body: Any = None) -> Any:
    """Call Alertmanager's API; the test FAILS if it does not answer."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.request(method, f"{ALERTMANAGER}{path}", json=body) as answer,
        ):
            assert answer.status < 300, await answer.text()
            return await answer.json(content_type=None)
    except aiohttp.ClientError as exc:
        pytest.fail(f"Alertmanager is not answering at {ALERTMANAGER} ({exc!r}). {HINT}")


def alert(customer: str, kind: str, revision: int = 1, severity: str = "high", **evidence: Any):
    return {
        "alert_id": stable_id(customer, kind),
        "customer_id": customer,
        "kind": kind,
        "severity": severity,
        "score": 0.9,
        "event_time": f"2026-10-01T{revision:02d}:00:00Z",
        "window_start": "2026-10-01T00:00:00Z",
        "window_end": f"2026-10-01T{revision:02d}:00:00Z",
        "detected_at": f"2026-10-01T{revision:02d}:00:01Z",
        "reasons": [f"{kind} for {customer} (revision {revision})."],
        "evidence": evidence,
        "subscription_ids": ["sub-1"],
        "detector": {"name": kind, "version": "1"},
        "revision": revision,
        "money_at_risk": {"amount": 500.0, "currency": "USD", "unbilled": 500.0, "unpaid": 0.0,
                          "prepaid": 0.0, "projected": 500.0,
                          "next_invoice": "2026-11-01T00:00:00Z", "rate_per_h": 20.83,
                          "observed_h": 24, "horizon_h": 24,
                          "method": "rate $20.83/h observed over 24 h, projected over 24 h"},
    }  # fmt: skip


async def until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def alerts_of(customer: str, **params: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"filter": f'customer="{customer}"', **params})
    return list(await am("GET", f"/api/v2/alerts?{query}"))


async def test_alerts_reach_alertmanager_grouped_resolved_and_silenced(
    kafka, settings: DeploymentSettings, receiver: Receiver, tmp_path: Path
) -> None:
    await am("GET", "/api/v2/status")
    c1, c2, c3, c4 = (f"{settings.topic_prefix}c{n}" for n in range(1, 5))
    # A silence on c3 before anything is sent: Alertmanager must hold its alert back.
    silence = await am("POST", "/api/v2/silences", {
        "matchers": [{"name": "customer", "value": c3, "isRegex": False, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "streamwatch-test", "comment": "expected traffic",
    })  # fmt: skip
    env = worker_env(settings)
    env.update(
        STREAMWATCH_ALERTMANAGER=ALERTMANAGER,
        STREAMWATCH_NOTIFY_RESEND_S="2",
        STREAMWATCH_CONSOLE_URL="https://console.example",
        STREAMWATCH_ALERT_WEBHOOK_URL=urllib.parse.urljoin(RECEIVER, "/generic"),
        STREAMWATCH_ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    notify = ServiceProcess("notify", env, tmp_path / "notify.log", []).start()
    try:
        port = await port_of(notify)
        key = lambda c: c.encode()  # noqa: E731
        sent = [
            alert(c1, "spend_spike"),
            alert(c1, "chargeback", severity="critical"),
            alert(c2, "payment_failure", status="open"),
            alert(c3, "crypto_mining"),
        ]
        await kafka.produce([("alerts", key(a["customer_id"]), orjson.dumps(a)) for a in sent])
        await kafka.produce([("alerts", key(c1), b"{not an alert")])
        sent_at = time.monotonic()

        # Grouped by customer: c1's two alerts in one group, in Alertmanager and in what its
        # receiver got.
        async def c1_grouped() -> Any:
            groups = await am("GET", f"/api/v2/alerts/groups?filter=customer%3D%22{c1}%22")
            return [g for g in groups if g["labels"] == {"customer": c1} and len(g["alerts"]) == 2]

        (group,) = await until(c1_grouped, "c1's group in Alertmanager")
        assert sorted(a["labels"]["kind"] for a in group["alerts"]) == ["chargeback", "spend_spike"]
        assert all(
            a["annotations"]["console"].endswith(f"/customers/{c1}") for a in group["alerts"]
        )

        async def c1_notified() -> Any:
            return [n for n in receiver.for_customer(c1) if len(n["alerts"]) == 2]

        (note, *_) = await until(c1_notified, "c1's grouped notification")
        assert note["status"] == "firing"
        assert {a["labels"]["severity"] for a in note["alerts"]} == {"high", "critical"}
        assert note["alerts"][0]["annotations"]["money_at_risk"] == "500.00 USD"

        # Resolving the incident resolves it there (sent under the labels it fired with).
        resolved = alert(c2, "payment_failure", revision=2, severity="info", status="resolved")
        await kafka.produce([("alerts", key(c2), orjson.dumps(resolved))])

        async def c2_resolved() -> Any:
            return [n for n in receiver.for_customer(c2) if n["status"] == "resolved"]

        (done, *_) = await until(c2_resolved, "c2's resolved notification")
        assert done["alerts"][0]["labels"]["severity"] == "high"
        assert await alerts_of(c2) == []  # Alertmanager lists no resolved alert

        # The silence is honoured: c3's alert is in Alertmanager, suppressed by it, and its
        # receiver gets nothing for c3, while c4's alert, sent after, is notified.
        (held,) = await until(lambda: alerts_of(c3), "c3's alert in Alertmanager")
        assert held["status"]["state"] == "suppressed"
        assert held["status"]["silencedBy"] == [silence["silenceID"]]
        await kafka.produce([("alerts", key(c4), orjson.dumps(alert(c4, "spend_spike")))])
        await until(lambda: _async(receiver.for_customer(c4)), "c4's notification")
        await asyncio.sleep(3)  # two more group intervals
        assert receiver.for_customer(c3) == []

        # Open alerts are re-sent: each is sent valid for four resend periods (8 s), and c1's
        # are still active well after that.
        await asyncio.sleep(max(0.0, 12 - (time.monotonic() - sent_at)))
        assert {a["status"]["state"] for a in await alerts_of(c1)} == {"active"}

        # The generic webhook got every alert, signed; the bad message was dead-lettered.
        bodies = [orjson.loads(body) for body, _ in receiver.webhook]
        mine = {(b["customer_id"], b["revision"]) for b in bodies}
        assert {(c1, 1), (c2, 1), (c2, 2), (c3, 1), (c4, 1)} <= mine
        for body, headers in receiver.webhook:
            assert verify_signature(
                WEBHOOK_SECRET.encode(), body, headers[SIGNATURE_HEADER], int(time.time())
            )
        (dead,) = await kafka.read_topic("dead-letter", until_count=1, timeout=30)
        assert dead.json()["code"] == "invalid_json"
        _, samples = scrape(port)
        delivered = samples[
            ("streamwatch_notify_alerts_total", frozenset({("outcome", "delivered")}))
        ]
        assert delivered >= 6
        invalid = ("streamwatch_dead_letters_total", frozenset({("code", "invalid_json")}))
        assert samples[invalid] == 1
    finally:
        assert notify.stop() == 0, notify.log_text()[-3000:]
        await am("DELETE", f"/api/v2/silence/{silence['silenceID']}")


async def _async(value: Any) -> Any:
    return value


async def test_undeliverable_alerts_are_dead_lettered_counted_and_kept_for_alertmanager(
    kafka, settings: DeploymentSettings, tmp_path: Path
) -> None:
    """The webhook refuses everything (400) and no Alertmanager listens: the worker keeps
    running, dead-letters each alert the webhook would not take, counts the failures, and
    keeps the alert in its book to re-send once Alertmanager is back."""
    refused: list[bytes] = []

    async def refuse(request: web.Request) -> web.Response:
        refused.append(await request.read())
        return web.Response(status=400, text="no such tenant")

    app = web.Application()
    app.router.add_post("/generic", refuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    webhook_port = runner.addresses[0][1]
    env = worker_env(settings)
    env.update(
        STREAMWATCH_ALERTMANAGER="http://127.0.0.1:9",  # discard: nothing answers
        STREAMWATCH_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{webhook_port}/generic",
        STREAMWATCH_ALERT_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    notify = ServiceProcess("notify", env, tmp_path / "notify.log", ["--retries", "1",
                            "--backoff", "0.1"]).start()  # fmt: skip
    try:
        port = await port_of(notify)
        customer = f"{settings.topic_prefix}c1"
        doc = alert(customer, "chargeback", severity="critical")
        await kafka.produce([("alerts", customer.encode(), orjson.dumps(doc))])
        (dead,) = await kafka.read_topic("dead-letter", until_count=1, timeout=60)
        record = dead.json()
        assert record["code"] == "undeliverable"
        assert "webhook answered 400" in record["reason"]
        assert "no such tenant" in record["reason"]
        assert len(refused) == 1  # a 400 is not retried
        _, samples = scrape(port)
        failed = ("streamwatch_notify_alerts_total", frozenset({("outcome", "failed")}))
        assert samples[failed] == 1
        for sink in ("alertmanager", "webhook"):
            labels = frozenset({("sink", sink), ("purpose", "alert"), ("outcome", "failed")})
            assert samples[("streamwatch_notify_deliveries_total", labels)] == 1
        redis = Redis.from_url(settings.redis)
        try:
            book = await redis.hgetall(f"{settings.redis_prefix}notify:alerts")
        finally:
            await redis.aclose()
        assert list(book) == [doc["alert_id"].encode()]
        assert notify.running
    finally:
        assert notify.stop() == 0, notify.log_text()[-3000:]
        await runner.cleanup()

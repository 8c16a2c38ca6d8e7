"""Money at risk in the real Redis: one sorted set per currency, a customer in the set of its
latest currency only, and ``top`` ordering across currencies only through dated rates (the
command and the console saying which), else one order per currency."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from test_worker_view_heals import delete_prefix

from streamwatch.adapters.rates import parse_fx
from streamwatch.core.state import CustomerState
from streamwatch.exposure import Reporting, day_ms
from streamwatch.live.redis_view import RiskView, customer_view
from streamwatch.settings import DeploymentSettings
from streamwatch.web.console import Console, console_app
from streamwatch.web.feed import TopicFeed

pytestmark = pytest.mark.integration

RATES = "date,currency,rate\n2026-11-01,EUR,1.08\n2026-11-01,GBP,1.27\n"


def fields(customer: str, money: dict[str, Any] | None, risk: float = 0.5) -> dict[str, str]:
    view = customer_view(CustomerState(customer), 0, money)
    view["risk"] = repr(risk)
    view["open_alerts"] = "1"
    return view


MIXED = {
    "eur-101": fields("eur-101", {"amount": 101.0, "currency": "EUR"}, 0.4),
    "gbp-100": fields("gbp-100", {"amount": 100.0, "currency": "GBP"}, 0.3),
    "jpy-9000": fields("jpy-9000", {"amount": 9000.0, "currency": "JPY"}, 0.2),
    "miner": fields("miner", None, 0.9),
}


@pytest.fixture
async def view(settings: DeploymentSettings) -> AsyncIterator[RiskView]:
    client = Redis.from_url(settings.redis)
    try:
        yield RiskView(client, settings.redis_prefix)
    finally:
        await delete_prefix(client, settings.redis_prefix)
        await client.aclose()


async def scores(view: RiskView) -> dict[str, dict[str, float]]:
    """Every exposure set of the view, by currency (empty ones left out)."""
    out = {}
    for currency in sorted(c.decode() for c in await view.client.smembers(view.currencies_key)):
        found = await view.client.zrange(view.exposure_key(currency), 0, -1, withscores=True)
        if found:
            out[currency] = {m.decode(): s for m, s in found}
    return out


async def test_money_at_risk_is_scored_in_one_set_per_currency(view: RiskView) -> None:
    await view.publish(MIXED)
    want = {
        "EUR": {"eur-101": 101.0},
        "GBP": {"gbp-100": 100.0},
        "JPY": {"jpy-9000": 9000.0},
        "XXX": {"miner": 0.0},
    }
    assert await scores(view) == want
    assert await view.client.exists(f"{view.prefix}exposure") == 0, "no mixed set any more"
    await view.publish(MIXED)
    assert await scores(view) == want, "set, not incremented: the same write leaves the same"


async def test_a_customer_leaves_the_set_of_its_former_currency(view: RiskView) -> None:
    await view.publish(MIXED)
    await view.publish({"eur-101": fields("eur-101", {"amount": 120.0, "currency": "USD"})})
    found = await scores(view)
    assert "EUR" not in found
    assert found["USD"] == {"eur-101": 120.0}
    await view.publish({"eur-101": fields("eur-101", None)})
    found = await scores(view)
    assert "USD" not in found, "money at risk gone: in no currency's set"
    assert found["XXX"] == {"miner": 0.0, "eur-101": 0.0}


async def test_top_orders_100_gbp_above_101_eur_only_with_rates(view: RiskView) -> None:
    await view.publish(MIXED)
    rates = Reporting(parse_fx(RATES, "USD"), day_ms("2026-12-01"), "fx.csv")
    ranking = await view.top(10, rates)
    assert [(c.row.customer_id, round(c.amount, 2)) for c in ranking.converted] == [
        ("gbp-100", 127.0),
        ("eur-101", 109.08),
    ]
    assert [r.customer_id for r in ranking.apart["JPY"]] == ["jpy-9000"]
    assert [(r.customer_id, r.risk) for r in ranking.unknown] == [("miner", 0.9)]

    plain = await view.top(10)
    assert plain.converted == (), "without rates, no order across currencies"
    assert {cur: [r.customer_id for r in rows] for cur, rows in plain.apart.items()} == {
        "EUR": ["eur-101"],
        "GBP": ["gbp-100"],
        "JPY": ["jpy-9000"],
    }


async def test_a_customer_found_in_a_set_its_view_disowns_is_left_out(view: RiskView) -> None:
    await view.publish(MIXED)
    await view.client.sadd(view.currencies_key, "CHF")
    await view.client.zadd(view.exposure_key("CHF"), {"eur-101": 5.0})  # a stale entry
    ranking = await view.top(10)
    assert "CHF" not in ranking.apart
    assert [r.customer_id for r in ranking.apart["EUR"]] == ["eur-101"]


@pytest.fixture
def rates_file(tmp_path: Path) -> Path:
    """``RATES`` in a file named fx.csv."""
    path = tmp_path / "fx.csv"
    path.write_text(RATES)
    return path


async def test_risk_top_converts_with_a_rates_file_and_says_so(
    view: RiskView, cli: Any, rates_file: Path
) -> None:
    path = rates_file
    await view.publish(MIXED)
    shown = cli("risk", "--top", "5", "--fx", str(path), "--currency", "USD", "--on", "2026-12-01")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(
        "money at risk converted to USD at the rates in force on 2026-12-01 (file fx.csv): "
        "EUR 1.0800, GBP 1.2700"
    )
    assert lines[2].split()[:2] == ["1.", "gbp-100"]
    assert lines[3].split()[:2] == ["2.", "eur-101"]
    doc = orjson.loads(
        cli("risk", "--top", "5", "--fx", str(path), "--currency", "USD", "--json").stdout
    )
    assert [r["customer_id"] for r in doc["converted"]] == ["gbp-100", "eur-101"]
    assert doc["converted"][0]["money_at_risk"] == 100.0
    assert doc["converted"][0]["currency"] == "GBP"

    plain = cli("risk", "--top", "5")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("no currency rates given")
    assert "by money at risk in" not in plain.stdout
    assert "in EUR:" in plain.stdout
    assert "in GBP:" in plain.stdout
    gone = str(path.with_name("none.csv"))
    missing = cli("risk", "--top", "5", "--fx", gone, "--currency", "USD")
    assert missing.returncode == 2
    assert "cannot read the rates file" in missing.stderr


async def test_the_console_converts_through_its_configured_rates(
    view: RiskView, settings: DeploymentSettings, rates_file: Path
) -> None:
    await view.publish(MIXED)
    configured = dataclasses.replace(settings, fx_rates=rates_file, reporting_currency="USD")
    async with TestClient(TestServer(app(configured, view))) as client:
        answer = await client.get("/api/risk?top=5&on=2026-12-01")
        assert answer.status == 200
        doc = await answer.json()
        assert doc["reporting"]["day"] == "2026-12-01"
        assert [r["customer_id"] for r in doc["converted"]] == ["gbp-100", "eur-101"]
        assert doc["converted"][0]["open_alerts"] == 1
        assert doc["totals"] == {"USD": 236.08, "JPY": 9000.0}
        page = await (await client.get("/?on=2026-12-01")).text()
        assert "money at risk converted to USD at the rates in force on 2026-12-01" in page
        assert (await client.get("/api/risk?on=soon")).status == 400
    async with TestClient(TestServer(app(settings, view))) as client:
        doc = await (await client.get("/api/risk?top=5")).json()
        assert doc["reporting"] is None
        assert doc["converted"] == []
        assert sorted(doc["by_currency"]) == ["EUR", "GBP", "JPY"]


def app(settings: DeploymentSettings, view: RiskView) -> Any:
    console = Console(settings, view.client, TopicFeed(settings))
    return console_app(console, own_feed=False)

"""The risk view's fields are derived from a customer's state alone."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from streamwatch import exits
from streamwatch import testing as build
from streamwatch.commands import risk as risk_command
from streamwatch.commands.risk import format_customer
from streamwatch.core.engine import Core
from streamwatch.core.policy import parse_policy
from streamwatch.core.state import CustomerState
from streamwatch.live.redis_view import CustomerView, RiskView, customer_view
from streamwatch.settings import DeploymentSettings


def _state_with_alerts():
    core = Core(policy=parse_policy(DeploymentSettings().policy_text()))
    state = core.new_state("c-1")
    events = [
        build.budget_set(100.0, customer_id="c-1", ts="2026-10-01T00:00:00Z"),
        build.usage("c-1", ts="2026-10-01T01:00:00Z", cost=60.0),
        build.provider_notice(customer_id="c-1", ts="2026-10-01T02:00:00Z"),
    ]
    for doc in events:
        core.step(state, build.decoded(doc), 0)
    return state


def test_view_lists_open_alerts_riskiest_first():
    state = _state_with_alerts()
    fields = customer_view(state, now_ms=1_790_000_000_000)
    alerts = orjson.loads(fields["alerts"])
    assert fields["customer_id"] == "c-1"
    assert fields["open_alerts"] == "2"
    assert [a["kind"] for a in alerts] == ["provider_notice", "budget_threshold"]
    assert set(alerts[0]) == {
        "alert_id",
        "kind",
        "severity",
        "score",
        "event_time",
        "summary",
        "suppressed",
    }
    assert alerts[1]["event_time"] == "2026-10-01T01:00:00Z"
    assert orjson.loads(fields["series"]) == [
        {
            "hour": "2026-10-01T01:00:00Z",
            "spend": 60.0,
            "expected": None,
            "cpu": None,
            "gpu": None,
            "gpus": 0,
            "paid": 0.0,
            "failed": 0.0,
            "charged_back": 0.0,
        }
    ], "one hour of usage, nothing learned yet"
    assert orjson.loads(fields["suppressions"]) == []
    assert float(fields["risk"]) == state.risk
    assert fields["updated_at"] == "2026-09-21T14:13:20Z"


def test_view_is_the_same_for_the_same_state():
    state = _state_with_alerts()
    first = customer_view(state, now_ms=0)
    assert customer_view(state, now_ms=0) == first


def test_customer_view_to_dict_counts_alerts():
    view = CustomerView("c-1", 0.5, [{"alert_id": "a"}], "2026-10-01T00:00:00Z")
    assert view.to_dict()["open_alerts"] == 1


# --- money at risk --------------------------------------------------------------------------


def test_view_carries_the_money_at_risk() -> None:
    state = _state_with_alerts()
    money = {"amount": 12.5, "currency": "USD", "unbilled": 60.0}
    fields = customer_view(state, 0, money)
    assert orjson.loads(fields["money_at_risk"]) == money
    assert orjson.loads(customer_view(state, 0)["money_at_risk"]) is None


class FakePipeline:
    """The few pipeline commands RiskView uses, against FakeRedis's dicts."""

    def __init__(self, redis: FakeRedis) -> None:
        self.redis = redis
        self.results: list[Any] = []

    def hset(self, key: str, mapping: dict[str, str]) -> None:
        self.redis.hashes.setdefault(key, {}).update(mapping)
        self.results.append(len(mapping))

    def zadd(self, key: str, scores: dict[str, float]) -> None:
        self.redis.zsets.setdefault(key, {}).update(scores)
        self.results.append(len(scores))

    def zscore(self, key: str, member: bytes) -> None:
        self.results.append(self.redis.zsets.get(key, {}).get(member.decode()))

    def hget(self, key: str, name: str) -> None:
        value = self.redis.hashes.get(key, {}).get(name)
        self.results.append(None if value is None else value.encode())

    async def execute(self) -> list[Any]:
        return self.results


class FakeRedis:
    def __init__(self) -> None:
        self.hashes: dict[str, dict[str, str]] = {}
        self.zsets: dict[str, dict[str, float]] = {}

    def pipeline(self, transaction: bool = False) -> FakePipeline:
        return FakePipeline(self)

    async def zrevrange(
        self, key: str, start: int, stop: int, withscores: bool = False
    ) -> list[tuple[bytes, float]]:
        ranked = sorted(self.zsets.get(key, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        return [(member.encode(), score) for member, score in ranked[start : stop + 1]]


async def test_top_orders_customers_by_money_at_risk_and_keeps_their_risk() -> None:
    redis = FakeRedis()
    view = RiskView(redis, "sw:")  # type: ignore[arg-type]
    views = {}
    for cid, risk, money in (
        ("miner", 0.95, None),
        ("big", 0.30, {"amount": 900.0, "currency": "EUR"}),
        ("small", 0.60, {"amount": 15.0, "currency": "USD"}),
        ("tie", 0.70, {"amount": 15.0, "currency": "USD"}),
    ):
        state = CustomerState(cid)
        fields = customer_view(state, 0, money)
        fields["risk"] = repr(risk)
        views[cid] = fields
    await view.publish(views, {})
    top = await view.top(3)
    assert [(r.customer_id, r.money_at_risk, r.currency, r.risk) for r in top] == [
        ("big", 900.0, "EUR", 0.30),
        ("tie", 15.0, "USD", 0.70),
        ("small", 15.0, "USD", 0.60),
    ]
    assert redis.zsets["sw:risk"]["miner"] == 0.95
    assert redis.zsets["sw:exposure"]["miner"] == 0.0


def test_risk_command_shows_the_money_at_risk() -> None:
    money = {
        "amount": 1363.72,
        "currency": "USD",
        "unbilled": 210.05,
        "unpaid": 900.0,
        "prepaid": 0.0,
        "projected": 463.72,
        "next_invoice": "2027-02-01T00:00:00Z",
    }
    text = format_customer(CustomerView("c-1", 0.5, [], "2026-10-01T00:00:00Z", money))
    assert "money at risk $1,363.72 by 2027-02-01T00:00:00Z" in text
    assert "unpaid $900.00" in text
    assert "money at risk" not in format_customer(CustomerView("c-1", 0.5, [], "x"))


def test_risk_command_takes_one_of_a_customer_top_or_rebuild(capsys) -> None:
    parser = argparse.ArgumentParser()
    risk_command.configure(parser)
    for argv in ([], ["c-1", "--rebuild"], ["--top", "3", "--rebuild"], ["c-1", "--top", "3"]):
        assert risk_command.run(parser.parse_args(argv)) == exits.USAGE, argv
    assert "one of CUSTOMER_ID, --top N or --rebuild" in capsys.readouterr().err
    assert parser.parse_args(["--rebuild"]).rebuild is True

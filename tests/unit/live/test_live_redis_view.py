"""The risk view's fields are derived from a customer's state alone."""

from __future__ import annotations

import argparse

import orjson
import pytest

from streamwatch import exits
from streamwatch import testing as build
from streamwatch.adapters.rates import parse_fx
from streamwatch.commands import risk as risk_command
from streamwatch.commands.risk import format_customer, format_ranking
from streamwatch.core.engine import Core
from streamwatch.core.policy import parse_policy
from streamwatch.exposure import Exposure, Reporting, day_ms, rank
from streamwatch.live.redis_view import CustomerView, customer_view
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


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--top", "3", "--fx", "fx.csv"], "--fx and --currency go together"),
        (["--top", "3", "--currency", "USD"], "--fx and --currency go together"),
        (["c-1", "--fx", "fx.csv", "--currency", "USD"], "go with --top"),
    ],
    ids=["fx-alone", "currency-alone", "fx-without-top"],
)
def test_risk_command_takes_the_rates_file_with_its_currency(argv, says, capsys) -> None:
    parser = argparse.ArgumentParser()
    risk_command.configure(parser)
    assert risk_command.run(parser.parse_args(argv)) == exits.USAGE
    assert says in capsys.readouterr().err


def test_risk_command_reads_the_rates_of_the_flags_else_of_the_settings(tmp_path) -> None:
    parser = argparse.ArgumentParser()
    risk_command.configure(parser)
    path = tmp_path / "fx.csv"
    path.write_text("date,currency,rate\n2026-11-01,EUR,1.08\n")
    args = parser.parse_args(["--top", "3", "--fx", str(path), "--currency", "usd"])
    args.on = "2026-12-01"
    reporting = risk_command.reporting_of(args, DeploymentSettings())
    assert reporting is not None
    assert (reporting.currency, reporting.day, reporting.source) == ("USD", "2026-12-01", "fx.csv")
    plain = parser.parse_args(["--top", "3"])
    assert risk_command.reporting_of(plain, DeploymentSettings()) is None
    configured = DeploymentSettings(fx_rates=path, reporting_currency="EUR")
    from_settings = risk_command.reporting_of(plain, configured)
    assert from_settings is not None
    assert from_settings.currency == "EUR"
    args.on = "tomorrow"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        risk_command.reporting_of(args, DeploymentSettings())


def test_risk_top_text_says_how_it_ordered() -> None:
    rows = {
        "EUR": [Exposure("eur-101", 101.0, "EUR", 0.4)],
        "GBP": [Exposure("gbp-100", 100.0, "GBP", 0.3)],
        "JPY": [Exposure("jpy", 9000.0, "JPY", 0.2)],
        "XXX": [Exposure("miner", 0.0, "XXX", 0.9)],
    }
    fx = parse_fx("date,currency,rate\n2026-11-01,EUR,1.08\n2026-11-01,GBP,1.27\n", "USD")
    converted = format_ranking(rank(rows, 5, Reporting(fx, day_ms("2026-12-01"), "fx.csv")))
    lines = converted.splitlines()
    assert lines[0].startswith(
        "money at risk converted to USD at the rates in force on 2026-12-01 (file fx.csv): "
        "EUR 1.0800, GBP 1.2700"
    )
    assert lines[1:4] == [
        "by money at risk in USD:",
        "  1. gbp-100  money at risk        $127.00 (£100.00)  risk 0.30",
        "  2. eur-101  money at risk        $109.08 (€101.00)  risk 0.40",
    ]
    assert "in JPY (not converted: no rate):" in lines
    assert lines[-3:] == [
        "money at risk not known yet (no money seen), riskiest first:",
        "  1. miner    risk 0.90",
        "total of those listed: $236.08 converted; not converted: 9,000.00 JPY",
    ]
    apart = format_ranking(rank(rows, 5, None)).splitlines()
    assert apart[0].startswith("no currency rates given")
    assert "by money at risk" not in "\n".join(apart)
    assert apart.index("in EUR:") < apart.index("in GBP:") < apart.index("in JPY:")
    assert apart[-1] == "total of those listed, per currency: €101.00, £100.00, 9,000.00 JPY"
    assert format_ranking(rank({}, 5, None)) == "no customers in the risk view yet"

"""The risk view's fields are derived from a customer's state alone."""

from __future__ import annotations

import orjson

from streamwatch import testing as build
from streamwatch.core.engine import Core
from streamwatch.core.policy import parse_policy
from streamwatch.live.redis_view import CustomerView, customer_view
from streamwatch.live.settings import LiveSettings


def _state_with_alerts():
    core = Core(policy=parse_policy(LiveSettings().policy_text()))
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
    assert set(alerts[0]) == {"alert_id", "kind", "severity", "score", "event_time", "summary"}
    assert alerts[1]["event_time"] == "2026-10-01T01:00:00Z"
    assert float(fields["risk"]) == state.risk
    assert fields["updated_at"] == "2026-09-21T14:13:20Z"


def test_view_is_the_same_for_the_same_state():
    state = _state_with_alerts()
    first = customer_view(state, now_ms=0)
    assert customer_view(state, now_ms=0) == first


def test_customer_view_to_dict_counts_alerts():
    view = CustomerView("c-1", 0.5, [{"alert_id": "a"}], "2026-10-01T00:00:00Z")
    assert view.to_dict()["open_alerts"] == 1

"""The enforcement policy: parsing (errors name the rule and field), matching, cooldowns in
event time, shadow rules, approval defaults and deterministic request ids."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from streamwatch.config import default_policy_text
from streamwatch.core.engine import Core
from streamwatch.core.events import Alert
from streamwatch.core.ids import stable_id
from streamwatch.core.policy import Policy, PolicyError, Rule, parse_policy
from streamwatch.core.state import Rung
from streamwatch.core.timeutil import parse_ts_ms
from streamwatch.testing import (
    NOW_MS,
    budget_set_event,
    default_policy,
    make_alert,
    notice_event,
    run_core,
    ts,
    usage_event,
)


def rule_toml(**fields: Any) -> str:
    """One ``[[rule]]`` with defaults for id, kinds and action, overridable (None drops one)."""
    values: dict[str, Any] = {"id": "r1", "kinds": ["provider_notice"], "action": "notify"}
    values.update(fields)
    lines = ["[[rule]]"]
    for key, value in values.items():
        if value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def decide(policy: Policy, alert: Alert, cooldowns: dict[str, int] | None = None) -> list[str]:
    """Ids of the rules that ask for something."""
    at = parse_ts_ms(alert.event_time)
    return [rule.id for rule, _ in policy.decide(alert, {} if cooldowns is None else cooldowns, at)]


# --- parsing ------------------------------------------------------------------------------


def test_default_policy_file_parses() -> None:
    policy = default_policy()
    assert [r.id for r in policy.rules] == [
        "provider-aup-suspend",
        "provider-notice-restrict",
        "provider-notice-notify",
        "spend-spike-new-account-prepay",
        "bot-signup-ring-prepay",
        "bot-signup-ring-suspend",
        "budget-exhausted-notify",
        "crypto-mining-untrusted-suspend",
        "crypto-mining-untrusted-restrict",
        "crypto-mining-untrusted-prepay",
        "crypto-mining-established-restrict",
        "crypto-mining-established-notify",
        "chargeback-untrusted-suspend",
        "chargeback-established-notify",
        "usage-before-payment-prepay",
        "unsecured-exposure-suspend",
        "high-risk-instrument-notify",
        "payment-failure-notify",
        "identity-mismatch-notify",
        "account-takeover-restrict",
        "privilege-escalation-notify",
        "stale-access-notify",
        "network-abuse-untrusted-restrict",
        "network-abuse-sustained-restrict",
        "network-abuse-notify",
    ]
    assert policy.dry_run is False
    assert policy.version == "1"


@pytest.mark.parametrize(
    ("standing", "sustained", "rules"),
    [
        ("established", "no", ["network-abuse-notify"]),
        ("established", "yes", ["network-abuse-sustained-restrict", "network-abuse-notify"]),
        ("untrusted", "no", ["network-abuse-untrusted-restrict", "network-abuse-notify"]),
        ("untrusted", "yes", ["network-abuse-untrusted-restrict", "network-abuse-notify"]),
    ],
)
def test_the_default_policy_restricts_sustained_network_abuse_once_approved(
    standing: str, sustained: str, rules: list[str]
) -> None:
    """A night's backup over the line is a notice; abuse over the line for more than a day is
    restricted, with approval, however old the account (a new one's at once)."""
    alert = make_alert(
        "network_abuse", "critical", {"pattern": "ddos", "standing": standing,
                                      "sustained": sustained},
    )  # fmt: skip
    asked = default_policy().decide(alert, {}, parse_ts_ms(alert.event_time))
    assert [rule.id for rule, _ in asked] == rules
    assert all(r.requires_approval for _, r in asked if r.action == "restrict")


def test_empty_policy_has_no_rules() -> None:
    assert parse_policy("") == Policy()


def test_rule_fields_are_read() -> None:
    policy = parse_policy(
        'version = "7"\ndry_run = true\n'
        + rule_toml(
            id="r9",
            kinds=["budget_threshold", "spend_spike"],
            action="restrict",
            min_severity="medium",
            where={"threshold": "100%", "currency": "US?"},
            requires_approval=False,
            shadow=True,
            cooldown_s=600,
        )
    )
    assert (policy.version, policy.dry_run) == ("7", True)
    assert policy.rules == (
        Rule(
            id="r9",
            action="restrict",
            kinds=frozenset({"budget_threshold", "spend_spike"}),
            min_severity="medium",
            where=(("threshold", "100%"), ("currency", "US?")),
            requires_approval=False,
            shadow=True,
            cooldown_s=600,
        ),
    )


@pytest.mark.parametrize("action", ["notify", "suspend"])
def test_the_same_alert_asking_again_after_the_cooldown_makes_a_new_request(action: str) -> None:
    policy = parse_policy(rule_toml(action=action, cooldown_s=3600))
    cooldowns: dict[str, int] = {}
    rungs: dict[str, Rung] = {}
    first = policy.decide(make_alert(), cooldowns, 0, rungs)[0][1]
    assert policy.decide(replace(make_alert(), revision=2), cooldowns, 1000, rungs) == []
    again = policy.decide(replace(make_alert(), revision=3), cooldowns, 7_200_000, rungs)[0][1]
    assert again.alert_ids == first.alert_ids
    assert again.request_id != first.request_id


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("[[rule]\n", ["TOML"], id="invalid-toml"),
        pytest.param(rule_toml(id=None), ["rule #1", "id"], id="missing-id"),
        pytest.param(rule_toml(id=""), ["rule #1", "id"], id="empty-id"),
        pytest.param(rule_toml() + rule_toml(id=7), ["rule #2", "id"], id="numeric-id"),
        pytest.param(rule_toml(action="ban"), ["'r1'", "action"], id="unknown-action"),
        pytest.param(rule_toml(action=None), ["'r1'", "action"], id="missing-action"),
        pytest.param(rule_toml(kinds=None), ["'r1'", "kinds"], id="missing-kinds"),
        pytest.param(rule_toml(kinds=[]), ["'r1'", "kinds"], id="empty-kinds"),
        pytest.param(rule_toml(kinds="provider_notice"), ["'r1'", "kinds"], id="kinds-string"),
        pytest.param(rule_toml(kinds=[1]), ["'r1'", "kinds"], id="kinds-numbers"),
        pytest.param(rule_toml(min_severity="severe"), ["'r1'", "min_severity"],
                     id="unknown-severity"),
        pytest.param(rule_toml(where="category"), ["'r1'", "where"], id="where-string"),
        pytest.param(rule_toml(cooldown_s=-1), ["'r1'", "cooldown_s"], id="negative-cooldown"),
        pytest.param(rule_toml(cooldown_s="1h"), ["'r1'", "cooldown_s"], id="string-cooldown"),
        pytest.param(rule_toml(cooldown_s=1.5), ["'r1'", "cooldown_s"], id="float-cooldown"),
        pytest.param(rule_toml() + rule_toml(), ["'r1'", "twice"], id="duplicate-id"),
        pytest.param('dry_run = "yes"\n', ["dry_run"], id="dry-run-string"),
    ],
)  # fmt: skip
def test_policy_error_names_the_rule_and_field(text: str, names: list[str]) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    for name in names:
        assert name in str(info.value), (name, str(info.value))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("shadow", "false", id="shadow-string"),
        pytest.param("shadow", 1, id="shadow-number"),
        pytest.param("requires_approval", "no", id="approval-string"),
        pytest.param("cooldown_s", True, id="cooldown-boolean"),
    ],
)
def test_policy_error_for_a_field_of_the_wrong_type(field: str, value: Any) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(rule_toml(**{field: value}))
    assert "'r1'" in str(info.value)
    assert field in str(info.value)


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kinds", "kind", "matches"),
    [
        pytest.param(["provider_notice"], "provider_notice", True, id="listed"),
        pytest.param(["budget_threshold", "provider_notice"], "provider_notice", True,
                     id="one-of-several"),
        pytest.param(["budget_threshold"], "provider_notice", False, id="not-listed"),
        pytest.param(["provider_*"], "provider_notice", False, id="kinds-are-not-globs"),
    ],
)  # fmt: skip
def test_rule_matches_listed_kinds(kinds: list[str], kind: str, matches: bool) -> None:
    policy = parse_policy(rule_toml(kinds=kinds))
    assert bool(decide(policy, make_alert(kind=kind))) is matches


@pytest.mark.parametrize(
    ("min_severity", "severity", "matches"),
    [
        pytest.param("info", "info", True, id="info-accepts-info"),
        pytest.param("medium", "low", False, id="low-below-medium"),
        pytest.param("medium", "medium", True, id="medium-at-medium"),
        pytest.param("medium", "critical", True, id="critical-above-medium"),
        pytest.param("critical", "high", False, id="high-below-critical"),
    ],
)
def test_rule_matches_at_or_above_min_severity(
    min_severity: str, severity: str, matches: bool
) -> None:
    policy = parse_policy(rule_toml(min_severity=min_severity))
    assert bool(decide(policy, make_alert(severity=severity))) is matches


@pytest.mark.parametrize(
    ("where", "evidence", "matches"),
    [
        pytest.param({"category": "aup.*"}, {"category": "aup.crypto_mining"}, True,
                     id="glob-matches"),
        pytest.param({"category": "aup.*"}, {"category": "fraud.payment"}, False,
                     id="glob-does-not-match"),
        pytest.param({"category": "aup.*"}, {"category": "AUP.spam"}, False,
                     id="glob-is-case-sensitive"),
        pytest.param({"category": "aup.*", "action_required": "suspend"},
                     {"category": "aup.spam", "action_required": "suspend"}, True,
                     id="all-patterns-match"),
        pytest.param({"category": "aup.*", "action_required": "suspend"},
                     {"category": "aup.spam", "action_required": "notify"}, False,
                     id="one-pattern-fails"),
        pytest.param({"category": "aup.*"}, {}, False, id="missing-field"),
        pytest.param({"category": "*"}, {}, True, id="star-matches-missing-field"),
        pytest.param({"threshold": "100%"}, {"threshold": "100%"}, True, id="literal"),
        pytest.param({"threshold": "100%"}, {"threshold": "80%"}, False, id="literal-differs"),
        pytest.param({"budget": "1000*"}, {"budget": 1000.0}, True, id="number-as-text"),
    ],
)  # fmt: skip
def test_rule_matches_evidence_against_where_globs(
    where: dict[str, str], evidence: dict[str, Any], matches: bool
) -> None:
    policy = parse_policy(rule_toml(where=where))
    assert bool(decide(policy, make_alert(evidence=evidence))) is matches


def test_every_matching_rule_makes_its_own_request_in_order() -> None:
    alert = make_alert(evidence={"category": "aup.crypto_mining", "action_required": "suspend"})
    assert decide(default_policy(), alert) == ["provider-aup-suspend", "provider-notice-notify"]


# --- cooldowns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gap_s", "acts"),
    [
        pytest.param(0, False, id="same-time"),
        pytest.param(3599, False, id="within-cooldown"),
        pytest.param(3600, True, id="cooldown-elapsed"),
        pytest.param(-60, False, id="earlier-event"),
    ],
)
def test_cooldown_runs_on_event_time(gap_s: int, acts: bool) -> None:
    policy = parse_policy(rule_toml(cooldown_s=3600))
    cooldowns: dict[str, int] = {}
    first_ms = parse_ts_ms("2026-10-01T12:00:00Z")
    assert policy.decide(make_alert(incident="a"), cooldowns, first_ms)
    assert cooldowns == {"r1": first_ms}
    later = policy.decide(make_alert(incident="b"), cooldowns, first_ms + gap_s * 1000)
    assert bool(later) is acts


def test_cooldown_ignores_the_wall_clock() -> None:
    core = Core(policy=parse_policy(rule_toml(cooldown_s=3600)))
    state = core.new_state("cust-1")
    first = core.step(state, notice_event("n-1", event_id="pn-1", at=ts(1, 0)), NOW_MS)
    # a day of wall clock passes, but only ten minutes of event time
    second = core.step(
        state, notice_event("n-2", event_id="pn-2", at=ts(1, 0, 10)), NOW_MS + 86_400_000
    )
    third = core.step(state, notice_event("n-3", event_id="pn-3", at=ts(1, 1, 0)), NOW_MS)
    assert [len(d.requests) for d in (first, second, third)] == [1, 0, 1]


def test_cooldown_is_per_rule() -> None:
    policy = parse_policy(rule_toml(id="a", cooldown_s=3600) + rule_toml(id="b"))
    cooldowns: dict[str, int] = {}
    alert = make_alert()
    assert decide(policy, alert, cooldowns) == ["a", "b"]
    assert decide(policy, alert, cooldowns) == ["b"]


# --- shadow, approval, dry run ------------------------------------------------------------


def test_shadow_rule_decides_but_its_request_is_not_sent() -> None:
    policy = parse_policy(rule_toml(id="live") + rule_toml(id="shadowed", shadow=True))
    outcome = run_core(Core(policy=policy), [notice_event("n-1")])
    assert [r.policy for r in outcome.requests] == ["live"]
    assert [r.policy for r in outcome.shadowed] == ["shadowed"]


def test_shadow_rule_still_starts_its_cooldown() -> None:
    policy = parse_policy(rule_toml(shadow=True, cooldown_s=3600))
    events = [
        notice_event("n-1", event_id="pn-1", at=ts(1)),
        notice_event("n-2", event_id="pn-2", at=ts(1)),
    ]
    assert len(run_core(Core(policy=policy), events).shadowed) == 1


@pytest.mark.parametrize(
    ("action", "explicit", "requires"),
    [
        pytest.param("notify", None, False, id="notify"),
        pytest.param("require_prepayment", None, False, id="require-prepayment"),
        pytest.param("restrict", None, True, id="restrict"),
        pytest.param("suspend", None, True, id="suspend"),
        pytest.param("resume", None, False, id="resume"),
        pytest.param("suspend", False, False, id="suspend-explicitly-without"),
        pytest.param("notify", True, True, id="notify-explicitly-with"),
    ],
)
def test_approval_is_required_by_default_for_restrict_and_suspend(
    action: str, explicit: bool | None, requires: bool
) -> None:
    policy = parse_policy(rule_toml(action=action, requires_approval=explicit))
    assert policy.rules[0].requires_approval is requires
    ((_, request),) = policy.decide(make_alert(), {}, 0)
    assert request.requires_approval is requires


@pytest.mark.parametrize("dry_run", [True, False])
def test_policy_dry_run_marks_every_request(dry_run: bool) -> None:
    text = default_policy_text().replace("dry_run = false", f"dry_run = {toml_value(dry_run)}")
    policy = parse_policy(text)
    alert = make_alert(evidence={"category": "aup.x", "action_required": "suspend"})
    requests = [r for _, r in policy.decide(alert, {}, 0)]
    assert len(requests) == 2
    assert all(r.dry_run is dry_run for r in requests)


# --- the request --------------------------------------------------------------------------


def test_request_carries_the_alert_and_rule() -> None:
    alert = make_alert(reasons=("First reason.", "Second."), subscription_ids=("s1", "s2"))
    ((rule, request),) = parse_policy(rule_toml(action="restrict")).decide(alert, {}, 0)
    assert request.customer_id == alert.customer_id
    assert request.action == "restrict"
    assert request.policy == rule.id == "r1"
    assert request.alert_ids == (alert.alert_id,)
    assert request.subscription_ids == ("s1", "s2")
    assert request.reason == "First reason."
    assert request.requested_at == alert.detected_at


def test_request_id_is_deterministic() -> None:
    policy = parse_policy(rule_toml())
    first = policy.decide(make_alert(), {}, 0)[0][1]
    again = parse_policy(rule_toml()).decide(make_alert(detected_at="2031-01-01T00:00:00Z"), {}, 0)
    assert again[0][1].request_id == first.request_id
    assert first.request_id == stable_id("cust-1", "r1", "notify", first.alert_ids[0])


@pytest.mark.parametrize(
    ("rule_fields", "alert_fields"),
    [
        pytest.param({}, {"customer_id": "cust-2"}, id="other-customer"),
        pytest.param({}, {"incident": "n-2"}, id="other-alert"),
        pytest.param({"id": "r2"}, {}, id="other-rule"),
        pytest.param({"action": "suspend"}, {}, id="other-action"),
    ],
)
def test_request_id_differs_when_customer_alert_rule_or_action_differ(
    rule_fields: dict[str, Any], alert_fields: dict[str, Any]
) -> None:
    base = parse_policy(rule_toml()).decide(make_alert(), {}, 0)[0][1]
    other = parse_policy(rule_toml(**rule_fields)).decide(make_alert(**alert_fields), {}, 0)[0][1]
    assert other.request_id != base.request_id


def test_default_policy_acts_on_engine_alerts() -> None:
    events = [
        budget_set_event(100, event_id="b-1", at=ts(1)),
        usage_event(event_id="u-1", at=ts(2), cost=100),
        notice_event("n-1", event_id="pn-1", at=ts(3), action_required="suspend"),
        notice_event("n-2", event_id="pn-2", at=ts(3, 1), action_required="restrict"),
    ]
    outcome = run_core(Core(policy=default_policy()), events)
    assert [(r.policy, r.action, r.requires_approval) for r in outcome.requests] == [
        ("budget-exhausted-notify", "notify", False),
        ("provider-aup-suspend", "suspend", True),
        ("provider-notice-notify", "notify", False),
        ("provider-notice-restrict", "restrict", True),
        ("provider-notice-notify", "notify", False),
    ]


def test_a_rule_may_cap_the_customers_it_acts_on_per_hour() -> None:
    policy = parse_policy(
        '[[rule]]\nid = "r"\nkinds = ["chargeback"]\naction = "suspend"\n'
        "max_customers_per_hour = 5\n"
    )
    assert policy.rules[0].max_customers_per_hour == 5
    assert parse_policy(_rule_text()).rules[0].max_customers_per_hour is None
    for bad in ("0", "true", '"5"'):
        with pytest.raises(PolicyError, match="max_customers_per_hour"):
            parse_policy(_rule_text() + f"max_customers_per_hour = {bad}\n")


def _rule_text() -> str:
    return '[[rule]]\nid = "r"\nkinds = ["chargeback"]\naction = "notify"\n'

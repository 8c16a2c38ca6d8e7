"""The enforcement policy: which alerts ask for which rung of the ladder, and how carefully.

A policy is read from TOML text (the caller reads the file). Each ``[[rule]]`` matches alerts by
kind, minimum severity and glob patterns over evidence fields, and names an action. Rules are
evaluated in order and every matching rule makes its own request. Cooldowns run on event time,
so replay and live agree.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from streamwatch.core.events import ACTIONS, SEVERITIES, Action, Alert, EnforcementRequest, Severity
from streamwatch.core.ids import stable_id


class PolicyError(ValueError):
    """The policy file is malformed; the message names the rule and the field to fix."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule (see the module docstring)."""

    id: str
    action: Action
    kinds: frozenset[str]
    min_severity: Severity = "info"
    where: tuple[tuple[str, str], ...] = ()
    requires_approval: bool = False
    shadow: bool = False
    cooldown_s: int = 0
    max_customers_per_hour: int | None = None
    """At most this many distinct customers acted on by this rule per hour (None: no cap).
    A circuit breaker for false-positive storms; the suspension worker holds requests over the
    cap for a person's approval, since the cap spans customers the core sees one at a time."""

    def matches(self, alert: Alert) -> bool:
        """Whether this rule applies to the alert."""
        if alert.kind not in self.kinds:
            return False
        if SEVERITIES.index(alert.severity) < SEVERITIES.index(self.min_severity):
            return False
        return all(
            fnmatchcase(str(alert.evidence.get(name, "")), pattern) for name, pattern in self.where
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """An ordered list of rules, and whether every request is a dry run."""

    rules: tuple[Rule, ...] = ()
    dry_run: bool = False
    version: str = "1"

    def decide(
        self, alert: Alert, cooldowns: dict[str, int], event_time_ms: int
    ) -> list[tuple[Rule, EnforcementRequest]]:
        """The requests the alert causes; updates ``cooldowns`` (rule id -> last event ms)."""
        out = []
        for rule in self.rules:
            if not rule.matches(alert):
                continue
            last = cooldowns.get(rule.id)
            if last is not None and event_time_ms - last < rule.cooldown_s * 1000:
                continue
            cooldowns[rule.id] = event_time_ms
            request = EnforcementRequest(
                request_id=stable_id(alert.customer_id, rule.id, rule.action, alert.alert_id),
                customer_id=alert.customer_id,
                action=rule.action,
                subscription_ids=alert.subscription_ids,
                policy=rule.id,
                alert_ids=(alert.alert_id,),
                reason=alert.reasons[0] if alert.reasons else alert.kind,
                dry_run=self.dry_run,
                requires_approval=rule.requires_approval,
                requested_at=alert.detected_at,
            )
            out.append((rule, request))
        return out


def parse_policy(text: str) -> Policy:
    """Parse policy TOML; raises PolicyError with the rule and field at fault."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy is not valid TOML: {exc}") from exc
    rules = []
    seen: set[str] = set()
    for index, raw in enumerate(doc.get("rule", [])):
        rule = _rule(raw, index)
        if rule.id in seen:
            raise PolicyError(f"rule id {rule.id!r} appears twice")
        seen.add(rule.id)
        rules.append(rule)
    dry_run = doc.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise PolicyError("dry_run must be true or false")
    return Policy(rules=tuple(rules), dry_run=dry_run, version=str(doc.get("version", "1")))


_RULE_KEYS = frozenset(
    {
        "id",
        "action",
        "kinds",
        "min_severity",
        "where",
        "requires_approval",
        "shadow",
        "cooldown_s",
        "max_customers_per_hour",
    }
)


def _rule(raw: dict[str, Any], index: int) -> Rule:
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise PolicyError(f"rule #{index + 1} needs an 'id'")
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise PolicyError(
            f"rule {rule_id!r}: unknown field(s) {unknown}; known: {sorted(_RULE_KEYS)}"
        )
    action = raw.get("action")
    if action not in ACTIONS:
        raise PolicyError(f"rule {rule_id!r}: action must be one of {list(ACTIONS)}")
    kinds = raw.get("kinds")
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        raise PolicyError(f"rule {rule_id!r}: 'kinds' must be a non-empty list of alert kinds")
    min_severity = raw.get("min_severity", "info")
    if min_severity not in SEVERITIES:
        raise PolicyError(f"rule {rule_id!r}: min_severity must be one of {list(SEVERITIES)}")
    where = raw.get("where", {})
    if not isinstance(where, dict):
        raise PolicyError(f"rule {rule_id!r}: 'where' must be a table of field = pattern")
    cooldown = raw.get("cooldown_s", 0)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        raise PolicyError(f"rule {rule_id!r}: cooldown_s must be a whole number of seconds")
    cap = raw.get("max_customers_per_hour")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise PolicyError(f"rule {rule_id!r}: max_customers_per_hour must be a whole number >= 1")
    flags = {}
    for name, default in (
        ("requires_approval", action in ("restrict", "suspend")),
        ("shadow", False),
    ):
        value = raw.get(name, default)
        if not isinstance(value, bool):
            raise PolicyError(f"rule {rule_id!r}: {name} must be true or false")
        flags[name] = value
    return Rule(
        id=rule_id,
        action=action,
        kinds=frozenset(kinds),
        min_severity=min_severity,
        where=tuple((str(k), str(v)) for k, v in where.items()),
        requires_approval=flags["requires_approval"],
        shadow=flags["shadow"],
        cooldown_s=cooldown,
        max_customers_per_hour=cap,
    )

"""The enforcement policy: which alerts ask for which rung of the ladder, and how carefully.

A policy is read from TOML text (the caller reads the file). Each ``[[rule]]`` matches alerts by
kind, minimum severity and glob patterns over evidence fields, and names an action. Rules are
evaluated in order and every matching rule makes its own request. Cooldowns run on event time,
so replay and live agree.

The ladder is reversible. A detector whose cause has cleared (an invoice paid, a notice
withdrawn) amends its alert under the same ``alert_id`` with ``evidence["status"] ==
"resolved"``; such an amendment matches no rule. Instead, the customer's ``rungs`` remember, for
every rule that asked for a restrictive rung (require_prepayment, restrict, suspend), which
alerts hold it; when the last of them is resolved the rule asks for ``resume``, unless it says
``resume_on_clear = false``. Cooldowns never hold a resume back, and a resume ends the rule's
cooldown, so the rung can be put back at once if a new cause appears.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Final

from streamwatch.core.events import ACTIONS, SEVERITIES, Action, Alert, EnforcementRequest, Severity
from streamwatch.core.ids import stable_id
from streamwatch.core.state import Rung

RESTRICTIVE: Final = frozenset({"require_prepayment", "restrict", "suspend"})
"""Rungs that stay in effect until lifted by a ``resume``."""
RESOLVED: Final = "resolved"
"""``evidence["status"]`` of an alert amended because its cause has cleared."""
MAX_HOLDERS: Final = 64
"""Alerts remembered per rung (a customer's alerts are capped alike); more do not hold it."""


def is_resolved(alert: Alert) -> bool:
    """Whether the alert is an amendment saying its cause has cleared."""
    return alert.evidence.get("status") == RESOLVED


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
    resume_on_clear: bool = True
    """Whether the rule asks for ``resume`` when the last alert holding its rung is resolved
    (restrictive actions only); false leaves lifting the rung to a person."""

    @property
    def holds_rung(self) -> bool:
        """Whether this rule's requests stay in effect until the rule asks for a resume."""
        return self.resume_on_clear and self.action in RESTRICTIVE

    def matches(self, alert: Alert) -> bool:
        """Whether this rule applies to the alert (a resolved amendment matches no rule)."""
        if alert.kind not in self.kinds or is_resolved(alert):
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
        self,
        alert: Alert,
        cooldowns: dict[str, int],
        event_time_ms: int,
        rungs: dict[str, Rung] | None = None,
    ) -> list[tuple[Rule, EnforcementRequest]]:
        """The requests the alert causes, each with the rule that made it. Deterministic.

        Updates ``cooldowns`` (rule id -> last event ms) and ``rungs`` (rule id -> the alerts
        holding its rung; without it nothing is remembered and nothing resumed), both of the
        alert's customer. A resolved amendment causes only the resumes it triggers.
        """
        if rungs is None:
            rungs = {}
        if is_resolved(alert):
            return self._resume(alert, cooldowns, rungs)
        out = []
        for rule in self.rules:
            if not rule.matches(alert):
                continue
            rung = rungs.get(rule.id) if rule.holds_rung else None
            last = cooldowns.get(rule.id)
            if last is not None and event_time_ms - last < rule.cooldown_s * 1000:
                # No second request so soon, but the rung in place holds for this alert too:
                # it must not be lifted while this alert stands.
                if rung is not None and rung.alert_ids:
                    _hold(rung, alert.alert_id)
                continue
            cooldowns[rule.id] = event_time_ms
            parts = [alert.customer_id, rule.id, rule.action, alert.alert_id]
            asked = rung is not None and alert.alert_id in rung.alert_ids
            if asked or (not rule.holds_rung and alert.revision > 1):
                # The same alert asking again once the cooldown is over (a reminder, or a
                # suspension a person may have turned down): a request of its own, not a copy.
                parts.append(f"revision-{alert.revision}")
            if rule.holds_rung:
                if rung is None:
                    rung = rungs[rule.id] = Rung()
                _hold(rung, alert.alert_id)
                if rung.lifted:
                    # Put back after a lift: a new id, or a worker would take it for the old one.
                    parts.append(f"after-lift-{rung.lifted}")
            request = EnforcementRequest(
                request_id=stable_id(*parts),
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

    def _resume(
        self, alert: Alert, cooldowns: dict[str, int], rungs: dict[str, Rung]
    ) -> list[tuple[Rule, EnforcementRequest]]:
        """Release the rungs the resolved alert held; a resume for each it held last."""
        out = []
        cleared = alert.reasons[0].rstrip(". ") if alert.reasons else f"{alert.kind} resolved"
        for rule in self.rules:
            rung = rungs.get(rule.id)
            if rung is None or alert.alert_id not in rung.alert_ids:
                continue
            rung.alert_ids.remove(alert.alert_id)
            if rung.alert_ids or not rule.holds_rung:
                continue
            rung.lifted += 1
            cooldowns.pop(rule.id, None)
            request = EnforcementRequest(
                request_id=stable_id(
                    alert.customer_id, rule.id, "resume", alert.alert_id, str(alert.revision)
                ),
                customer_id=alert.customer_id,
                action="resume",
                subscription_ids=alert.subscription_ids,
                policy=rule.id,
                alert_ids=(alert.alert_id,),
                reason=f"{cleared}; lifting {rule.action} by rule {rule.id}",
                dry_run=self.dry_run,
                requires_approval=False,
                requested_at=alert.detected_at,
            )
            out.append((rule, request))
        # Rungs of rules since dropped from the policy are no longer held by this alert either.
        for rung in rungs.values():
            if alert.alert_id in rung.alert_ids:
                rung.alert_ids.remove(alert.alert_id)
        return out


def _hold(rung: Rung, alert_id: str) -> None:
    if alert_id not in rung.alert_ids and len(rung.alert_ids) < MAX_HOLDERS:
        rung.alert_ids.append(alert_id)


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
        "resume_on_clear",
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
        ("resume_on_clear", True),
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
        resume_on_clear=flags["resume_on_clear"],
    )

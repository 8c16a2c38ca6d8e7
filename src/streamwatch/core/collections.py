"""The collections policy: dunning stages by days past due and amount, and the ageing buckets.

A stage applies to an invoice that is at least ``days_past_due`` days past its due date with at
least ``min_amount`` still due (in the invoice's currency); the stage of an invoice is the
latest one that applies. One policy drives both halves of collections: the ``collections``
detector names the stage in its alerts (``evidence["stage"]``), and ``enforcement_rules`` turns
every stage into the enforcement rule that acts on it (``collections-<stage>``), so the two can
never disagree.

The text form is TOML (``streamwatch/config/collections.toml`` is the packaged default, and
``DEFAULT_COLLECTIONS`` below is the same policy for a core built without configuration).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from typing import Any, Final

from streamwatch.core.events import ACTIONS, SEVERITIES, Action, Severity
from streamwatch.core.policy import Policy, PolicyError, Rule

MICROS: Final = 1_000_000
BUCKETS: Final[tuple[tuple[int, str], ...]] = (
    (1, "1-30"),
    (31, "31-60"),
    (61, "61-90"),
    (91, "over_90"),
)
"""Ageing buckets of receivables: (first day past due, name)."""
_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_STAGE_KEYS: Final = frozenset(
    {
        "name",
        "days_past_due",
        "min_amount",
        "action",
        "severity",
        "requires_approval",
        "cooldown_s",
        "description",
    }
)
_DEFAULT_SEVERITY: Final[dict[str, Severity]] = {
    "notify": "low",
    "require_prepayment": "medium",
    "restrict": "high",
    "suspend": "critical",
}


class CollectionsPolicyError(ValueError):
    """The collections policy is malformed; the message names the stage and field to fix."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One dunning stage (see the module docstring)."""

    name: str
    days_past_due: int
    min_amount: float
    action: Action
    severity: Severity
    requires_approval: bool
    cooldown_s: int = 604_800
    description: str = ""

    @property
    def min_micros(self) -> int:
        """``min_amount`` in micro-units, as the ledger counts money."""
        return round(self.min_amount * MICROS)


@dataclass(frozen=True, slots=True)
class CollectionsPolicy:
    """Dunning stages, earliest first."""

    stages: tuple[Stage, ...]
    version: str = "1"

    @property
    def lines(self) -> tuple[int, ...]:
        """Days past due at which an invoice's stage or bucket can change, in order."""
        return tuple(
            sorted({s.days_past_due for s in self.stages} | {first for first, _ in BUCKETS})
        )

    def stage_for(self, days_past_due: int, due_micros: int) -> Stage | None:
        """The latest stage that applies, or None."""
        found = None
        for stage in self.stages:
            if days_past_due >= stage.days_past_due and due_micros >= stage.min_micros:
                found = stage
        return found

    def enforcement_rules(self) -> tuple[Rule, ...]:
        """One rule per stage: ``collections-<stage>`` acting on open collections alerts of
        that stage with the stage's action, approval and cooldown."""
        return tuple(
            Rule(
                id=f"collections-{stage.name}",
                action=stage.action,
                kinds=frozenset({"collections"}),
                where=(("stage", stage.name), ("status", "open")),
                requires_approval=stage.requires_approval,
                cooldown_s=stage.cooldown_s,
            )
            for stage in self.stages
        )


def bucket_of(days_past_due: int) -> str | None:
    """The ageing bucket of a receivable this many whole days past due (None: not yet due)."""
    name = None
    for first, label in BUCKETS:
        if days_past_due >= first:
            name = label
    return name


def with_collections(policy: Policy, collections: CollectionsPolicy) -> Policy:
    """``policy`` with the collections stages' rules appended; raises PolicyError when the
    policy already has a rule of the same id (the stages belong in the collections file)."""
    rules = collections.enforcement_rules()
    taken = {rule.id for rule in policy.rules}
    for rule in rules:
        if rule.id in taken:
            raise PolicyError(
                f"rule id {rule.id!r} is made by the collections policy; remove it from the "
                "enforcement policy and change the stage in the collections file instead"
            )
    return replace(policy, rules=(*policy.rules, *rules))


def parse_collections(text: str) -> CollectionsPolicy:
    """Parse collections TOML; raises CollectionsPolicyError naming the stage and field."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CollectionsPolicyError(f"collections policy is not valid TOML: {exc}") from exc
    unknown = sorted(set(doc) - {"version", "stage"})
    if unknown:
        raise CollectionsPolicyError(
            f"unknown top-level field(s) {unknown}; known: ['stage', 'version']"
        )
    raw_stages = doc.get("stage")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise CollectionsPolicyError("the collections policy needs at least one [[stage]]")
    stages = [_stage(raw, index) for index, raw in enumerate(raw_stages)]
    names: set[str] = set()
    days: set[int] = set()
    for stage in stages:
        if stage.name in names:
            raise CollectionsPolicyError(f"stage name {stage.name!r} appears twice")
        if stage.days_past_due in days:
            raise CollectionsPolicyError(
                f"stage {stage.name!r}: days_past_due {stage.days_past_due} is used by another "
                "stage; each stage needs its own day"
            )
        names.add(stage.name)
        days.add(stage.days_past_due)
    return CollectionsPolicy(
        stages=tuple(sorted(stages, key=lambda s: s.days_past_due)),
        version=str(doc.get("version", "1")),
    )


def _stage(raw: Any, index: int) -> Stage:
    if not isinstance(raw, dict):
        raise CollectionsPolicyError(f"stage #{index + 1} must be a table")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise CollectionsPolicyError(
            f"stage #{index + 1}: 'name' must be lower-case letters, digits and '_', "
            "starting with a letter"
        )
    where = f"stage {name!r}"
    unknown = sorted(set(raw) - _STAGE_KEYS)
    if unknown:
        raise CollectionsPolicyError(
            f"{where}: unknown field(s) {unknown}; known: {sorted(_STAGE_KEYS)}"
        )
    days = raw.get("days_past_due")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise CollectionsPolicyError(f"{where}: days_past_due must be a whole number >= 1")
    amount = raw.get("min_amount", 0)
    if isinstance(amount, bool) or not isinstance(amount, int | float) or not amount >= 0:
        raise CollectionsPolicyError(f"{where}: min_amount must be a number >= 0")
    action = raw.get("action")
    if action not in ACTIONS or action == "resume":
        allowed = [a for a in ACTIONS if a != "resume"]
        raise CollectionsPolicyError(f"{where}: action must be one of {allowed}")
    severity = raw.get("severity", _DEFAULT_SEVERITY[action])
    if severity not in SEVERITIES:
        raise CollectionsPolicyError(f"{where}: severity must be one of {list(SEVERITIES)}")
    approval = raw.get("requires_approval", action in ("restrict", "suspend"))
    if not isinstance(approval, bool):
        raise CollectionsPolicyError(f"{where}: requires_approval must be true or false")
    cooldown = raw.get("cooldown_s", 604_800)
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        raise CollectionsPolicyError(f"{where}: cooldown_s must be a whole number of seconds")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise CollectionsPolicyError(f"{where}: description must be text")
    return Stage(
        name=name,
        days_past_due=days,
        min_amount=float(amount),
        action=action,
        severity=severity,
        requires_approval=approval,
        cooldown_s=cooldown,
        description=description,
    )


DEFAULT_COLLECTIONS: Final = CollectionsPolicy(
    stages=(
        Stage("reminder", 1, 0.0, "notify", "low", requires_approval=False),
        Stage("prepayment", 15, 20.0, "require_prepayment", "medium", requires_approval=False),
        Stage("restrict", 30, 50.0, "restrict", "high", requires_approval=True),
        Stage("suspend", 60, 100.0, "suspend", "critical", requires_approval=True),
    )
)
"""The packaged ``collections.toml`` as a value (a test keeps the two equal, descriptions
aside)."""

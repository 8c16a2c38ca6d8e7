"""Small helpers the account-abuse detectors share: reading activity properties, combining
independent signals into one score, and naming the score's severity.

Pure and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final

from streamwatch.core.events import Severity

PRIVILEGED_ROLES: Final = frozenset(
    {
        "owner",
        "user access administrator",
        "role based access control administrator",
        "global administrator",
        "privileged role administrator",
        "co-administrator",
        "service administrator",
        "account administrator",
    }
)
"""Roles (lower case) that can grant access or change anything: what a takeover wants."""

ALERT_BANDS: Final[tuple[tuple[float, Severity], ...]] = (
    (0.85, "critical"),
    (0.7, "high"),
    (0.55, "medium"),
    (0.4, "low"),
)
"""Score at or above which a finding has the severity; below the last band it is no alert."""


def text(value: Any) -> str | None:
    """A non-empty, stripped string property, or None."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped:
            return stripped
    return None


def principal(value: Any) -> str | None:
    """A principal name as compared across events (stripped, lower case), or None."""
    name = text(value)
    return name.lower() if name is not None else None


def country(value: Any) -> str | None:
    """An ISO 3166 alpha-2 country code property (upper case), or None."""
    code = text(value)
    if code is None or len(code) != 2 or not code.isalpha():
        return None
    return code.upper()


def is_privileged(role: str | None) -> bool:
    """Whether a role name is Owner or an administrator role (see ``PRIVILEGED_ROLES``)."""
    return role is not None and role.strip().lower() in PRIVILEGED_ROLES


def is_person(actor: str) -> bool:
    """Whether an activity actor names a user or guest (a sign-in name), not the provider or a
    service identity."""
    return "@" in actor


def noisy_or(weights: Iterable[float]) -> float:
    """The chance that at least one of several independent signals is right: 1 - prod(1 - w)."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - weight
    return 1.0 - remaining


def severity_of(
    score: float, bands: tuple[tuple[float, Severity], ...] = ALERT_BANDS
) -> Severity | None:
    """The severity of the first band ``score`` reaches; None below all of them."""
    for floor, severity in bands:
        if score >= floor - 1e-9:
            return severity
    return None


def ratio_score(
    value: float, limit: float, floor: float = 0.6, per_doubling: float = 0.15
) -> float:
    """A score for a measurement ``value`` that crossed ``limit``: ``floor`` at the limit, rising
    by ``per_doubling`` each time the value doubles past it, at most 0.95."""
    if limit <= 0.0 or value <= limit:
        return floor
    return min(0.95, floor + per_doubling * math.log2(value / limit))


def add_capped(items: list[str], item: str, cap: int) -> None:
    """Append ``item`` unless present or ``items`` already holds ``cap`` entries."""
    if item not in items and len(items) < cap:
        items.append(item)

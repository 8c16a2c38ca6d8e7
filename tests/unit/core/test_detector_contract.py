"""The detector contract: capabilities are declared, and checked against the methods."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from streamwatch.core.detectors.base import Capability, ContractError, Finding, check_contract
from streamwatch.core.engine import Core, default_detectors
from streamwatch.core.events import Event


class Quiet:
    """A plain detector: observes, finds nothing, declares nothing."""

    name: ClassVar[str] = "quiet"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def new_state(self) -> dict[str, Any]:
        return {}

    def observe(self, state: dict[str, Any], event: Event) -> list[Finding]:
        return []

    def dump(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(state)

    def load(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(data)


class ClaimsTimed(Quiet):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TIMED})


class HidesRetains(Quiet):
    def retains(self, state: dict[str, Any], until_ms: int) -> bool:
        return True


class SecondLedger(Quiet):
    name: ClassVar[str] = "second_ledger"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.MONEY_AT_RISK})

    def exposure(self, state: dict[str, Any]) -> dict[str, Any] | None:
        return None


def test_every_default_detector_keeps_its_declared_contract() -> None:
    for detector in default_detectors():
        assert check_contract(detector) == detector.capabilities


def test_a_declared_capability_without_its_method_is_rejected() -> None:
    with pytest.raises(ContractError, match=r"'quiet' declares TIMED but has no advance\(\)"):
        Core(detectors=[ClaimsTimed()])


def test_a_capability_method_without_its_declaration_is_rejected() -> None:
    with pytest.raises(ContractError, match=r"has a retains\(\) method but does not declare"):
        Core(detectors=[HidesRetains()])


def test_one_money_at_risk_detector_at_most() -> None:
    with pytest.raises(ContractError, match="more than one detector declares MONEY_AT_RISK"):
        Core(detectors=[*default_detectors(), SecondLedger()])


def test_the_engine_selects_by_the_declared_capabilities() -> None:
    core = Core()
    assert {d.name for d in core.indicator_users} == {"crypto_mining", "identity_mismatch"}
    assert core.timed

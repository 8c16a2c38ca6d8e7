"""Packaged configuration: the default enforcement policy and indicator lists, and the one
place the core is assembled from them (``build_core``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from streamwatch.core.engine import Core, Settings, default_detectors
from streamwatch.core.indicators import Indicators
from streamwatch.core.policy import Policy, parse_policy
from streamwatch.indicators import load_indicators


def default_policy_text() -> str:
    """The text of the packaged default policy."""
    return files("streamwatch.config").joinpath("policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``, or the packaged default; raises PolicyError if malformed."""
    text = path.read_text(encoding="utf-8") if path is not None else default_policy_text()
    return parse_policy(text)


def build_core(
    policy: Policy | None = None,
    settings: Settings | None = None,
    indicators: Indicators | None = None,
) -> Core:
    """The core as every entry point runs it: the default detectors, with the mining-pool
    indicator lists (``$STREAMWATCH_INDICATORS`` or the packaged copy) unless given, and the
    packaged policy unless given. Live, replay, the demo and the benchmarks all build it here,
    so that they decide alike."""
    return Core(
        policy or load_policy(),
        detectors=default_detectors(indicators or load_indicators()),
        settings=settings,
    )

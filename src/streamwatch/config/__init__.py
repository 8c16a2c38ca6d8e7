"""Packaged configuration: the default enforcement policy, collections policy and indicator
lists, and the one place the core is assembled from them (``build_core``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from streamwatch.core.collections import CollectionsPolicy, parse_collections, with_collections
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


def default_collections_text() -> str:
    """The text of the packaged collections policy."""
    return files("streamwatch.config").joinpath("collections.toml").read_text(encoding="utf-8")


def load_collections(path: Path | None = None) -> CollectionsPolicy:
    """The collections policy in ``path``, or the packaged default; raises
    CollectionsPolicyError (naming the stage and field) if malformed."""
    text = path.read_text(encoding="utf-8") if path is not None else default_collections_text()
    return parse_collections(text)


def build_core(
    policy: Policy | None = None,
    settings: Settings | None = None,
    indicators: Indicators | None = None,
    collections: CollectionsPolicy | None = None,
) -> Core:
    """The core as every entry point runs it: the default detectors, with the mining-pool
    indicator lists (``$STREAMWATCH_INDICATORS`` or the packaged copy) unless given, and the
    packaged policy unless given. Live, replay, the demo and the benchmarks all build it here,
    so that they decide alike.

    The collections policy (the packaged one unless given) drives both the payments
    detector's dunning stages and one enforcement rule per stage, appended to the policy
    (``collections-<stage>``); a policy that already has such a rule raises PolicyError.
    """
    stages = collections or load_collections()
    return Core(
        with_collections(policy or load_policy(), stages),
        detectors=default_detectors(indicators or load_indicators(), stages),
        settings=settings,
    )

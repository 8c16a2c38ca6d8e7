"""Packaged configuration: the default enforcement policy, and loading a policy file."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from streamwatch.core.policy import Policy, parse_policy


def default_policy_text() -> str:
    """The text of the packaged default policy."""
    return files("streamwatch.config").joinpath("policy.toml").read_text(encoding="utf-8")


def load_policy(path: Path | None = None) -> Policy:
    """The policy in ``path``, or the packaged default; raises PolicyError if malformed."""
    text = path.read_text(encoding="utf-8") if path is not None else default_policy_text()
    return parse_policy(text)

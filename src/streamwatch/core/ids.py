"""Deterministic identifiers: the same evidence always gives the same id."""

from __future__ import annotations

import hashlib


def stable_id(*parts: str) -> str:
    """A 32-hex-digit id derived from the parts (SHA-256, truncated); order matters."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

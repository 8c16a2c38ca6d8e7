"""Deterministic identifiers and the seeded random streams they come from.

Every random stream is a ``random.Random`` seeded with a string naming its purpose (for
example ``"7:cust-00042:usage"``). String seeds are hashed with SHA-512 by ``random``, so they
do not depend on ``PYTHONHASHSEED``, and one customer's stream does not shift when another
customer, scenario or config field changes.
"""

from __future__ import annotations

import random


class SeededRandom(random.Random):
    """A reproducible pseudo-random stream for test data; never use it for secrets."""


def rng_for(seed: int, *purpose: str) -> random.Random:
    """A random stream for one purpose, reproducible from ``seed`` and the purpose names."""
    return SeededRandom(":".join((str(seed), *purpose)))


def customer_id(index: int) -> str:
    """``cust-00042`` for index 42."""
    return f"cust-{index:05d}"


def event_id(cust_id: str, seq: int) -> str:
    """``cust-00042-00000123``: zero-padded so that string order equals emission order."""
    return f"{cust_id}-{seq:08d}"


def uuid_like(rng: random.Random) -> str:
    """A lower-case UUID-shaped string drawn from ``rng`` (version nibble 4, like uuid4)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def hex_token(rng: random.Random, chars: int) -> str:
    """``chars`` lower-case hex digits drawn from ``rng``."""
    return f"{rng.getrandbits(chars * 4):0{chars}x}"

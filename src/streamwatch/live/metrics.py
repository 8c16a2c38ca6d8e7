"""Counter names of the live worker, and the in-process registry they accumulate in.

The worker counts in memory (no I/O on the per-event path) and the Redis publisher drains the
registry into the metrics hash every fraction of a second. Counts are at-least-once across a
crash: events processed again after a restart are counted again.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

EVENTS: Final = "events"
"""Input messages decoded into events (duplicates included)."""
DEAD_LETTER: Final = "dead_letter"
"""Input messages dead-lettered, all codes together; per code under ``dead_letter:<code>``."""
DUPLICATES: Final = "duplicates"
LATE: Final = "late"
ALERTS: Final = "alerts"
"""Alerts sent, amendments (higher revisions) included."""
REQUESTS: Final = "requests"
"""Enforcement requests sent."""
SHADOWED: Final = "shadowed"
"""Enforcement requests decided in shadow mode: logged, not sent."""
KEY_MISMATCH: Final = "key_mismatch"
"""Events whose Kafka key is not their customer_id (the producer breaks the contract)."""
PROCESSING_ERRORS: Final = "processing_errors"
"""Messages skipped because the codec or the core raised unexpectedly (a bug; see the log)."""
RING_LINKS: Final = "ring_links"
"""``ring.link`` events the ring agent sent to ring members (``streamwatch.live.rings``)."""

ALL: Final = (
    EVENTS,
    DEAD_LETTER,
    DUPLICATES,
    LATE,
    ALERTS,
    REQUESTS,
    SHADOWED,
    KEY_MISMATCH,
    PROCESSING_ERRORS,
    RING_LINKS,
)


def dead_letter_code(code: str) -> str:
    """The counter of dead-lettered messages with DecodeError code ``code``."""
    return f"{DEAD_LETTER}:{code}"


class Counters:
    """Counters accumulated since the last ``drain``; not thread-safe (one event loop)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def inc(self, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name``."""
        self._counts[name] += by

    def drain(self) -> dict[str, int]:
        """The counts so far, resetting them to zero."""
        counts, self._counts = self._counts, Counter()
        return dict(counts)

    def restore(self, counts: dict[str, int]) -> None:
        """Put drained counts back (their publication failed; try again later)."""
        self._counts.update(counts)

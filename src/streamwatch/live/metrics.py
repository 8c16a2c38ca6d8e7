"""Counter names of the live worker, and the in-process registry they accumulate in.

The worker counts in memory (no I/O on the per-event path). Its running totals since the
process started are written to Redis as absolute values, under a hash of its own
(``RiskView``: ``<prefix>metrics:worker:<worker id>``, with a TTL), by the publisher every
fraction of a second; readers (``RiskView.metrics``) add up the hashes of every worker. A write
repeated after a timeout writes the same totals again, and a Redis that lost its data gets them
back at the next write: nothing is counted twice or lost while the worker runs.

These are per-process totals: a restarted worker starts again from zero under a new worker id,
and a stopped worker's hash expires with its TTL. Counters that must survive restarts (rates,
alerting on them) belong in Prometheus, which has counter-reset handling, not in Redis. Events
processed again after a crash are counted again by the worker that processes them.
"""

from __future__ import annotations

import os
import socket
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
SUPPRESSED: Final = "suppressed"
"""Alerts held back by feedback (a suppression or "not an anomaly"): decided, not sent."""
KEY_MISMATCH: Final = "key_mismatch"
"""Events whose Kafka key is not their customer_id (the producer breaks the contract)."""
PROCESSING_ERRORS: Final = "processing_errors"
"""Messages skipped because the codec or the core raised unexpectedly (a bug; see the log)."""
RING_LINKS: Final = "ring_links"
"""``ring.link`` events the ring agent sent to ring members (``streamwatch.live.rings``)."""
RINGS_FORGOTTEN: Final = "rings_forgotten"
"""Ring states dropped once every member had left their window."""

ALL: Final = (
    EVENTS,
    DEAD_LETTER,
    DUPLICATES,
    LATE,
    ALERTS,
    REQUESTS,
    SHADOWED,
    SUPPRESSED,
    KEY_MISMATCH,
    PROCESSING_ERRORS,
    RING_LINKS,
    RINGS_FORGOTTEN,
)


def dead_letter_code(code: str) -> str:
    """The counter of dead-lettered messages with DecodeError code ``code``."""
    return f"{DEAD_LETTER}:{code}"


def worker_id() -> str:
    """This process among the workers writing counters: ``<host name>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Counters:
    """Counters of this process: running totals (``totals``), and the counts since the last
    ``drain`` for writers that add increments; not thread-safe (one event loop)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._totals: Counter[str] = Counter()

    def inc(self, name: str, by: int = 1) -> None:
        """Add ``by`` to counter ``name``."""
        self._counts[name] += by
        self._totals[name] += by

    def totals(self) -> dict[str, int]:
        """Every counter's total since the process started (``drain`` does not reset them)."""
        return dict(self._totals)

    def drain(self) -> dict[str, int]:
        """The counts so far, resetting them to zero."""
        counts, self._counts = self._counts, Counter()
        return dict(counts)

    def restore(self, counts: dict[str, int]) -> None:
        """Put drained counts back (their publication failed; try again later)."""
        self._counts.update(counts)

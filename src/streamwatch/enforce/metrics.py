"""Counter names of the suspension worker (Redis hash ``<prefix>streamwatch:enforce:metrics``).

Counted in memory with ``streamwatch.live.metrics.Counters`` and added to Redis after each batch
of messages; a batch processed again after a crash is counted again.
"""

from __future__ import annotations

from typing import Final

REQUESTS: Final = "requests"
"""Validly signed requests read (repeats included)."""
DECISIONS: Final = "decisions"
"""Validly signed approvals and rejections read."""
APPLIED: Final = "applied"
"""Requests applied through the backend (outcome done)."""
FAILED: Final = "failed"
"""Requests the backend could not apply (outcome failed)."""
DRY_RUN: Final = "dry_run"
"""Dry-run requests recorded, not applied."""
HELD_APPROVAL: Final = "held_approval"
"""Requests held because their rule requires approval."""
HELD_CAP: Final = "held_cap"
"""Requests held because their rule reached its max_customers_per_hour."""
REFUSED_SIGNATURE: Final = "refused_signature"
"""Requests refused as unsigned, forged or altered."""
REJECTED: Final = "rejected"
"""Requests a person rejected before they were applied."""
WITHDRAWN: Final = "withdrawn"
"""Applied requests whose approval was withdrawn and which the backend resumed."""
WITHDRAW_FAILED: Final = "withdraw_failed"
"""Withdrawals the backend could not apply."""
REPEATS: Final = "repeats"
"""Requests seen again and not acted on again (delivered twice, or redelivered)."""
RETRIES: Final = "retries"
"""Steps found cut off by a crash and retried under the same idempotency key."""
DECISIONS_IGNORED: Final = "decisions_ignored"
"""Decisions that came too late to change anything (e.g. approving a refused request)."""
DEAD_LETTER: Final = "dead_letter"
"""Messages dead-lettered, all codes together; per code under ``dead_letter:<code>``."""
PROCESSING_ERRORS: Final = "processing_errors"
"""Messages skipped because the worker raised unexpectedly (a bug; see the log)."""


def dead_letter_code(code: str) -> str:
    """The counter of messages dead-lettered with DecodeError code ``code``."""
    return f"{DEAD_LETTER}:{code}"

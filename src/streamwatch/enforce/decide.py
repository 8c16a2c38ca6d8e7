"""What the suspension worker does with a request or a decision, given what it has recorded.

Pure and deterministic: the worker loads a request's ``Record`` from Redis, asks ``on_request``
or ``on_decision`` for the next ``Step``, carries it out, and records the new state with a
compare-and-set on the state it loaded (so two workers, or a zombie and its successor, cannot
both move a request on). The same functions tell ``streamwatch approve`` and ``reject`` whether
a decision would do anything, before they send it.

States of a request (``Record.state``)::

    (new) ─dry run──────────────────────────────► done (dry_run)
      │ ─requires approval, or over the cap──► awaiting_approval ─reject─► refused
      │                                              │ approve
      └─────────────────────────────────────────► applying ─► done | failed ─approve─► applying
                                                               │ reject (withdraw approval)
                                                               ▼
                                                 withdrawing ─► withdrawn | withdraw_failed

``applying`` and ``withdrawing`` are recorded *before* the backend is called. Finding one of
them when a message is delivered again means the worker stopped between calling the backend
and recording what it answered; the step is retried under the same idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from streamwatch.core.events import Action
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts
from streamwatch.enforce.messages import Decision, Request

State = Literal[
    "awaiting_approval",
    "applying",
    "done",
    "failed",
    "refused",
    "withdrawing",
    "withdrawn",
    "withdraw_failed",
]
AWAITING: Final = "awaiting_approval"
APPLYING: Final = "applying"
DONE: Final = "done"
FAILED: Final = "failed"
REFUSED: Final = "refused"
WITHDRAWING: Final = "withdrawing"
WITHDRAWN: Final = "withdrawn"
WITHDRAW_FAILED: Final = "withdraw_failed"
STATES: Final[tuple[State, ...]] = (
    AWAITING,
    APPLYING,
    DONE,
    FAILED,
    REFUSED,
    WITHDRAWING,
    WITHDRAWN,
    WITHDRAW_FAILED,
)

REVERSIBLE: Final[frozenset[Action]] = frozenset({"require_prepayment", "restrict", "suspend"})
"""Actions a resume undoes; a notification cannot be taken back, nor a resume reversed."""


@dataclass(frozen=True, slots=True)
class Record:
    """What the worker has recorded about one request."""

    request: Request
    state: State
    attempt: int = 0
    """Times the worker has started applying the request."""
    withdraw_attempt: int = 0
    """Times the worker has started withdrawing it."""
    approved_by: str | None = None
    rejected_by: str | None = None
    note: str | None = None
    decided_at: str | None = None
    """When the withdrawal was decided (it dates the resume request sent to the backend)."""
    result: dict[str, Any] | None = None
    """The latest result message of the request."""
    published: str | None = None
    """``result_id`` of the latest result known to be on the results topic."""

    @property
    def unpublished(self) -> bool:
        """Whether the latest result may not have reached the results topic."""
        return self.result is not None and self.result.get("result_id") != self.published


@dataclass(frozen=True, slots=True)
class Apply:
    """Apply the request through the backend (``retry``: an earlier attempt was cut off)."""

    approved_by: str | None = None
    retry: bool = False


@dataclass(frozen=True, slots=True)
class CheckCap:
    """Count the customer against its rule's hourly cap; ``after_cap`` decides with the count."""

    cap: int


@dataclass(frozen=True, slots=True)
class Hold:
    """Hold the request for a person's approval."""

    reason: str


@dataclass(frozen=True, slots=True)
class RecordDryRun:
    """Record the request and report it done, without applying it."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """A person rejected the request before it was applied."""

    by: str
    note: str


@dataclass(frozen=True, slots=True)
class Withdraw:
    """A person withdrew the approval of an applied request: resume the customer."""

    by: str
    note: str
    at: str
    retry: bool = False


@dataclass(frozen=True, slots=True)
class Nothing:
    """Nothing to do (a repeat, or a decision that comes too late); ``reason`` says why."""

    reason: str


Step = Apply | CheckCap | Hold | RecordDryRun | Refuse | Withdraw | Nothing


def on_request(request: Request, record: Record | None, cap: int | None) -> Step:
    """The step for a validly signed ``request``, given its record (None: first time seen)
    and its rule's ``max_customers_per_hour`` (None: no cap, or a rule this worker's policy
    does not know)."""
    if record is not None:
        if record.state == APPLYING:
            return Apply(approved_by=record.approved_by, retry=True)
        if record.state == WITHDRAWING:
            return _retry_withdrawal(record)
        return Nothing(f"request already seen; it is {record.state}")
    if request.dry_run:
        return RecordDryRun()
    if request.requires_approval:
        return Hold(approval_reason(request))
    if cap is not None:
        return CheckCap(cap)
    return Apply()


def after_cap(request: Request, cap: int, admitted: bool, now_ms: int) -> Apply | Hold:
    """Apply the request if the cap admitted its customer this hour, else hold it."""
    if admitted:
        return Apply()
    return Hold(cap_reason(request.policy, cap, now_ms))


def on_decision(decision: Decision, record: Record) -> Step:
    """The step for a validly signed ``decision`` on the request ``record`` describes."""
    state = record.state
    if decision.decision == "approve":
        if state in (AWAITING, FAILED):
            return Apply(approved_by=decision.by)
        if state == APPLYING:
            return Apply(approved_by=record.approved_by or decision.by, retry=True)
        return Nothing(_too_late("approve", record))
    if state == AWAITING:
        return Refuse(decision.by, decision.note)
    if state == WITHDRAWING:
        return _retry_withdrawal(record)
    if state == DONE and not record.request.dry_run and record.request.action in REVERSIBLE:
        return Withdraw(decision.by, decision.note, decision.at)
    return Nothing(_too_late("reject", record))


def _retry_withdrawal(record: Record) -> Withdraw:
    return Withdraw(record.rejected_by or "", record.note or "", record.decided_at or "", True)


def _too_late(decision: str, record: Record) -> str:
    request, state = record.request, record.state
    if state == DONE and request.dry_run:
        return f"cannot {decision} request {request.request_id}: it was a dry run, nothing applied"
    if state == DONE and decision == "reject":
        return (
            f"cannot withdraw request {request.request_id}: a {request.action} cannot be "
            "reversed by a resume"
        )
    if state == DONE and record.approved_by:
        return f"request {request.request_id} is already done (approved by {record.approved_by})"
    if state == APPLYING:
        return (
            f"request {request.request_id} is being applied; once it is done, reject it again "
            "to withdraw the approval"
        )
    by = f" by {record.rejected_by}" if record.rejected_by else ""
    if state in (REFUSED, WITHDRAWN):
        return f"cannot {decision} request {request.request_id}: it is {state}{by}"
    return f"cannot {decision} request {request.request_id}: it is {state}"


def approval_reason(request: Request) -> str:
    """Why a request that requires approval is held."""
    return (
        f"held for approval: rule {request.policy!r} requires a person's approval to "
        f"{request.action.replace('_', ' ')}; approve with: streamwatch approve "
        f"{request.request_id}"
    )


def cap_reason(policy: str, cap: int, now_ms: int) -> str:
    """Why a request over its rule's hourly cap is held."""
    start = hour_start_ms(now_ms)
    return (
        f"held for approval: rule {policy!r} has already acted on its cap of {cap} "
        f"customer{'s' if cap != 1 else ''} in the hour from {format_ts(start)} "
        "(max_customers_per_hour); a person must approve any more"
    )


def applied_reason(action: Action, backend: str, detail: str, approved_by: str | None) -> str:
    """The reason of a done result."""
    by = f", approved by {approved_by}" if approved_by else ""
    return f"{action} applied through the {backend} backend{by} ({detail})"


def failed_reason(action: Action, backend: str, detail: str) -> str:
    """The reason of a failed result."""
    return f"{action} not applied: the {backend} backend failed ({detail})"


def refused_reason(by: str, note: str) -> str:
    """The reason of a request a person rejected."""
    return f"rejected by {by}: {note}" if note else f"rejected by {by}"


def withdrawn_reason(request: Request, by: str, note: str, ok: bool, detail: str) -> str:
    """The reason of the result of a withdrawal (``ok``: the resume was applied)."""
    why = f"approval of the {request.action} withdrawn by {by}" + (f" ({note})" if note else "")
    if ok:
        return f"{why}; resume applied ({detail})"
    return f"{why}; resume failed ({detail}), the {request.action} still stands"


def hour_start_ms(now_ms: int) -> int:
    """Start of the wall-clock hour (UTC) holding ``now_ms``."""
    return now_ms - now_ms % MS_PER_HOUR


def hour_bucket(now_ms: int) -> str:
    """The hour of ``now_ms`` as ``YYYYMMDDHH`` (UTC), the suffix of a cap's Redis key."""
    text = format_ts(hour_start_ms(now_ms))
    return text[0:4] + text[5:7] + text[8:10] + text[11:13]

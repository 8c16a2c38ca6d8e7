"""``collections`` (timed): each invoice not paid by its due date ages through the dunning
stages of the collections policy (``streamwatch.core.collections``) and the ageing buckets (see
the payments detector's module docstring). ``Dunning`` schedules each invoice's next line,
raises the lines crossed and resolves an invoice paid in full."""

from __future__ import annotations

from typing import Final

from streamwatch.core.collections import CollectionsPolicy, Stage, bucket_of
from streamwatch.core.detectors.base import Finding
from streamwatch.core.detectors.payments.ledger import MICROS, Invoice, PaymentsState
from streamwatch.core.explain import days, money
from streamwatch.core.severity import score_of
from streamwatch.core.timeutil import MS_PER_DAY, format_ts

KIND: Final = "collections"


class Dunning:
    """The ``collections`` rule under one collections policy (configuration, never state)."""

    def __init__(self, policy: CollectionsPolicy) -> None:
        self.policy = policy
        self._lines = policy.lines

    def advance(self, state: PaymentsState, until_ms: int) -> list[Finding]:
        """Collections findings whose line (a due date plus some days) is at or before
        ``until_ms``."""
        if state.next_ms is None or until_ms < state.next_ms:
            return []
        findings: list[Finding] = []
        for key, inv in state.invoices.items():
            if inv.next_ms is not None and inv.next_ms <= until_ms:
                findings.extend(self._age(state, key, inv, until_ms))
                self.schedule(state, inv, refresh=False)
        refresh_next(state)
        return findings

    def schedule(self, state: PaymentsState, inv: Invoice, *, refresh: bool = True) -> None:
        """Set the time of ``inv``'s next line (and, unless told, the state's earliest)."""
        nxt = self._walk(inv, None)
        inv.next_ms = nxt[0][0] if nxt else None
        if refresh:
            refresh_next(state)

    def _walk(self, inv: Invoice, until_ms: int | None) -> list[tuple[int, int, Stage, str]]:
        """The collections findings of ``inv`` due by ``until_ms`` (None: the next one only),
        as (event time, days past due, stage, bucket), lines at the same time collapsed."""
        due_ms, owed = inv.due_ms, inv.owed
        if due_ms is None or owed <= 0:
            return []
        out: list[tuple[int, int, Stage, str]] = []
        current = (inv.stage, inv.bucket)
        for n in self._lines:
            if n <= inv.raised_days:
                continue
            at = max(due_ms + n * MS_PER_DAY, inv.since_ms)
            if until_ms is not None and at > until_ms:
                break
            if out and until_ms is None and at > out[-1][0]:
                break
            past = (at - due_ms) // MS_PER_DAY
            stage = self.policy.stage_for(past, owed)
            name = bucket_of(past)
            if stage is None or name is None or (stage.name, name) == current:
                continue
            current = (stage.name, name)
            if out and out[-1][0] == at:
                out[-1] = (at, past, stage, name)
            else:
                out.append((at, past, stage, name))
        return out

    def _age(self, state: PaymentsState, key: str, inv: Invoice, until_ms: int) -> list[Finding]:
        findings = []
        for at, past, stage, name in self._walk(inv, until_ms):
            inv.stage, inv.bucket = stage.name, name
            inv.raised_days = past
            findings.append(_finding(state, key, inv, at, past, stage, name))
        return findings


def _finding(
    state: PaymentsState,
    key: str,
    inv: Invoice,
    at_ms: int,
    past: int,
    stage: Stage,
    name: str,
) -> Finding:
    assert inv.due_ms is not None
    cur = state.currency or ""
    overdue = _ageing(state, at_ms)
    total = sum(overdue.values())
    owed = inv.owed / MICROS
    reason = (
        f"Invoice {key} of {money(inv.amount / MICROS, cur)} is {days(past)} past due "
        f"(due {format_ts(inv.due_ms)}) with {money(owed, cur)} unpaid: stage "
        f"'{stage.name}' of the collections policy ({stage.action.replace('_', ' ')}). "
        f"The customer has {money(total, cur)} overdue in all."
    )
    return Finding(
        incident=key,
        kind=KIND,
        severity=stage.severity,
        score=score_of(stage.severity),
        event_time_ms=at_ms,
        window_start_ms=inv.due_ms,
        window_end_ms=at_ms,
        reasons=(reason,),
        evidence={
            "status": "open",
            "invoice_id": key,
            "stage": stage.name,
            "action": stage.action,
            "days_past_due": past,
            "bucket": name,
            "amount_due": round(owed, 2),
            "invoice_amount": round(inv.amount / MICROS, 2),
            "currency": cur,
            "due_date": format_ts(inv.due_ms),
            "customer_overdue": {k: round(v, 2) for k, v in overdue.items()},
            "customer_overdue_total": round(total, 2),
        },
    )


def resolve_collections(state: PaymentsState, key: str, inv: Invoice, ts_ms: int) -> list[Finding]:
    """Invoice ``key`` was paid in full at ``ts_ms``: resolve its collections alert, if any."""
    if inv.stage is None or inv.due_ms is None:
        return []
    stage = inv.stage
    inv.stage = inv.bucket = None
    past = max(0, (ts_ms - inv.due_ms) // MS_PER_DAY)
    return [
        Finding(
            incident=key,
            kind=KIND,
            severity="info",
            score=score_of("info"),
            event_time_ms=ts_ms,
            window_start_ms=inv.due_ms,
            window_end_ms=ts_ms,
            reasons=(
                f"Resolved: invoice {key} was paid in full at {format_ts(ts_ms)}, "
                f"{days(past)} past due.",
            ),
            evidence={
                "status": "resolved",
                "invoice_id": key,
                "stage": stage,
                "days_past_due": past,
                "amount_due": 0.0,
                "invoice_amount": round(inv.amount / MICROS, 2),
                "currency": state.currency,
                "due_date": format_ts(inv.due_ms),
                "paid_at": format_ts(ts_ms),
            },
        )
    ]


def refresh_next(state: PaymentsState) -> None:
    """Record the earliest next line of any invoice (None: none due)."""
    times = [inv.next_ms for inv in state.invoices.values() if inv.next_ms is not None]
    state.next_ms = min(times) if times else None


def _ageing(state: PaymentsState, at_ms: int) -> dict[str, float]:
    """What the customer owes past due at ``at_ms``, by ageing bucket (currency units)."""
    out: dict[str, float] = {}
    for inv in state.invoices.values():
        if inv.due_ms is None or inv.owed <= 0:
            continue
        name = bucket_of((at_ms - inv.due_ms) // MS_PER_DAY)
        if name is not None:
            out[name] = out.get(name, 0.0) + inv.owed / MICROS
    return out

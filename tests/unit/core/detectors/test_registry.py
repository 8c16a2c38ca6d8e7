"""The registry: detectors register themselves, and everything that runs or checks detectors
goes by it.

``LargeRefund`` below is a whole detector written the way a new one is, in this module only.
Registered through the real registry, it is run by ``build_core`` (so by the worker, replay and
the demo), through the ``streamwatch replay`` command and the in-memory live worker alike; its
alerts are valid alerts and its state is snapshot and restored by name with its version. None
of that needs an edit anywhere else: not the schemas, not the policy, not a list of detectors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from jsonschema import Draft202012Validator

import streamwatch
from streamwatch.cli import main
from streamwatch.config import build_core
from streamwatch.core.detectors.base import NONE, Capability, ContractError, Finding, Setup, by_name
from streamwatch.core.detectors.registry import register, registered, registered_kinds, unregister
from streamwatch.core.engine import STATE_VERSION_KEY, Fleet
from streamwatch.core.events import Event, PaymentEvent
from streamwatch.core.severity import score_of
from streamwatch.testing import (
    FakeClock,
    decoded,
    payment,
    raw,
    simulate_live,
    usage,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
PACKAGE = Path(streamwatch.__file__).parent

# --- an example detector, written as a new one would be ---------------------------------


@dataclass(slots=True)
class RefundState:
    """What one customer was refunded, in its first currency."""

    currency: str | None = None
    refunded: float = 0.0
    refunds: list[str] = field(default_factory=list)
    """The refunds counted, by event id (for the alert's evidence)."""
    alerted: bool = False


class LargeRefund:
    """Alerts once a customer's refunds add up to ``LIMIT`` or more (money given back that a
    reseller cannot take back twice)."""

    LIMIT: ClassVar[float] = 500.0
    name: ClassVar[str] = "large_refund"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"payment"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"large_refund"})
    state_version: ClassVar[int] = 1
    state_reads: ClassVar[frozenset[int]] = frozenset({1})

    @classmethod
    def from_setup(cls, setup: Setup) -> LargeRefund:
        return cls()

    def new_state(self) -> RefundState:
        return RefundState()

    def observe(self, state: RefundState, event: Event) -> list[Finding]:
        if not isinstance(event, PaymentEvent) or event.kind != "refund" or not event.amount:
            return []
        if state.currency is None:
            state.currency = event.currency
        if event.currency != state.currency:
            return []
        state.refunded += event.amount
        state.refunds.append(event.event_id)
        if state.alerted or state.refunded < self.LIMIT:
            return []
        state.alerted = True
        return [
            Finding(
                incident="refunds",
                kind="large_refund",
                severity="high",
                score=score_of("high"),
                event_time_ms=event.ts_ms,
                window_start_ms=event.ts_ms,
                window_end_ms=event.ts_ms,
                reasons=(f"Refunds add up to {state.refunded:.2f} {state.currency}.",),
                evidence={"refunded": state.refunded, "refunds": list(state.refunds)},
            )
        ]

    def dump(self, state: RefundState) -> dict[str, Any]:
        return by_name(state)

    def load(self, data: dict[str, Any]) -> RefundState:
        return RefundState(**{**data, "refunds": list(data["refunds"])})


@pytest.fixture
def large_refund() -> Iterator[type[LargeRefund]]:
    """``LargeRefund`` registered for one test, after every packaged detector."""
    register()(LargeRefund)
    yield LargeRefund
    unregister(LargeRefund)


def refund_lines() -> list[bytes]:
    """Two customers' usage and refunds: cust-1's refunds reach the limit, cust-2's do not."""
    docs = [
        usage("cust-1", "2026-10-01T00:00:00Z", cost=2.0),
        usage("cust-2", "2026-10-01T00:00:00Z", cost=2.0),
        payment("refund", "cust-1", "2026-10-01T01:00:00Z", amount=300.0),
        payment("refund", "cust-2", "2026-10-01T01:30:00Z", amount=100.0),
        usage("cust-1", "2026-10-01T02:00:00Z", cost=2.0),
        payment("refund", "cust-1", "2026-10-01T03:00:00Z", amount=250.0),
        payment("refund", "cust-1", "2026-10-01T04:00:00Z", amount=50.0),
    ]
    return [raw(doc) for doc in docs]


def alert_schema() -> Draft202012Validator:
    schema = json.loads((REPO_ROOT / "topics/schemas/alert.schema.json").read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


# --- the example, registered --------------------------------------------------------------


def test_a_registered_detector_is_run_by_the_replay_command(
    large_refund: type[LargeRefund], tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(refund_lines()) + b"\n")
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", str(events), "--alerts", str(out)]) == 0
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    mine = [a for a in alerts if a["kind"] == "large_refund"]
    assert [(a["customer_id"], a["severity"], a["detector"]["name"]) for a in mine] == [
        ("cust-1", "high", "large_refund")
    ]
    assert mine[0]["evidence"]["refunded"] == 550.0
    # The alert is a valid alert although no schema names the kind.
    assert alert_schema().is_valid(mine[0])
    assert "large_refund" in registered_kinds()


def test_a_registered_detector_decides_alike_in_replay_and_live(
    large_refund: type[LargeRefund],
) -> None:
    from streamwatch.replay.runner import ListSink, Replay, Source  # noqa: PLC0415

    lines = refund_lines()
    sink = ListSink()
    Replay(build_core(), sink, clock=FakeClock()).run(
        [Source(((line, n) for n, line in enumerate(lines, 1)), lambda n: {"line": n})]
    )
    assert [a.customer_id for a in sink.alerts if a.kind == "large_refund"] == ["cust-1"]
    expected = sorted((a.alert_id, a.revision, a.kind) for a in sink.alerts)
    for seed, crashes in ((1, 0), (2, 3)):
        live = simulate_live(build_core(), lines, seed=seed, crashes=crashes)
        assert sorted((a.alert_id, a.revision, a.kind) for a in live.alerts) == expected


def test_a_registered_detector_snapshots_by_name_and_restarts_where_it_stopped(
    large_refund: type[LargeRefund],
) -> None:
    events = [decoded(orjson.loads(line)) for line in refund_lines()]
    core = build_core()
    assert [d.name for d in core.detectors][-1] == "large_refund"
    straight = Fleet(core)
    straight.run(events, FakeClock())
    # Stop after the first refund, snapshot through JSON, restore into a new core, go on.
    first = Fleet(core)
    first.run(events[:3], FakeClock())
    again = Fleet(build_core())
    for customer_id, state in first.states.items():
        snapshot = orjson.loads(orjson.dumps(core.snapshot(state)))
        if customer_id == "cust-1":
            assert snapshot["detectors"]["large_refund"] == {
                "currency": "USD",
                "refunded": 300.0,
                "refunds": [events[2].event_id],
                STATE_VERSION_KEY: 1,
            }  # by field name; a field at its default is left out
        again.states[customer_id] = again.core.restore(snapshot)
    again.run(events[3:], FakeClock())
    assert again.states == straight.states


def test_a_registered_detector_needs_no_other_edit(large_refund: type[LargeRefund]) -> None:
    assert large_refund in registered()
    assert registered()[-1] is large_refund  # after every packaged detector, by rank
    for path in (
        REPO_ROOT / "topics/schemas/alert.schema.json",
        PACKAGE / "config/policy.toml",
        PACKAGE / "core/detectors/registry.py",
    ):
        assert "large_refund" not in path.read_text(encoding="utf-8"), path


def test_unregistered_the_example_is_gone() -> None:
    assert LargeRefund not in registered()
    assert "large_refund" not in registered_kinds()
    assert "large_refund" not in {d.name for d in build_core().detectors}


# --- the registry's own rules ---------------------------------------------------------------


def test_the_packaged_detectors_in_the_order_their_findings_are_raised() -> None:
    assert [cls.name for cls in registered()] == [
        "budget_threshold",
        "provider_notice",
        "spend_spike",
        "crypto_mining",
        "payments",
        "identity_mismatch",
        "privilege_escalation",
        "stale_access",
        "network_abuse",
        "bot_signup",
    ]


def test_a_second_detector_of_one_name_or_kind_is_refused() -> None:
    class SameName(LargeRefund):
        kinds: ClassVar[frozenset[str]] = frozenset({"other_kind"})

    class SameKind(LargeRefund):
        name: ClassVar[str] = "other_name"

    register()(LargeRefund)
    try:
        with pytest.raises(ContractError, match="two detectors are named 'large_refund'"):
            register()(SameName)
        with pytest.raises(ContractError, match=r"both raise \['large_refund'\]"):
            register()(SameKind)
    finally:
        unregister(LargeRefund)
    assert SameName not in registered()
    assert SameKind not in registered()

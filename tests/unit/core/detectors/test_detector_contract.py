"""The detector contract: what a detector declares (capabilities, kinds, state version) is
what the engine goes by, checked at construction and on restore.

``TinySpend`` below is a whole detector written the way a new one is: it is run by a core
given it (no registry entry needed for that), through replay and the in-memory live worker with
crashes, and its state is snapshot and restored like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import pytest

from streamwatch.config import build_core
from streamwatch.core.detectors.base import (
    NONE,
    Capability,
    ContractError,
    Finding,
    Setup,
    StateReset,
    by_name,
    check_contract,
)
from streamwatch.core.detectors.bot_signup import BotSignupDetector
from streamwatch.core.detectors.budget import BudgetDetector
from streamwatch.core.detectors.identity_mismatch import IdentityMismatchDetector
from streamwatch.core.detectors.privilege_escalation import PrivilegeEscalationDetector
from streamwatch.core.detectors.registry import registered
from streamwatch.core.detectors.spend_spike import SpendSpikeDetector
from streamwatch.core.detectors.spend_spike.baseline import Baseline
from streamwatch.core.detectors.stale_access import StaleAccessDetector
from streamwatch.core.engine import STATE_VERSION_KEY, Core, Fleet, default_detectors
from streamwatch.core.events import Event, UsageEvent
from streamwatch.core.severity import BANDS, score_of, within
from streamwatch.core.timeutil import MS_PER_HOUR, format_ts
from streamwatch.replay.runner import ListSink, Replay, Source
from streamwatch.testing import (
    FakeClock,
    activity_doc,
    default_policy,
    raw,
    simulate_live,
    usage_doc,
    usage_event,
)

# --- an example detector, written as a new one would be ---------------------------------


@dataclass(slots=True)
class TinySpendState:
    """The usage events that cost too much, by event id (most recent last)."""

    flagged: list[str]
    largest: float = 0.0


class TinySpend:
    """Alerts when one usage event costs over ``LIMIT`` (in its currency)."""

    LIMIT: ClassVar[float] = 1000.0
    name: ClassVar[str] = "tiny_spend"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage"})
    capabilities: ClassVar[frozenset[Capability]] = NONE
    kinds: ClassVar[frozenset[str]] = frozenset({"tiny_spend"})
    state_version: ClassVar[int] = 1
    state_reads: ClassVar[frozenset[int]] = frozenset({1})

    @classmethod
    def from_setup(cls, setup: Setup) -> TinySpend:
        return cls()

    def new_state(self) -> TinySpendState:
        return TinySpendState(flagged=[])

    def observe(self, state: TinySpendState, event: Event) -> list[Finding]:
        if not isinstance(event, UsageEvent) or event.cost <= self.LIMIT:
            return []
        state.largest = max(state.largest, event.cost)
        state.flagged = [*state.flagged[-7:], event.event_id]
        severity = "critical" if event.cost > 10 * self.LIMIT else "high"
        return [
            Finding(
                incident=event.event_id,
                kind="tiny_spend",
                severity=severity,
                score=within(severity, 0.7 + event.cost / 100_000),
                event_time_ms=event.ts_ms,
                window_start_ms=event.ts_ms,
                window_end_ms=event.ts_ms + MS_PER_HOUR,
                reasons=(f"One usage record cost {event.cost:g} {event.currency}.",),
                evidence={"cost": event.cost, "currency": event.currency},
                subscription_ids=(event.subscription_id,),
            )
        ]

    def dump(self, state: TinySpendState) -> dict[str, Any]:
        return by_name(state)

    def load(self, data: dict[str, Any]) -> TinySpendState:
        return TinySpendState(flagged=list(data["flagged"]), largest=data["largest"])


def tiny_lines() -> list[bytes]:
    """Three customers' hourly usage over two days; two records cost too much."""
    lines = []
    for hour in range(48):
        for n, customer in enumerate(("cust-1", "cust-2", "cust-3")):
            cost = {(5, 1): 1500.0, (30, 2): 25_000.0}.get((hour, n), 2.0)
            lines.append(
                raw(
                    usage_doc(
                        event_id=f"u-{customer}-{hour}",
                        customer_id=customer,
                        at=format_ts(1_790_812_800_000 + hour * MS_PER_HOUR),
                        cost=cost,
                    )
                )
            )
    lines.append(raw(activity_doc("signin", event_id="a-1", customer_id="cust-1")))
    return lines


def tiny_core() -> Core:
    return Core(default_policy(), detectors=[TinySpend(), *default_detectors()])


def keys(alerts: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((a.alert_id, a.revision, a.kind, a.severity, a.score) for a in alerts)


def test_a_new_detector_runs_through_replay_and_live_alike() -> None:
    lines = tiny_lines()
    sink = ListSink()
    Replay(tiny_core(), sink, clock=FakeClock()).run(
        [Source(((line, n) for n, line in enumerate(lines, 1)), lambda n: {"line": n})]
    )
    tiny = [a for a in sink.alerts if a.kind == "tiny_spend"]
    assert [(a.customer_id, a.severity) for a in tiny] == [
        ("cust-2", "high"),
        ("cust-3", "critical"),
    ]
    assert all(a.detector.name == "tiny_spend" for a in tiny)
    for seed, crashes in ((1, 0), (2, 3)):
        live = simulate_live(tiny_core(), lines, seed=seed, crashes=crashes)
        assert keys(live.alerts) == keys(sink.alerts)


def test_a_new_detector_snapshots_and_restores_with_its_state_version() -> None:
    core = tiny_core()
    fleet = Fleet(core)
    clock = FakeClock()
    for n, cost in enumerate((5.0, 1200.0, 3.0)):
        fleet.step(
            usage_event(event_id=f"u-{n}", cost=cost, at=format_ts(n * MS_PER_HOUR)), clock()
        )
    snapshot = orjson.loads(orjson.dumps(core.snapshot(fleet.states["cust-1"])))
    assert snapshot["detectors"]["tiny_spend"] == {
        "flagged": ["u-1"],
        "largest": 1200.0,
        STATE_VERSION_KEY: 1,
    }
    restored = tiny_core().restore(snapshot)
    assert restored == fleet.states["cust-1"]


def test_a_new_detector_needs_no_registry_entry_to_run_but_is_not_in_the_registry() -> None:
    assert TinySpend not in registered()
    assert "tiny_spend" not in {d.name for d in build_core().detectors}


class Quiet:
    """A plain detector: observes, finds nothing, declares nothing."""

    name: ClassVar[str] = "quiet"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def new_state(self) -> dict[str, Any]:
        return {}

    def observe(self, state: dict[str, Any], event: Event) -> list[Finding]:
        return []

    def dump(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(state)

    def load(self, data: dict[str, Any]) -> dict[str, Any]:
        return dict(data)


class ClaimsTimed(Quiet):
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.TIMED})


class HidesRetains(Quiet):
    def retains(self, state: dict[str, Any], until_ms: int) -> bool:
        return True


class SecondLedger(Quiet):
    name: ClassVar[str] = "second_ledger"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.MONEY_AT_RISK})

    def exposure(self, state: dict[str, Any]) -> dict[str, Any] | None:
        return None


def test_every_default_detector_keeps_its_declared_contract() -> None:
    for detector in default_detectors():
        assert check_contract(detector) == detector.capabilities


def test_a_declared_capability_without_its_method_is_rejected() -> None:
    with pytest.raises(ContractError, match=r"'quiet' declares TIMED but has no advance\(\)"):
        Core(detectors=[ClaimsTimed()])


def test_a_capability_method_without_its_declaration_is_rejected() -> None:
    with pytest.raises(ContractError, match=r"has a retains\(\) method but does not declare"):
        Core(detectors=[HidesRetains()])


def test_one_money_at_risk_detector_at_most() -> None:
    with pytest.raises(ContractError, match="more than one detector declares MONEY_AT_RISK"):
        Core(detectors=[*default_detectors(), SecondLedger()])


def test_the_engine_selects_by_the_declared_capabilities() -> None:
    core = Core()
    assert {d.name for d in core.indicator_users} == {"crypto_mining", "identity_mismatch"}
    assert core.timed


def test_a_dump_of_a_state_version_the_detector_cannot_read_starts_fresh_and_is_reported() -> None:
    core = tiny_core()
    state = core.new_state("cust-1")
    core.step(state, usage_event(event_id="u-1", cost=2000.0), 0)
    snapshot = orjson.loads(orjson.dumps(core.snapshot(state)))
    snapshot["detectors"]["tiny_spend"][STATE_VERSION_KEY] = 7  # written by a newer build
    resets: list[StateReset] = []
    restored = core.restore(snapshot, resets)
    assert restored.detectors["tiny_spend"] == TinySpend().new_state()
    assert restored.alerts == state.alerts  # the rest of the state is restored
    assert [(r.customer_id, r.detector, r.found_version) for r in resets] == [
        ("cust-1", "tiny_spend", 7)
    ]
    assert "this build writes 1 and reads [1]" in resets[0].reason
    assert core.state_resets == {"tiny_spend": 1}


def test_every_registered_detector_declares_its_contract() -> None:
    for cls in registered():
        assert cls.state_version in cls.state_reads
        assert cls.kinds
        assert isinstance(cls.capabilities, frozenset)


@pytest.mark.parametrize(
    ("detector", "earlier"),
    [
        (
            IdentityMismatchDetector(),
            {
                "signup": [1, "DE", "DE", "mail.example", None, True],
                "billing": ["DE"],
                "signins": [3, {"FR": 1}, [20300]],
                "guests": [],
                "latched": [],
                "alerted": [None, None],
            },
        ),
        (
            PrivilegeEscalationDetector(),
            {
                "account": [1, 2, ["DE"]],
                "failed": [5, 2, "FR", "10.0.0.1"],
                "signin": [None, None, None],
                "principals": {"alice@example.com": ["user", 1]},
                "invites": [3],
                "episode": None,
            },
        ),
        (BotSignupDetector(), {"rings": [["ring-1", 0.6], ["ring-2", 0.9]]}),
        (
            StaleAccessDetector(),
            {
                "principals": {
                    "alice@example.com": ["user", 5],
                    "guest@example.org": ["guest", 7, 9, "Owner", None, None, None, 3],
                },
                "due_ms": 5 + 90 * 86_400_000,
            },
        ),
        (
            SpendSpikeDetector(),
            {
                "b": Baseline().dump(),
                "cur": "USD",
                "h": [3_600_000, 5_000_000, 9_000_000, 0, 2],
                "parts": [["Standard_F16s_v2", "westeurope", 7_000_000]],
                "subs": ["sub-1"],
                "new": False,
                "offer": None,
                "regions": ["westeurope"],
                "skus": ["Standard_F16s_v2"],
                "me": ["2026-10", 1.0, -1.0],
                "exp": [1.5, 7_200_000, "ops@example.com", "launch", 0],
                "inc": ["2026-10-01T00:00:00Z", 0, 2, 1.0, 0, 2, 1.0, 0.97, ["sub-1"]],
                "closed": ["", -1],
            },
        ),
        (
            BudgetDetector(),
            {
                "amount": 5,
                "currency": "USD",
                "set_at_ms": 1,
                "months": {"2026-10": [{"USD": 7}, ["50%"], ["sub-1"]]},
            },
        ),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_dumps_by_name_read_their_positional_version_1_form(detector: Any, earlier: Any) -> None:
    assert detector.state_reads == {1, 2}
    state = detector.load(earlier)
    named = detector.dump(state)
    assert detector.load(orjson.loads(orjson.dumps(named))) == state
    # Reordering the named fields changes nothing.
    assert detector.load(dict(reversed(list(named.items())))) == state
    # Through the core: a version-1 snapshot (no version stored) is converted, not reset.
    core = Core(detectors=[detector])
    snapshot = orjson.loads(orjson.dumps(core.snapshot(core.new_state("c"))))
    snapshot["detectors"][detector.name] = earlier
    assert core.restore(snapshot).detectors[detector.name] == state
    assert not core.state_resets


def test_one_severity_to_score_scale() -> None:
    assert list(BANDS) == ["info", "low", "medium", "high", "critical"]
    for severity, (low, high) in BANDS.items():
        assert low <= score_of(severity) <= high  # type: ignore[arg-type]
        assert within(severity, 2.0) == high  # type: ignore[arg-type]
        assert within(severity, -1.0) == low  # type: ignore[arg-type]

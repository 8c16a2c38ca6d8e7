"""The core step: one customer's state and one event in, decisions out.

``Core.step`` deduplicates by event_id, tracks the customer's event-time watermark (counting
late events, which are still processed), runs the detectors for the event's type, turns their
findings into new or amended alerts, and asks the policy for enforcement requests. The live
worker and replay both call it; nothing else decides anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import orjson

from streamwatch.core import feedback
from streamwatch.core.collections import CollectionsPolicy
from streamwatch.core.detectors.base import (
    FIRST_STATE_VERSION,
    Capability,
    ContractError,
    Detector,
    Finding,
    IndicatorUser,
    LearningDetector,
    MoneyAtRiskDetector,
    RetainingDetector,
    Setup,
    StateReset,
    TimedDetector,
    check_contract,
    state_reads_of,
    state_version_of,
)
from streamwatch.core.detectors.registry import build
from streamwatch.core.events import ActivityEvent, Alert, DetectorRef, EnforcementRequest, Event
from streamwatch.core.ids import stable_id
from streamwatch.core.indicators import EMPTY, Indicators
from streamwatch.core.policy import Policy, is_resolved
from streamwatch.core.rings import is_link
from streamwatch.core.state import CustomerState, OpenAlert, id_key
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts

STATE_VERSION_KEY: Final = "@v"
"""The key of a detector's state version within its dump in a snapshot (a name no dump uses
for a field)."""
ALERT_RETENTION_MS: Final = 30 * MS_PER_DAY
USAGE_LATENESS_S: Final = 48 * 3600
"""The default allowed lateness of usage (see ``Settings.usage_lateness_s``)."""
SWEEP_MS: Final = MS_PER_HOUR
"""Timed detectors are advanced at each whole hour of event time (see ``TimedDetector``)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Tunables of the engine itself (detectors carry their own)."""

    allowed_lateness_s: int = 3600
    """Activity and payment events older than the customer's newest event by more than this
    are counted as late (they are still processed). Their producers send them as they happen."""
    usage_lateness_s: int = USAGE_LATENESS_S
    """The same for usage. Billing data for an hour arrives hours later (a day or more for
    daily rows), in batches per subscription, after data of later hours: usage is counted as
    late only beyond this. The hourly detectors keep that much open for it (spend_spike's
    ``max_late_h``, network_abuse's, budget_threshold's and the payment ledger's hours)."""
    dedupe_margin_s: int = 3600
    """Event ids are remembered for deduplication while the customer's watermark is less than
    this past the moment they arrived, plus the allowed lateness, or the usage lateness once
    the customer's usage has come later than the allowed lateness (``CustomerState.
    usage_lag_ms``; see ``RecentIds``). Producer retries come minutes apart; a billing batch
    sent again comes up to the usage lateness after the data's hour, and is still recognised
    (beyond it, it is counted late). A customer whose usage comes in order keeps a short
    window, and a small snapshot."""
    dedupe_capacity: int = 1024
    """The most event ids each customer remembers, whatever their age: a hard cap on the size
    of the dedupe window in every state snapshot (the live changelog), 12 bytes an id. A real
    event is taken for a duplicate with a chance of at most this over 2**64 (see
    ``RecentIds``), and is then counted as one."""
    max_open_alerts: int = 64
    forget_after_s: int = 90 * 86400
    """A customer with no event for longer than this (event time) may be forgotten, when
    nothing in its state must still age; see ``Core.forgettable``."""


Observe = Callable[[Any, Event], list[Finding]]
"""A detector's bound ``observe``."""


def lateness_settings(
    allowed_lateness_s: int | None = None, usage_lateness_s: int | None = None
) -> Settings:
    """The default settings but for the allowed lateness given (None keeps the default)."""
    lateness: dict[str, int] = {}
    if allowed_lateness_s is not None:
        lateness["allowed_lateness_s"] = allowed_lateness_s
    if usage_lateness_s is not None:
        lateness["usage_lateness_s"] = usage_lateness_s
    return Settings(**lateness)


@dataclass(frozen=True, slots=True)
class Decisions:
    """What one event caused: alerts (new or amended), requests to send, and shadow requests.

    ``suppressed`` are the alerts feedback held back (not to be sent, not acted on), each with
    the id of the suppression that held it. A value: most events cause nothing, and share the
    empty ``NOTHING``.
    """

    alerts: tuple[Alert, ...] = ()
    requests: tuple[EnforcementRequest, ...] = ()
    shadowed: tuple[EnforcementRequest, ...] = ()
    duplicate: bool = False
    late: bool = False
    suppressed: tuple[tuple[Alert, str], ...] = ()


NOTHING: Final = Decisions()
_DUPLICATE: Final = Decisions(duplicate=True)
_LATE: Final = Decisions(late=True)


def default_detectors(
    indicators: Indicators | None = None, collections: CollectionsPolicy | None = None
) -> list[Detector]:
    """The detectors a worker runs unless told otherwise.

    ``indicators`` are the mining-pool lists crypto_mining judges network flows by, and the
    disposable-email list of identity_mismatch (parsed by the caller, e.g.
    ``streamwatch.indicators.load_indicators``); without them flows are not judged and no email
    domain counts as disposable. ``collections`` are the dunning stages of the payments
    detector (the packaged ones unless given). The detectors are those of
    ``streamwatch.core.detectors.registry``.
    """
    return build(Setup(indicators or EMPTY, collections))


class Core:
    """The deterministic decision engine, shared by live and replay.

    ``step`` mutates the state it is given (callers own it: a Faust table row, or replay's
    dict) and never mutates the event. ``now_ms`` is the wall clock of the caller; it only
    stamps ``detected_at`` and never changes a decision.

    The detectors' declared capabilities are checked when the core is built (ContractError
    otherwise, see ``check_contract``), and the engine goes by them: ``TIMED`` detectors are
    advanced by ``sweep``, ``RETAINS`` ones asked by ``forgettable``, the one
    ``MONEY_AT_RISK`` detector stamps ``money_at_risk``, and ``indicator_users`` take
    reloaded indicator lists.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        detectors: Sequence[Detector] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.policy = policy or Policy()
        self.detectors: tuple[Detector, ...] = tuple(
            default_detectors() if detectors is None else detectors
        )
        self.settings = settings or Settings()
        self._lateness_ms = self.settings.allowed_lateness_s * 1000
        self._usage_lateness_ms = self.settings.usage_lateness_s * 1000
        margin_s = self.settings.dedupe_margin_s
        self._short_window_s = self.settings.allowed_lateness_s + margin_s
        """The dedupe window of a customer whose usage comes in order (``dedupe_margin_s``)."""
        self._late_window_s = self.settings.usage_lateness_s + margin_s
        """The dedupe window of a customer whose usage has come late."""
        self._dedupe_capacity = self.settings.dedupe_capacity
        self._observers: dict[str, tuple[tuple[Detector, str, Observe], ...]] = {
            kind: tuple((d, d.name, d.observe) for d in self.detectors if kind in d.event_types)
            for kind in ("usage", "activity", "payment")
        }
        """Per event type, the detectors that take it, each with its name and bound
        ``observe`` (looked up once here rather than for every event)."""
        declared = {d.name: check_contract(d) for d in self.detectors}
        if len(declared) != len(self.detectors):
            raise ContractError("two detectors share a name")

        def having(capability: Capability) -> tuple[Detector, ...]:
            return tuple(d for d in self.detectors if capability in declared[d.name])

        self._timed = cast(tuple[TimedDetector, ...], having(Capability.TIMED))
        self._retaining = cast(tuple[RetainingDetector, ...], having(Capability.RETAINS))
        self.indicator_users = cast(tuple[IndicatorUser, ...], having(Capability.INDICATORS))
        """The detectors that judge by indicator lists (to hand reloaded lists to)."""
        self._learners: dict[str, LearningDetector] = {
            kind: cast(LearningDetector, d) for d in having(Capability.LEARNS) for kind in d.kinds
        }
        """The detector that learns "not an anomaly" feedback, by alert kind."""
        ledgers = cast(tuple[MoneyAtRiskDetector, ...], having(Capability.MONEY_AT_RISK))
        if len(ledgers) > 1:
            raise ContractError(
                "more than one detector declares MONEY_AT_RISK: "
                + ", ".join(d.name for d in ledgers)
            )
        self._ledger: MoneyAtRiskDetector | None = ledgers[0] if ledgers else None
        self._fresh: dict[str, dict[str, bytes]] = {
            d.name: {k: orjson.dumps(v) for k, v in d.dump(d.new_state()).items()}
            for d in self.detectors
        }
        """Each detector's dump of a fresh state, field by field, as JSON (see ``snapshot``)."""
        self._versions: dict[str, int] = {d.name: state_version_of(d) for d in self.detectors}
        self._reads: dict[str, frozenset[int]] = {d.name: state_reads_of(d) for d in self.detectors}
        self.state_resets: Counter[str] = Counter()
        """Detector states ``restore`` replaced by fresh ones, by detector name (see
        ``StateReset``), for the caller's metrics."""

    def money_at_risk(self, state: CustomerState) -> dict[str, Any] | None:
        """The customer's money at risk (unbilled usage plus unpaid invoices, less prepayments
        and credit, projected to the next invoice), from the detector that keeps the payment
        ledger; None without one, or before any money was seen."""
        ledger = self._ledger
        if ledger is None:
            return None
        return ledger.exposure(state.detectors[ledger.name])

    @property
    def timed(self) -> bool:
        """Whether any detector has time-driven rules (so sweeps can find anything)."""
        return bool(self._timed)

    def new_state(self, customer_id: str) -> CustomerState:
        """A fresh state for a customer seen for the first time."""
        return CustomerState(
            customer_id=customer_id,
            detectors={d.name: d.new_state() for d in self.detectors},
        )

    def snapshot(self, state: CustomerState) -> dict[str, Any]:
        """The state as a JSON-ready dict (see ``restore``).

        A detector's dump keeps only the top-level fields whose JSON differs from those of a
        fresh state's dump, and a detector whose fields all match is left out: most customers
        use few detectors. ``restore`` fills the rest in from a fresh dump, so a detector's
        fresh state is part of the snapshot format: changing a field's value in ``new_state``
        changes what snapshots that left the field out restore to. Each dump kept carries the
        detector's ``state_version`` under ``STATE_VERSION_KEY``.
        """
        fresh = self._fresh
        detectors: dict[str, dict[str, Any]] = {}
        for d in self.detectors:
            unlike = fresh[d.name]
            dumped = {
                k: v
                for k, v in d.dump(state.detectors[d.name]).items()
                if unlike.get(k) != orjson.dumps(v)
            }
            if dumped:
                dumped[STATE_VERSION_KEY] = self._versions[d.name]
                detectors[d.name] = dumped
        return state.snapshot(detectors)

    def restore(
        self, data: dict[str, Any], resets: list[StateReset] | None = None
    ) -> CustomerState:
        """A state from ``snapshot`` (of this version or the one before, see
        ``CustomerState.restore``); fields and detectors a snapshot leaves out, such as
        detectors added since, start fresh.

        A detector's dump of a state version it does not read (``state_reads``; a dump
        without a version is of ``FIRST_STATE_VERSION``), or of an earlier version its
        ``load`` rejects, is not loaded: that detector's state starts fresh, and the reset is
        counted in ``state_resets`` and appended to ``resets`` (when given) for the caller to
        log. The rest of the customer's state is restored as usual."""
        dumped: dict[str, dict[str, Any]] = data.get("detectors", {})
        detectors = {
            d.name: self._load(d, dumped[d.name], data, resets)
            if d.name in dumped
            else d.new_state()
            for d in self.detectors
        }
        return CustomerState.restore(data, detectors)

    def _load(
        self,
        detector: Detector,
        dump: dict[str, Any],
        data: dict[str, Any],
        resets: list[StateReset] | None,
    ) -> Any:
        name = detector.name
        fields = dict(dump)
        version = fields.pop(STATE_VERSION_KEY, FIRST_STATE_VERSION)
        fresh = {k: orjson.loads(v) for k, v in self._fresh[name].items()}
        if version == self._versions[name]:
            return detector.load(fresh | fields)
        if version in self._reads[name]:
            try:  # an earlier form, converted by load
                return detector.load(fresh | fields)
            except (KeyError, TypeError, ValueError) as exc:
                reason = f"its load rejected a dump of state version {version}: {exc!r}"
        else:
            reason = (
                f"state version {version!r}; this build writes {self._versions[name]} and "
                f"reads {sorted(self._reads[name])}"
            )
        self.state_resets[name] += 1
        if resets is not None:
            resets.append(StateReset(str(data.get("customer_id")), name, version, reason))
        return detector.new_state()

    def step(self, state: CustomerState, event: Event, now_ms: int) -> Decisions:
        """Fold one event into the customer's state; see the class docstring."""
        seen = state.seen
        key = id_key(event.event_id)
        if seen.holds(key):
            state.duplicates += 1
            return _DUPLICATE
        state.events += 1
        late = False
        ts_ms, kind, watermark_ms = event.ts_ms, event.type, state.watermark_ms
        behind_ms = watermark_ms - ts_ms
        if behind_ms < 0:
            state.watermark_ms = watermark_ms = ts_ms
        elif kind == "usage":
            if behind_ms > self._usage_lateness_ms:
                state.late += 1
                late = True
            elif behind_ms > state.usage_lag_ms:
                state.usage_lag_ms = behind_ms
        elif behind_ms > self._lateness_ms and not is_link(event):
            # A link carries the time of the sighting that grew its ring and comes when the
            # ring grows (through a topic, live): derived, never late input.
            state.late += 1
            late = True
        window_s = (
            self._late_window_s if state.usage_lag_ms > self._lateness_ms else self._short_window_s
        )
        seen.remember(key, watermark_ms // 1000, window_s, self._dedupe_capacity)
        if state.suppressions:
            feedback.expire(state.suppressions, watermark_ms)
        if type(event) is ActivityEvent:
            if event.operation in feedback.OPERATIONS:
                self._feedback(state, event)
        else:
            state.series.observe(event)
        found: list[tuple[Detector, Finding]] | None = None
        if self._timed and ts_ms - state.swept_ms >= SWEEP_MS:
            found = self._advance(state, ts_ms)
        detectors = state.detectors
        for detector, name, observe in self._observers[kind]:
            findings = observe(detectors[name], event)
            if findings:  # rare: most events change state and find nothing
                if found is None:
                    found = []
                found.extend((detector, finding) for finding in findings)
        if found is None:
            return _LATE if late else NOTHING
        return self._decide(state, found, now_ms, late)

    def _feedback(self, state: CustomerState, event: ActivityEvent) -> None:
        """Fold a suppression or a "not an anomaly" into the state (see ``core.feedback``);
        the codec has checked its properties, so FeedbackError here is a caller's bug."""
        if event.status != "succeeded":
            return
        if event.operation == feedback.SUPPRESS:
            feedback.keep(state.suppressions, feedback.suppression_of(event))
            return
        said = feedback.not_anomaly_of(event)
        learner = self._learners.get(said.kind)
        if learner is not None:
            learner.learn_normal(state.detectors[learner.name], said)
        else:
            feedback.keep(state.suppressions, feedback.as_suppression(state.customer_id, said))

    def forgettable(self, state: CustomerState, until_ms: int) -> bool:
        """Whether the customer's state may be dropped at event time ``until_ms``: the
        customer sent nothing for longer than ``Settings.forget_after_s`` and nothing in its
        state must still age. Call it after sweeping the customer to ``until_ms``; a customer
        dropped and heard from again starts afresh (``new_state``).

        Kept are customers with: a restrictive rung (a request in effect needs its resume; one
        lifted before gives the next request a new id, see ``Rung``); a policy cooldown still
        running; an alert younger than ``ALERT_RETENTION_MS`` (it may still be amended); and
        anything a detector ``retains`` (see ``RetainingDetector``: money owed and collections
        to come in the payment ledger, principals yet to turn inactive in stale_access).
        """
        if until_ms - state.watermark_ms <= self.settings.forget_after_s * 1000:
            return False
        if state.rungs:
            return False
        cooldowns = state.cooldowns
        for rule in self.policy.rules:
            last = cooldowns.get(rule.id)
            if last is not None and until_ms - last < rule.cooldown_s * 1000:
                return False
        horizon = until_ms - ALERT_RETENTION_MS
        if any(alert.event_time_ms >= horizon for alert in state.alerts.values()):
            return False
        detectors = state.detectors
        return not any(d.retains(detectors[d.name], until_ms) for d in self._retaining)

    def sweep(self, state: CustomerState, until_ms: int, now_ms: int) -> Decisions:
        """Advance the timed detectors to the last hour mark at or before ``until_ms`` (event
        time), for a customer that may have sent nothing since; see ``TimedDetector``.

        Callers sweep every customer they hold when the stream's event time passes an hour
        mark. A sweep that finds nothing leaves nothing worth persisting.
        """
        if not self._timed or until_ms - state.swept_ms < SWEEP_MS:
            return NOTHING
        found = self._advance(state, until_ms)
        if found is None:
            return NOTHING
        return self._decide(state, found, now_ms, late=False)

    def _advance(
        self, state: CustomerState, until_ms: int
    ) -> list[tuple[Detector, Finding]] | None:
        mark = until_ms - until_ms % SWEEP_MS
        state.swept_ms = mark
        found: list[tuple[Detector, Finding]] | None = None
        for detector in self._timed:
            findings = detector.advance(state.detectors[detector.name], mark)
            if findings:
                if found is None:
                    found = []
                found.extend((detector, finding) for finding in findings)
        return found

    def _decide(
        self,
        state: CustomerState,
        found: list[tuple[Detector, Finding]],
        now_ms: int,
        late: bool,
    ) -> Decisions:
        """New or amended alerts for the findings, and the requests the policy makes of them."""
        alerts: list[Alert] = []
        requests: list[EnforcementRequest] = []
        shadowed: list[EnforcementRequest] = []
        suppressed: list[tuple[Alert, str]] = []
        for detector, finding in found:
            alert = self._raise(state, detector, finding, now_ms)
            if alert is None:
                continue
            held = self._held(state, alert, finding.event_time_ms)
            if held is not None:
                state.alerts[alert.alert_id].suppressed = held
                suppressed.append((alert, held))
                continue
            alerts.append(alert)
            for rule, request in self.policy.decide(
                alert, state.cooldowns, finding.event_time_ms, state.rungs
            ):
                (shadowed if rule.shadow else requests).append(request)
        if not alerts and not suppressed:
            return _LATE if late else NOTHING
        self._expire(state)
        return Decisions(
            tuple(alerts), tuple(requests), tuple(shadowed), late=late, suppressed=tuple(suppressed)
        )

    def _held(self, state: CustomerState, alert: Alert, event_time_ms: int) -> str | None:
        """The id of the suppression holding ``alert`` back, or None to send it. A resolving
        revision of an alert that holds a rung of the ladder is always sent: the policy needs
        it to lift the rung."""
        if not state.suppressions:
            return None
        held = feedback.held_by(state.suppressions, alert.kind, alert.evidence, event_time_ms)
        if held is None:
            return None
        if is_resolved(alert) and any(alert.alert_id in r.alert_ids for r in state.rungs.values()):
            return None
        return held.id

    def _raise(
        self, state: CustomerState, detector: Detector, finding: Finding, now_ms: int
    ) -> Alert | None:
        alert_id = stable_id(state.customer_id, finding.kind, finding.incident)
        fingerprint = stable_id(
            finding.severity,
            f"{finding.score:.4f}",
            orjson.dumps(finding.evidence, option=orjson.OPT_SORT_KEYS).decode(),
        )
        known = state.alerts.get(alert_id)
        if known is not None and known.fingerprint == fingerprint:
            return None
        revision = 1 if known is None else known.revision + 1
        state.alerts[alert_id] = OpenAlert(
            kind=finding.kind,
            severity=finding.severity,
            score=finding.score,
            event_time_ms=finding.event_time_ms,
            revision=revision,
            fingerprint=fingerprint,
            summary=finding.reasons[0] if finding.reasons else finding.kind,
        )
        return Alert(
            alert_id=alert_id,
            customer_id=state.customer_id,
            kind=finding.kind,
            severity=finding.severity,
            score=finding.score,
            event_time=format_ts(finding.event_time_ms),
            window_start=format_ts(finding.window_start_ms),
            window_end=format_ts(finding.window_end_ms),
            detected_at=format_ts(now_ms),
            reasons=finding.reasons,
            evidence=finding.evidence,
            subscription_ids=finding.subscription_ids,
            detector=DetectorRef(detector.name, detector.version),
            revision=revision,
            money_at_risk=self.money_at_risk(state),
        )

    def _expire(self, state: CustomerState) -> None:
        horizon = state.watermark_ms - ALERT_RETENTION_MS
        stale = [k for k, a in state.alerts.items() if a.event_time_ms < horizon]
        for alert_id in stale:
            del state.alerts[alert_id]
        while len(state.alerts) > self.settings.max_open_alerts:
            del state.alerts[next(iter(state.alerts))]


class Fleet:
    """Many customers' states in a dict, for replay, the demo and tests."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.states: dict[str, CustomerState] = {}

    def step(self, event: Event, now_ms: int) -> Decisions:
        """Route the event to its customer's state (creating it) and step the core."""
        state = self.states.get(event.customer_id)
        if state is None:
            state = self.states[event.customer_id] = self.core.new_state(event.customer_id)
        return self.core.step(state, event, now_ms)

    def sweep(self, until_ms: int, now_ms: int) -> Decisions:
        """Sweep every customer to ``until_ms`` (event time); see ``Core.sweep``."""
        sweep = self.core.sweep
        found = [sweep(state, until_ms, now_ms) for state in self.states.values()]
        return _joined([d for d in found if d is not NOTHING])

    def run(self, events: Iterable[Event], clock: Callable[[], int]) -> Decisions:
        """Step every event; the decisions of all of them together."""
        return _joined([self.step(event, clock()) for event in events])


def _joined(many: list[Decisions]) -> Decisions:
    """The alerts and requests of many decisions, in order, as one."""
    return Decisions(
        tuple(a for d in many for a in d.alerts),
        tuple(r for d in many for r in d.requests),
        tuple(r for d in many for r in d.shadowed),
    )

"""The detector contract and the finding a detector returns.

A detector is a class satisfying ``Detector``. What it does beyond observing events is
declared, not discovered: its ``capabilities`` (a frozenset of ``Capability``) name the extra
protocols it implements, one method each:

==================  =================  ==================================================
capability          method             protocol / what the engine does with it
==================  =================  ==================================================
``TIMED``           ``advance``        ``TimedDetector``: advanced at each hour mark
``MONEY_AT_RISK``   ``exposure``       ``MoneyAtRiskDetector``: the alerts' money at risk
``RETAINS``         ``retains``        ``RetainingDetector``: keeps a quiet customer
``INDICATORS``      ``use_indicators`` ``IndicatorUser``: handed reloaded indicator lists
``LEARNS``          ``learn_normal``   ``LearningDetector``: told an alert was no anomaly
==================  =================  ==================================================

``check_contract`` (called by ``Core`` for every detector it is given) rejects a detector that
declares a capability without its method, or has the method without declaring it.

A detector also declares the alert ``kinds`` its findings carry and the ``state_version`` of
its dump (checked by ``Core.restore``), dumps its state by field name, and maps severity to
score on the one scale of ``streamwatch.core.severity``. Registered with
``streamwatch.core.detectors.registry.register`` it is built with ``from_setup`` and run
everywhere.
"""

from __future__ import annotations

import enum
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Final, Protocol, Self

from streamwatch.core.collections import CollectionsPolicy
from streamwatch.core.events import Event, Severity
from streamwatch.core.feedback import NotAnomaly
from streamwatch.core.indicators import EMPTY, Indicators


class Capability(enum.Enum):
    """What a detector does beyond ``observe``; see the module docstring."""

    TIMED = "advance"
    MONEY_AT_RISK = "exposure"
    RETAINS = "retains"
    INDICATORS = "use_indicators"
    LEARNS = "learn_normal"

    @property
    def method(self) -> str:
        """The name of the method the capability requires."""
        return self.value


NONE: Final[frozenset[Capability]] = frozenset()


@dataclass(frozen=True, slots=True)
class Setup:
    """The deployment's configuration that detectors may take (``from_setup``): parsed by
    the caller (``streamwatch.config.build_core``), never state."""

    indicators: Indicators = EMPTY
    """The indicator lists (mining pools, disposable email domains); none by default."""
    collections: CollectionsPolicy | None = None
    """The dunning stages of the payment ledger; the packaged ones when None."""


class ContractError(TypeError):
    """A detector does not keep the contract it declares (see ``check_contract``)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector concluded from one event: the stuff of an alert, less the wall clock.

    ``incident`` names the incident within the customer and kind, from the evidence only (never
    from arrival order or wall time), so that live and replay, and a restarted worker, name the
    same incident alike; the engine derives the ``alert_id`` from customer, kind and incident.
    A finding for an incident already raised amends that alert.
    """

    incident: str
    kind: str
    severity: Severity
    score: float
    event_time_ms: int
    window_start_ms: int
    window_end_ms: int
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)
    subscription_ids: tuple[str, ...] = ()


class Detector(Protocol):
    """A detector: stateless itself, it keeps each customer's state in a plain object.

    ``observe`` is called once per (deduplicated) event of the declared types, in arrival
    order, may mutate ``state`` and must not mutate ``event``. It must be deterministic: the
    same state and event give the same findings and the same new state. Within it: score,
    decide, then learn, and never learn from what was just flagged.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    event_types: ClassVar[frozenset[str]]
    capabilities: ClassVar[frozenset[Capability]]
    """The extra protocols the detector implements (``NONE`` for a plain one)."""
    kinds: ClassVar[frozenset[str]]
    """The alert kinds its findings carry (``registry.registered_kinds`` is their union over
    the registry; the alert schema gives a kind's form). No two detectors share a kind."""
    state_version: ClassVar[int]
    """The version of the form ``dump`` writes. ``Core.snapshot`` stores it next to the dump;
    ``Core.restore`` hands a dump of another version to ``load`` only if it is among
    ``state_reads``, and otherwise starts the detector's state afresh and reports it (see
    ``StateReset``). Bump it whenever ``dump`` changes what a field means."""
    state_reads: ClassVar[frozenset[int]]
    """The state versions ``load`` reads (``state_version`` and the earlier forms it still
    converts)."""

    def new_state(self) -> Any:
        """A fresh state for a customer this detector has not seen."""
        ...

    def observe(self, state: Any, event: Event) -> list[Finding]:
        """Fold one event into the state; return the findings it causes (often none)."""
        ...

    def dump(self, state: Any) -> dict[str, Any]:
        """The state as a JSON-ready dict (for snapshots and the changelog), by field name:
        top-level keys, and within them dicts with names rather than positional lists, so
        that reordering or adding a field cannot load one field's value into another."""
        ...

    def load(self, data: dict[str, Any]) -> Any:
        """The inverse of ``dump``, also for the earlier forms of ``state_reads``."""
        ...


class Registered(Detector, Protocol):
    """A detector class that can be registered (``registry.register``): built from the
    deployment's ``Setup``."""

    @classmethod
    def from_setup(cls, setup: Setup) -> Detector:
        """The detector as ``setup`` configures it."""
        ...


class RetainingDetector(Detector, Protocol):
    """A detector whose state can hold what must not be forgotten with a quiet customer: money
    owed, a timer still to fire (see ``Core.forgettable``). Capability ``RETAINS``.

    A detector without it never keeps a customer. ``retains`` must be cheap (it is asked of
    every quiet customer at hour-mark sweeps) and change nothing.
    """

    def retains(self, state: Any, until_ms: int) -> bool:
        """Whether the state, at event time ``until_ms`` (after the sweep to it), still holds
        something that must age or be settled, so that the customer must be kept."""
        ...


def defaults_of(cls: type[Any]) -> tuple[Any, ...]:
    """The defaults of a dataclass's fields, in order (``MISSING`` for fields without a plain
    default), for ``trimmed``."""
    return tuple(f.default for f in fields(cls))


def trimmed(values: list[Any], defaults: tuple[Any, ...]) -> list[Any]:
    """A dataclass's field values in order (a compact dump) without the trailing ones that
    equal their default, type and sign alike (0 is not 0.0 or False; -0.0 is not 0.0): the
    dataclass built from what is left, positionally, has them back."""
    end = len(values)
    while end and defaults[end - 1] is not MISSING and _same(values[end - 1], defaults[end - 1]):
        end -= 1
    return values[:end]


def _same(value: Any, default: Any) -> bool:
    return type(value) is type(default) and repr(value) == repr(default)


class TimedDetector(Detector, Protocol):
    """A detector with rules that fire on the passage of event time alone (an invoice ageing
    past a due date, a user inactive for 90 days), not only on an event. Capability ``TIMED``.

    The engine calls ``advance`` with each hour mark of event time the customer passes: from
    ``Core.step`` before folding in an event with a later ``ts`` (so the customer's own events
    drive it), and from ``Core.sweep`` when the stream as a whole passes the mark (so a customer
    gone quiet still ages; replay sweeps every customer, the live worker every customer of its
    partitions). Rules:

    - a finding's ``event_time_ms`` is when the line was crossed (a due date plus 30 days), not
      when the sweep ran, so the same state gives the same finding whoever calls ``advance``;
    - ``advance`` changes the state only when it returns findings (it records what it raised),
      so a sweep that finds nothing need not be persisted, and repeating it is harmless;
    - it must be cheap when nothing is due: keep the next due time in the state and compare.
    """

    def advance(self, state: Any, until_ms: int) -> list[Finding]:
        """Findings whose line was crossed at or before ``until_ms``, not raised before."""
        ...


class MoneyAtRiskDetector(Detector, Protocol):
    """The detector that keeps the payment ledger, and so knows each customer's money at risk
    (stamped on every alert, see ``Core.money_at_risk``). Capability ``MONEY_AT_RISK``; at
    most one detector of a core declares it."""

    def exposure(self, state: Any) -> dict[str, Any] | None:
        """The customer's money at risk, or None before any money was seen."""
        ...


class IndicatorUser(Detector, Protocol):
    """A detector whose judgement depends on indicator lists (mining pools, disposable email
    domains). Capability ``INDICATORS``: built without lists it judges by none, and is handed
    lists (at start and at each reload) through ``use_indicators``; the lists are
    configuration, never state."""

    def use_indicators(self, indicators: Indicators) -> None:
        """Judge by ``indicators`` from the next event on."""
        ...


class UsesIndicators:
    """The plumbing an ``IndicatorUser`` shares: built with the deployment's lists
    (``from_setup``) or none, and handed new ones at each reload. A detector class inherits it
    and reads ``self.indicators``."""

    def __init__(self, indicators: Indicators | None = None) -> None:
        self._indicators = indicators if indicators is not None else EMPTY

    @classmethod
    def from_setup(cls, setup: Setup) -> Self:
        """This detector as the deployment's ``setup`` configures it (see ``Setup``)."""
        return cls(setup.indicators)

    @property
    def indicators(self) -> Indicators:
        """The indicator lists in use."""
        return self._indicators

    def use_indicators(self, indicators: Indicators) -> None:
        """Judge by ``indicators`` from the next event on (a reload)."""
        self._indicators = indicators


class LearningDetector(Detector, Protocol):
    """A detector that can learn a pattern it alerted on as normal for the customer.
    Capability ``LEARNS``: the engine hands it each ``feedback.not_anomaly`` of one of its
    kinds (``streamwatch.core.feedback``) instead of suppressing the pattern, so the customer's
    baseline or peak takes the level in, and the same evidence no longer crosses its line."""

    def learn_normal(self, state: Any, feedback: NotAnomaly) -> None:
        """Fold the feedback into ``state``; deterministic, raises nothing for feedback that
        does not fit the state (an alert long gone): it then changes nothing."""
        ...


def capabilities_of(detector: object) -> frozenset[Capability]:
    """The capabilities ``detector`` declares (none when its class declares nothing)."""
    declared: frozenset[Capability] = getattr(detector, "capabilities", NONE)
    return declared


def check_contract(detector: object) -> frozenset[Capability]:
    """The capabilities ``detector`` declares, once checked against its methods; raises
    ContractError naming the detector and the capability when one is declared without its
    method or a method is there without its capability declared."""
    name = getattr(detector, "name", type(detector).__name__)
    declared = capabilities_of(detector)
    if not isinstance(declared, frozenset) or not all(isinstance(c, Capability) for c in declared):
        raise ContractError(
            f"detector {name!r}: capabilities must be a frozenset of Capability, not {declared!r}"
        )
    for capability in Capability:
        has = callable(getattr(detector, capability.method, None))
        if capability in declared and not has:
            raise ContractError(
                f"detector {name!r} declares {capability.name} but has no "
                f"{capability.method}() method"
            )
        if has and capability not in declared:
            raise ContractError(
                f"detector {name!r} has a {capability.method}() method but does not declare "
                f"{capability.name} in its capabilities"
            )
    return declared


FIRST_STATE_VERSION: Final = 1
"""The state version of a detector that declares none, and of every dump in a snapshot that
stores none (snapshots written before detectors' states had versions)."""


def state_version_of(detector: object) -> int:
    """The state version ``detector`` writes (``FIRST_STATE_VERSION`` if it declares none)."""
    version: int = getattr(detector, "state_version", FIRST_STATE_VERSION)
    return version


def state_reads_of(detector: object) -> frozenset[int]:
    """The state versions ``detector`` loads (its own only, if it declares none)."""
    reads: frozenset[int] = getattr(
        detector, "state_reads", frozenset({state_version_of(detector)})
    )
    return reads


@dataclass(frozen=True, slots=True)
class StateReset:
    """A detector's state that ``Core.restore`` replaced by a fresh one, and why: the snapshot
    held a dump of a state version the detector cannot read (from a newer build, or one too
    old), or one its ``load`` rejected."""

    customer_id: str
    detector: str
    found_version: object
    reason: str


def by_name(obj: Any) -> dict[str, Any]:
    """A dataclass's fields by name, JSON-ready (lists and dicts copied, nested dataclasses
    by name too): the named dump form, which reordering the fields cannot misread."""
    return {f.name: plain(getattr(obj, f.name)) for f in fields(obj)}


def plain(value: Any) -> Any:
    """``value`` with its lists and dicts copied and its dataclasses ``by_name``."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return by_name(value)
    return value


def sparse_by_name(obj: Any, defaults: tuple[Any, ...]) -> dict[str, Any]:
    """``by_name`` less the fields that equal their default (``defaults_of``), type and sign
    alike: the compact named form, for records kept by the hundred. The dataclass built from
    it by keyword has them back."""
    out = {}
    for f, default in zip(fields(obj), defaults, strict=True):
        value = getattr(obj, f.name)
        if default is MISSING or not _same(value, default):
            out[f.name] = plain(value)
    return out


def named(values: list[Any] | dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A record read by name: a dict as it is, or an earlier positional list (``names`` in
    its order) turned into one."""
    if isinstance(values, dict):
        return values
    return dict(zip(names, values, strict=False))

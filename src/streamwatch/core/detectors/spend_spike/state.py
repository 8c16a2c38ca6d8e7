"""One customer's spend-spike state, and its dump by field name (state version 2; version 1
grouped fields in positional lists under the same keys, which ``load_state`` still reads).
The late-usage fields (``late``, ``ahead``) are dumped only for a customer whose usage has
arrived late, and read as absent (usage in order) from dumps without them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final

from streamwatch.core.detectors.base import by_name, named
from streamwatch.core.detectors.spend_spike.baseline import Baseline
from streamwatch.core.weekly import WeeklyMemory

MICROS: Final = 1_000_000
NEVER: Final = 1 << 62
"""A line no hour's spend reaches (micro-units)."""
SPEND_CAP: Final = 1 << 61
"""An hour's spend saturates at this many micro-units (about 2.3e12 currency units), below
``NEVER``: the codec bounds each cost, not how many come in an hour, and the sums and lines
kept in state must stay within the int64 range of a JSON snapshot."""

REGIONS_KEPT: Final = 16
SKUS_KEPT: Final = 24
SUBSCRIPTIONS_KEPT: Final = 8
TEXT_CHARS: Final = 200
CARRY_KEPT: Final = 8
"""Distinct ends of records longer than an hour still being spread (see ``SpikeState.carry``)."""


@dataclass(slots=True)
class Incident:
    """An open spike: its id (opening hour), figures so far and what the last revision said."""

    id: str
    opened_ms: int
    hours: int = 0
    excess: float = 0.0
    """Excess spend of the incident's closed hours (currency units)."""
    calm: int = 0
    sent_severity: int = 0
    sent_excess: float = 0.0
    score: float = 0.0
    subscriptions: list[str] = field(default_factory=list)
    normal: bool = False
    """People said it is no anomaly (feedback): it ends ``absorbed`` at its next flagged hour,
    which the baseline learns, however young the incident."""
    peak: float = 0.0
    """Its highest hourly spend (allowances applied) among its closed hours."""
    resumes: int = 0
    """Times it resumed after having resolved."""
    revisions: int = 0
    """Revisions of its alert sent so far (opening, amendments, ends, reopenings)."""
    resumed_ms: int = -1
    """Start of the hour it last reopened in (-1: never closed)."""
    closed_ms: int = -1
    """When it last ended as resolved (-1: never)."""

    def dump(self) -> dict[str, Any]:
        return by_name(self)

    @classmethod
    def load(cls, data: list[Any] | dict[str, Any]) -> Incident:
        """The inverse of ``dump``; also reads the positional list of state version 1."""
        values = named(data, _INCIDENT_FIELDS)
        return cls(**{**values, "subscriptions": list(values["subscriptions"])})


@dataclass(slots=True)
class OpenHour:
    """Usage held for an hour after the current one, while a customer's usage arrives late
    (see the detector's **Late usage**): the hour is judged as a whole once it has settled."""

    spend: int = 0
    """Micro-units of the hour's own records (its share of longer ones)."""
    watch: int = NEVER
    """The spend at which the hour is looked at before it settles (a spike opening early)."""
    ts_ms: int = -1
    """The latest event time among its records (when its evidence happened)."""
    subs: list[str] = field(default_factory=list)
    parts: dict[tuple[str, str], int] = field(default_factory=dict)
    carry: dict[int, int] = field(default_factory=dict)
    """Longer records starting in this hour: last hour covered -> micro-units per hour, taken
    into ``SpikeState.carry`` when the hour becomes the current one."""

    def dump(self, hour: int) -> dict[str, Any]:
        return {
            "hour": hour,
            "spend": self.spend,
            "watch": self.watch,
            "ts_ms": self.ts_ms,
            "subs": list(self.subs),
            "parts": [[sku, region, v] for (sku, region), v in self.parts.items()],
            "carry": sorted([last, v] for last, v in self.carry.items()),
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> OpenHour:
        return cls(
            spend=data["spend"],
            watch=data["watch"],
            ts_ms=data["ts_ms"],
            subs=list(data["subs"]),
            parts={(sku, region): v for sku, region, v in data["parts"]},
            carry={int(last): int(v) for last, v in data["carry"]},
        )


@dataclass(slots=True)
class Expectation:
    """Planned growth recorded by feedback: allowance factor until ``until_ms``, and by whom."""

    factor: float
    until_ms: int
    owner: str
    reason: str
    set_ms: int
    """Start of the hour of the feedback's event time: the allowance applies from that hour."""


_EXPECTATION_FIELDS: Final = tuple(f.name for f in fields(Expectation))


@dataclass(slots=True)
class SpikeState:
    """One customer's spend-spike state (see the detector's module docstring)."""

    base: Baseline = field(default_factory=Baseline)
    currency: str | None = None
    hour_ms: int = -1
    spend: int = 0
    """Micro-units spent so far in the hour starting at ``hour_ms``."""
    parts: dict[tuple[str, str], int] = field(default_factory=dict)
    """The hour's spend on (sku, region) pairs it does not know (a SKU or a region new to it)."""
    subs: list[str] = field(default_factory=list)
    """Subscriptions of the hour's events that reached the line (see ``watch``)."""
    carry: dict[int, int] = field(default_factory=dict)
    """Records longer than an hour spread over the hours they cover: the start of the last
    hour covered (epoch ms) -> micro-units per hour still to come (``core.metering``)."""
    watch: int = NEVER
    """The hour's spend (micro-units) at which the detector looks again."""
    first_ms: int = -1
    new: bool = False
    """A sign-up was seen, dated less than ``old_after_days`` before the first usage: the
    customer is judged as new (cold start); a back-filled sign-up years ago is not."""
    signup_ms: int = -1
    """Event time of the earliest sign-up seen (-1: none)."""
    tz: str | None = None
    """The IANA time zone of the sign-up's ``timezone`` property (weekly rhythms)."""
    weekly: WeeklyMemory = field(default_factory=WeeklyMemory)
    """Hours flagged week after week at the same local hour (``core.weekly``)."""
    offer: str | None = None
    streak: int = 0
    learn_until_ms: int = -1
    """After an absorbed spike, every hour before this is learned (see ``relearn_h``)."""
    regions: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    month_end_key: str = ""
    """The month whose month-end window ``month_end_peak`` is learning."""
    month_end_peak: float = 0.0
    month_end_prev: float = -1.0
    """Peak hourly spend of the previous month-end window learned (-1: none yet)."""
    expect: Expectation | None = None
    incident: Incident | None = None
    closed_id: str = ""
    closed_ms: int = -1
    closed: Incident | None = None
    """The last incident that resolved: a spike resuming within ``reopen_h`` continues it
    (same alert, its hours, excess and revisions carried on)."""
    late_h: int = 0
    """How many hours behind its newest hour this customer's usage has been seen to arrive
    (at most ``max_late_h``): the hours after ``hour_ms`` stay open that long (0: usage comes
    in order, and each hour closes when the next begins)."""
    newest_ms: int = -1
    """The newest hour with usage, once usage arrived late (else ``hour_ms`` is)."""
    ahead: dict[int, OpenHour] = field(default_factory=dict)
    """Hours after ``hour_ms`` holding usage, in hour order, while they settle."""
    too_late: int = 0
    """Usage records for an hour already closed, not counted in any hour (see **Late usage**)."""
    known_skus: set[str] = field(default_factory=set, compare=False, repr=False)
    known_regions: set[str] = field(default_factory=set, compare=False, repr=False)
    """Caches, not state: ``skus`` and ``regions`` as sets for the per-event check (kept in
    step with the lists, rebuilt by ``load``)."""


_INCIDENT_FIELDS: Final = tuple(f.name for f in fields(Incident))
_HOUR_FIELDS: Final = ("hour_ms", "spend", "watch", "first_ms", "streak", "learn_until_ms")
_MONTH_END_FIELDS: Final = ("month_end_key", "month_end_peak", "month_end_prev")
_LATE_FIELDS: Final = ("late_h", "newest_ms", "too_late")


def dump_state(state: SpikeState) -> dict[str, Any]:
    """The state by field name (state version 2; version 1 grouped fields in positional
    lists under the same keys). The baseline keeps its own compact form (``Baseline``)."""
    e = state.expect
    dump = {
        "b": state.base.dump(),
        "cur": state.currency,
        "h": {name: getattr(state, name) for name in _HOUR_FIELDS},
        "parts": [
            {"sku": sku, "region": region, "spend": v} for (sku, region), v in state.parts.items()
        ],
        "subs": list(state.subs),
        "carry": sorted([last, v] for last, v in state.carry.items()),
        "new": state.new,
        "signup": {"signup_ms": state.signup_ms, "tz": state.tz},
        "weekly": state.weekly.dump(),
        "offer": state.offer,
        "regions": list(state.regions),
        "skus": list(state.skus),
        "me": {name: getattr(state, name) for name in _MONTH_END_FIELDS},
        "exp": None if e is None else by_name(e),
        "inc": None if state.incident is None else state.incident.dump(),
        "closed": {"closed_id": state.closed_id, "closed_ms": state.closed_ms},
        "last": None if state.closed is None else state.closed.dump(),
    }
    if state.late_h or state.too_late:  # usage in order (most customers): nothing to keep
        dump["late"] = {name: getattr(state, name) for name in _LATE_FIELDS}
        dump["ahead"] = [open_hour.dump(hour) for hour, open_hour in state.ahead.items()]
    return dump


def load_state(data: dict[str, Any]) -> SpikeState:
    """The inverse of ``dump_state``, also for state version 1 and for dumps written before the
    sign-up's date and the closed incident were kept (a reopened spike then starts its counts
    again; the first usage stands for the sign-up's date)."""
    state = _load_state(data)
    if state.new and state.signup_ms < 0 and state.first_ms >= 0:
        # A new customer whose sign-up date the dump did not keep: new customers are those
        # that sign up and use at once, so its first usage is the best estimate.
        state.signup_ms = state.first_ms
    return state


def _load_state(data: dict[str, Any]) -> SpikeState:
    exp = data["exp"]
    parts = [named(p, ("sku", "region", "spend")) for p in data["parts"]]
    return SpikeState(
        base=Baseline.load(data["b"]),
        currency=data["cur"],
        parts={(p["sku"], p["region"]): p["spend"] for p in parts},
        subs=list(data["subs"]),
        carry={int(last): int(v) for last, v in data.get("carry", [])},
        new=data["new"],
        **named(data.get("signup") or {"signup_ms": -1, "tz": None}, ("signup_ms", "tz")),
        weekly=WeeklyMemory.load(data.get("weekly")),
        offer=data["offer"],
        regions=list(data["regions"]),
        skus=list(data["skus"]),
        known_regions=set(data["regions"]),
        known_skus=set(data["skus"]),
        expect=None if exp is None else Expectation(**named(exp, _EXPECTATION_FIELDS)),
        incident=None if data["inc"] is None else Incident.load(data["inc"]),
        closed=None if data.get("last") is None else Incident.load(data["last"]),
        **named(data["h"], _HOUR_FIELDS),
        **named(data["me"], _MONTH_END_FIELDS),
        **named(data["closed"], ("closed_id", "closed_ms")),
        **named(data.get("late") or {}, _LATE_FIELDS),
        ahead={int(h["hour"]): OpenHour.load(h) for h in data.get("ahead", [])},
    )

"""Per-customer state of the crypto-mining detector: small, bounded, and a JSON-ready dump.

``MiningState`` holds what the customer is known for (account age, regions, sign-in countries,
payment standing, heavy-compute history, a daily-spend baseline) and the one ``Campaign`` in
progress: the heavy compute, pool traffic and sign-in context of the current episode, which
becomes an incident once it is alerted on. ``Group`` tracks one fleet of heavy machines (same
region and SKU) hour by hour: how long it has run without a gap and how flat its utilisation is.
Usage arrives late and out of order (billing delivers an hour's usage 1 to 24 hours after it,
after later hours), so a fleet also remembers which of its last ``WINDOW_H`` hours were seen: a
late hour fills its gap, and a run cut short by a gap that is later filled grows back
(``Group.place``).

Every list and map is capped; ``dump`` and ``load`` are exact inverses through JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final

from streamwatch.core.detectors.base import named

REGIONS_KEPT: Final = 24
COUNTRIES_KEPT: Final = 8
GROUPS_KEPT: Final = 8
CAMPAIGN_REGIONS_KEPT: Final = 8
CAMPAIGN_SKUS_KEPT: Final = 4
SUBSCRIPTIONS_KEPT: Final = 4
COUNTER_CAP: Final = 1_000_000
RUN_GAP_H: Final = 2
"""A fleet missing for more than this many hours has stopped; its next hour starts a new run."""
WINDOW_H: Final = 64
"""Hours behind a fleet's newest one that it remembers as seen or not (``Group.seen``): a later
hour is still placed in its run; an older one only adds to the current run's utilisation."""
PRIOR_KEPT: Final = 4
"""Earlier runs of a fleet kept open (``Group.prior``), in case a late hour joins them."""
_WINDOW_MASK: Final = (1 << WINDOW_H) - 1

# Payment flags.
PREPAID: Final = 1
"""A prepaid card or stored-value instrument was added."""
CARD: Final = 2
"""Another instrument (credit or debit card, bank transfer, direct debit) was added."""
FAILED: Final = 4
"""A payment failed or was charged back, and no payment succeeded since."""
PAID: Final = 8
"""A payment succeeded, or money was prepaid."""


@dataclass(slots=True)
class Group:
    """One fleet of heavy machines (region and SKU): its current run of consecutive hours."""

    start_h: int
    """Epoch hour (``ts_ms // 3_600_000``) at which the current run began."""
    last_h: int
    gpu: bool
    n: int = 0
    """Utilisation samples in the current run (Welford: ``mean`` and ``m2``)."""
    mean: float = 0.0
    m2: float = 0.0
    small: bool = False
    """Machines below the heavy size, watched because they ran saturated (see the detector's
    ``SATURATED_UTIL``)."""
    seen: int = 0
    """Bit ``i`` set: hour ``last_h - i`` was seen (``WINDOW_H`` hours). Lets a late hour be told
    from a repeat and fill the gap it belongs to."""
    prior: list[list[float]] = field(default_factory=list)
    """Earlier runs still open, oldest first, as ``[start_h, last_h, n, mean, m2]``, until no
    hour of the gap after them can arrive any more (it left the window; at most
    ``PRIOR_KEPT``). A late hour filling that gap joins them to the run after them, as if the
    gap had never been."""

    @property
    def hours(self) -> int:
        """Length of the current run in hours."""
        return self.last_h - self.start_h + 1

    @property
    def std(self) -> float:
        """Standard deviation of utilisation within the run (0 before two samples)."""
        return (self.m2 / (self.n - 1)) ** 0.5 if self.n > 1 else 0.0

    def add_util(self, util: float) -> None:
        """Fold one utilisation sample into the run's mean and variance."""
        self.n += 1
        delta = util - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (util - self.mean)

    def advance(self, hour: int) -> bool:
        """Move the newest hour on to ``hour`` (> ``last_h``); True when the gap before it
        ends the run. The ended run stays open in ``prior``: a late hour may still fill the
        gap."""
        shift = hour - self.last_h
        self.seen = ((self.seen << shift) | 1) & _WINDOW_MASK if shift < WINDOW_H else 1
        restart = shift > RUN_GAP_H
        if restart:
            self.prior.append([self.start_h, self.last_h, self.n, self.mean, self.m2])
            self.start_h, self.n, self.mean, self.m2 = hour, 0, 0.0, 0.0
        self.last_h = hour
        return restart

    def cover(self, last_h: int) -> None:
        """Run on through ``last_h`` (a record covering several hours, a daily row)."""
        shift = last_h - self.last_h
        ones = (1 << min(shift, WINDOW_H)) - 1
        self.seen = ((self.seen << shift) | ones) & _WINDOW_MASK if shift < WINDOW_H else ones
        self.last_h = last_h

    def settled(self) -> list[int]:
        """Drop the earlier runs no late hour can join any more (the gap after each left the
        window); the lengths of those dropped."""
        oldest = self.last_h - WINDOW_H + 1
        done: list[int] = []
        while self.prior:
            nxt = self.prior[1][0] if len(self.prior) > 1 else self.start_h
            if nxt - 1 >= oldest and len(self.prior) <= PRIOR_KEPT:
                break
            first = self.prior.pop(0)
            done.append(int(first[1] - first[0] + 1))
        return done

    def was_seen(self, hour: int) -> bool:
        """Whether ``hour`` (within the window, not after ``last_h``) was seen."""
        return bool(self.seen >> (self.last_h - hour) & 1)

    def place(self, hour: int, util: float | None) -> tuple[int, int, int, int]:
        """Fill in ``hour``, earlier than ``last_h`` and within the window, not seen before.

        The hour joins the run it is within ``RUN_GAP_H`` of (before or after it), joining
        both when it bridges their gap, or starts a run of its own between them. Returns
        (change in the number of runs, the run's start, its length before, after); the run
        is the current one (``start_h``) or an earlier one in ``prior``, with ``util`` added.
        """
        self.seen |= 1 << (self.last_h - hour)
        runs = [*self.prior, [self.start_h, self.last_h, self.n, self.mean, self.m2]]
        after = next((i for i, r in enumerate(runs) if r[0] > hour), None)
        before = (len(runs) if after is None else after) - 1
        if before >= 0 and runs[before][1] >= hour:  # inside a run (a one-hour gap of it)
            at, was, delta = before, runs[before][1] - runs[before][0] + 1, 0
        else:
            joins_before = before >= 0 and hour - runs[before][1] <= RUN_GAP_H
            joins_after = after is not None and runs[after][0] - hour <= RUN_GAP_H
            if joins_before and joins_after and after is not None:
                was = max(_length(runs[before]), _length(runs[after]))
                runs[before] = _merged(runs[before], runs[after])
                del runs[after]
                at, delta = before, -1
            elif joins_before:
                at, delta = before, 0
                was = _length(runs[at])
                runs[at][1] = hour
            elif joins_after and after is not None:
                at, delta = after, 0
                was = _length(runs[at])
                runs[at][0] = hour
            else:
                at = before + 1
                runs.insert(at, [hour, hour, 0, 0.0, 0.0])
                was, delta = 0, 1
        if util is not None:
            _welford(runs[at], util)
        start, _, n, self.mean, self.m2 = runs[-1]
        self.start_h, self.n = int(start), int(n)
        self.prior = runs[:-1]
        return delta, int(runs[at][0]), int(was), _length(runs[at])

    def add_util_at(self, hour: int, util: float) -> None:
        """Add a utilisation sample of a repeated hour to the run it belongs to."""
        if hour >= self.start_h:
            self.add_util(util)
            return
        for run in reversed(self.prior):
            if run[0] <= hour <= run[1]:
                _welford(run, util)
                return

    def judged(self, late: bool) -> Group:
        """The run the fleet is judged by: the current one or, once the customer's usage has
        arrived late (``late``), the longest run still open: a late hour may complete an
        earlier run while the newest hours, not all arrived yet, show only short ones."""
        best = self
        if not late:
            return best
        for start, last, n, mean, m2 in self.prior:
            if last - start + 1 > best.hours:
                best = Group(int(start), int(last), self.gpu, int(n), mean, m2, small=self.small)
        return best


@dataclass(slots=True)
class Campaign:
    """The current episode of heavy compute (or pool traffic) and its evidence.

    It starts with the first heavy ``vm.create``, heavy usage hour or pool flow when none is in
    progress, and ends after ``IDLE`` without any; the context fields are fixed at its start.
    """

    start_ms: int
    last_ms: int
    age_ms: int | None
    """Account age when the campaign began; None when the sign-up was never seen."""
    history: int
    """Heavy-compute history before the campaign: 0 none, 1 some, 2 with job structure."""
    history_hours: int
    history_restarts: int
    history_longest_h: int
    """The longest finished run of a heavy fleet before the campaign, in hours."""
    base_daily: float
    """Daily-spend baseline when the campaign began (0.0 without three days of history)."""
    alerted: bool = False
    revisions: int = 0
    signature: str = ""
    instances: int = 0
    new_instances: int = 0
    fast_instances: int = 0
    """Heavy instances created within the first hour of the first create."""
    first_create_ms: int | None = None
    last_create_ms: int | None = None
    new_regions: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    skus: dict[str, int] = field(default_factory=dict)
    gpus: int = 0
    vcpus: int = 0
    signin_failed: int = 0
    signin_failed_country: str | None = None
    signin_country: str | None = None
    pool_flows: int = 0
    pool_host: str | None = None
    pool_port: int | None = None
    pool_source: str | None = None
    pool_coin: str | None = None
    host_flows: int = 0
    host_entry: str | None = None
    host_port: int | None = None
    heavy_cost: float = 0.0
    first_usage_h: int | None = None
    last_usage_h: int | None = None
    subscriptions: list[str] = field(default_factory=list)
    off_hours: bool = False
    """The campaign began in an hour of the day in which the customer's people were never seen
    at work (only judged once ``HABIT_MIN`` of their activities were seen). Last, because
    version-1 snapshots list the fields above by position."""
    first_alert_ms: int | None = None
    """The earliest event time the campaign's alert was raised or amended at (None before
    it is alerted on; the start, for one alerted on in a dump from before this field)."""


@dataclass(slots=True)
class MiningState:
    """Everything the crypto-mining detector keeps for one customer."""

    signup_ms: int | None = None
    regions: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    payment: int = 0
    failed_new_ms: int | None = None
    failed_new_count: int = 0
    failed_new_country: str | None = None
    signin_new_ms: int | None = None
    signin_new_country: str | None = None
    heavy_hours: int = 0
    restarts: int = 0
    longest_run_h: int = 0
    """The longest run of a heavy fleet that ended (was followed by a gap), in hours."""
    late_h: int = 0
    """The most hours a heavy usage hour arrived behind its fleet's newest one (up to
    ``WINDOW_H``): from the first, a gap in a fleet's hours may still fill and the fleet is
    judged by its longest open run (``Group.judged``)."""
    day: int = -1
    day_cost: float = 0.0
    base_daily: float = 0.0
    base_days: int = 0
    notice_id: str | None = None
    notice_ms: int | None = None
    active_hours: int = 0
    """Hours of the UTC day (bit ``h``) in which the customer's people acted."""
    active_seen: int = 0
    """How many of their activities taught ``active_hours`` (capped)."""
    groups: dict[str, Group] = field(default_factory=dict)
    campaign: Campaign | None = None

    def learn_region(self, region: str) -> None:
        """Remember a region the customer uses (the oldest is forgotten past the cap)."""
        regions = self.regions
        if region not in regions:
            regions.append(region)
            if len(regions) > REGIONS_KEPT:
                del regions[0]

    def learn_country(self, country: str) -> None:
        """Remember a country the customer signs in from."""
        countries = self.countries
        if country not in countries:
            countries.append(country)
            if len(countries) > COUNTRIES_KEPT:
                del countries[0]


def _length(run: list[float]) -> int:
    return int(run[1] - run[0] + 1)


def _welford(run: list[float], util: float) -> None:
    """``Group.add_util`` for a run kept as ``[start_h, last_h, n, mean, m2]``."""
    run[2] += 1
    delta = util - run[3]
    run[3] += delta / run[2]
    run[4] += delta * (util - run[3])


def _merged(a: list[float], b: list[float]) -> list[float]:
    """Runs ``a`` then ``b`` as one: their utilisation statistics combined (Chan et al.)."""
    n = a[2] + b[2]
    if n == 0:
        return [a[0], b[1], 0, 0.0, 0.0]
    delta = b[3] - a[3]
    mean = a[3] + delta * b[2] / n
    m2 = a[4] + b[4] + delta * delta * a[2] * b[2] / n
    return [a[0], b[1], n, mean, m2]


def add_capped(items: list[str], item: str, cap: int) -> None:
    """Append ``item`` unless present or ``items`` already holds ``cap`` entries."""
    if item not in items and len(items) < cap:
        items.append(item)


_GROUP_FIELDS: Final = tuple(f.name for f in fields(Group))
_CAMPAIGN_FIELDS: Final = tuple(f.name for f in fields(Campaign))


_GROUPED: Final[dict[str, tuple[str, ...]]] = {
    "failed_new": ("failed_new_ms", "failed_new_count", "failed_new_country"),
    "signin_new": ("signin_new_ms", "signin_new_country"),
    "history": ("heavy_hours", "restarts", "longest_run_h", "late_h"),
    "spend": ("day", "day_cost", "base_daily", "base_days"),
    "notice": ("notice_id", "notice_ms"),
    "habits": ("active_hours", "active_seen"),
}
"""Fields kept together under one key, by name (state version 2; version 1 listed them in
this order)."""


def dump_state(state: MiningState) -> dict[str, Any]:
    """The state as a JSON-ready dict, by field name: the ``_GROUPED`` fields, each group, and
    the campaign as named records (state version 2; ``load_state`` also reads the positional
    lists of version 1)."""
    campaign = state.campaign
    out: dict[str, Any] = {
        "signup_ms": state.signup_ms,
        "regions": list(state.regions),
        "countries": list(state.countries),
        "payment": state.payment,
    }
    for key, names in _GROUPED.items():
        out[key] = {name: getattr(state, name) for name in names}
    out["groups"] = {
        key: {name: _copy(getattr(g, name)) for name in _GROUP_FIELDS}
        for key, g in state.groups.items()
    }
    out["campaign"] = (
        None
        if campaign is None
        else {name: _copy(getattr(campaign, name)) for name in _CAMPAIGN_FIELDS}
    )
    return out


def load_state(data: dict[str, Any]) -> MiningState:
    """The inverse of ``dump_state``, also for the positional lists of state version 1."""
    grouped: dict[str, Any] = {}
    for key, names in _GROUPED.items():
        if key in data:  # "habits" came after state version 2's first form
            grouped.update(named(data[key], names))
    campaign = data["campaign"]
    return MiningState(
        signup_ms=data["signup_ms"],
        regions=list(data["regions"]),
        countries=list(data["countries"]),
        payment=data["payment"],
        **grouped,
        groups={key: _load_group(values) for key, values in data["groups"].items()},
        campaign=None if campaign is None else _load_campaign(campaign),
    )


def _load_campaign(values: list[Any] | dict[str, Any]) -> Campaign:
    """A campaign from its dump; one alerted on in a dump from before ``first_alert_ms``
    takes its start for it: no amendment can then move its alert before the campaign began."""
    campaign = Campaign(**{k: _copy(v) for k, v in named(values, _CAMPAIGN_FIELDS).items()})
    if campaign.alerted and campaign.first_alert_ms is None:
        campaign.first_alert_ms = campaign.start_ms
    return campaign


def _load_group(values: list[Any] | dict[str, Any]) -> Group:
    """A fleet from its dump; one dumped before ``seen`` (and ``prior``) existed has seen
    every hour of its current run within the window."""
    group = Group(**{k: _copy(v) for k, v in named(values, _GROUP_FIELDS).items()})
    if not group.seen:
        group.seen = (1 << min(group.hours, WINDOW_H)) - 1
    return group


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [list(v) if isinstance(v, list) else v for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value

"""Per-customer state of the crypto-mining detector: small, bounded, and a JSON-ready dump.

``MiningState`` holds what the customer is known for (account age, regions, sign-in countries,
payment standing, heavy-compute history, a daily-spend baseline) and the one ``Campaign`` in
progress: the heavy compute, pool traffic and sign-in context of the current episode, which
becomes an incident once it is alerted on. ``Group`` tracks one fleet of heavy machines (same
region and SKU) hour by hour: how long it has run without a gap and how flat its utilisation is.

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


def add_capped(items: list[str], item: str, cap: int) -> None:
    """Append ``item`` unless present or ``items`` already holds ``cap`` entries."""
    if item not in items and len(items) < cap:
        items.append(item)


_GROUP_FIELDS: Final = tuple(f.name for f in fields(Group))
_CAMPAIGN_FIELDS: Final = tuple(f.name for f in fields(Campaign))


_GROUPED: Final[dict[str, tuple[str, ...]]] = {
    "failed_new": ("failed_new_ms", "failed_new_count", "failed_new_country"),
    "signin_new": ("signin_new_ms", "signin_new_country"),
    "history": ("heavy_hours", "restarts", "longest_run_h"),
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
        key: {name: getattr(g, name) for name in _GROUP_FIELDS} for key, g in state.groups.items()
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
        groups={
            key: Group(**named(values, _GROUP_FIELDS)) for key, values in data["groups"].items()
        },
        campaign=None
        if campaign is None
        else Campaign(**{k: _copy(v) for k, v in named(campaign, _CAMPAIGN_FIELDS).items()}),
    )


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value

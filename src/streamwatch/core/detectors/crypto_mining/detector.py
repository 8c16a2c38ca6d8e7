"""``crypto_mining``: mining on rented GPU and many-core machines, from usage and activity.

No host processes are visible to a reseller; this detector reads what it does see:

* ``vm.create`` of GPU or many-core (``HEAVY_VCPUS``+) machines, their count, and whether their
  region is one the customer never used. A burst raises the alert on the ``vm.create`` itself,
  seconds after it, before any usage is billed.
* usage of those machines, per fleet (region and SKU): how many hours it has run without a
  break and how flat its utilisation is (mining is flat and round the clock; training and HPC
  jobs start and stop), and its cost against the customer's usual daily spend. Mid-size
  machines (``MEDIUM_VCPUS``+) join them in the hours they run saturated (``SATURATED_UTIL``).
* the hours of the day in which the customer's people act (sign-ins, creates): a first heavy
  workload started at another hour, at night, is noted.
* ``network.flow`` to mining pools, judged by ``core.indicators`` (host and port together).
* context: account age (``customer.signup``), payment standing (prepaid instruments, failed
  payments, payments made), the customer's own heavy-compute history, and sign-ins from new
  countries (failed or not) in the day before; a provider notice of ``aup.crypto_mining``.

The evidence of the current campaign is weighed by ``score`` into one score with
reasons. The alert's incident is the campaign's start time; as usage, pool flows or a notice
add evidence the alert is amended, but only when its material content changes (severity, a new
region, the number of machines doubling, a longer run reaching the next weight...), at most
``MAX_REVISIONS`` times. Learning (regions, countries, heavy-compute history, the spend
baseline) happens after deciding, and not from a campaign that was alerted on.

Indicator lists are configuration, not state: ``use_indicators`` swaps them (see
``streamwatch.indicators`` for loading and reloading files); alerts that rely on them name
their digest. Deterministic for the same indicator lists.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Final

from streamwatch.core.detectors.base import Capability, Finding, UsesIndicators
from streamwatch.core.detectors.crypto_mining.score import OPEN_Z, assess
from streamwatch.core.detectors.crypto_mining.state import (
    CAMPAIGN_REGIONS_KEPT,
    CAMPAIGN_SKUS_KEPT,
    CARD,
    COUNTER_CAP,
    FAILED,
    GROUPS_KEPT,
    PAID,
    PREPAID,
    RUN_GAP_H,
    SUBSCRIPTIONS_KEPT,
    WINDOW_H,
    Campaign,
    Group,
    MiningState,
    add_capped,
    dump_state,
    load_state,
)
from streamwatch.core.detectors.registry import register
from streamwatch.core.events import (
    ActivityEvent,
    Event,
    PaymentEvent,
    UsageEvent,
    subscription_of,
)
from streamwatch.core.metering import last_hour_ms
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR, format_ts

HEAVY_VCPUS: Final = 16
"""A machine with this many vCPUs or more (or any GPU) is "heavy": fit for mining."""
MEDIUM_VCPUS: Final = 8
SATURATED_UTIL: Final = 0.9
"""Usage of a machine of ``MEDIUM_VCPUS`` or more at this CPU utilisation is watched as heavy:
a patient miner spreads over many mid-size machines to stay under ``HEAVY_VCPUS``."""
HABIT_MIN: Final = 10
"""Activities of the customer's people seen before the hours they work are trusted."""
IDLE_MS: Final = 2 * MS_PER_DAY
"""A campaign without heavy activity or pool traffic for this long is over."""
BURST_GAP_MS: Final = 6 * MS_PER_HOUR
"""Heavy creates further apart than this are separate bursts (see ``_campaign``)."""
FAST_WINDOW_MS: Final = MS_PER_HOUR
SIGNIN_WINDOW_MS: Final = MS_PER_DAY
RUN_MILESTONES_H: Final = frozenset({6, 12, 24, 48, 96})
POOL_MILESTONES: Final = frozenset({1, 10, 100, 1000})
HISTORY_HOURS: Final = 12
"""Heavy hours before a campaign from which on the customer has a heavy-compute history."""
JOB_RESTARTS: Final = 2
"""Restarts of heavy fleets that make that history one of jobs (on/off structure)."""
BASELINE_DAYS: Final = 3
BASELINE_ALPHA: Final = 0.3
MAX_REVISIONS: Final = 16
PREPAID_TYPES: Final = frozenset({"prepaid_card", "stored_value"})
NOTICE_CATEGORY: Final = "aup.crypto_mining"


@register(rank=40)
class CryptoMiningDetector(UsesIndicators):
    """Crypto-mining from usage and activity; see the module docstring."""

    name: ClassVar[str] = "crypto_mining"
    version: ClassVar[str] = "1"
    event_types: ClassVar[frozenset[str]] = frozenset({"usage", "activity", "payment"})
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.INDICATORS})
    kinds: ClassVar[frozenset[str]] = frozenset({"crypto_mining"})
    state_version: ClassVar[int] = 2
    state_reads: ClassVar[frozenset[int]] = frozenset({1, 2})

    def new_state(self) -> MiningState:
        return MiningState()

    def observe(self, state: MiningState, event: Event) -> list[Finding]:
        if type(event) is UsageEvent:
            # The hot path: most usage is of ordinary machines, which only teach the
            # customer's regions and daily spend.
            gpus, vcpus = event.gpus, event.vcpus
            if (
                event.meter == "gpu"
                or (gpus is not None and gpus > 0)
                or (vcpus is not None and vcpus >= HEAVY_VCPUS)
            ):
                return self._heavy_usage(state, event)
            util = event.cpu_util
            if (
                util is not None
                and util >= SATURATED_UTIL
                and vcpus is not None
                and vcpus >= MEDIUM_VCPUS
            ):
                return self._heavy_usage(state, event, small=True)
            if event.ts_ms // MS_PER_DAY == state.day:
                state.day_cost += event.cost
            else:
                _new_day(state, event.ts_ms, event.cost)
            if event.region not in state.regions:
                state.learn_region(event.region)
            return []
        if isinstance(event, ActivityEvent):
            handler = _ACTIVITY.get(event.operation)
            findings = handler(self, state, event) if handler is not None else []
            if event.status == "succeeded" and "@" in event.actor:
                _learn_habit(state, event.ts_ms)
            return findings
        if isinstance(event, PaymentEvent):
            return self._payment(state, event)
        return []

    def dump(self, state: MiningState) -> dict[str, Any]:
        return dump_state(state)

    def load(self, data: dict[str, Any]) -> MiningState:
        return load_state(data)

    # -- usage ------------------------------------------------------------------------------

    def _heavy_usage(
        self, state: MiningState, event: UsageEvent, *, small: bool = False
    ) -> list[Finding]:
        ts_ms = event.ts_ms
        gpus = event.gpus
        campaign = self._campaign(state, ts_ms)
        flagged = campaign.alerted
        if not flagged:
            if ts_ms // MS_PER_DAY == state.day:
                state.day_cost += event.cost
            else:
                _new_day(state, ts_ms, event.cost)
        hour = ts_ms // MS_PER_HOUR
        gpu = event.meter == "gpu" or (gpus is not None and gpus > 0)
        util = event.gpu_util if gpu else event.cpu_util
        key = f"{event.region}/{event.sku}"
        groups = state.groups
        group = groups.get(key)
        milestone = False
        decide_ms = ts_ms
        if group is None:
            if len(groups) >= GROUPS_KEPT:
                # Make room only from a fleet that has stopped: evicting running ones would
                # let a miner spread over many fleets reset every run it has.
                stale = min(groups, key=lambda k: groups[k].last_h)
                if hour - groups[stale].last_h <= RUN_GAP_H:
                    return self._campaign_usage(state, campaign, event, hour)
                if not flagged:
                    state.longest_run_h = max(state.longest_run_h, groups[stale].hours)
                del groups[stale]
            group = Group(hour, hour, gpu, small=small, seen=1)
            groups[key] = group
            if not flagged:
                state.heavy_hours = min(COUNTER_CAP, state.heavy_hours + 1)
        elif hour > group.last_h:
            decided = _advance(state, group, hour, ts_ms, flagged)
            milestone, decide_ms = decided is not None, decided or ts_ms
        elif group.last_h - hour < WINDOW_H and not group.was_seen(hour):
            decided = _late_hour(state, group, hour, ts_ms, util, flagged)
            milestone, decide_ms = decided is not None, decided or ts_ms
            util = None
        elif util is not None and hour != group.last_h:
            group.add_util_at(hour, util)
            util = None
        covered = last_hour_ms(ts_ms, event.interval_s) // MS_PER_HOUR
        if covered > group.last_h and hour >= group.start_h:
            # A record longer than an hour (a daily billing row) runs the fleet for every
            # hour it covers (``core.metering``), not for the hour of its ``ts`` alone.
            before = group.hours
            group.cover(covered)
            milestone = milestone or _crossed(before, group.hours)
        if util is not None and hour >= group.start_h:
            group.add_util(util)
        if ts_ms < campaign.start_ms and state.late_h > 0:
            _backdate(state, campaign, ts_ms)
        return self._campaign_usage(
            state, campaign, event, hour, decide=milestone, decide_ms=decide_ms
        )

    def _campaign_usage(
        self,
        state: MiningState,
        campaign: Campaign,
        event: UsageEvent,
        hour: int,
        *,
        decide: bool = False,
        decide_ms: int | None = None,
    ) -> list[Finding]:
        """The campaign's share of heavy usage (cost, hours, subscriptions), then learning.

        A campaign that created machines counts the usage of those (region and SKU) only.
        """
        if not campaign.skus or (event.sku in campaign.skus and event.region in campaign.regions):
            campaign.heavy_cost += event.cost
            if campaign.first_usage_h is None:
                campaign.first_usage_h = hour
            if campaign.last_usage_h is None or hour > campaign.last_usage_h:
                campaign.last_usage_h = hour
            add_capped(campaign.subscriptions, event.subscription_id, SUBSCRIPTIONS_KEPT)
        at_ms = event.ts_ms if decide_ms is None else decide_ms
        findings = self._decide(state, campaign, at_ms) if decide else []
        if not campaign.alerted and event.region not in state.regions:
            state.learn_region(event.region)
        return findings

    # -- activity ---------------------------------------------------------------------------

    def _vm_create(self, state: MiningState, event: ActivityEvent) -> list[Finding]:
        if event.status != "succeeded":
            return []
        props = event.properties
        gpus = _whole(props.get("gpus"))
        vcpus = _whole(props.get("vcpus"))
        region = event.region
        if gpus < 1 and vcpus < HEAVY_VCPUS:
            if region is not None:
                state.learn_region(region)
            return []
        count = max(1, _whole(props.get("count")))
        sku = props.get("sku")
        sku = sku if isinstance(sku, str) and sku else "unknown SKU"
        ts_ms = event.ts_ms
        campaign = self._campaign(state, ts_ms, create=True)
        new = False
        if region is not None:
            if not state.regions:
                state.learn_region(region)  # the first region a customer uses is its home
            new = region in campaign.new_regions or region not in state.regions
            if new:
                add_capped(campaign.new_regions, region, CAMPAIGN_REGIONS_KEPT)
            add_capped(campaign.regions, region, CAMPAIGN_REGIONS_KEPT)
        campaign.instances = min(COUNTER_CAP, campaign.instances + count)
        if new:
            campaign.new_instances = min(COUNTER_CAP, campaign.new_instances + count)
        if campaign.first_create_ms is None:
            campaign.first_create_ms = ts_ms
        if ts_ms - campaign.first_create_ms <= FAST_WINDOW_MS:
            campaign.fast_instances = min(COUNTER_CAP, campaign.fast_instances + count)
        campaign.last_create_ms = max(campaign.last_create_ms or ts_ms, ts_ms)
        skus = campaign.skus
        if sku in skus or len(skus) < CAMPAIGN_SKUS_KEPT:
            skus[sku] = skus.get(sku, 0) + count
        campaign.gpus = min(COUNTER_CAP, campaign.gpus + gpus * count)
        campaign.vcpus = min(COUNTER_CAP, campaign.vcpus + vcpus * count)
        subscription = subscription_of(event.resource_id)
        if subscription:
            add_capped(campaign.subscriptions, subscription, SUBSCRIPTIONS_KEPT)
        _signin_context(state, campaign, ts_ms)
        return self._decide(state, campaign, ts_ms)

    def _flow(self, state: MiningState, event: ActivityEvent) -> list[Finding]:
        indicators = self._indicators
        if indicators.empty:
            return []
        props = event.properties
        host = props.get("dst_host")
        if not isinstance(host, str):
            return []
        port = _port(props.get("dst_port"))
        match = indicators.judge(host, port)
        if match is None:
            return []
        campaign = self._campaign(state, event.ts_ms)
        if match.strength == "pool":
            if campaign.pool_host is None:
                campaign.pool_host, campaign.pool_port = host.strip().lower(), port
                campaign.pool_source, campaign.pool_coin = match.source, match.coin
            campaign.pool_flows = min(COUNTER_CAP, campaign.pool_flows + 1)
            decide = campaign.pool_flows in POOL_MILESTONES
        else:
            if campaign.host_entry is None:
                campaign.host_entry, campaign.host_port = match.entry, port
            campaign.host_flows = min(COUNTER_CAP, campaign.host_flows + 1)
            decide = campaign.host_flows == 1
        return self._decide(state, campaign, event.ts_ms) if decide else []

    def _signin(self, state: MiningState, event: ActivityEvent) -> list[Finding]:
        country = event.properties.get("ip_country")
        if not isinstance(country, str) or not country:
            return []
        known = state.countries
        if event.status == "failed":
            if known and country not in known:
                recent = (
                    state.failed_new_ms is not None
                    and event.ts_ms - state.failed_new_ms <= SIGNIN_WINDOW_MS
                )
                state.failed_new_count = state.failed_new_count + 1 if recent else 1
                state.failed_new_ms = event.ts_ms
                state.failed_new_country = country
            return []
        if known and country not in known:
            state.signin_new_ms = event.ts_ms
            state.signin_new_country = country
        state.learn_country(country)
        return []

    def _signup(self, state: MiningState, event: ActivityEvent) -> list[Finding]:
        if state.signup_ms is None or event.ts_ms < state.signup_ms:
            state.signup_ms = event.ts_ms
        for name in ("country", "ip_country"):
            country = event.properties.get(name)
            if isinstance(country, str) and country:
                state.learn_country(country)
        return []

    def _subscription(self, state: MiningState, event: ActivityEvent) -> list[Finding]:
        if event.region is not None and event.status == "succeeded":
            state.learn_region(event.region)
        return []

    def _notice(self, state: MiningState, event: ActivityEvent) -> list[Finding]:
        props = event.properties
        if props.get("category") != NOTICE_CATEGORY:
            return []
        notice_id = props.get("notice_id")
        state.notice_id = notice_id if isinstance(notice_id, str) and notice_id else event.event_id
        state.notice_ms = event.ts_ms
        campaign = state.campaign
        if campaign is None or not campaign.alerted or event.ts_ms - campaign.last_ms > IDLE_MS:
            return []
        return self._decide(state, campaign, event.ts_ms)

    # -- payments ---------------------------------------------------------------------------

    def _payment(self, state: MiningState, event: PaymentEvent) -> list[Finding]:
        before = state.payment
        kind = event.kind
        if kind == "instrument.added" and event.instrument is not None:
            state.payment |= PREPAID if event.instrument.type in PREPAID_TYPES else CARD
        elif kind in ("payment.failed", "chargeback"):
            state.payment |= FAILED
        elif kind in ("payment.succeeded", "prepayment"):
            state.payment = (state.payment | PAID) & ~FAILED
        campaign = state.campaign
        if (
            state.payment == before
            or campaign is None
            or event.ts_ms - campaign.last_ms > IDLE_MS
            or campaign.instances + campaign.pool_flows == 0
        ):
            return []
        return self._decide(state, campaign, event.ts_ms)

    # -- campaigns --------------------------------------------------------------------------

    def _campaign(self, state: MiningState, ts_ms: int, *, create: bool = False) -> Campaign:
        """The campaign in progress at ``ts_ms``, or a new one with today's context.

        A heavy ``create`` more than ``BURST_GAP_MS`` after the last one (or after the start of
        a campaign without creates) starts a new campaign unless the current one was alerted
        on: a new burst is judged on its own, in the context of its own time.
        """
        campaign = state.campaign
        if campaign is not None and ts_ms - campaign.last_ms <= IDLE_MS:
            last_burst = campaign.last_create_ms or campaign.start_ms
            if not create or campaign.alerted or ts_ms - last_burst <= BURST_GAP_MS:
                campaign.last_ms = max(campaign.last_ms, ts_ms)
                return campaign
        if campaign is not None and not campaign.alerted:
            for region in campaign.regions:
                state.learn_region(region)
        hours, restarts = state.heavy_hours, state.restarts
        history = 0 if hours < HISTORY_HOURS else 2 if restarts >= JOB_RESTARTS else 1
        hour_bit = 1 << (ts_ms // MS_PER_HOUR % 24)
        fresh = Campaign(
            off_hours=state.active_seen >= HABIT_MIN and not state.active_hours & hour_bit,
            start_ms=ts_ms,
            last_ms=ts_ms,
            age_ms=None if state.signup_ms is None else max(0, ts_ms - state.signup_ms),
            history=history,
            history_hours=hours,
            history_restarts=restarts,
            history_longest_h=state.longest_run_h,
            base_daily=state.base_daily if state.base_days >= BASELINE_DAYS else 0.0,
        )
        if campaign is not None and not campaign.alerted and ts_ms - campaign.last_ms <= IDLE_MS:
            # Pool traffic of the day before belongs to whatever runs now.
            fresh.pool_flows, fresh.pool_host, fresh.pool_port = (
                campaign.pool_flows,
                campaign.pool_host,
                campaign.pool_port,
            )
            fresh.pool_source, fresh.pool_coin = campaign.pool_source, campaign.pool_coin
            fresh.host_flows, fresh.host_entry, fresh.host_port = (
                campaign.host_flows,
                campaign.host_entry,
                campaign.host_port,
            )
        state.campaign = fresh
        return fresh

    def _decide(self, state: MiningState, campaign: Campaign, ts_ms: int) -> list[Finding]:
        digest = self._indicators.digest
        result = assess(state, campaign, digest)
        earlier = campaign.first_alert_ms is not None and ts_ms < campaign.first_alert_ms
        if not campaign.alerted:
            if result.own_z < OPEN_Z:
                return []
            campaign.alerted = True
        elif (
            result.signature == campaign.signature and not earlier
        ) or campaign.revisions >= MAX_REVISIONS:
            # Late usage showing the alerted evidence at an earlier time (a run reached its
            # milestone before the hour that opened the alert) amends it with that time.
            return []
        reasons, evidence = result.reasons, result.evidence
        if earlier:
            # Named in the alert, so that the amendment differs from what it amends.
            evidence = {**evidence, "shown_from": format_ts(ts_ms)}
            reasons = (
                *reasons,
                f"Usage delivered late shows this from {format_ts(ts_ms)}, before the alert.",
            )
        if campaign.first_alert_ms is None or earlier:
            campaign.first_alert_ms = ts_ms
        campaign.signature = result.signature
        campaign.revisions += 1
        return [
            Finding(
                incident=format_ts(campaign.start_ms),
                kind=self.name,
                severity=result.severity,
                score=result.score,
                event_time_ms=ts_ms,
                window_start_ms=min(campaign.start_ms, ts_ms),
                window_end_ms=ts_ms,
                reasons=reasons,
                evidence=evidence,
                subscription_ids=tuple(campaign.subscriptions),
            )
        ]


_ACTIVITY: Final = {
    "vm.create": CryptoMiningDetector._vm_create,
    "network.flow": CryptoMiningDetector._flow,
    "signin": CryptoMiningDetector._signin,
    "customer.signup": CryptoMiningDetector._signup,
    "subscription.create": CryptoMiningDetector._subscription,
    "provider.notice": CryptoMiningDetector._notice,
}


def _advance(state: MiningState, group: Group, hour: int, ts_ms: int, flagged: bool) -> int | None:
    """The fleet's newest hour moves on to ``hour``; the time to decide at when its run
    reached a milestone, else None. A gap of more than ``RUN_GAP_H`` restarts the run (the
    ended one stays open in ``Group.prior`` while a late hour may still fill the gap)."""
    before = group.hours
    if group.advance(hour):
        if not flagged:
            state.restarts = min(COUNTER_CAP, state.restarts + 1)
            state.longest_run_h = max(state.longest_run_h, before)
        before = 0
    for hours in group.settled():
        if not flagged:
            state.longest_run_h = max(state.longest_run_h, hours)
    if not flagged:
        state.heavy_hours = min(COUNTER_CAP, state.heavy_hours + 1)
    if not _crossed(before, group.hours):
        return None
    return _reached_ms(ts_ms, group.start_h, before, group.hours)


def _late_hour(
    state: MiningState, group: Group, hour: int, ts_ms: int, util: float | None, flagged: bool
) -> int | None:
    """A late hour of the fleet (billing delivers hours out of order), not seen before and
    within its window: it fills its gap, which may join two runs into one (a restart undone)
    or complete a run's milestone. The time to decide at, else None."""
    state.late_h = max(state.late_h, group.last_h - hour)
    runs, start_h, before, after = group.place(hour, util)
    if not flagged:
        state.heavy_hours = min(COUNTER_CAP, state.heavy_hours + 1)
        state.restarts = min(COUNTER_CAP, max(0, state.restarts + runs))
    if _crossed(before, after):
        return _reached_ms(ts_ms, start_h, before, after)
    if after < min(RUN_MILESTONES_H):
        return None
    # A run past a milestone gained an hour (and a utilisation sample) it lacked when it
    # reached it: judged again, as of when it reached its first milestone if the campaign's
    # alert (if any) came later than that (event-time order would have alerted then), else as
    # of the latest milestone reached.
    first_ms = (start_h + min(RUN_MILESTONES_H) - 1) * MS_PER_HOUR
    campaign = state.campaign
    alerted_ms = None if campaign is None else campaign.first_alert_ms
    if alerted_ms is None or first_ms < alerted_ms:
        return max(ts_ms, first_ms)
    reached = max(m for m in RUN_MILESTONES_H if m <= after)
    return max(ts_ms, (start_h + reached - 1) * MS_PER_HOUR)


def _backdate(state: MiningState, campaign: Campaign, ts_ms: int) -> None:
    """Begin a campaign that began with usage at the earlier ``ts_ms`` of usage arriving late:
    the campaign's start is its first heavy hour, not the first to arrive (an alerted
    campaign, or one begun with creates, keeps its start)."""
    if campaign.alerted or campaign.first_create_ms is not None:
        return
    campaign.start_ms = ts_ms
    if state.signup_ms is not None:
        campaign.age_ms = max(0, ts_ms - state.signup_ms)
    hour_bit = 1 << (ts_ms // MS_PER_HOUR % 24)
    campaign.off_hours = state.active_seen >= HABIT_MIN and not state.active_hours & hour_bit


def _crossed(before: int, after: int) -> bool:
    """Whether a run that grew from ``before`` to ``after`` hours reached a milestone: crossed,
    not landed on, since a late hour or a one-hour gap makes it grow by more than one."""
    return any(before < m <= after for m in RUN_MILESTONES_H)


def _reached_ms(ts_ms: int, start_h: int, before: int, after: int) -> int:
    """When a run starting at ``start_h`` that grew from ``before`` to ``after`` hours reached
    the first milestone it crossed: the start of that hour, or ``ts_ms`` when it is the hour of
    ``ts_ms``. A late hour completing a run is so stamped when event-time order would have
    decided, not at its own (earlier) hour nor at the hour it arrived behind."""
    hour = start_h + min(m for m in RUN_MILESTONES_H if before < m <= after) - 1
    return ts_ms if hour == ts_ms // MS_PER_HOUR else hour * MS_PER_HOUR


def _new_day(state: MiningState, ts_ms: int, cost: float) -> None:
    """Usage of another day than ``state.day``: a later day folds the finished one into the
    daily-spend baseline (an EWMA) and starts anew; an earlier (late) one is not counted."""
    day = ts_ms // MS_PER_DAY
    if day < state.day:
        return
    if state.day >= 0:
        if state.base_days == 0:
            state.base_daily = state.day_cost
        else:
            state.base_daily += BASELINE_ALPHA * (state.day_cost - state.base_daily)
        state.base_days = min(COUNTER_CAP, state.base_days + 1)
    state.day = day
    state.day_cost = cost


def _learn_habit(state: MiningState, ts_ms: int) -> None:
    """Teach the hour of a person's activity, unless an alerted campaign is under way (an
    intruder must not teach the customer's habits)."""
    campaign = state.campaign
    if campaign is not None and campaign.alerted and ts_ms - campaign.last_ms <= IDLE_MS:
        return
    state.active_hours |= 1 << (ts_ms // MS_PER_HOUR % 24)
    state.active_seen = min(COUNTER_CAP, state.active_seen + 1)


def _signin_context(state: MiningState, campaign: Campaign, ts_ms: int) -> None:
    """Copy sign-in anomalies of the day before ``ts_ms`` into the campaign."""
    failed_ms = state.failed_new_ms
    if failed_ms is not None and 0 <= ts_ms - failed_ms <= SIGNIN_WINDOW_MS:
        campaign.signin_failed = max(campaign.signin_failed, state.failed_new_count)
        campaign.signin_failed_country = state.failed_new_country
    signin_ms = state.signin_new_ms
    if signin_ms is not None and 0 <= ts_ms - signin_ms <= SIGNIN_WINDOW_MS:
        campaign.signin_country = state.signin_new_country


def _whole(value: Any) -> int:
    """A whole number in ``[0, COUNTER_CAP]`` from a property, 0 when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return min(COUNTER_CAP, max(0, int(value)))


def _port(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None

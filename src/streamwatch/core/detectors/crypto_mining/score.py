"""The crypto-mining score: evidence weighed in log-odds, one score, reasons with the numbers.

Each signal adds a weight to a prior (a log-odds scale, so the weights read as "how many times
more likely under mining than under honest use", in natural-log units); the score is the
logistic of the sum. Weights raise for what miners do and honest GPU customers rarely do
(heavy machines in regions never used, a burst of them, flat round-the-clock load, pool
traffic, a new or non-paying account, sign-in anomalies just before) and lower for what honest
customers show (a history of GPU or many-core jobs with on/off structure, regions already in
use, invoices paid, an old account).

A campaign opens an alert when the customer's own evidence reaches ``OPEN_Z`` (score 0.5). A
provider notice of ``aup.crypto_mining`` is folded into the score of an alert but never opens
one by itself: the provider_notice detector already alerts on the notice.

Pure and deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from streamwatch.core.detectors.crypto_mining.state import (
    FAILED,
    PAID,
    PREPAID,
    Campaign,
    Group,
    MiningState,
)
from streamwatch.core.events import Severity
from streamwatch.core.severity import within
from streamwatch.core.timeutil import MS_PER_DAY, MS_PER_HOUR

PRIOR: Final = -4.0
OPEN_Z: Final = 0.0
W_NEW_REGION: Final = 2.0
W_MORE_NEW_REGIONS: Final = 0.75
"""Per further region never used before, up to ``MORE_NEW_REGIONS_COUNTED``."""
MORE_NEW_REGIONS_COUNTED: Final = 3
W_KNOWN_REGIONS_ONLY: Final = -1.5
W_NEW_INSTANCES: Final = 0.5
"""Times log2(1 + heavy instances in new regions), up to ``MAX_NEW_INSTANCES``."""
MAX_NEW_INSTANCES: Final = 1.5
W_KNOWN_INSTANCES: Final = 0.25
MAX_KNOWN_INSTANCES: Final = 0.75
W_FAST_SCALE_OUT: Final = 0.5
FAST_INSTANCES: Final = 4
"""Heavy instances created within the first hour that count as a fast scale-out."""
W_FIRST_HEAVY: Final = 0.5
W_SOME_HISTORY: Final = -0.5
W_JOB_HISTORY: Final = -2.0
UNEXPLAINED_RUN_H: Final = 48
UNEXPLAINED_RUN_FACTOR: Final = 4
"""A run this many times longer than the customer's longest job (and ``UNEXPLAINED_RUN_H``
at least) is not explained by its job history, which then lowers nothing."""
AGE_WEIGHTS: Final = ((2, 1.5, "<2d"), (7, 1.0, "2-7d"), (30, 0.5, "7-30d"))
"""(days below which, weight, bucket); older accounts get ``W_OLD_ACCOUNT``."""
W_OLD_ACCOUNT: Final = -0.5
ESTABLISHED_DAYS: Final = 30
W_PAYMENT_FAILED: Final = 1.0
W_PREPAID: Final = 1.0
W_PAID: Final = -0.5
W_SIGNIN_FAILED_NEW_COUNTRY: Final = 1.0
W_SIGNIN_NEW_COUNTRY: Final = 1.0
RUN_WEIGHTS: Final = ((96, 2.5), (48, 2.0), (24, 1.0), (12, 0.5), (6, 0.25))
"""(hours of unbroken running, weight), for flat high utilisation; half without utilisation."""
FLAT_STD: Final = 0.08
FLAT_MIN_UTIL: Final = 0.45
FLAT_MIN_SAMPLES: Final = 3
ACCEL_WEIGHTS: Final = ((10.0, 1.0), (3.0, 0.5))
"""(heavy spend per day over the usual daily spend, weight)."""
PEGGED_UTIL: Final = 0.93
PEGGED_STD: Final = 0.04
PEGGED_MIN_SAMPLES: Final = 6
W_PEGGED: Final = 3.0
"""A run pinned near full utilisation (mean ``PEGGED_UTIL``+, spread ``PEGGED_STD`` or less,
``PEGGED_MIN_SAMPLES`` hours or more) where honest work rarely pins it: on mid-size machines,
or on a first GPU workload started at night. (HPC codes pin many-core machines at any hour, so
a pinned run of those weighs nothing; GPU training stays off the ceiling.)"""
W_SMALL_PEGGED: Final = 3.5
"""Mid-size machines pinned round the clock: a miner keeping under the heavy size."""
W_OFF_HOURS: Final = 3.0
"""A first heavy workload, pinned, started in an hour the customer's people never work (alone,
a night start is an engineer working late)."""
W_POOL: Final = 4.5
W_POOL_HOST: Final = 1.0
W_NOTICE: Final = 2.5
NOTICE_WINDOW_MS: Final = 7 * MS_PER_DAY
SIGNATURE_RUN_LEVELS: Final = (0.25, 1.0, 2.5)
"""Run weights at which an open alert is amended: a run shows, lasts a day, lasts four."""
LEVELS: Final[tuple[tuple[float, Severity, str], ...]] = (
    (0.95, "critical", "confirmed"),
    (0.8, "high", "likely"),
    (0.0, "medium", "possible"),
)
"""(minimum score, severity, confidence word)."""


@dataclass(frozen=True, slots=True)
class Assessment:
    """A campaign weighed: whether it opens an alert, and what the alert says."""

    own_z: float
    """Log-odds from the customer's own evidence (what decides whether to open)."""
    z: float
    """Log-odds with the provider's notice folded in (what the alert reports)."""
    score: float
    severity: Severity
    confidence: str
    reasons: tuple[str, ...]
    evidence: dict[str, Any]
    signature: str
    """The material content: an open alert is amended only when this changes."""


def assess(
    state: MiningState,
    campaign: Campaign,
    indicators_digest: str,
) -> Assessment:
    """Weigh the campaign as it stands; see the module docstring."""
    parts: dict[str, float] = {}
    clauses: list[str] = []
    details: list[str] = []
    lowering: list[str] = []
    evidence: dict[str, Any] = {}
    heavy = campaign.instances > 0 or campaign.first_usage_h is not None

    _creation(campaign, parts, clauses, evidence)
    run = _run(state, campaign, parts, clauses, evidence)
    if heavy:
        _regions(campaign, run, parts, lowering)
        if "small_pegged" not in parts:
            # Jobs of big machines do not explain mid-size ones pinned round the clock.
            _history(campaign, run[1].hours if run else 0, parts, clauses, lowering)
        _off_hours(campaign, parts, clauses)
        _acceleration(campaign, parts, clauses, evidence)
    _pool(campaign, parts, clauses, details, evidence, indicators_digest)
    standing = _standing(state, campaign, parts, clauses, lowering, evidence)
    _signin(campaign, parts, clauses, evidence)
    own_z = PRIOR + sum(parts.values())
    notice = state.notice_id is not None and (
        state.notice_ms is not None and state.notice_ms >= campaign.start_ms - NOTICE_WINDOW_MS
    )
    if notice:
        parts["provider_notice"] = W_NOTICE
        clauses.append(f"the provider reported crypto-mining (notice {state.notice_id})")
        evidence["provider_notice"] = state.notice_id
    z = PRIOR + sum(parts.values())
    likelihood = round(1.0 / (1.0 + math.exp(-z)), 3)
    severity, confidence = _level(likelihood)
    score = within(severity, likelihood)
    said = "; ".join(clauses) if clauses else "see the evidence"
    reasons = [f"{confidence.capitalize()} crypto-mining (score {score:.2f}): {said}."]
    reasons.extend(details)
    if lowering:
        reasons.append("Lowering the score: " + "; ".join(lowering) + ".")
    evidence.update(
        standing=standing,
        confidence=confidence,
        signals={name: round(weight, 2) for name, weight in parts.items()},
    )
    signature = "|".join(
        (
            severity,
            str(len(campaign.new_regions)),
            str(campaign.instances.bit_length() // 2),
            str(sum(parts.get("running", 0.0) >= level for level in SIGNATURE_RUN_LEVELS)),
            str(campaign.pool_flows.bit_length() // 3),
            str(min(campaign.host_flows, 1)),
            evidence.get("payment", ""),
            str(campaign.signin_failed > 0) + str(campaign.signin_country is not None),
            str(parts.get("spend_acceleration", 0.0)),
            str(notice),
        )
    )
    return Assessment(
        own_z=own_z,
        z=z,
        score=score,
        severity=severity,
        confidence=confidence,
        reasons=tuple(reasons),
        evidence=evidence,
        signature=signature,
    )


def _level(score: float) -> tuple[Severity, str]:
    for floor, severity, word in LEVELS:
        if score >= floor:
            return severity, word
    return "medium", "possible"  # pragma: no cover - the last level starts at 0


def _creation(
    c: Campaign, parts: dict[str, float], clauses: list[str], evidence: dict[str, Any]
) -> None:
    if c.instances == 0:
        return
    new, known = c.new_instances, c.instances - c.new_instances
    if new:
        parts["new_region_instances"] = min(MAX_NEW_INSTANCES, W_NEW_INSTANCES * math.log2(1 + new))
    if known:
        parts["instances"] = min(MAX_KNOWN_INSTANCES, W_KNOWN_INSTANCES * math.log2(1 + known))
    if c.fast_instances >= FAST_INSTANCES:
        parts["fast_scale_out"] = W_FAST_SCALE_OUT
    skus = sorted(c.skus.items(), key=lambda kv: (-kv[1], kv[0]))
    what = " and ".join(f"{n} {sku}" for sku, n in skus[:2])
    if len(skus) > 2:
        what += " and other GPU or many-core machines"
    clause = f"{what} created"
    k = len(c.new_regions)
    if new and new == c.instances:
        clause += f" in {_count(k, 'region')} never used before ({', '.join(c.new_regions)})"
    elif new:
        clause += (
            f", {new} of them in {_count(k, 'region')} never used before "
            f"({', '.join(c.new_regions)})"
        )
    else:
        clause += f" in {_count(len(c.regions), 'region')} the customer already uses"
    span_ms = (c.last_create_ms or 0) - (c.first_create_ms or 0)
    if span_ms > 0:
        clause += f" {_span(span_ms)}"
    clauses.append(clause)
    evidence["created"] = {
        "instances": c.instances,
        "new_region_instances": new,
        "skus": dict(skus),
        "gpus": c.gpus,
        "vcpus": c.vcpus,
        "new_regions": list(c.new_regions),
        "regions": list(c.regions),
        "span_s": span_ms // 1000,
    }


def _span(ms: int) -> str:
    minutes = max(1, round(ms / 60_000))
    if minutes < 120:
        return f"within {_count(minutes, 'minute')}"
    hours = round(ms / MS_PER_HOUR)
    if hours < 48:
        return f"within {hours} hours"
    return f"over {round(ms / MS_PER_DAY)} days"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _run(
    state: MiningState,
    c: Campaign,
    parts: dict[str, float],
    clauses: list[str],
    evidence: dict[str, Any],
) -> tuple[str, Group] | None:
    """The campaign's longest unbroken run of a heavy fleet, weighed by length and flatness.

    The fleets are those the campaign created (region and SKU), or, for a campaign that began
    with usage, every fleet whose run began with it; mid-size fleets pinned since the campaign
    began count in either case (nothing creates them as heavy). The one weighing most, pinning
    included, speaks for the campaign. Each fleet is judged by ``Group.judged``: its current
    run, or a longer earlier one still open while late usage fills the gaps.
    """
    floor_h = c.start_ms // MS_PER_HOUR - 1
    created = {f"{region}/{sku}" for region in c.regions for sku in c.skus}
    night = c.off_hours and c.history == 0
    best: tuple[float, int, str, Group] | None = None
    for key, fleet in state.groups.items():
        g = fleet.judged(state.late_h > 0)
        if g.start_h < floor_h or (created and key not in created and not g.small):
            continue  # a fleet older than the campaign, or not one the campaign created
        rank = (run_weight(g) + _pinned_weight(g, night), g.hours)
        if best is None or rank > (best[0], best[1]):
            best = (*rank, key, g)
    if best is None:
        return None
    _, hours, key, g = best
    weight = run_weight(g)
    kind = "GPU" if g.gpu else "CPU"
    if weight > 0.0:
        parts["running"] = weight
        if g.n >= FLAT_MIN_SAMPLES:
            clauses.append(f"{kind} utilisation {g.mean:.2f} flat for {hours} h")
        else:
            clauses.append(f"{kind} machines running round the clock for {hours} h")
    if _pinned_weight(g, night):
        parts["pegged"] = W_PEGGED
        clauses.append(f"{kind} pinned at {g.mean:.2f} (spread {g.std:.3f}) for {hours} h")
        if g.small:
            parts["small_pegged"] = W_SMALL_PEGGED
            clauses.append(
                "on mid-size machines, below the size watched for mining, around the clock"
            )
    evidence["usage"] = {
        "fleet": key,
        "hours": hours,
        "util": round(g.mean, 3) if g.n else None,
        "util_std": round(g.std, 3) if g.n else None,
        "gpu": g.gpu,
    }
    return key, g


def _pinned_weight(g: Group, night: bool) -> float:
    """What pinning weighs for fleet ``g`` (see ``W_PEGGED``); ``night``: a first heavy
    workload started off the customer's hours."""
    if not pegged(g):
        return 0.0
    if g.small:
        return W_PEGGED + W_SMALL_PEGGED
    return W_PEGGED if g.gpu and night else 0.0


def pegged(g: Group) -> bool:
    """Whether the fleet's current run is pinned near full utilisation (see ``W_PEGGED``)."""
    return g.n >= PEGGED_MIN_SAMPLES and g.mean >= PEGGED_UTIL and g.std <= PEGGED_STD


def _off_hours(c: Campaign, parts: dict[str, float], clauses: list[str]) -> None:
    if c.off_hours and c.history == 0 and "pegged" in parts:
        parts["off_hours"] = W_OFF_HOURS
        clauses.append("started at an hour of the day the customer's people never work")


def run_weight(g: Group) -> float:
    """The weight of a fleet's current run: long, unbroken and flat weighs most."""
    if g.n >= FLAT_MIN_SAMPLES:
        if g.std > FLAT_STD or g.mean < FLAT_MIN_UTIL:
            return 0.0
        factor = 1.0
    else:
        factor = 0.5
    hours = g.hours
    for min_hours, weight in RUN_WEIGHTS:
        if hours >= min_hours:
            return weight * factor
    return 0.0


def _regions(
    c: Campaign,
    run: tuple[str, Group] | None,
    parts: dict[str, float],
    lowering: list[str],
) -> None:
    if c.new_regions:
        more = min(MORE_NEW_REGIONS_COUNTED, len(c.new_regions) - 1)
        parts["new_regions"] = W_NEW_REGION + W_MORE_NEW_REGIONS * more
        return
    parts["known_regions_only"] = W_KNOWN_REGIONS_ONLY
    where = ", ".join(c.regions) if c.regions else (run[0].split("/")[0] if run else "")
    lowering.append(f"runs only in regions the customer already used ({where})")


def _history(
    c: Campaign, run_hours: int, parts: dict[str, float], clauses: list[str], lowering: list[str]
) -> None:
    if c.history == 0:
        parts["first_heavy_compute"] = W_FIRST_HEAVY
        clauses.append("first GPU or many-core use on the account")
    elif c.history == 1:
        parts["heavy_history"] = W_SOME_HISTORY
        lowering.append(f"the customer ran GPU or many-core machines before ({c.history_hours} h)")
    elif run_hours >= max(UNEXPLAINED_RUN_H, UNEXPLAINED_RUN_FACTOR * c.history_longest_h):
        clauses.append(
            f"a run of {run_hours} h, unlike the customer's jobs so far "
            f"(the longest ran {c.history_longest_h} h)"
        )
    else:
        parts["job_history"] = W_JOB_HISTORY
        lowering.append(
            f"the customer runs GPU or many-core jobs with on/off structure "
            f"({c.history_hours} h, {c.history_restarts} restarts, the longest "
            f"{c.history_longest_h} h)"
        )


def spend_ratio(c: Campaign) -> float | None:
    """Heavy-compute spend per day in the campaign over the usual daily spend, if known."""
    if c.base_daily <= 0.0 or c.first_usage_h is None or c.last_usage_h is None:
        return None
    hours = c.last_usage_h - c.first_usage_h + 1
    return c.heavy_cost / hours * 24.0 / c.base_daily


def _acceleration(
    c: Campaign, parts: dict[str, float], clauses: list[str], evidence: dict[str, Any]
) -> None:
    ratio = spend_ratio(c)
    if ratio is None:
        return
    evidence["spend_ratio"] = round(ratio, 1)
    for floor, weight in ACCEL_WEIGHTS:
        if ratio >= floor:
            parts["spend_acceleration"] = weight
            clauses.append(f"heavy compute costs {ratio:.0f}x the usual daily spend")
            return


def _pool(
    c: Campaign,
    parts: dict[str, float],
    clauses: list[str],
    details: list[str],
    evidence: dict[str, Any],
    digest: str,
) -> None:
    if c.pool_flows:
        parts["pool_traffic"] = W_POOL
        pool = f"a known {c.pool_coin} pool" if c.pool_coin else "a known mining pool"
        clauses.append(f"outbound flows to {pool} on port {c.pool_port}")
        details.append(
            f"{_count(c.pool_flows, 'flow')} to mining pools, first to {c.pool_host}:"
            f"{c.pool_port} (host and port both listed, {c.pool_source}, lists {digest})."
        )
        evidence["pool"] = {
            "host": c.pool_host,
            "port": c.pool_port,
            "flows": c.pool_flows,
            "list": c.pool_source,
            "coin": c.pool_coin,
        }
    if c.host_flows:
        parts["pool_host_other_port"] = W_POOL_HOST
        if not c.pool_flows:
            clauses.append(f"flows to a known mining-pool host on port {c.host_port}")
        details.append(
            f"{_count(c.host_flows, 'flow')} to {c.host_entry}, a listed mining-pool host, "
            f"on port {c.host_port}, which is not a pool port: noted, not proof."
        )
        evidence["pool_host_other_port"] = {
            "host": c.host_entry,
            "port": c.host_port,
            "flows": c.host_flows,
        }
    if c.pool_flows or c.host_flows:
        evidence["indicators"] = digest


def age_bucket(age_ms: int | None) -> tuple[str, float]:
    """(bucket, weight) of an account age."""
    if age_ms is None:
        return "unknown", 0.0
    days = age_ms / MS_PER_DAY
    for below, weight, bucket in AGE_WEIGHTS:
        if days < below:
            return bucket, weight
    return f">={ESTABLISHED_DAYS}d", W_OLD_ACCOUNT


def payment_word(flags: int) -> str:
    """How the customer pays: failed, prepaid, paid, none (no payment yet) or unknown."""
    if flags & FAILED:
        return "failed"
    if flags & PAID:
        return "paid"
    if flags & PREPAID:
        return "prepaid"
    return "none" if flags else "unknown"


def _standing(
    state: MiningState,
    c: Campaign,
    parts: dict[str, float],
    clauses: list[str],
    lowering: list[str],
    evidence: dict[str, Any],
) -> str:
    """``untrusted`` (young or not paying) or ``established``; adds the age and payment parts."""
    bucket, age_weight = age_bucket(c.age_ms)
    pay = payment_word(state.payment)
    if age_weight > 0:
        parts["young_account"] = age_weight
    elif age_weight < 0:
        parts["old_account"] = age_weight
    words = []
    if c.age_ms is not None:
        days = c.age_ms / MS_PER_DAY
        hours = round(c.age_ms / MS_PER_HOUR)
        age_text = _count(round(days), "day") if days >= 2 else _count(hours, "hour")
        words.append(f"account {age_text} old")
    if pay == "failed":
        parts["payment_failed"] = W_PAYMENT_FAILED
        words.append("with a failed payment outstanding")
    elif pay == "prepaid":
        parts["prepaid"] = W_PREPAID
        words.append("paid by prepaid card")
    elif pay == "paid":
        parts["paid"] = W_PAID
        lowering.append("the customer has paid before")
    elif pay == "none":
        words.append("no payment yet")
    if age_weight > 0 or pay in ("failed", "prepaid"):
        clauses.append(", ".join(words))
    elif age_weight < 0:
        lowering.append(words[0] if words else "an established account")
    evidence.update(
        account_age=bucket,
        account_age_days=None if c.age_ms is None else round(c.age_ms / MS_PER_DAY, 1),
        payment=pay,
    )
    young = c.age_ms is not None and c.age_ms < ESTABLISHED_DAYS * MS_PER_DAY
    return "untrusted" if young or pay in ("failed", "prepaid") else "established"


def _signin(
    c: Campaign, parts: dict[str, float], clauses: list[str], evidence: dict[str, Any]
) -> None:
    said = []
    if c.signin_failed:
        parts["failed_signins_new_country"] = W_SIGNIN_FAILED_NEW_COUNTRY
        said.append(
            f"{_count(c.signin_failed, 'failed sign-in')} from {c.signin_failed_country}, "
            "a country never seen before"
        )
    if c.signin_country is not None:
        parts["signin_new_country"] = W_SIGNIN_NEW_COUNTRY
        said.append(f"a sign-in from {c.signin_country}, a new country")
    if said:
        clauses.append(" and ".join(said) + " within the day before")
        evidence["signin"] = {
            "failed_new_country": c.signin_failed,
            "failed_country": c.signin_failed_country,
            "new_country": c.signin_country,
        }

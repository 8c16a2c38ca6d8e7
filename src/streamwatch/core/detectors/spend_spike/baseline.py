"""A seasonal envelope baseline: what a series usually does, and how novel a new value is.

One ``Baseline`` per series (a customer's hourly spend; one benchmark series in bench/nab.py).
It keeps, with decayed statistics and constant memory:

* a level envelope ``[lo, hi]`` of the values learned so far. ``hi = max(x, hi - d (hi - c))``
  (and ``lo`` alike), so it holds the usual peak and trough and relaxes slowly towards the
  centre ``c``, an exponentially weighted mean;
* a seasonal profile: the exponentially weighted mean of each bucket (hour of day, weekday or
  weekend: 48 buckets, see ``bucket_of``);
* ``resid``, the smoothed seasonal residual (an EW mean over observations of ``|x - m_b|``, or
  of its positive part when only rises matter), and its own decayed envelope ``resid_hi``.

Novelty of a value ``x`` in bucket ``b``, before it is learned (``novelty``):

* level: ``u = (x - hi) / (spread + eps)`` above the envelope, with ``spread = hi - lo`` (at
  least ``spread_floor`` times the centre); below it ``(lo - x) / (...)`` when the baseline is
  two-sided, else 0;
* seasonal: ``v = (r' - resid_hi) / (resid_hi + floor spread + eps)`` when the smoothed
  residual including ``x``, ``r' = resid + k (e - resid)``, exceeds its envelope, else 0;
* ``z = hypot(u, w v)`` and ``score = 1 - exp(-z)``, in [0, 1).

Learning (``learn``) is the caller's decision: score, decide, then learn, and never learn a value
that was flagged as anomalous, so that an attacker cannot teach the baseline.

Pure and deterministic: plain floats, no randomness, no clock. With ``Params.digits`` set, the
learned statistics are rounded to that many decimals, so that their JSON form is short and
restores exactly.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

BUCKETS: Final = 48
"""Hour of day (0-23) for weekdays, then 24-47 for Saturday and Sunday."""

FLAG_SCORE: Final = 0.3
"""A value scoring at or above this is anomalous: callers do not learn it (score, decide, learn)."""

_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday (Monday = 0)
_STATS: Final = 5
"""hi, lo, centre, resid, resid_hi"""


def bucket_of(hour: int, weekday: int) -> int:
    """The seasonal bucket of an hour of day (0-23) on a weekday (Monday = 0 .. Sunday = 6)."""
    return hour + 24 if weekday >= 5 else hour


def bucket_of_ms(ts_ms: int) -> int:
    """The seasonal bucket of an instant in epoch milliseconds, in UTC."""
    hours = ts_ms // 3_600_000
    weekday = (hours // 24 + _EPOCH_WEEKDAY) % 7
    return hours % 24 + 24 if weekday >= 5 else hours % 24


@dataclass(frozen=True, slots=True)
class Params:
    """How a baseline learns and scores (see the module docstring for the formulas)."""

    envelope_decay: float = 0.00005
    """Share of the distance to the centre that ``hi`` and ``lo`` give up per observation."""
    centre_rate: float = 0.01
    """EW rate of the centre towards which the envelope relaxes."""
    bucket_rate: float = 0.15
    """EW rate of each seasonal bucket's mean (per observation in that bucket)."""
    residual_rate: float = 0.1
    """EW rate of the smoothed seasonal residual (per observation)."""
    residual_decay: float = 0.00005
    """Share of ``resid_hi`` given up per observation."""
    seasonal_weight: float = 0.3
    """Weight ``w`` of the seasonal novelty against the level novelty."""
    seasonal_floor: float = 0.02
    """Share of the level spread added to the residual envelope as a floor."""
    spread_floor: float = 0.0
    """The spread counts as at least this share of the centre (a flat series is not infinitely
    surprised by a small rise)."""
    two_sided: bool = True
    """Whether values below the usual range (and residuals below the profile) are novel."""
    digits: int | None = None
    """Round learned statistics to this many decimals (None: keep full precision)."""


@dataclass(slots=True)
class Baseline:
    """The learned statistics of one series; a plain value (see ``dump`` / ``load``)."""

    n: int = 0
    hi: float = 0.0
    lo: float = 0.0
    centre: float = 0.0
    resid: float = 0.0
    resid_hi: float = 0.0
    buckets: list[float | None] = field(default_factory=lambda: [None] * BUCKETS)

    def dump(self) -> list[Any]:
        """A compact JSON-ready form: ``[n, held, floats]``.

        ``held`` has bit ``b`` set when bucket ``b`` has a mean; ``floats`` is the base64 of
        little-endian IEEE doubles: hi, lo, centre, resid, resid_hi, then the means of the held
        buckets in bucket order. Binary doubles restore exactly (non-finite ones too) in 11
        characters, where their JSON text takes up to 24.
        """
        held = 0
        values = [self.hi, self.lo, self.centre, self.resid, self.resid_hi]
        for b, mean in enumerate(self.buckets):
            if mean is not None:
                held |= 1 << b
                values.append(mean)
        packed = struct.pack(f"<{len(values)}d", *values)
        return [self.n, held, base64.b64encode(packed).decode("ascii")]

    @classmethod
    def load(cls, data: list[Any]) -> Baseline:
        """The inverse of ``dump``; also reads the earlier form
        ``[n, hi, lo, centre, resid, resid_hi, buckets]`` (JSON floats, None for no mean)."""
        if len(data) == 7:
            n, hi, lo, centre, resid, resid_hi, buckets = data
            return cls(n, hi, lo, centre, resid, resid_hi, list(buckets))
        n, held, packed = data
        raw = base64.b64decode(packed, validate=True)
        values = struct.unpack(f"<{len(raw) // 8}d", raw)
        hi, lo, centre, resid, resid_hi = values[:_STATS]
        means = iter(values[_STATS:])
        buckets = [next(means) if held >> b & 1 else None for b in range(BUCKETS)]
        return cls(n, hi, lo, centre, resid, resid_hi, buckets)


class Novelty(NamedTuple):
    """How novel one value is against a baseline, and what learning it would store."""

    z: float
    level: float
    """``u``: distance beyond the level envelope, in spreads."""
    seasonal: float
    """``v``: excess of the smoothed residual over its envelope, in its own units."""
    expected: float
    """The bucket's mean, or the centre while the bucket has none (0 for an empty baseline)."""
    resid: float
    """The smoothed residual including this value (stored by ``learn``)."""

    @property
    def score(self) -> float:
        """``1 - exp(-z)``: 0 for nothing new, towards 1 for the unheard-of."""
        return 1.0 - math.exp(-self.z)


def novelty(params: Params, base: Baseline, x: float, bucket: int) -> Novelty:
    """Score ``x`` against ``base`` without changing it. Deterministic."""
    if base.n == 0:
        return Novelty(0.0, 0.0, 0.0, 0.0, 0.0)
    hi, lo, centre = base.hi, base.lo, base.centre
    spread = max(hi - lo, params.spread_floor * abs(centre))
    eps = 1e-6 * (abs(centre) + 1.0)
    if x > hi:
        u = (x - hi) / (spread + eps)
    elif params.two_sided and x < lo:
        u = (lo - x) / (spread + eps)
    else:
        u = 0.0
    m = base.buckets[bucket]
    v = 0.0
    resid = base.resid
    if m is None:
        expected = centre
    else:
        expected = m
        e = x - m
        if e < 0.0:
            e = -e if params.two_sided else 0.0
        resid += params.residual_rate * (e - resid)
        if resid > base.resid_hi:
            v = (resid - base.resid_hi) / (base.resid_hi + params.seasonal_floor * spread + eps)
    w = params.seasonal_weight * v
    return Novelty(math.sqrt(u * u + w * w), u, v, expected, resid)


def learn(params: Params, base: Baseline, x: float, bucket: int, seen: Novelty) -> None:
    """Fold ``x`` (scored as ``seen`` by ``novelty``) into ``base``. Deterministic."""
    digits = params.digits
    if base.n == 0:
        x = x if digits is None else round(x, digits)
        base.hi = base.lo = base.centre = x
        base.buckets[bucket] = x
        base.n = 1
        return
    centre = base.centre
    d = params.envelope_decay
    hi = base.hi - d * (base.hi - centre)
    lo = base.lo + d * (centre - base.lo)
    hi = x if x > hi else hi
    lo = x if x < lo else lo
    centre += params.centre_rate * (x - centre)
    m = base.buckets[bucket]
    if m is None:
        m = x
    else:
        m += params.bucket_rate * (x - m)
        resid = seen.resid
        resid_hi = base.resid_hi * (1.0 - params.residual_decay)
        base.resid = resid
        base.resid_hi = resid if resid > resid_hi else resid_hi
    if digits is not None:
        hi, lo, centre, m = (
            round(hi, digits),
            round(lo, digits),
            round(centre, digits),
            round(m, digits),
        )
        base.resid = round(base.resid, digits)
        base.resid_hi = round(base.resid_hi, digits)
    base.hi, base.lo, base.centre = hi, lo, centre
    base.buckets[bucket] = m
    base.n += 1


def threshold_z(score: float) -> float:
    """The ``z`` at which ``Novelty.score`` reaches ``score`` (for a score in [0, 1))."""
    return -math.log(1.0 - score)


def rise_needed(params: Params, base: Baseline, bucket: int, z: float) -> float:
    """A value below which ``novelty(...).z`` stays under ``z`` for values above the baseline.

    Solves ``u(x) + w v(x) = z`` (which bounds ``hypot(u, w v)`` from above) on the
    piecewise-linear rise of both terms, so callers can skip scoring until a running total
    reaches it. 0.0 while the baseline is empty or when any value would do.
    """
    if base.n == 0:
        return 0.0
    hi = base.hi
    spread = max(hi - base.lo, params.spread_floor * abs(base.centre))
    a = spread + 1e-6 * (abs(base.centre) + 1.0)
    m = base.buckets[bucket]
    if m is None:
        return hi + z * a
    k = params.residual_rate
    b = base.resid_hi + params.seasonal_floor * spread + 1e-6 * (abs(base.centre) + 1.0)
    wk = params.seasonal_weight * k / b
    stay = (1.0 - k) * base.resid - base.resid_hi
    if stay > 0.0:
        return 0.0 if params.seasonal_weight * stay / b >= z else _rise_general(params, base, m, z)
    # The seasonal term starts at pv = m - stay / k (>= m); the level term at hi.
    pv = m - stay / k
    if hi <= pv:
        x = hi + z * a
        if x <= pv:
            return x
    else:
        x = pv + z / wk
        if x <= hi:
            return x
    return (z + hi / a + wk * pv) / (1.0 / a + wk)


def _rise_general(params: Params, base: Baseline, m: float, z: float) -> float:
    """``rise_needed`` when the seasonal term is already positive at the profile (rare)."""
    hi = base.hi
    spread = max(hi - base.lo, params.spread_floor * abs(base.centre))
    eps = 1e-6 * (abs(base.centre) + 1.0)
    a = spread + eps
    k = params.residual_rate
    b = base.resid_hi + params.seasonal_floor * spread + eps
    w = params.seasonal_weight / b
    stay = (1.0 - k) * base.resid - base.resid_hi

    def total(x: float) -> float:
        u = (x - hi) / a if x > hi else 0.0
        return u + w * (stay + k * (x - m if x > m else 0.0))

    points = sorted({hi, m})
    prev, prev_t = points[0], total(points[0])
    if prev_t >= z:
        return 0.0
    for p in points[1:]:
        t = total(p)
        if t >= z:
            return prev + (z - prev_t) * (p - prev) / (t - prev_t)
        prev, prev_t = p, t
    return prev + (z - prev_t) / (1.0 / a + w * k)


def observe(params: Params, base: Baseline, x: float, bucket: int, z_limit: float) -> float:
    """``novelty`` then ``learn`` in one pass, learning ``x`` only when its ``z`` is below
    ``z_limit`` (``math.inf``: always; ``-math.inf``: never). Returns ``z``.

    The same arithmetic as the two, for callers that decide by a plain threshold on ``z``; see
    ``observer`` for a version with ``params`` bound once.
    """
    return observer(params)(base, x, bucket, z_limit)


def observer(params: Params) -> Callable[[Baseline, float, int, float], float]:  # noqa: PLR0915
    """``observe`` with ``params`` bound: the hourly path of a detector calls it per hour.

    (One closure on purpose, long as it is: splitting it would add calls to a hot path.)
    """
    spread_floor = params.spread_floor
    two_sided = params.two_sided
    residual_rate = params.residual_rate
    seasonal_weight = params.seasonal_weight
    seasonal_floor = params.seasonal_floor
    decay = params.envelope_decay
    centre_rate = params.centre_rate
    bucket_rate = params.bucket_rate
    keep_hi = 1.0 - params.residual_decay
    rounding = params.digits is not None
    sqrt = math.sqrt

    def run(base: Baseline, x: float, bucket: int, z_limit: float) -> float:
        if base.n == 0:
            if z_limit > 0.0:
                learn(params, base, x, bucket, Novelty(0.0, 0.0, 0.0, 0.0, 0.0))
            return 0.0
        hi, lo, centre = base.hi, base.lo, base.centre
        spread = max(hi - lo, spread_floor * abs(centre))
        eps = 1e-6 * (abs(centre) + 1.0)
        if x > hi:
            u = (x - hi) / (spread + eps)
        elif two_sided and x < lo:
            u = (lo - x) / (spread + eps)
        else:
            u = 0.0
        buckets = base.buckets
        m = buckets[bucket]
        resid = base.resid
        w = 0.0
        if m is not None:
            e = x - m
            if e < 0.0:
                e = -e if two_sided else 0.0
            resid += residual_rate * (e - resid)
            if resid > base.resid_hi:
                v = (resid - base.resid_hi) / (base.resid_hi + seasonal_floor * spread + eps)
                w = seasonal_weight * v
        z = sqrt(u * u + w * w)
        if z >= z_limit:
            return z
        if rounding:
            learn(params, base, x, bucket, Novelty(z, u, 0.0, m or centre, resid))
            return z
        hi -= decay * (hi - centre)
        lo += decay * (centre - lo)
        base.hi = x if x > hi else hi
        base.lo = x if x < lo else lo
        base.centre = centre + centre_rate * (x - centre)
        if m is None:
            buckets[bucket] = x
        else:
            buckets[bucket] = m + bucket_rate * (x - m)
            base.resid = resid
            resid_hi = base.resid_hi * keep_hi
            base.resid_hi = resid if resid > resid_hi else resid_hi
        base.n += 1
        return z

    return run

"""The seasonal envelope baseline shared by spend_spike and the NAB adapter."""

from __future__ import annotations

import math
import random

import orjson
import pytest

from streamwatch.core.detectors.spend_spike.baseline import (
    BUCKETS,
    Baseline,
    Params,
    bucket_of,
    bucket_of_ms,
    learn,
    novelty,
    observe,
    rise_needed,
    threshold_z,
)
from streamwatch.core.timeutil import parse_ts_ms

ONE_SIDED = Params(two_sided=False)


def trained(params: Params = ONE_SIDED, days: int = 14) -> Baseline:
    """Hourly values of 1 at night and 5 from 08:00 to 18:00, every day."""
    base = Baseline()
    for h in range(days * 24):
        x = 5.0 if 8 <= h % 24 < 18 else 1.0
        bucket = h % 24
        learn(params, base, x, bucket, novelty(params, base, x, bucket))
    return base


@pytest.mark.parametrize(
    ("ts", "bucket"),
    [
        pytest.param("2026-10-05T00:00:00Z", 0, id="monday-midnight"),
        pytest.param("2026-10-09T23:59:59Z", 23, id="friday-late"),
        pytest.param("2026-10-10T00:00:00Z", 24, id="saturday"),
        pytest.param("2026-10-11T13:30:00Z", 37, id="sunday-afternoon"),
    ],
)
def test_buckets_are_hour_of_day_split_by_weekend(ts: str, bucket: int) -> None:
    assert bucket_of_ms(parse_ts_ms(ts)) == bucket
    assert 0 <= bucket < BUCKETS


def test_bucket_of_takes_hour_and_weekday() -> None:
    assert bucket_of(14, 1) == 14
    assert bucket_of(14, 6) == 38


def test_a_value_within_the_usual_range_and_rhythm_is_not_novel() -> None:
    base = trained()
    assert novelty(ONE_SIDED, base, 4.9, 12).z == 0.0
    assert novelty(ONE_SIDED, base, 1.0, 3).z == 0.0
    # The envelope relaxes a little between peaks: the usual peak itself is barely novel.
    assert novelty(ONE_SIDED, base, 5.0, 12).z < 1e-3


def test_level_novelty_is_the_distance_above_the_usual_peak_in_spreads() -> None:
    base = trained()
    seen = novelty(ONE_SIDED, base, 13.0, 12)
    spread = base.hi - base.lo
    assert seen.level == pytest.approx((13.0 - base.hi) / spread, rel=1e-5)
    assert seen.expected == pytest.approx(5.0)
    assert 0.0 < seen.score < 1.0
    assert seen.score == pytest.approx(1.0 - math.exp(-seen.z))


def test_daytime_level_at_night_is_novel_only_through_the_seasonal_term() -> None:
    base = trained()
    seen = novelty(ONE_SIDED, base, 4.9, 3)
    assert seen.level == 0.0
    assert seen.seasonal > 0.0
    assert seen.z == pytest.approx(ONE_SIDED.seasonal_weight * seen.seasonal)


def test_drops_are_novel_only_when_two_sided() -> None:
    two = Params(two_sided=True)
    assert novelty(two, trained(two), -4.0, 12).level > 0.0
    assert novelty(ONE_SIDED, trained(), -4.0, 12).level == 0.0


def test_spread_floor_keeps_a_flat_series_from_infinite_surprise() -> None:
    flat = Baseline()
    for _ in range(50):
        learn(ONE_SIDED, flat, 2.0, 0, novelty(ONE_SIDED, flat, 2.0, 0))
    floored = Params(two_sided=False, spread_floor=0.25)
    assert novelty(ONE_SIDED, flat, 2.2, 0).level > 1000.0
    assert novelty(floored, flat, 2.2, 0).level == pytest.approx(0.4, rel=1e-3)


def test_learning_moves_the_bucket_towards_the_value_and_raises_the_envelope() -> None:
    base = trained()
    seen = novelty(ONE_SIDED, base, 7.0, 12)
    learn(ONE_SIDED, base, 7.0, 12, seen)
    assert base.buckets[12] == pytest.approx(5.0 + ONE_SIDED.bucket_rate * 2.0)
    assert base.hi == 7.0


def test_observe_is_novelty_then_learn_below_the_limit() -> None:
    rng = random.Random(5)
    for params in (ONE_SIDED, Params(), Params(two_sided=False, spread_floor=0.25, digits=4)):
        a, b = Baseline(), Baseline()
        for i in range(3000):
            x = rng.choice([0.0, rng.uniform(0, 10), rng.uniform(0, 200)])
            bucket = rng.randrange(BUCKETS)
            limit = rng.choice([math.inf, -math.inf, threshold_z(0.3)])
            seen = novelty(params, a, x, bucket)
            if seen.z < limit:
                learn(params, a, x, bucket, seen)
            assert observe(params, b, x, bucket, limit) == seen.z, i
            assert a == b, i


def test_rise_needed_is_a_lower_bound_of_the_value_reaching_a_score() -> None:
    rng = random.Random(9)
    params = Params(two_sided=False, spread_floor=0.25)
    for _ in range(300):
        base = trained(params, days=rng.randint(1, 20))
        for _ in range(rng.randint(0, 40)):
            x, bucket = rng.uniform(0, 30), rng.randrange(BUCKETS)
            observe(params, base, x, bucket, threshold_z(0.3))
        bucket, z = rng.randrange(BUCKETS), rng.uniform(0.05, 4.0)
        line = rise_needed(params, base, bucket, z)
        below = line * (1 - 1e-9) - 1e-9
        if below > 0:
            assert novelty(params, base, below, bucket).z < z
        above = novelty(params, base, line * (1 + 1e-9) + 1e-9, bucket)
        assert above.level + params.seasonal_weight * above.seasonal >= z - 1e-6


def test_empty_baseline_finds_nothing_novel_and_rises_from_zero() -> None:
    base = Baseline()
    assert novelty(ONE_SIDED, base, 100.0, 0).z == 0.0
    assert rise_needed(ONE_SIDED, base, 0, 2.0) == 0.0


def test_dump_is_json_and_loads_back() -> None:
    base = trained()
    assert Baseline.load(orjson.loads(orjson.dumps(base.dump()))) == base


def test_dump_keeps_every_double_exactly_and_marks_empty_buckets() -> None:
    base = trained()
    base.buckets[3] = None
    base.buckets[47] = -0.0
    base.resid_hi = math.inf  # what JSON cannot hold: orjson would write null
    base.hi = 0.1 + 0.2
    n, held, packed = orjson.loads(orjson.dumps(base.dump()))
    assert n == base.n
    assert held == sum(1 << b for b, m in enumerate(base.buckets) if m is not None)
    assert len(packed) <= 4 * -(-8 * (5 + BUCKETS) // 3)
    again = Baseline.load([n, held, packed])
    assert [repr(v) for v in (again.hi, again.resid_hi, again.buckets[47])] == [
        "0.30000000000000004",
        "inf",
        "-0.0",
    ]
    assert again.buckets[3] is None
    assert again.dump() == base.dump()


def test_load_reads_the_earlier_json_form() -> None:
    base = trained()
    earlier = [base.n, base.hi, base.lo, base.centre, base.resid, base.resid_hi, base.buckets]
    assert Baseline.load(orjson.loads(orjson.dumps(earlier))) == base


def test_digits_round_what_is_learned() -> None:
    params = Params(two_sided=False, digits=2)
    base = trained(params)
    assert all(v is None or round(v, 2) == v for v in base.buckets)
    assert round(base.centre, 2) == base.centre

"""Event-time ordering in replay: merge of sources and the bounded reorder buffer."""

from __future__ import annotations

import random

import pytest

from streamwatch.core.events import Event
from streamwatch.replay.ordering import merge, outlier_keys, reorder
from streamwatch.testing import decoded, usage


def _event(ts_s: int, event_id: str) -> Event:
    return decoded(usage(ts=f"2026-10-01T00:{ts_s // 60:02d}:{ts_s % 60:02d}Z", event_id=event_id))


def _keys(events: list[Event]) -> list[tuple[int, str]]:
    return [(e.ts_ms, e.event_id) for e in events]


@pytest.mark.parametrize("seed", range(20))
def test_reorder_sorts_completely_when_disorder_is_within_lateness(seed: int) -> None:
    rng = random.Random(seed)
    events = [_event(rng.randint(0, 600), f"e{rng.randint(0, 50):03d}") for _ in range(150)]
    out = list(reorder(events, lateness_ms=600_000))
    assert _keys(out) == sorted(_keys(events))


@pytest.mark.parametrize("seed", range(20))
def test_reorder_never_loses_or_repeats_an_event_whatever_the_lateness(seed: int) -> None:
    rng = random.Random(seed)
    events = [_event(rng.randint(0, 600), f"e{i:03d}") for i in range(rng.randint(0, 120))]
    out = list(reorder(events, lateness_ms=rng.randint(0, 300) * 1000))
    assert sorted(id(e) for e in out) == sorted(id(e) for e in events)


def test_event_later_than_the_lateness_is_released_at_once_not_held() -> None:
    early, newest, straggler = _event(0, "a"), _event(500, "b"), _event(10, "c")
    out = list(reorder([early, newest, straggler], lateness_ms=60_000))
    # 'a' left when 'b' pushed the horizon past it; 'c' is 490 s behind 'b', so it is late and
    # comes out after 'a' and before 'b' (both still held or released by then).
    assert [e.event_id for e in out] == ["a", "c", "b"]


def test_ties_on_time_are_released_in_event_id_order() -> None:
    events = [_event(0, "b"), _event(0, "a"), _event(0, "c")]
    assert [e.event_id for e in reorder(events, lateness_ms=0)] == ["a", "b", "c"]


def test_merge_interleaves_sources_by_event_time() -> None:
    first = [_event(0, "u1"), _event(20, "u2"), _event(40, "u3")]
    second = [_event(10, "a1"), _event(30, "a2")]
    assert [e.event_id for e in merge([first, second])] == ["u1", "a1", "u2", "a2", "u3"]


DAY = 86_400_000


def _outlier_keys(times: list[int | None]) -> list[int]:
    return [key for key, _ in outlier_keys(times, lambda t: t, max_skew_ms=DAY)]


def test_an_outlier_from_the_future_is_merged_where_it_stands() -> None:
    year = 365 * DAY
    assert _outlier_keys([0, 10, 4 * year, 20, 30]) == [0, 10, 10, 20, 30]


def test_a_first_item_from_the_future_is_merged_with_the_next() -> None:
    assert _outlier_keys([9 * DAY, 10, 20]) == [10, 10, 20]


def test_a_source_that_really_jumps_ahead_keeps_its_times() -> None:
    assert _outlier_keys([0, 10, 9 * DAY, 9 * DAY + 5]) == [0, 10, 9 * DAY, 9 * DAY + 5]
    # The last item cannot be judged: it keeps its time (it holds nothing back).
    assert _outlier_keys([0, 10, 9 * DAY]) == [0, 10, 9 * DAY]


def test_undecodable_items_keep_their_place_and_are_no_neighbours() -> None:
    assert _outlier_keys([None, 5, None, 9 * DAY, None, 7]) == [0, 5, 5, 5, 5, 7]


def test_a_source_with_an_outlier_is_not_held_back_in_a_merge() -> None:
    keyed = [outlier_keys(s, lambda t: t, DAY) for s in ([0, 9 * DAY, 20, 40], [10, 30])]
    assert [t for _, t in merge(keyed, lambda kv: kv[0])] == [0, 9 * DAY, 10, 20, 30, 40]

"""In-process counters drained into the Redis metrics hash."""

from __future__ import annotations

from streamwatch.live import metrics


def test_drain_returns_counts_and_resets():
    counters = metrics.Counters()
    counters.inc(metrics.EVENTS)
    counters.inc(metrics.EVENTS, 2)
    counters.inc(metrics.dead_letter_code("too_large"))
    assert counters.drain() == {"events": 3, "dead_letter:too_large": 1}
    assert counters.drain() == {}


def test_restored_counts_add_to_new_ones():
    counters = metrics.Counters()
    counters.inc(metrics.ALERTS)
    failed = counters.drain()
    counters.inc(metrics.ALERTS)
    counters.restore(failed)
    assert counters.drain() == {"alerts": 2}


def test_counter_names_are_distinct():
    assert len(set(metrics.ALL)) == len(metrics.ALL)

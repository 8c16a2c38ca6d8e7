"""When the live processor counts a quiet topic partition as caught up (KIP-695's rule, with
the time of the fetch that told its end)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from faust.types import TP

from streamwatch.config import build_core
from streamwatch.live.ordering import Incoming
from streamwatch.live.processor import Processor
from streamwatch.live.settings import TopicNames

TOPICS = TopicNames.with_prefix("t.")


def processor(
    ends: dict[str, int], processed: dict[str, int], polls: dict[str, int] | None
) -> Processor:
    """A processor of partition 0 whose consumer saw ``ends``, which processed up to
    ``processed``, and (unless None) last fetched each topic at ``polls`` (epoch ms)."""
    states = SimpleNamespace(customers_of=lambda _partition: [])
    transactions = SimpleNamespace(next_offset=lambda tp: processed.get(tp.topic))
    kwargs: dict[str, Any] = {}
    if polls is not None:
        kwargs["last_poll"] = lambda tp: polls.get(tp.topic)
    return Processor(
        build_core(),
        cast(Any, states),
        cast(Any, transactions),
        TOPICS,
        cast(Any, SimpleNamespace(counters=None)),
        lambda _next_offset: cast(Any, None),
        end_offset=lambda tp: ends.get(tp.topic),
        **kwargs,
    )


def queue_usage(live: Processor) -> Any:
    """Queue one usage message on partition 0; the caught-up rule of its pipeline."""
    live._add(Incoming(TP(TOPICS.usage, 0), 7, b"c-1", b"{}"))
    return live._caught_up(live._pipeline(0), 0)


def test_a_quiet_topic_that_has_everything_up_to_its_end_is_caught_up() -> None:
    polls = {TOPICS.usage: 2_000, TOPICS.activity: 2_000}
    live = processor({TOPICS.activity: 5}, {TOPICS.activity: 5}, polls)
    assert queue_usage(live)(TOPICS.activity, 0)


def test_a_quiet_topic_short_of_its_end_is_not() -> None:
    polls = {TOPICS.usage: 2_000, TOPICS.activity: 2_000}
    live = processor({TOPICS.activity: 6}, {TOPICS.activity: 5}, polls)
    assert not queue_usage(live)(TOPICS.activity, 0)


def test_an_end_fetched_before_the_queued_messages_does_not_count() -> None:
    # The consumer fetched usage again (at 2,000) while it still buffered activity's messages
    # of an older fetch (at 1,000): activity's end is of that older moment.
    polls = {TOPICS.usage: 2_000, TOPICS.activity: 1_000}
    live = processor({TOPICS.activity: 5}, {TOPICS.activity: 5}, polls)
    caught_up = queue_usage(live)
    assert not caught_up(TOPICS.activity, 0)
    polls[TOPICS.activity] = 2_000  # the next fetch answers for activity too
    assert caught_up(TOPICS.activity, 0)


def test_without_fetch_times_the_end_alone_decides() -> None:
    live = processor({TOPICS.activity: 5}, {TOPICS.activity: 5}, None)
    assert queue_usage(live)(TOPICS.activity, 0)

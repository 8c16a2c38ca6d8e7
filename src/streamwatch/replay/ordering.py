"""Event-time helpers of replay: merge several sources, and the analysts' lateness sort.

Sources (one per file or topic partition) are each roughly in event-time order. ``merge``
interleaves them by event time, keeping each source's own order (the partition pipelines then
order each partition's streams as the live worker does). ``outlier_keys`` gives each item the
time it is merged at: its event time, except for an outlier stamped far ahead of both its
neighbours in the source (a clock set to 2030), which is merged where it stands rather than
holding the rest of its source back until the end; the partition pipeline then judges it.

``reorder`` is what ``replay --sort`` adds: it holds items in a heap until the newest seen is
``lateness_ms`` past them, then releases them in (ts, event_id) order, as if the producer had
delivered them in order. An item later than that is released at once (and the core counts it
as late).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from streamwatch.core.events import Event

T = TypeVar("T")


def merge(sources: Sequence[Iterable[T]], key: Callable[[T], int] | None = None) -> Iterator[T]:
    """Interleave several event-time-ordered sources into one by ``key`` (default: ``ts_ms``
    of events), each source keeping its own order."""
    if len(sources) == 1:
        return iter(sources[0])
    return heapq.merge(*sources, key=key or _ts)


def outlier_keys(
    items: Iterable[T], ts: Callable[[T], int | None], max_skew_ms: int
) -> Iterator[tuple[int, T]]:
    """(merge key, item) for each of ``items``, in their order.

    The key is the item's ``ts`` unless it is more than ``max_skew_ms`` ahead of both the
    previous item's key and the next item's time: then it is the previous key (or, for the
    first item, the next item's time). A source that really jumps ahead keeps its times, since
    its next item jumps too. An item whose ``ts`` is None (undecodable) gets the previous key
    (or 0) and does not count as a neighbour.
    """
    previous: int | None = None
    pending: list[tuple[T, int | None]] = []
    """Items not keyed yet: at most one with a time, first, then undecodable ones."""
    for item in items:
        item_ts = ts(item)
        if item_ts is not None and pending:
            # Inlined rather than a generator per item: this runs for every line read.
            for held, held_ts in pending:
                if held_ts is not None:
                    previous = _merge_key(held_ts, previous, item_ts, max_skew_ms)
                yield (previous if previous is not None else 0), held
            pending.clear()
        pending.append((item, item_ts))
    for held, held_ts in pending:
        if held_ts is not None:
            previous = _merge_key(held_ts, previous, None, max_skew_ms)
        yield (previous if previous is not None else 0), held


def _merge_key(item_ts: int, previous: int | None, next_ts: int | None, max_skew_ms: int) -> int:
    """The merge key of an item at ``item_ts`` between the key before it and the next item's
    time (see ``outlier_keys``)."""
    ahead = previous is None or item_ts > previous + max_skew_ms
    if ahead and next_ts is not None and item_ts > next_ts + max_skew_ms:
        return previous if previous is not None else next_ts
    return item_ts


def reorder(
    items: Iterable[T],
    lateness_ms: int,
    order: Callable[[T], tuple[int, str]] | None = None,
) -> Iterator[T]:
    """Release items in ``order`` ((ts, event_id); default: that of events) once they are
    ``lateness_ms`` behind the newest.

    Input is mostly in order already, so in-order items queue in a deque (O(1)) and only the
    stragglers go to a heap; the two are merged on release.
    """
    key = order or _order
    run: deque[tuple[int, str, int, T]] = deque()
    heap: list[tuple[int, str, int, T]] = []
    newest = -(2**63)
    push, pop = heapq.heappush, heapq.heappop
    for seq, item in enumerate(items):
        ts, event_id = key(item)
        entry = (ts, event_id, seq, item)
        if not run or entry[:3] > run[-1][:3]:
            run.append(entry)
        else:
            push(heap, entry)
        if ts > newest:  # noqa: PLR1730 - per-event hot path: a compare is cheaper than max()
            newest = ts
        horizon = newest - lateness_ms
        while run and run[0][0] < horizon:
            if heap and heap[0][:3] < run[0][:3]:
                yield pop(heap)[3]
            else:
                yield run.popleft()[3]
        while heap and heap[0][0] < horizon:
            yield pop(heap)[3]
    while run or heap:
        if heap and (not run or heap[0][:3] < run[0][:3]):
            yield pop(heap)[3]
        else:
            yield run.popleft()[3]


def _ts(item: Any) -> int:
    return int(item.ts_ms)


def _order(item: Any) -> tuple[int, str]:
    event: Event = item
    return event.ts_ms, event.event_id

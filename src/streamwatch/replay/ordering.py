"""Event-time ordering for replay: merge several sources and undo bounded disorder.

Sources (one per file or topic partition) are each roughly in event-time order. ``merge``
interleaves them by ``ts``; ``reorder`` holds events in a heap until the newest event seen is
``lateness_ms`` past them, then releases them in (ts, event_id) order. An event later than that
is released at once (and the core counts it as late), exactly as the live worker would see it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Iterator

from streamwatch.core.events import Event


def merge(sources: list[Iterable[Event]]) -> Iterator[Event]:
    """Interleave several event-time-ordered sources into one, by ``ts_ms``."""
    if len(sources) == 1:
        return iter(sources[0])
    return heapq.merge(*sources, key=_ts)


def reorder(events: Iterable[Event], lateness_ms: int) -> Iterator[Event]:
    """Release events in (ts, event_id) order once they are ``lateness_ms`` behind the newest.

    Input is mostly in order already, so in-order events queue in a deque (O(1)) and only the
    stragglers go to a heap; the two are merged on release.
    """
    run: deque[tuple[int, str, int, Event]] = deque()
    heap: list[tuple[int, str, int, Event]] = []
    newest = -(2**63)
    push, pop = heapq.heappush, heapq.heappop
    for seq, event in enumerate(events):
        ts = event.ts_ms
        item = (ts, event.event_id, seq, event)
        if not run or item > run[-1]:
            run.append(item)
        else:
            push(heap, item)
        if ts > newest:  # noqa: PLR1730 - per-event hot path: a compare is cheaper than max()
            newest = ts
        horizon = newest - lateness_ms
        while run and run[0][0] < horizon:
            if heap and heap[0] < run[0]:
                yield pop(heap)[3]
            else:
                yield run.popleft()[3]
        while heap and heap[0][0] < horizon:
            yield pop(heap)[3]
    while run or heap:
        if heap and (not run or heap[0] < run[0]):
            yield pop(heap)[3]
        else:
            yield run.popleft()[3]


def _ts(event: Event) -> int:
    return event.ts_ms

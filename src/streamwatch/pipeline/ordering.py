"""One partition's input streams merged into one event-time order, the same for live and replay.

A partition of the input has one stream per input topic (usage, activity, payments; they are
co-partitioned by customer_id, so they hold the same customers). Each stream arrives in offset
order, roughly in event time. ``StreamMerge`` keeps one FIFO queue per stream and releases the
head with the smallest ``(ts, event_id, stream rank)``, so each stream stays in offset order (a
transaction commits a prefix of each) and the streams interleave by event time. The release
policy, the one rule both drivers follow:

- a head is released when every stream of the partition has a message queued: each stream
  being in event-time order, nothing earlier can still come (a merge, which depends only on
  what each stream holds, never on how the driver interleaved their arrival);
- or when each stream with nothing queued is *caught up*: the driver says nothing more can be
  read from it now (replay: the input has ended, or the stream has fallen ``lateness`` behind
  what was read since; live: the consumer has reached the stream's end, KIP-695's rule, or,
  until the worker can ask, a quiet while has passed);
- a message that does not decode has no event time: it is released as soon as it is the head
  of its stream (it goes to the dead-letter topic and changes no state).

Within a stream nothing is reordered: two usage events of one topic partition are processed in
offset order, live and in replay (an analyst who wants lateness sorting asks replay for it).

**Time that cannot be hijacked.** One event stamped years ahead must not move a partition's
event time (sweeps age every customer of the partition to it). Each stream remembers the newest
event time it queued; an event more than ``max_skew_ms`` beyond it is *suspect*, and until it
is judged its stream counts as one with nothing queued (the merge cannot know what comes after
it). It is judged by the stream's next message: if the stream came back to more than
``max_skew_ms`` before it, the suspect is an outlier and is released in its place as a
``future_event`` dead letter, changing nothing; otherwise the stream really moved on (a quiet
partition woke up; monthly invoices) and it is an event like any other. A suspect that reaches
the front of the merge before its successor comes is released as an event if it is within
``max_skew_ms`` of the partition's event time (what the merge released so far) or if another
stream already holds later events; otherwise the live worker keeps it until the partition moves
on, and a replay whose input ends there takes it as an event (nothing contradicts it). The rule
reads only what each stream holds and what the merge released, never arrival order, so live
and replay agree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from streamwatch.core.codec import DecodeError
from streamwatch.core.events import Event
from streamwatch.core.timeutil import MS_PER_DAY, format_ts

FIRST: Final = -(2**63)
"""Event time given to messages without one (they do not decode): before any event."""
DEFAULT_MAX_SKEW_MS: Final = MS_PER_DAY


class Message(NamedTuple):
    """One raw input message: which stream (input topic) of the partition, where in it, bytes.

    ``position`` is whatever the driver needs to say where the message came from (a file line,
    a Kafka record's key); the pipeline hands it back in dead-letter records. A named tuple,
    immutable like a frozen dataclass and cheaper to build: replay makes one per line.
    """

    stream: str
    offset: int
    key: bytes | None
    value: bytes
    position: Any = None


Decoded = Event | DecodeError
CaughtUp = Callable[[str, int], bool]
"""``caught_up(stream, ts_ms)``: can ``stream`` (nothing queued) no longer deliver an event
before ``ts_ms``? The driver's knowledge of its input (see the module docstring)."""


class Held:
    """A queued message, decoded, with its place in the merge."""

    __slots__ = ("decoded", "message", "order", "suspect")

    def __init__(self, message: Message, decoded: Decoded, order: tuple[int, str, int]) -> None:
        self.message = message
        self.decoded = decoded
        self.order = order
        self.suspect = False
        """Far ahead of its stream: waits for the stream's next message to be judged."""


class StreamMerge:
    """The queued messages of one partition's streams (see the module docstring).

    ``clock_ms`` is the partition's event time at start (the newest event its restored state
    has seen), or None on a fresh start.
    """

    def __init__(
        self,
        streams: Sequence[str],
        clock_ms: int | None = None,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
    ) -> None:
        self.rank = {stream: n for n, stream in enumerate(streams)}
        self.max_skew_ms = max_skew_ms
        self.clock_ms = clock_ms
        """The partition's event time: the newest event released (or at start)."""
        self._queues: dict[str, deque[Held]] = {s: deque() for s in streams}
        self._streams = tuple(self._queues.items())
        """(stream, queue) in rank order, for ``next`` to walk without a view per call."""
        self._newest: dict[str, int | None] = dict.fromkeys(streams, clock_ms)
        """Per stream, the newest event time queued and judged sound."""
        self._held = 0
        self.future = 0
        """Suspects found to be outliers (released as ``future_event`` dead letters)."""

    def __len__(self) -> int:
        return self._held

    def add(self, message: Message, decoded: Decoded) -> None:
        """Queue ``message`` (the next of its stream, in offset order)."""
        stream = message.stream
        queue = self._queues[stream]
        rank = self.rank[stream]
        self._held += 1
        if isinstance(decoded, DecodeError):
            queue.append(Held(message, decoded, (FIRST, "", rank)))
            return
        if queue and queue[-1].suspect:
            self._judge(queue[-1], decoded.ts_ms)
        ts_ms = decoded.ts_ms
        held = Held(message, decoded, (ts_ms, decoded.event_id, rank))
        newest = self._newest[stream]
        if newest is None or ts_ms > newest + self.max_skew_ms:
            held.suspect = True
        elif ts_ms > newest:
            self._newest[stream] = ts_ms
        queue.append(held)

    def next(self, caught_up: CaughtUp, final: bool = False) -> Held | None:
        """The message to process next if its turn has come, None if it must wait; with
        ``final`` (the input has ended) nothing waits.

        ``caught_up(stream, ts_ms)`` says whether ``stream``, which has nothing queued (or only
        a suspect), can still deliver an event before ``ts_ms`` (the candidate's event time).
        """
        # Runs at least once per message (and once more to find the next must wait): one pass
        # for the earliest head, and a second over the quiet streams only when it must wait.
        streams = self._streams
        first: Held | None = None
        heads = 0
        for _, queue in streams:
            if queue:
                head = queue[0]
                heads += 1
                if first is None or head.order < first.order:
                    first = head
        if first is None:
            return None
        ts_ms = first.order[0]
        if ts_ms == FIRST:
            return first
        if not final:
            # Each stream with nothing queued, or only a lone suspect (what comes after it is
            # not known yet), must be caught up to the candidate's time.
            for stream, queue in streams:
                if (not queue or queue[0].suspect) and not caught_up(stream, ts_ms):
                    return None
        if first.suspect:
            clock = self.clock_ms
            if final or heads > 1 or clock is None or ts_ms <= clock + self.max_skew_ms:
                self._accept(first)
            else:
                return None
        return first

    def pop(self, held: Held) -> None:
        """Take ``held`` (a head just returned by ``next``) out of its queue."""
        queue = self._queues[held.message.stream]
        if not queue or queue[0] is not held:
            raise ValueError(f"{held.message.stream}@{held.message.offset} is not a head")
        queue.popleft()
        self._held -= 1
        ts_ms = held.order[0]
        if ts_ms != FIRST and (self.clock_ms is None or ts_ms > self.clock_ms):
            self.clock_ms = ts_ms

    def _judge(self, suspect: Held, next_ts_ms: int) -> None:
        """Decide a suspect by its stream's next event time: an outlier if the stream came
        back more than ``max_skew_ms`` before it."""
        event = suspect.decoded
        assert isinstance(event, Event)
        if next_ts_ms >= event.ts_ms - self.max_skew_ms:
            self._accept(suspect)
        else:
            self._outlier(suspect)

    def _accept(self, suspect: Held) -> None:
        event = suspect.decoded
        assert isinstance(event, Event)
        suspect.suspect = False
        stream = suspect.message.stream
        newest = self._newest[stream]
        self._newest[stream] = event.ts_ms if newest is None else max(newest, event.ts_ms)

    def _outlier(self, suspect: Held) -> None:
        event = suspect.decoded
        assert isinstance(event, Event)
        suspect.suspect = False
        newest = self._newest[suspect.message.stream]
        skew_h = self.max_skew_ms // 3_600_000
        around = format_ts(newest) if newest is not None else "the events around it"
        suspect.decoded = DecodeError(
            "future_event",
            f"ts {event.ts} is more than {skew_h} h ahead of its stream ({around}) and the"
            " stream came back; held aside so that one event does not move time for the"
            " whole partition",
            "ts",
        )
        suspect.order = (FIRST, "", suspect.order[2])
        self.future += 1

    def last_offset(self, stream: str) -> int | None:
        """The offset of the last message of ``stream`` queued, None if none is."""
        queue = self._queues[stream]
        return queue[-1].message.offset if queue else None

    def drop(self) -> None:
        """Forget every queued message (the partition was revoked)."""
        for queue in self._queues.values():
            queue.clear()
        self._held = 0

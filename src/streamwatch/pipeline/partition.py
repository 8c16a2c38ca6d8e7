"""Everything between a partition's raw input messages and their effects, for live and replay.

``PartitionPipeline`` is one input partition's path: messages are decoded (a message that
breaks the contract becomes a dead-letter record, with the reason), merged into one event-time
order (``streamwatch.pipeline.ordering``: streams in offset order, one release policy, future
events held aside), and released one at a time: the partition's customers are swept when its
event time passes an hour mark (``Core.sweep``: a customer gone quiet still reaches its due
dates), the event is stepped through the core with its customer's state, and what it caused
comes back as a ``Step``. An exception of the core on one event dead-letters that event
(``processing_error``) and the partition moves on.

It does no I/O. The live worker (``streamwatch.live.processor``) adds what Faust delivers and
sends each released ``Step``'s outputs inside the partition's Kafka transaction; replay
(``streamwatch.replay.runner``) feeds it from files or a Kafka range and writes the outputs to
files. Both get the same decisions for the same input because nothing decides anywhere else.

Customer state lives in a ``CustomerStore`` the driver provides (a dict in replay, the
changelog-backed table live); the pipeline mutates states in place and tells the store which
changed. Link keys (device, card, sign-up IP) go out as ``Step.sightings``: the driver routes
them to the ring linker (in memory in replay, the re-key topic live), and steps the ``ring.link``
events that come back with ``step_derived``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson

from streamwatch.core.codec import (
    DecodeError,
    Envelope,
    decode_event,
    event_from_dict,
    event_from_envelope,
    parse_object,
)
from streamwatch.core.deadletter import dead_letter_record, processing_error
from streamwatch.core.engine import NOTHING, SWEEP_MS, Core, Decisions
from streamwatch.core.events import ActivityEvent, Event, UsageEvent
from streamwatch.core.feedback import OPERATIONS as FEEDBACK
from streamwatch.core.rings import Sighting, sightings
from streamwatch.core.state import CustomerState
from streamwatch.pipeline.ordering import (
    DEFAULT_MAX_SKEW_MS,
    FIRST,
    CaughtUp,
    Decoded,
    Message,
    StreamMerge,
)

EVENTS: Final = "events"
"""Counter names (``PartitionPipeline.counts``): input messages decoded into events (duplicates
included); duplicates; late events (older than the customer's allowed lateness); dead letters
(all codes; per code under ``dead_letter:<code>``); alerts sent (amendments included);
requests sent; requests decided in shadow mode; alerts feedback held back (suppressed, not
sent); ``ring.link`` events stepped; events the core
failed on (also dead-lettered as ``processing_error``); customers whose state was reset after
such a failure left it unwritable; customers forgotten at a sweep."""
DUPLICATES: Final = "duplicates"
LATE: Final = "late"
DEAD_LETTER: Final = "dead_letter"
ALERTS: Final = "alerts"
REQUESTS: Final = "requests"
SHADOWED: Final = "shadowed"
SUPPRESSED: Final = "suppressed"
LINKS: Final = "links"
PROCESSING_ERRORS: Final = "processing_errors"
STATE_RESETS: Final = "state_resets"
FORGOTTEN: Final = "customers_forgotten"


def dead_letter_counter(code: str) -> str:
    """The counter of dead letters with code ``code``."""
    return f"{DEAD_LETTER}:{code}"


def decode(raw: bytes) -> Decoded:
    """The event in ``raw``, or the DecodeError saying why there is none. Never raises: a codec
    that breaks its promise to raise DecodeError only is a bug, reported as such."""
    try:
        return decode_event(raw)
    except DecodeError as error:
        return error
    except Exception as exc:
        return processing_error(exc, "the codec failed on this message")


def parse(raw: bytes) -> dict[str, Any] | DecodeError:
    """The JSON object in ``raw`` (``decode_object`` validates it), or the DecodeError saying
    why there is none; ``decode`` in two steps, for a driver that routes on the envelope
    (``codec.envelope``) before it validates the rest. Never raises."""
    try:
        return parse_object(raw)
    except DecodeError as error:
        return error
    except Exception as exc:
        return processing_error(exc, "the codec failed on this message")


def decode_object(doc: dict[str, Any] | DecodeError, env: Envelope | None = None) -> Decoded:
    """The event in a ``parse`` result, or the DecodeError saying why there is none: the same
    as ``decode`` of the bytes. ``env``, if given, is the object's ``codec.envelope``, checked
    already. Never raises."""
    if isinstance(doc, DecodeError):
        return doc
    try:
        return event_from_dict(doc) if env is None else event_from_envelope(doc, env)
    except DecodeError as error:
        return error
    except Exception as exc:
        return processing_error(exc, "the codec failed on this message")


class CustomerStore(Protocol):
    """Where the pipeline finds and keeps its partition's customer states."""

    def get(self, customer_id: str) -> CustomerState:
        """The customer's state; a fresh one for a customer not seen before."""
        ...

    def changed(self, customer_id: str, state: CustomerState) -> None:
        """``state`` (the customer's, mutated in place) must be kept."""
        ...

    def customers(self) -> Iterable[str]:
        """Every customer of the partition the store holds (sweeps visit each)."""
        ...

    def forget(self, customer_id: str) -> None:
        """Drop the customer's state (quiet long enough, nothing left to age)."""
        ...


class DictStore:
    """Customer states in a dict (replay, tests)."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.states: dict[str, CustomerState] = {}

    def get(self, customer_id: str) -> CustomerState:
        state = self.states.get(customer_id)
        if state is None:
            state = self.states[customer_id] = self.core.new_state(customer_id)
        return state

    def changed(self, customer_id: str, state: CustomerState) -> None:
        self.states[customer_id] = state

    def customers(self) -> Iterable[str]:
        return list(self.states)

    def forget(self, customer_id: str) -> None:
        self.states.pop(customer_id, None)


@dataclass(slots=True)
class Step:
    """What one released message (or derived link) caused, for the driver to send.

    ``message`` is None for a derived ``ring.link``. ``dead_letter`` is the record to send
    for a message that does not decode, is an outlier in time, or made the core fail.
    ``alerts``, ``requests``, ``shadowed`` and ``suppressed`` (alerts feedback held back, with
    the suppression's id: not to be sent) include those of the sweep the message caused, first.
    ``views`` are the customers whose risk view changed.
    """

    message: Message | None
    event: Event | None = None
    dead_letter: dict[str, Any] | None = None
    alerts: tuple[Any, ...] = ()
    requests: tuple[Any, ...] = ()
    shadowed: tuple[Any, ...] = ()
    suppressed: tuple[tuple[Any, str], ...] = ()
    duplicate: bool = False
    late: bool = False
    sightings: tuple[Sighting, ...] = ()
    views: tuple[CustomerState, ...] = ()


class PartitionPipeline:
    """One input partition's pipeline (see the module docstring).

    ``streams`` names the partition's streams in rank order (ties in event time go to the
    first); ``clock`` gives wall-clock milliseconds, for ``detected_at`` and dead-letter
    records only; ``origin(message)`` says where a message came from, for its dead-letter
    record. ``clock_ms`` is the partition's event time at start (None: fresh). With ``only``,
    events of other customers pass through the order and move time, but are not stepped
    (an analyst's replay of one customer).
    """

    def __init__(
        self,
        core: Core,
        streams: Sequence[str],
        store: CustomerStore,
        *,
        clock: Callable[[], int],
        origin: Callable[[Message], dict[str, Any]],
        clock_ms: int | None = None,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
        only: str | None = None,
    ) -> None:
        self.core = core
        self.store = store
        self.clock = clock
        self.origin = origin
        self.only = only
        self.merge = StreamMerge(streams, clock_ms, max_skew_ms)
        self.counts: Counter[str] = Counter()
        self._next_sweep_ms = FIRST

    def add(self, message: Message, decoded: Decoded | None = None) -> None:
        """Queue one message of a stream, in offset order (``decoded`` if the driver decoded
        it already)."""
        if decoded is None:
            decoded = decode(message.value)
        self.merge.add(message, decoded)

    def release(
        self, caught_up: CaughtUp, final: bool = False, most: int | None = None
    ) -> list[Step]:
        """Process the queued messages whose turn has come (at most ``most``), in turn."""
        steps: list[Step] = []
        next_held, pop = self.merge.next, self.merge.pop
        while most is None or len(steps) < most:
            held = next_held(caught_up, final)
            if held is None:
                break
            pop(held)
            decoded = held.decoded
            if isinstance(decoded, DecodeError):
                steps.append(self._dead_letter(held.message, decoded))
            else:
                steps.append(self._process(held.message, decoded))
        return steps

    def step_derived(self, event: Event) -> Step:
        """Step a ``ring.link`` the linker derived for a customer of this partition."""
        step = Step(None, event)
        self._step(step, event)
        if not step.duplicate:
            self.counts[LINKS] += 1
        return step

    def _process(self, message: Message, event: Event) -> Step:
        step = Step(message, event)
        ts_ms = event.ts_ms
        if ts_ms >= self._next_sweep_ms:
            self._next_sweep_ms = ts_ms - ts_ms % SWEEP_MS + SWEEP_MS
            self._sweep(step, ts_ms)
        usage = type(event) is UsageEvent  # usage carries no link keys: no sightings to look for
        if self.only is not None and event.customer_id != self.only:
            if not usage:
                step.sightings = sightings(event)
            return step
        counts = self.counts
        counts[EVENTS] += 1
        self._step(step, event)
        if step.dead_letter is not None:
            return step
        if step.duplicate:
            counts[DUPLICATES] += 1
        else:
            if not usage:
                step.sightings = sightings(event)
            if step.late:
                counts[LATE] += 1
        return step

    def _step(self, step: Step, event: Event) -> None:
        core, customer_id = self.core, event.customer_id
        state = self.store.get(customer_id)
        try:
            decisions = core.step(state, event, self.clock())
        except Exception as exc:
            self.counts[PROCESSING_ERRORS] += 1
            self.store.changed(customer_id, self._writable(state))
            error = processing_error(exc, f"the core failed on event {event.event_id!r}")
            if step.message is not None:
                step.dead_letter = self._record(step.message, error)
            return
        self.store.changed(customer_id, state)
        if decisions is not NOTHING:  # most events cause nothing
            step.duplicate, step.late = decisions.duplicate, decisions.late
            self._take(step, decisions)
        if (
            decisions.alerts
            or decisions.suppressed
            or (event.type != "activity" and state.alerts)
            or (isinstance(event, ActivityEvent) and event.operation in FEEDBACK)
        ):
            # Usage and payments move the money at risk and the recent hours of a customer
            # already in the view; feedback changes the suppressions it shows.
            step.views += (state,)

    def _sweep(self, step: Step, until_ms: int) -> None:
        """The partition's event time passed an hour mark: age every customer of it. A
        customer is stored only when the sweep found something (a sweep that finds nothing is
        safe to repeat); one quiet for long with nothing left to age is forgotten
        (``Core.forgettable``)."""
        core = self.core
        if not core.timed:
            return
        store, now_ms = self.store, self.clock()
        for customer_id in store.customers():
            state = store.get(customer_id)
            decisions = core.sweep(state, until_ms, now_ms)
            if decisions is not NOTHING:
                store.changed(customer_id, state)
                self._take(step, decisions)
                if decisions.alerts or decisions.suppressed:
                    step.views += (state,)
            elif core.forgettable(state, until_ms):
                store.forget(customer_id)
                self.counts[FORGOTTEN] += 1

    def _take(self, step: Step, decisions: Decisions) -> None:
        if decisions.alerts:
            step.alerts += decisions.alerts
            self.counts[ALERTS] += len(decisions.alerts)
        if decisions.requests:
            step.requests += decisions.requests
            self.counts[REQUESTS] += len(decisions.requests)
        if decisions.shadowed:
            step.shadowed += decisions.shadowed
            self.counts[SHADOWED] += len(decisions.shadowed)
        if decisions.suppressed:
            step.suppressed += decisions.suppressed
            self.counts[SUPPRESSED] += len(decisions.suppressed)

    def _dead_letter(self, message: Message, error: DecodeError) -> Step:
        return Step(message, dead_letter=self._record(message, error))

    def _record(self, message: Message, error: DecodeError) -> dict[str, Any]:
        self.counts[DEAD_LETTER] += 1
        self.counts[dead_letter_counter(error.code)] += 1
        return dead_letter_record(message.value, error, self.origin(message), self.clock())

    def _writable(self, state: CustomerState) -> CustomerState:
        """``state`` if it still snapshots after the core failed on it, else a fresh state
        for the customer (counted): one bad event must not make the partition uncommittable."""
        try:
            orjson.dumps(self.core.snapshot(state))
        except Exception:
            self.counts[STATE_RESETS] += 1
            return self.core.new_state(state.customer_id)
        return state

"""Coalesces risk-view updates and counters off the per-event path, and flushes them to Redis;
writes the view again from state when Redis lost it.

The agent calls ``mark`` and the counters synchronously; a timer calls ``flush`` a few times a
second, and once more at shutdown. Redis is a view, not the source of truth: when it cannot be
reached the worker logs, keeps what it could not write, and tries again at the next flush,
while Kafka processing carries on.

Every flush writes absolute values (``RiskView.publish``): the latest view of each customer
marked, and this process's counter totals, so a write that timed out after Redis applied it
does no harm when repeated. With each flush goes the worker's marker; when it is found gone
(Redis restarted empty, or ``streamwatch risk --rebuild``), or partitions are assigned to the
worker, the view of every customer of its partitions that has open alerts is written again
from the state the worker holds (``StateViews``), a batch per flush within a small time budget,
so that events keep flowing meanwhile.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Final, Protocol

import structlog
from redis.exceptions import RedisError

from streamwatch.core.engine import Core
from streamwatch.core.state import CustomerState
from streamwatch.core.timeutil import format_ts
from streamwatch.live.metrics import Counters, worker_id
from streamwatch.live.redis_view import RiskView, customer_view
from streamwatch.live.state_store import CustomerStates

log = structlog.get_logger("streamwatch.live.publisher")

REBUILD_BUDGET_S: Final = 0.02
"""Time a flush spends at most reading views from state for a rebuild (at least one
customer): at four flushes a second, a rebuild takes under a tenth of the worker's time."""
REBUILD_MOST: Final = 1000
"""Customers read from state by one flush at most."""
MARKER_CHECK_S: Final = 1.0
"""How often the marker is checked when there is nothing else to write."""
VIEW_BUILD_S: Final = 1.0
"""How often views marked to be built later (``mark_later``) are built: a busy customer's
view, with its plot series, is built once a second, not at every flush."""
TOTALS_REFRESH_S: Final = 60.0
"""How often counter totals are written when they did not change (keeps their TTL)."""


class ViewSource(Protocol):
    """What a rebuild reads: the customers of a partition, and a customer's view."""

    def customers_of(self, partition: int) -> list[str]:
        """The ids of the customers of input ``partition`` the worker holds."""
        ...

    def view(self, customer_id: str) -> Mapping[str, str] | None:
        """The customer's view (``customer_view``), None if they are not in the view."""
        ...


class StateViews:
    """The view of each customer of the worker's partitions, from the state it holds."""

    def __init__(self, states: CustomerStates, core: Core, clock: Callable[[], int]) -> None:
        self.states = states
        self.core = core
        self.clock = clock

    def customers_of(self, partition: int) -> list[str]:
        return [k.decode("utf-8", "replace") for k in self.states.customers_of(partition)]

    def view(self, customer_id: str) -> dict[str, str] | None:
        """The customer's view; None if they have no open alert (the worker writes the view of
        customers it raised alerts for) or are no longer held (their partition moved)."""
        key = customer_id.encode()
        if self.states.table.data.get(key) is None:
            return None
        state = self.states.get(key, customer_id)
        if not state.alerts:
            return None
        return self.of(state)

    def of(self, state: CustomerState) -> dict[str, str]:
        """The view of ``state`` as it is now (``customer_view``, money at risk and all)."""
        return customer_view(state, self.clock(), self.core.money_at_risk(state))


class Rebuild:
    """The customers whose view is to be written again: the worker's partitions, queued whole
    when the rebuild (re)starts and walked one customer at a time."""

    def __init__(self) -> None:
        self.owned: frozenset[int] = frozenset()
        """The input partitions assigned to the worker."""
        self._partitions: list[int] = []
        self._customers: list[str] = []

    @property
    def active(self) -> bool:
        """Whether customers may remain (``next`` has not yet returned None)."""
        return bool(self._partitions or self._customers)

    def assigned(self, partitions: Iterable[int]) -> None:
        """The worker owns ``partitions`` now: rebuild them (and no others)."""
        self.owned = frozenset(partitions)
        self.restart()

    def restart(self) -> None:
        """Walk every owned partition again, from the first."""
        self._partitions = sorted(self.owned, reverse=True)
        self._customers = []

    def next(self, customers_of: Callable[[int], list[str]]) -> str | None:
        """The next customer to write, None when every partition has been walked. A partition's
        customers are listed when the walk reaches it."""
        while not self._customers:
            if not self._partitions:
                return None
            self._customers = customers_of(self._partitions.pop())[::-1]
        return self._customers.pop()


class RedisPublisher:
    """Pending customer views (latest per customer) and counter totals, written by ``flush``;
    the view rebuilt from ``source`` when Redis lost it or partitions were assigned."""

    def __init__(
        self,
        view: RiskView,
        counters: Counters,
        source: ViewSource | None = None,
        *,
        worker: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = view
        self.counters = counters
        self.source = source
        self.worker = worker or worker_id()
        """This process among the workers (its counters and marker are keyed by it)."""
        self.epoch = format_ts(time.time_ns() // 1_000_000)
        """The marker's value: when this process's view began."""
        self.queue = Rebuild()
        """Which customers a rebuild has still to write."""
        self._monotonic = monotonic
        self._pending: dict[str, Mapping[str, str]] = {}
        self._later: dict[str, Callable[[], Mapping[str, str]]] = {}
        """Views to build (``mark_later``), at the first flush ``VIEW_BUILD_S`` after the
        last build."""
        self._built_at = -math.inf
        self._failing = False
        self._marked = False
        """The marker was written once: from then on, its absence means Redis lost it."""
        self._written: dict[str, int] | None = None
        """The counter totals Redis holds, as last written (None: write them)."""
        self._written_at = -math.inf
        self._checked_at = -math.inf
        self._rebuilt: int | None = None
        """Views written by the rebuild under way; None when there is none."""

    def mark(self, customer_id: str, fields: Mapping[str, str]) -> None:
        """Queue a customer's view (``redis_view.customer_view``); a later mark replaces it."""
        self._later.pop(customer_id, None)
        self._pending[customer_id] = fields

    def mark_later(self, customer_id: str, build: Callable[[], Mapping[str, str]]) -> None:
        """Queue a customer's view to be built by ``build`` at a flush (at most every
        ``VIEW_BUILD_S``): a customer whose events change the view many times in between has
        it built once, as it is then. A later mark replaces it."""
        self._pending.pop(customer_id, None)
        self._later[customer_id] = build

    def assigned(self, partitions: Collection[int]) -> None:
        """The worker owns input ``partitions`` now: write the view of their customers again
        (once the state is recovered: ``flush(rebuild=True)``)."""
        self.queue.assigned(partitions)
        self._start_rebuild("partitions assigned")

    async def flush(self, rebuild: bool = False) -> bool:
        """Write what is pending in one round trip; False (and keep it) if Redis failed.

        With ``rebuild`` (the state is there: no rebalance or recovery under way), first read
        a batch of a rebuild under way from state. Counter totals are written when they
        changed, and every ``TOTALS_REFRESH_S``; the marker at least every ``MARKER_CHECK_S``.
        """
        now = self._monotonic()
        if rebuild and not self._failing:
            self._rebuild_batch(now)
        if now - self._built_at >= VIEW_BUILD_S:
            self._build_later()
            self._built_at = now
        views, self._pending = self._pending, {}
        totals = self.counters.totals()
        stale = totals != self._written or now - self._written_at >= TOTALS_REFRESH_S
        if not views and not stale and now - self._checked_at < MARKER_CHECK_S:
            return True
        try:
            kept = await self.view.publish(
                views, totals if stale else None, worker=self.worker, epoch=self.epoch
            )
        except (RedisError, OSError) as exc:
            views.update(self._pending)
            self._pending = views
            if not self._failing:
                log.warning("redis view not updated; will retry", error=str(exc))
            self._failing = True
            return False
        self._checked_at = now
        if stale:
            self._written, self._written_at = totals, now
        if self._failing:
            log.info("redis view updated again")
            self._failing = False
        if not kept and self._marked:
            # Redis lost what this worker wrote (or a rebuild was asked for): the totals go
            # again at the next flush, the views of every customer held from state.
            self._written = None
            self.queue.restart()
            self._start_rebuild("the view is gone from Redis (restarted empty?) or was reset")
        self._marked = True
        return True

    async def close(self) -> None:
        """Flush one last time and close the Redis connection pool."""
        self._build_later()
        await self.flush()
        await self.view.client.aclose()

    def _build_later(self) -> None:
        later, self._later = self._later, {}
        for customer_id, build in later.items():
            try:
                self._pending[customer_id] = build()
            except Exception as exc:  # one customer's view must not stop the others
                log.error(
                    "cannot build a customer's view", customer_id=customer_id, error=repr(exc)
                )

    def _start_rebuild(self, reason: str) -> None:
        self._rebuilt = 0
        log.info(
            "writing the risk view again from state",
            reason=reason,
            partitions=sorted(self.queue.owned),
        )

    def _rebuild_batch(self, now: float) -> None:
        """Mark the views of the next customers of the rebuild, within ``REBUILD_BUDGET_S``."""
        source = self.source
        if self._rebuilt is None or source is None:
            return
        deadline = now + REBUILD_BUDGET_S
        for read in range(REBUILD_MOST):
            if read and self._monotonic() >= deadline:
                return
            customer_id = self.queue.next(source.customers_of)
            if customer_id is None:
                log.info("risk view written again from state", customers=self._rebuilt)
                self._rebuilt = None
                return
            try:
                fields = source.view(customer_id)
            except Exception as exc:  # one customer's view must not stop the rebuild
                log.error("cannot read a customer's view", customer_id=customer_id, error=repr(exc))
                continue
            if fields is not None:
                self._pending[customer_id] = fields
                self._rebuilt += 1

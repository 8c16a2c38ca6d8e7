"""The Faust app of the live worker, built by ``create_app``.

One agent consumes the three input topics (co-partitioned by customer_id) as raw bytes and
hands each message to ``Processor``, which feeds each input partition's ``PartitionPipeline``
(``streamwatch.pipeline``, the one replay runs: decode, event-time order of the partition's
three topics, sweeps, the core) and sends what it releases; per-customer state is a changelog-backed
table; a second agent links customers behind one device, card or sign-up IP
(``streamwatch.live.rings``: link keys re-keyed to an internal topic, rings in their own
table, links fed back); outputs and state changes go out in one Kafka transaction per input
partition (``streamwatch.live.transactions``), which gives exactly-once output across crashes;
the Redis risk view is refreshed a few times a second off the per-event path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

import faust
import structlog
from faust.streams import Stream
from faust.types import TP
from mode import CrashingSupervisor
from redis.asyncio import Redis

from streamwatch.config import build_core
from streamwatch.core.engine import Core
from streamwatch.core.policy import parse_policy
from streamwatch.core.rings import RingLinker
from streamwatch.indicators import IndicatorWatcher
from streamwatch.kafka_clients import client_options, faust_credentials
from streamwatch.live.metrics import Counters
from streamwatch.live.ordering import HoleUnreadable, Incoming, InputCursor
from streamwatch.live.processor import Processor, wall_clock_ms
from streamwatch.live.publisher import RedisPublisher, StateViews
from streamwatch.live.redis_view import RiskView
from streamwatch.live.rings import (
    RING_KEYS_RETENTION_S,
    RING_TABLE,
    RingProcessor,
    RingStates,
    ring_keys_topic,
)
from streamwatch.live.state_store import CustomerStates, Sender, StateCodec
from streamwatch.live.transactions import (
    PartitionTransactions,
    TransactionUnavailable,
    check_supported,
    last_poll_ms,
    recovering_consumer_class,
    recovery_report,
    shorten_transaction_backoffs,
    transaction_manager_class,
)
from streamwatch.metric_defs import WorkerMetrics
from streamwatch.settings import INPUT_TOPICS, DeploymentSettings

log = structlog.get_logger("streamwatch.live.app")

STATE_TABLE: Final = "customer-state"
"""Table name; its changelog topic is ``{app_id}-customer-state-changelog``."""

COMMIT_INTERVAL_S: Final = 1.0
"""How often every transaction with progress commits (state, offsets)."""
OUTPUT_COMMIT_S: Final = {"idle": 0.01, "busy": 0.1, "behind": 1.0}
"""How long a transaction holds outputs (alerts, requests, dead letters, link keys) before it
commits, by how its partition fares: they become visible to read_committed readers then, so
this is the event-to-alert latency a platform team sees beyond processing. Idle (nothing more
to process now): 10 ms, waiting gathers nothing. Busy: 100 ms, as Kafka Streams commits under
exactly-once. Behind (a backlog of ``BEHIND_MESSAGES`` or more): a second, since each commit
writes every changed customer's state and the backlog is late anyway. State-only progress
commits at ``COMMIT_INTERVAL_S``."""
BEHIND_MESSAGES: Final = 2_000
COMMIT_TIMER_S: Final = 0.01
TAKE_MAX: Final = 500
TAKE_WITHIN_S: Final = 0.005
"""The agent takes the messages Faust delivers in batches of up to ``TAKE_MAX``, or what came
within ``TAKE_WITHIN_S`` (the latency this adds), and hands each batch over at once."""
REDIS_FLUSH_INTERVAL_S: Final = 0.25
RELEASE_INTERVAL_S: Final = 0.1
"""How often queued messages whose hold ran out are released (``Processor.release_held``)."""
CATCH_UP_INTERVAL_S: Final = 5.0
"""How often partitions are checked for messages the stream left behind (the second check
that finds the same stall reads them; ``InputCursor.stranded``)."""
INDICATOR_POLL_INTERVAL_S: Final = 30.0
"""How often the mining-pool lists are checked for changes on disk (reload, no restart)."""
LAG_INTERVAL_S: Final = 5.0
"""How often the consumer-lag gauge is refreshed."""
SESSION_TIMEOUT_S: Final = 10.0
"""A killed worker's partitions move on after this long (Kafka's default is 45 s)."""
HEARTBEAT_INTERVAL_S: Final = 1.0
MAX_FETCH_BYTES: Final = 16 * 1024 * 1024
"""Per-partition fetch size: more than the input topics' 8 MiB max.message.bytes."""
MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024 + 64 * 1024
"""Producer request cap: a dead-letter record (base64 of up to 8 MiB) must fit; the
dead-letter topic itself accepts 16 MiB."""


def create_app(
    settings: DeploymentSettings,
    *,
    partitions: int = 4,
    redis: Redis | None = None,
    clock: Callable[[], int] = wall_clock_ms,
    metrics: WorkerMetrics | None = None,
    readiness: Readiness | None = None,
) -> faust.App:
    """The worker's Faust app. Pure construction: connects to nothing until started.

    Run it with ``faust.Worker`` (``streamwatch worker`` does). ``redis`` replaces the client
    made from ``settings.redis``; ``clock`` (epoch ms) stamps ``detected_at`` and the view's
    ``updated_at`` only. ``partitions`` must equal the input topics' partition count (the
    worker command reads it from the broker); the state table's changelog gets as many.
    ``metrics`` are counted into when given (``streamwatch.metric_defs``); ``readiness`` is
    bound to the app and answers ``/ready``.
    Raises PolicyError for a bad policy file, SettingsError if it or the Kafka TLS files cannot
    be read.
    """
    watcher = IndicatorWatcher()
    core = build_core(parse_policy(settings.policy_text()), indicators=watcher.current)
    kafka = client_options(settings)
    shorten_transaction_backoffs()
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        broker_credentials=faust_credentials(settings.kafka_security),
        store="memory://",
        processing_guarantee="exactly_once",
        topic_partitions=partitions,
        datadir=str(settings.data_dir / settings.app_id),
        web_enabled=False,
        autodiscover=False,
        broker_commit_interval=COMMIT_INTERVAL_S,
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=HEARTBEAT_INTERVAL_S,
        consumer_max_fetch_size=MAX_FETCH_BYTES,
        producer_max_request_size=MAX_REQUEST_BYTES,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.instance_id,
        # No standby replicas. With the in-memory store they hold nothing (Faust's memory store
        # drops every key of a partition not active when a recovery completes) and they harm:
        # standby changelog records still queued when a rebalance makes that partition active
        # count as read by the active recovery, which then starts near the changelog's end and
        # leaves the table empty. A worker that took partitions over processed them from fresh
        # state and lost hundreds of alerts (the rebalance integration test, under load).
        table_standby_replicas=0,
    )
    codec = StateCodec(core)
    table = app.Table(
        STATE_TABLE,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        help="CustomerState snapshot (JSON) per customer_id",
    )
    states = CustomerStates(table, core, codec, partitions)
    ring_table = app.Table(
        RING_TABLE,
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
        help="RingState snapshot (JSON) per link key",
    )
    linker = RingLinker()
    rings = RingStates(ring_table, linker)

    async def flush_state(partition: int, sender: Sender) -> int:
        return await states.flush(partition, sender) + await rings.flush(partition, sender)

    transactions = PartitionTransactions(app, flush_state)
    # Faust builds its consumer (and with it the transaction manager) lazily at start-up.
    transport: Any = app.transport
    transport.TransactionManager = transaction_manager_class(transactions)
    transport.Consumer = recovering_consumer_class(transactions)

    client = (
        redis
        if redis is not None
        else Redis.from_url(settings.redis, socket_connect_timeout=2, socket_timeout=2)
    )
    publisher = RedisPublisher(
        RiskView(client, settings.redis_prefix), Counters(), StateViews(states, core, clock)
    )
    processor = Processor(
        core,
        states,
        transactions,
        settings.topics,
        publisher,
        lambda next_offset: InputCursor(kafka, settings.app_id, next_offset, MAX_FETCH_BYTES),
        clock,
        signing_key=settings.signing_key,
        ring_keys=ring_keys_topic(settings.app_id),
        max_skew_ms=settings.max_future_skew_s * 1000,
        # Like the agent, which Faust stops meanwhile: state may be recovering.
        can_process=lambda: not (app.rebalancing or app.should_stop),
        end_offset=lambda tp: _end_offset(app, tp),
        position=lambda tp: _position(app, tp),
        metrics=metrics,
        last_poll=lambda tp: last_poll_ms(app, tp),
        state_report=lambda partition: recovery_report(app, TP(states.changelog, partition)),
    )
    cursor = processor.cursor
    ring_keys = app.topic(
        ring_keys_topic(settings.app_id),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
        deleting=True,
        retention=RING_KEYS_RETENTION_S,
    )
    ring_processor = RingProcessor(
        linker,
        rings,
        transactions,
        settings.topics.activity,
        lambda next_offset: InputCursor(kafka, settings.app_id, next_offset, MAX_FETCH_BYTES),
        publisher.counters,
        partitions,
        ring_keys_topic(settings.app_id),
    )
    if settings.signing_key is None:
        log.warning(
            "no signing key (STREAMWATCH_SIGNING_KEYS): enforcement requests go out unsigned, "
            "and suspension workers will refuse them"
        )
    else:
        log.info("enforcement requests are signed", key_id=settings.signing_key[0])

    source = app.topic(
        *settings.topics.inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    async def process(stream: faust.StreamT[bytes]) -> None:
        # take_events is on faust's Stream, not on the StreamT protocol.
        batches = cast(Stream[bytes], stream).take_events(TAKE_MAX, within=TAKE_WITHIN_S)
        async for events in batches:
            await processor.process_many(
                [
                    Incoming(m.tp, m.offset, m.key, m.value, _timestamp_ms(m.timestamp))
                    for m in (event.message for event in events)
                ]
            )

    app.agent(source, name="streamwatch.process", supervisor_strategy=CrashingSupervisor)(process)

    async def link_rings(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            await ring_processor.process(
                Incoming(message.tp, message.offset, message.key, message.value)
            )

    app.agent(ring_keys, name="streamwatch.rings", supervisor_strategy=CrashingSupervisor)(
        link_rings
    )

    _wire_timers(app, core, watcher, processor)
    if readiness is not None:
        readiness.bind(app)
    if metrics is not None:
        _wire_metrics(app, metrics, settings, processor, transactions, states, ring_processor)
    _wire_view(app, publisher, set(settings.topics.inputs))

    async def catch_up(owned: set[TP]) -> None:
        rekeyed = ring_keys_topic(settings.app_id)
        await processor.catch_up({tp for tp in owned if tp.topic != rekeyed})
        await ring_processor.catch_up({tp for tp in owned if tp.topic == rekeyed})

    _wire_lifecycle(
        app,
        states,
        transactions,
        cursor,
        processor,
        publisher,
        {*settings.topics.inputs, ring_keys_topic(settings.app_id)},
        rings,
        ring_processor,
        catch_up,
    )
    return app


class Readiness:
    """Whether the worker is ready (``/ready``): it has received its partition assignment, no
    rebalance is under way and its tables have recovered. Bound to the app by ``create_app``."""

    def __init__(self) -> None:
        self.app: faust.App | None = None
        self.assigned = False

    def bind(self, app: faust.App) -> None:
        """Watch ``app``: its first assignment makes the worker ready once recovered."""
        self.app = app

        async def on_assigned(_app: Any, *_args: Any, **_kwargs: Any) -> None:
            self.assigned = True

        app.on_partitions_assigned.connect(cast(Any, on_assigned))

    def __call__(self) -> str | None:
        """None when ready, else why not."""
        app = self.app
        if app is None or not self.assigned:
            return "waiting for a partition assignment"
        if app.should_stop:
            return "stopping"
        if app.rebalancing:
            return "rebalancing"
        if app.in_recovery:
            return "recovering state from the changelog"
        return None

    def broken(self) -> str | None:
        """Why the worker is failing (it crashed and is stopping), or None: ``/health``."""
        app = self.app
        if app is not None and app.crashed:
            return f"crashed: {app.crash_reason!r}"
        return None


def _timestamp_ms(timestamp: float | None) -> int | None:
    return None if timestamp is None else int(timestamp * 1000)


def _wire_metrics(
    app: faust.App,
    metrics: WorkerMetrics,
    settings: DeploymentSettings,
    processor: Processor,
    transactions: PartitionTransactions,
    states: CustomerStates,
    ring_processor: RingProcessor,
) -> None:
    """Commit durations, state gauges read at scrape time, and the consumer lag per owned
    input partition, refreshed on a timer (the processor counts the rest)."""
    transactions.on_commit = metrics.commit.observe
    metrics.customers_in_state.set_function(lambda: len(states))
    rings = ring_processor.rings
    metrics.state_bytes.set_function(lambda: states.bytes_held + rings.bytes_held)
    metrics.ring_sightings_held.set_function(lambda: len(ring_processor.gate))
    metrics.ring_oldest_held.set_function(ring_processor.oldest_held_s)
    names = dict(zip(settings.topics.inputs, INPUT_TOPICS, strict=True))

    async def measure_lag() -> None:
        metrics.consumer_lag.clear()  # partitions gone since the last refresh disappear
        if app.rebalancing or app.should_stop:
            return
        for tp in app.assignor.assigned_actives():
            if tp.topic not in names:
                continue
            end, position = _end_offset(app, tp), processor.next_offset(tp)
            if position is None:  # nothing arrived since the assignment
                position = await _position(app, tp)
            if end is not None and position is not None:
                lag = max(0, end - position)
                metrics.consumer_lag.labels(names[tp.topic], str(tp.partition)).set(lag)

    app.timer(LAG_INTERVAL_S)(measure_lag)


def _end_offset(app: faust.App, tp: TP) -> int | None:
    """The end of ``tp`` as the consumer last fetched it (its high watermark), None before the
    first fetch answered for it."""
    try:
        end = app.consumer.highwater(tp)
    except Exception:  # not assigned, or no consumer yet
        return None
    return end if isinstance(end, int) and end >= 0 else None


async def _position(app: faust.App, tp: TP) -> int | None:
    """The consumer's position in ``tp`` (past transaction markers), None if unknown."""
    try:
        found = await app.consumer.position(tp)
    except Exception:  # not assigned (any more), or no consumer yet
        return None
    return found if isinstance(found, int) and found >= 0 else None


def _wire_timers(
    app: faust.App, core: Core, watcher: IndicatorWatcher, processor: Processor
) -> None:
    """The indicator-list reload and the release of held messages whose hold ran out."""

    async def reload_indicators() -> None:
        reload = watcher.poll_into(core.detectors)
        if reload is not None:
            log.info(
                "indicator lists reloaded" if reload.error is None else "indicator lists rejected",
                version=reload.version,
                digest=reload.indicators.digest,
                error=reload.error,
            )

    app.timer(INDICATOR_POLL_INTERVAL_S)(reload_indicators)

    async def release_held() -> None:
        if not (app.rebalancing or app.should_stop):
            await processor.refresh_positions()
        try:
            await processor.release_held()
            if not app.in_recovery:  # it may start the pipelines of partitions yet to be read
                await processor.tell_rings()
        except TransactionUnavailable:
            # Stopping or rebalancing, the transactions are closed: what is held stays held
            # (processed once its partition's transaction opens again, or by its next owner).
            if not (app.should_stop or app.rebalancing):
                raise

    app.timer(RELEASE_INTERVAL_S)(release_held)


def _wire_view(app: faust.App, publisher: RedisPublisher, inputs: set[str]) -> None:
    """The risk view's flush, and its rebuild from state on assignment (and when Redis lost
    it: ``RedisPublisher``)."""

    async def flush_risk_view() -> None:
        # Views are read from state only once the tables have recovered.
        await publisher.flush(rebuild=not (app.rebalancing or app.should_stop))

    app.timer(REDIS_FLUSH_INTERVAL_S)(flush_risk_view)

    async def rebuild_view(_app: Any, *args: Any, **_kwargs: Any) -> None:
        assigned: set[TP] = args[0]
        publisher.assigned({tp.partition for tp in assigned if tp.topic in inputs})

    app.on_partitions_assigned.connect(cast(Any, rebuild_view))


def _wire_lifecycle(
    app: faust.App,
    states: CustomerStates,
    transactions: PartitionTransactions,
    cursor: InputCursor,
    processor: Processor,
    publisher: RedisPublisher,
    inputs: set[str],
    rings: RingStates,
    ring_processor: RingProcessor,
    catch_up: Callable[[set[TP]], Awaitable[None]],
) -> None:
    owned: set[TP] = set()
    ring_cursor = ring_processor.cursor

    async def process_stranded() -> None:
        # Not while partitions move or tables recover: the state is not there yet.
        if app.rebalancing or not owned:
            return
        try:
            await catch_up(set(owned))
        except TransactionUnavailable:
            log.info("partitions moved while catching up; their new owner will")
        except HoleUnreadable as exc:
            log.warning("could not check for stranded messages; trying again", error=str(exc))

    app.timer(CATCH_UP_INTERVAL_S)(process_stranded)

    async def commit_processed() -> None:
        # Faust commits only partitions whose acknowledged offsets moved; see
        # PartitionTransactions.commit_pending for why that is not enough.
        await transactions.commit_pending(COMMIT_INTERVAL_S, outputs_s)

    def outputs_s(partition: int) -> float:
        if processor.behind(partition) >= BEHIND_MESSAGES:
            return OUTPUT_COMMIT_S["behind"]
        return OUTPUT_COMMIT_S["idle" if processor.held(partition) == 0 else "busy"]

    app.timer(COMMIT_TIMER_S)(commit_processed)

    async def on_assigned(_app: Any, *args: Any, **_kwargs: Any) -> None:
        assigned: set[TP] = args[0]
        check_supported(app.producer)
        cursor.reset()
        ring_cursor.reset()
        # Kafka revokes everything at each rebalance; only what did not come back is gone.
        gone = {tp for tp in owned if tp not in assigned}
        owned.clear()
        owned.update(tp for tp in assigned if tp.topic in inputs)
        # Queued messages of partitions gone were not processed: their new owner reads them.
        processor.keep({tp.partition for tp in owned})
        ring_processor.keep({tp.partition for tp in assigned if tp.topic == ring_processor.topic})
        if gone:
            transactions.forget(gone)
            lost = {tp.partition for tp in gone} - {tp.partition for tp in owned}
            states.revoke(lost)
            rings.revoke(lost)
        log.info(
            "partitions assigned",
            inputs=sorted(f"{tp.topic}:{tp.partition}" for tp in owned),
            transactions=sorted({transactions.transactional_id(tp) for tp in owned}),
        )

    async def on_revoked(_app: Any, *_args: Any, **_kwargs: Any) -> None:
        # Processing stopped when the rebalance began (can_process), and the transactions are
        # closed until the new assignment (PartitionTransactions.close); let a drain under way
        # end before the worker rejoins the group.
        await processor.idle()

    async def on_shutdown(_app: Any, *_args: Any, **_kwargs: Any) -> None:
        await publisher.close()
        await cursor.close()
        await ring_cursor.close()

    # mode types receivers with a named ``signal`` argument; ours take it in **_kwargs.
    app.on_partitions_assigned.connect(cast(Any, on_assigned))
    app.on_partitions_revoked.connect(cast(Any, on_revoked))
    app.on_before_shutdown.connect(cast(Any, on_shutdown))

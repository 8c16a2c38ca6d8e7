"""Customers quiet for longer than the core's ``forget_after_s``, with nothing left to age, are
dropped at an hour-mark sweep; a debtor is kept, and a forgotten customer starts afresh."""

from __future__ import annotations

from streamwatch import testing as build
from streamwatch.config import build_core
from streamwatch.pipeline.ordering import Message
from streamwatch.pipeline.partition import FORGOTTEN, DictStore, PartitionPipeline


def _always(_stream: str, _ts: int) -> bool:
    return True


def _run(docs: list[dict[str, object]]) -> tuple[PartitionPipeline, DictStore]:
    core = build_core()
    store = DictStore(core)
    streams = ("usage", "activity", "payment")
    pipeline = PartitionPipeline(
        core, streams, store, clock=lambda: 0, origin=lambda m: {"offset": m.offset}
    )
    for n, doc in enumerate(docs):
        pipeline.add(Message(str(doc["type"]), n, None, build.raw(doc)))
        pipeline.release(_always)
    pipeline.release(_always, final=True)
    return pipeline, store


def _walk(customer: str, days: list[int]) -> list[dict[str, object]]:
    return [
        build.usage(customer, ts=f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}T10:00:00Z", cost=0.5)
        for d in days
    ]


def test_a_customer_quiet_for_over_ninety_days_is_forgotten_at_a_sweep() -> None:
    # "busy" keeps the partition's time moving; "gone" stops on day 1.
    busy = _walk("busy", list(range(0, 28 * 5, 3)))
    gone = _walk("gone", [0, 1])
    docs = sorted([*busy, *gone], key=lambda d: str(d["ts"]))
    pipeline, store = _run(docs)
    assert "gone" not in store.states
    assert "busy" in store.states
    assert pipeline.counts[FORGOTTEN] == 1


def test_a_customer_who_owes_money_is_kept() -> None:
    busy = _walk("busy", list(range(0, 28 * 5, 3)))
    debtor = [
        *_walk("debtor", [0]),
        build.payment(
            "invoice.issued",
            "debtor",
            "2026-01-01T12:00:00Z",
            amount=100.0,
            invoice_id="inv-1",
            due_date="2026-01-15T00:00:00Z",
        ),
    ]
    docs = sorted([*busy, *debtor], key=lambda d: str(d["ts"]))
    pipeline, store = _run(docs)
    assert "debtor" in store.states
    assert pipeline.counts[FORGOTTEN] == 0


def test_a_forgotten_customer_heard_from_again_starts_afresh() -> None:
    busy = _walk("busy", list(range(0, 28 * 5, 3)))
    back = [*_walk("back", [0]), *_walk("back", [28 * 5 - 1])]
    docs = sorted([*busy, *back], key=lambda d: str(d["ts"]))
    pipeline, store = _run(docs)
    assert pipeline.counts[FORGOTTEN] == 1
    assert store.states["back"].events == 1, "only the event after its return"
